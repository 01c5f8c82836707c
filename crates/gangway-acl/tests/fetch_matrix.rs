//! Every fetch x matching method pair HAProxy documents for the supported fetches,
//! against one well-known request (and a few variations), each with cases that must and
//! must not match.

use gangway_acl::{Expr, RequestView};

const TARGET: &str = "/api/v1/users.json?id=42&tag=a&tag=b&empty=&flag&Case=Up";

fn headers() -> Vec<httparse::Header<'static>> {
    vec![
        httparse::Header {
            name: "Host",
            value: b"www.Example.com:8080",
        },
        httparse::Header {
            name: "Upgrade",
            value: b"websocket",
        },
        httparse::Header {
            name: "Connection",
            value: b"keep-alive, Upgrade",
        },
        httparse::Header {
            name: "X-Forwarded-For",
            value: b"10.1.2.3, 192.168.0.9",
        },
        httparse::Header {
            name: "x-forwarded-for",
            value: b"2001:db8::1",
        },
        httparse::Header {
            name: "Cookie",
            value: b"sid=abc123; theme=dark",
        },
        httparse::Header {
            name: "Cookie",
            value: b"lang=en",
        },
        httparse::Header {
            name: "Content-Length",
            value: b"42",
        },
        httparse::Header {
            name: "X-Quoted",
            value: b"\"a,b\", c",
        },
        httparse::Header {
            name: "Referer",
            value: b"https://docs.example.org/guide/start?x=1",
        },
        httparse::Header {
            name: "User-Agent",
            value: b"Mozilla/5.0 (X11)",
        },
    ]
}

fn eval(expr: &str, view: &RequestView<'_>) -> bool {
    let compiled: Expr = expr
        .parse()
        .unwrap_or_else(|e| panic!("`{expr}` should parse: {e}"));
    compiled.eval(view)
}

fn run(cases: &[(&str, bool)], view: &RequestView<'_>) {
    let mut failures = Vec::new();
    for (expr, expected) in cases {
        if eval(expr, view) != *expected {
            failures.push(format!("`{expr}` should be {expected}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn standard_request_matrix() {
    let h = headers();
    let view = RequestView::new("GET", TARGET, &h)
        .with_src("192.0.2.10:51000".parse().unwrap())
        .with_ssl(true)
        .with_sni("www.example.com");
    let cases: &[(&str, bool)] = &[
        // path: str beg end sub dir dom reg len found
        ("path /api/v1/users.json", true),
        ("path /api/v1/users", false),
        ("path -i /API/V1/USERS.JSON", true),
        ("path_beg /api/", true),
        ("path_beg /web/ /api/v1", true),
        ("path_beg /API", false),
        ("path_beg -i /API", true),
        ("path_end .json", true),
        ("path_end .xml .html", false),
        ("path_sub /v1/", true),
        ("path_sub /v2/", false),
        ("path_dir v1", true),
        ("path_dir /api/v1/", true),
        ("path_dir api/v", false),
        ("path_dir users", false),
        ("path_dom users", true),
        ("path_dom json", true),
        ("path_dom sers", false),
        ("path_reg ^/api/v[0-9]+/", true),
        ("path_reg ^/v[0-9]", false),
        ("path_len 18", true),
        ("path_len gt 30", false),
        ("path_len 10:20", true),
        ("path -m beg /api", true),
        ("path -m end users.json", true),
        ("path -m sub users", true),
        ("path -m dir api", true),
        ("path -m dom json", true),
        ("path -m reg \\.json$", true),
        ("path -m len 18", true),
        ("path -m found", true),
        // url: the whole target
        (
            "url /api/v1/users.json?id=42&tag=a&tag=b&empty=&flag&Case=Up",
            true,
        ),
        ("url /api/v1/users.json", false),
        ("url_beg /api/v1/users.json?id=", true),
        ("url_end Case=Up", true),
        ("url_end case=up", false),
        ("url_end -i case=up", true),
        ("url_sub tag=b", true),
        ("url_sub tag=c", false),
        ("url_dir users.json", true),
        ("url_dir id=42", false),
        ("url_dom json", true),
        ("url_reg [?&]id=[0-9]+", true),
        ("url_reg [?&]id=[a-z]+", false),
        ("url_len gt 50", true),
        ("url_len lt 50", false),
        // query
        ("query id=42&tag=a&tag=b&empty=&flag&Case=Up", true),
        ("query -m beg id=42", true),
        ("query -m sub tag=b", true),
        ("query -m found", true),
        ("query -m len 0", false),
        // method
        ("method GET", true),
        ("method POST PUT", false),
        ("method -i get", true),
        ("method get", false),
        ("method -m beg GE", true),
        ("method -m reg ^(GET|HEAD)$", true),
        // req.ver
        ("req.ver 1.1", true),
        ("req.ver 1.0", false),
        ("req_ver 1.1", true),
        ("req.ver -m beg 1.", true),
        // hdr: every comma-separated value is tried
        ("hdr(upgrade) websocket", true),
        ("hdr(Upgrade) WebSocket", false),
        ("hdr(Upgrade) -i WebSocket", true),
        ("hdr(connection) -i upgrade", true),
        ("hdr(connection) -i keep-alive,upgrade", false),
        ("req.hdr(connection) -i upgrade", true),
        ("hdr(x-forwarded-for) 192.168.0.9", true),
        ("hdr(x-forwarded-for) 2001:db8::1", true),
        ("hdr(x-forwarded-for,1) 10.1.2.3", true),
        ("hdr(x-forwarded-for,1) 192.168.0.9", false),
        ("hdr(x-forwarded-for,2) 192.168.0.9", true),
        ("hdr(x-forwarded-for,-1) 2001:db8::1", true),
        ("hdr(x-forwarded-for,-1) 10.1.2.3", false),
        ("hdr(x-forwarded-for,-3) 10.1.2.3", true),
        ("hdr(x-forwarded-for,-4) -m found", false),
        ("hdr(x-forwarded-for,4) -m found", false),
        ("hdr(x-quoted) '\"a,b\"'", true),
        ("hdr(x-quoted) c", true),
        ("hdr(x-quoted) 'b\"'", false),
        ("hdr(missing) -m found", false),
        ("hdr(upgrade) -m found", true),
        ("hdr(host) -i www.example.com", true),
        ("hdr(host) www.example.com", false),
        ("hdr_beg(host) -i www.", true),
        ("hdr_beg(host) api.", false),
        ("hdr_end(host) -i example.com", true),
        ("hdr_end(host) -i .example.com", true),
        ("hdr_end(host) -i example.org", false),
        ("hdr_end(referer) start?x=1", true),
        ("hdr_sub(user-agent) Mozilla", true),
        ("hdr_sub(user-agent) curl", false),
        ("hdr_dir(referer) guide", true),
        ("hdr_dir(referer) start", true),
        ("hdr_dir(referer) gui", false),
        ("hdr_dom(host) -i example.com", true),
        ("hdr_dom(host) -i www", true),
        ("hdr_dom(host) -i ample.com", false),
        ("hdr_dom(referer) docs.example.org", true),
        ("hdr_reg(host) -i ^www\\.example\\.com(:[0-9]+)?$", true),
        ("hdr_reg(host) ^api\\.", false),
        ("hdr_len(upgrade) 9", true),
        ("hdr_len(upgrade) 10", false),
        ("hdr_cnt(x-forwarded-for) 3", true),
        ("hdr_cnt(x-forwarded-for) gt 3", false),
        ("hdr_cnt(missing) 0", true),
        ("hdr_cnt(cookie) eq 2", true),
        ("req.hdr_cnt(connection) ge 2", true),
        ("hdr_cnt gt 10", true),
        ("hdr_ip(x-forwarded-for) 192.168.0.0/16", true),
        ("hdr_ip(x-forwarded-for) 172.16.0.0/12", false),
        ("hdr_ip(x-forwarded-for) 2001:db8::/32", true),
        ("hdr_ip(x-forwarded-for,1) 10.0.0.0/8", true),
        ("hdr_ip(host) 10.0.0.0/8", false),
        ("hdr_val(content-length) 42", true),
        ("hdr_val(content-length) gt 100", false),
        ("hdr_val(content-length) ge 42", true),
        ("hdr_val(content-length) 40:50", true),
        ("hdr(content-length) -m int lt 43", true),
        ("hdr(upgrade) -m len 9", true),
        ("hdr(upgrade) -m sub sock", true),
        ("hdr(upgrade) -m beg web", true),
        ("hdr(upgrade) -m end socket", true),
        ("hdr(upgrade) -m reg ^web", true),
        ("hdr(host) -m dom -i example.com", true),
        ("hdr(referer) -m dir guide", true),
        ("hdr(x-forwarded-for) -m ip 10.0.0.0/8", true),
        // req.fhdr: whole lines, commas do not split
        ("req.fhdr(connection) -i keep-alive,\\ upgrade", true),
        ("req.fhdr(connection) -i upgrade", false),
        ("req.fhdr(x-forwarded-for) 10.1.2.3,\\ 192.168.0.9", true),
        ("req.fhdr(x-forwarded-for,-1) 2001:db8::1", true),
        ("req.fhdr(x-forwarded-for,1) 2001:db8::1", false),
        ("req.fhdr(connection) -m sub -i upgrade", true),
        ("req.fhdr_cnt(x-forwarded-for) 2", true),
        ("req.fhdr_cnt(cookie) 1", false),
        // url_param / urlp and derivatives
        ("url_param(id) 42", true),
        ("url_param(id) 43", false),
        ("urlp(tag) b", true),
        ("urlp(tag) c", false),
        ("urlp(empty) -m found", true),
        ("urlp(empty) -m len 0", true),
        // HAProxy only matches a name followed by `=`: `&flag&` gives no sample.
        ("urlp(flag) -m found", false),
        ("urlp(missing) -m found", false),
        ("urlp(case) Up", false),
        ("urlp(Case) -i up", true),
        ("urlp_beg(tag) a", true),
        ("urlp_end(Case) p", true),
        ("urlp_sub(id) 2", true),
        ("urlp_dir(id) 42", true),
        ("urlp_dom(id) 4", false),
        ("urlp_reg(id) ^[0-9]+$", true),
        ("urlp_len(id) 2", true),
        ("urlp_val(id) gt 40", true),
        ("urlp_val(id) lt 40", false),
        ("url_param -m found", true),
        // cookies
        ("req.cook(sid) abc123", true),
        ("req.cook(sid) abc", false),
        ("cook(lang) en", true),
        ("cook(SID) -m found", false),
        ("cook_beg(sid) abc", true),
        ("cook_end(theme) ark", true),
        ("cook_sub(sid) c12", true),
        ("cook_reg(sid) ^[a-z]+[0-9]+$", true),
        ("cook_len(sid) 6", true),
        ("cook_dom(theme) dark", true),
        ("cook_dir(theme) dar", false),
        ("cook_cnt(sid) 1", true),
        ("req.cook_cnt gt 2", true),
        // HAProxy's strl2ic reads "abc123" as 0 (no leading digits).
        ("cook_val(sid) 0", true),
        ("req.cook(missing) -m found", false),
        // src (the PROXY-protocol address when the listener expects one)
        ("src 192.0.2.0/24", true),
        ("src 192.0.2.10", true),
        ("src 192.0.2.11", false),
        ("src 10.0.0.0/8 192.0.0.0/255.255.0.0", true),
        ("src ::ffff:192.0.2.0/120", true),
        ("src 2001:db8::/32", false),
        ("src -m found", true),
        ("src_port 51000", true),
        ("src_port lt 1024", false),
        // TLS
        ("ssl_fc", true),
        ("ssl_fc_sni -i WWW.EXAMPLE.COM", true),
        ("ssl_fc_sni other.example.com", false),
        ("always_true", true),
        ("always_false", false),
        // flags
        ("path -- /api/v1/users.json", true),
        ("hdr(x-none) -m str -- -1", false),
        ("path -n /api/v1/users.json", true),
    ];
    run(cases, &view);
}

#[test]
fn variations() {
    // Absolute-form target, HTTP/1.0, no query, plain TCP, IPv6 peer.
    let h = [httparse::Header {
        name: "Host",
        value: b"ws.example.com",
    }];
    let view = RequestView::new("POST", "http://ws.example.com:8080/ws/chat", &h)
        .with_version_minor(0)
        .with_src("[2001:db8::7]:4000".parse().unwrap());
    run(
        &[
            ("path /ws/chat", true),
            ("path_beg /ws", true),
            ("url_beg http://", true),
            ("url_dom example", true),
            ("query -m found", false),
            ("url_param(x) -m found", false),
            ("req.ver 1.0", true),
            ("req.ver 1.1", false),
            ("ssl_fc", false),
            ("ssl_fc_sni -m found", false),
            ("src 2001:db8::/64", true),
            ("src 2001:db8::7", true),
            ("src 10.0.0.0/8", false),
            ("method POST", true),
            ("hdr_end(host) -i ws.example.com", true),
        ],
        &view,
    );

    // An asterisk-form target has no path.
    let view = RequestView::new("OPTIONS", "*", &[]);
    run(
        &[
            ("path -m found", false),
            ("url *", true),
            ("hdr(host) -m found", false),
            ("hdr_cnt(host) 0", true),
            ("src -m found", false),
            ("src_port -m found", false),
        ],
        &view,
    );

    // An IPv4-mapped IPv6 peer is matched as IPv4; 6to4 addresses match IPv4 patterns.
    let view = RequestView::new("GET", "/", &[]).with_src("[::ffff:10.2.3.4]:80".parse().unwrap());
    run(
        &[("src 10.0.0.0/8", true), ("src 11.0.0.0/8", false)],
        &view,
    );
    let view = RequestView::new("GET", "/", &[]).with_src("[2002:a02:304::1]:80".parse().unwrap());
    run(&[("src 10.2.3.4", true), ("src 10.2.3.5", false)], &view);
}

#[test]
fn host_port_is_ignored_for_domain_matching_only() {
    let h = [httparse::Header {
        name: "Host",
        value: b"Example.com:8443",
    }];
    let view = RequestView::new("GET", "/", &h);
    run(
        &[
            ("hdr(host) -i example.com", true),
            ("hdr_end(host) -i example.com", true),
            ("hdr_dom(host) -i example.com", true),
            ("hdr_beg(host) -i example.com:84", true),
            ("hdr_sub(host) :8443", true),
            ("hdr_reg(host) :8443$", true),
            ("hdr_len(host) 16", true),
            ("req.fhdr(host) -i example.com", true),
            // A pattern naming a port compares with the whole value, as in HAProxy.
            ("hdr(host) -i example.com:8443", true),
            ("hdr(host) -i example.com:8080", false),
            ("hdr(host) -i Example.com:8443", true),
            ("hdr(host) Example.com:8443", true),
            ("req.fhdr(host) -i example.com:8443", true),
            ("hdr_end(host) -i .com:8443", true),
            ("hdr_end(host) :8443", true),
            ("hdr_dom(host) -i example.com:8443", true),
            ("hdr_dom(host) -i example.com:80", false),
            // Patterns with and without a port mixed: each compares its own way.
            ("hdr(host) -i other.org example.com:8443", true),
            ("hdr(host) -i example.com other.org:8443", true),
            ("hdr(host) -i other.org other.org:8443", false),
            ("hdr_end(host) -i .org .com:8443", true),
        ],
        &view,
    );
    let h = [httparse::Header {
        name: "Host",
        value: b"api.example.com",
    }];
    let view = RequestView::new("GET", "/", &h);
    run(
        &[
            ("hdr(host) -i api.example.com:8443", false),
            ("hdr(host) -i api.example.com:8443 api.example.com", true),
        ],
        &view,
    );
    let h = [httparse::Header {
        name: "Host",
        value: b"[2001:db8::1]:443",
    }];
    let view = RequestView::new("GET", "/", &h);
    run(
        &[
            ("hdr(host) [2001:db8::1]", true),
            ("hdr_end(host) ::1]", true),
        ],
        &view,
    );
}

#[test]
fn many_patterns_agree_with_few() {
    // Enough patterns to switch every method to its indexed form.
    let h = headers();
    let view = RequestView::new("GET", TARGET, &h);
    let padding: String = (0..40).map(|i| format!(" /zz{i}/qq")).collect();
    for (fetch, pattern, expected) in [
        ("path", "/api/v1/users.json", true),
        ("path", "/api/v1/users", false),
        ("path_beg", "/api/v1", true),
        ("path_beg -i", "/API/V1", true),
        ("path_beg", "/api/v2", false),
        ("path_end", "users.json", true),
        ("path_end -i", "USERS.JSON", true),
        ("path_end", "users.xml", false),
        ("path_sub", "v1/users", true),
        ("path_sub", "v2/users", false),
        ("path_dir", "v1", true),
        ("path_dir", "/api/v1/", true),
        ("path_dir", "api/v", false),
        ("path_dom", "json", true),
        ("path_dom", "son", false),
        ("path_reg", "^/api/v[0-9]", true),
        ("path_reg", "^/web", false),
    ] {
        let few = format!("{fetch} {pattern}");
        let many = format!("{fetch}{padding} {pattern}");
        assert_eq!(eval(&few, &view), expected, "{few}");
        assert_eq!(
            eval(&many, &view),
            expected,
            "{fetch} with 41 patterns, {pattern}"
        );
    }
}

#[test]
fn typed_fetches_convert_as_haproxy() {
    let h = [
        httparse::Header {
            name: "X-Forwarded-For",
            value: b"10.1.2.3:5555",
        },
        httparse::Header {
            name: "X-Real-Ip",
            value: b"10.9.9.9 junk",
        },
        httparse::Header {
            name: "X-Client",
            value: b"[2001:db8::1]:443, 10.4.4.4:99999",
        },
        httparse::Header {
            name: "X-Version",
            value: b"beta",
        },
        httparse::Header {
            name: "X-Empty",
            value: b"",
        },
        httparse::Header {
            name: "X-Signed",
            value: b"+7",
        },
    ];
    let view = RequestView::new("GET", "/?n=abc&m=-12x", &h);
    run(
        &[
            // hdr_ip: a whole address, or IPv4 with a valid port.
            ("hdr_ip(x-forwarded-for) 10.0.0.0/8", true),
            ("hdr_ip(x-real-ip) 10.0.0.0/8", false),
            ("hdr_ip(x-client) 10.0.0.0/8", false),
            ("hdr_ip(x-client) 2001:db8::/32", false),
            // `-m ip` on a string: a leading dotted quad, whatever follows.
            ("hdr(x-forwarded-for) -m ip 10.0.0.0/8", true),
            ("hdr(x-real-ip) -m ip 10.9.9.9", true),
            ("hdr(x-version) -m ip 0.0.0.0/0", false),
            // *_val: strl2ic, 0 without digits, a sample even for an empty value.
            ("hdr_val(x-version) eq 0", true),
            ("hdr_val(x-empty) eq 0", true),
            ("hdr_val(x-signed) eq 7", false),
            ("urlp_val(n) 0", true),
            ("urlp_val(m) eq -12", true),
            // `-m int` on a string: read_int64 (a sign, digits), no sample when empty.
            ("hdr(x-version) -m int 0", true),
            ("hdr(x-empty) -m int 0", false),
            ("hdr(x-signed) -m int 7", true),
        ],
        &view,
    );
}

#[test]
fn url_param_follows_haproxy() {
    let cases = [
        ("/p?a=1;sid=x", "url_param(sid) x", true),
        ("/p?a=1?sid=x", "url_param(sid) x", true),
        ("/p?a=1&sid=x", "url_param(sid) x", true),
        ("/p?sid=x;a=1", "url_param(sid) x", true),
        ("/foo;JSESSIONID=abc", "urlp(JSESSIONID,;) abc", true),
        ("/foo;JSESSIONID=abc", "urlp(JSESSIONID) abc", false),
        ("/foo?x=1;JSESSIONID=abc", "urlp(JSESSIONID,;) abc", true),
        ("/?flag", "urlp(flag) -m found", false),
        ("/?flag=", "urlp(flag) -m found", true),
        ("/?flag", "url_param -m found", false),
        ("/?flag&a=", "url_param -m found", true),
        ("/?SID=x", "url_param(sid) x", false),
        ("http://h.example/p?sid=x", "url_param(sid) x", true),
        ("/p", "url_param(sid) -m found", false),
    ];
    for (target, expr, expected) in cases {
        let view = RequestView::new("GET", target, &[]);
        assert_eq!(eval(expr, &view), expected, "`{expr}` on {target}");
    }
}

#[test]
fn regex_matching_is_bytewise() {
    let h = [
        httparse::Header {
            name: "X-Kelvin",
            value: "\u{212A}".as_bytes(),
        },
        httparse::Header {
            name: "X-Bytes",
            value: b"a\xffb",
        },
    ];
    let view = RequestView::new("GET", "/caf\u{e9}", &h);
    run(
        &[
            // HAProxy's PCRE works on bytes: -i folds ASCII only, `.` is one byte.
            ("hdr_reg(x-kelvin) -i ^k$", false),
            ("hdr_reg(x-bytes) ^a.b$", true),
            ("path_reg ^/caf.$", false),
            ("path_reg ^/caf..$", true),
            ("path_reg -i ^/CAF\u{e9}$", true),
        ],
        &view,
    );
    // ALB's `?` wildcard compiles to the same byte-wise regex.
    let cond = gangway_acl::AlbRule::new()
        .http_header("X-Bytes", ["a?b*"])
        .compile()
        .unwrap();
    assert!(cond.eval(&view));
}

#[test]
fn path_of_absolute_targets_follows_haproxy() {
    // HAProxy's http_get_path: after `scheme://`, the path starts at the next `/`, even
    // one inside a query string.
    for (target, expr, expected) in [
        ("http://example.com?x=/admin", "path_beg /admin", true),
        ("http://example.com/a?x=/admin", "path /a", true),
        ("http://example.com", "path -m found", false),
        ("example.com:443", "path -m found", false),
        ("*", "path -m found", false),
    ] {
        let view = RequestView::new("GET", target, &[]);
        assert_eq!(eval(expr, &view), expected, "`{expr}` on {target}");
    }
}
