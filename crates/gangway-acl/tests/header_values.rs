//! Header value edge cases for the `hdr(<name>)` scan: commas, quotes, ports, brackets,
//! blanks and case, with one pattern (compared inline) and several (set lookups).

use gangway_acl::{Expr, RequestView};

#[test]
fn header_value_elements_table() {
    // (expression, header name, header values, expected)
    let cases: &[(&str, &str, &[&str], bool)] = &[
        (
            "hdr(host) -i ws.example.com",
            "Host",
            &["WS.example.com:8080"],
            true,
        ),
        (
            "hdr(host) -i ws.example.com",
            "host",
            &["a, ws.example.com"],
            true,
        ),
        (
            "hdr(host) -i ws.example.com",
            "Host",
            &["\"ws.example.com, x\""],
            false,
        ),
        (
            "hdr(host) -i ws.example.com",
            "Host",
            &["[ws.example.com]:80"],
            false,
        ),
        ("hdr(host) [::1]", "Host", &["[::1]:8080"], true),
        ("hdr(host) [::1]", "Host", &["[::1]x, y"], true),
        (
            "hdr_end(host) -i .example.com",
            "Host",
            &["x, WS.example.com:443"],
            true,
        ),
        ("hdr_end(host) b]", "Host", &["[a, b]x"], false),
        ("hdr_end(host) b]", "Host", &["a,[x]b]:80"], false),
        (
            "hdr_end(host) -i ws.example.com",
            "Host",
            &["ws.example.com."],
            false,
        ),
        ("hdr(x-a) a,b", "X-A", &["a,b"], false),
        ("hdr(x-a) a,b", "X-A", &["\"a,b\""], false),
        (
            "hdr(upgrade) -i websocket",
            "Upgrade",
            &[" WebSocket\t"],
            true,
        ),
        (
            "hdr(upgrade) -i websocket",
            "UPGRADE",
            &["h2c, websocket"],
            true,
        ),
        (
            "hdr(upgrade) -i websocket",
            "Upgrade",
            &["websocketx"],
            false,
        ),
        (
            "hdr(upgrade) -i websocket",
            "Upgrade",
            &["h2c", "WebSocket"],
            true,
        ),
        ("hdr(upgrade) websocket", "Upgrade", &["WebSocket"], false),
        (
            "hdr(upgrade) -i websocket h2c",
            "Upgrade",
            &["foo, H2C"],
            true,
        ),
        (
            "hdr(upgrade) -i websocket",
            "Upgrades",
            &["websocket"],
            false,
        ),
        ("hdr_beg(x-a) -i ab", "x-a", &["x, AbC"], true),
        ("hdr_beg(x-a) ab", "x-a", &["x, AbC"], false),
        ("hdr_beg(x-a) -i ab cd", "x-a", &["x, cDe"], true),
        ("hdr(x-abcdefghij) -i v", "X-ABCDEFGHIJ", &["V"], true),
        ("hdr(x-abcdefghij) -i v", "X-ABCDEFGHIK", &["V"], false),
        ("hdr(ab) -i v", "aB", &["v"], true),
        ("hdr(ab) -i v", "a@", &["v"], false),
    ];
    for &(text, name, values, expected) in cases {
        let expr: Expr = text.parse().expect("expression parses");
        let headers: Vec<httparse::Header<'_>> = values
            .iter()
            .map(|v| httparse::Header {
                name,
                value: v.as_bytes(),
            })
            .collect();
        let view = RequestView::new("GET", "/", &headers);
        assert_eq!(expr.eval(&view), expected, "{text} on {name}: {values:?}");
    }
}
