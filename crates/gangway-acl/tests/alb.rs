//! ALB-style conditions compile to the same form as ACLs and follow ALB's matching rules.

use gangway_acl::{AlbCondition, AlbRule, Condition, QueryPair, RequestView};

fn view<'a>(
    method: &'a str,
    target: &'a str,
    headers: &'a [httparse::Header<'a>],
) -> RequestView<'a> {
    RequestView::new(method, target, headers).with_src("10.1.2.3:5000".parse().unwrap())
}

#[test]
fn alb_conditions_table() {
    let h = [
        httparse::Header {
            name: "Host",
            value: b"API.example.com:443",
        },
        httparse::Header {
            name: "Upgrade",
            value: b"WebSocket",
        },
        httparse::Header {
            name: "User-Agent",
            value: b"Mozilla/5.0 (Mobile; rv:1)",
        },
        httparse::Header {
            name: "Connection",
            value: b"keep-alive, Upgrade",
        },
    ];
    let req = view("GET", "/ws/chat/room?Version=V2&lang=en", &h);
    let cases: &[(&str, bool)] = &[
        ("path-pattern /ws/chat/room", true),
        ("path-pattern /ws*", true),
        ("path-pattern /WS*", false),
        ("path-pattern */room", true),
        ("path-pattern *chat*", true),
        ("path-pattern /ws/????/room", true),
        ("path-pattern /ws/???/room", false),
        ("path-pattern /ws/*/r?om", true),
        ("path-pattern /api* /ws/c*", true),
        ("path-pattern /ws/chat/room?Version=V2*", false),
        ("path-pattern *", true),
        ("host-header api.example.com", true),
        ("host-header *.example.com", true),
        ("host-header *.example.org", false),
        ("host-header api.*", true),
        ("host-header a?i.example.com", true),
        ("host-header www.example.com example.net", false),
        ("http-header Upgrade websocket", true),
        ("http-header upgrade WEB*", true),
        ("http-header Upgrade h2c", false),
        ("http-header User-Agent *Mobile*", true),
        ("http-header User-Agent *Desktop*", false),
        ("http-header Connection *upgrade", true),
        ("http-header Connection upgrade", false),
        ("http-header X-Missing *", false),
        ("http-header Upgrade *", true),
        ("http-request-method GET", true),
        ("http-request-method POST PUT", false),
        ("query-string version=v2", true),
        ("query-string version=v3", false),
        ("query-string lang=e?", true),
        ("query-string =en", true),
        ("query-string en", true),
        ("query-string fr de", false),
        ("query-string missing=*", false),
        ("source-ip 10.0.0.0/8", true),
        ("source-ip 192.168.0.0/16 10.1.2.3/32", true),
        ("source-ip 192.168.0.0/16", false),
        ("path-pattern /ws* http-header Upgrade websocket", true),
        ("path-pattern /ws* http-header Upgrade h2c", false),
        ("host-header *.example.com path-pattern /api/*", false),
        ("path-pattern '/ws\\*'", false),
    ];
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let rule: AlbRule = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        let condition = rule.compile().unwrap_or_else(|e| panic!("{text}: {e}"));
        if condition.eval(&req) != *expected {
            failures.push(format!("`{text}` should be {expected}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn escaped_wildcards_are_literal() {
    let cond = AlbRule::new()
        .path_pattern(["/a\\*b", "/q\\?"])
        .compile()
        .unwrap();
    assert!(cond.eval(&view("GET", "/a*b", &[])));
    assert!(!cond.eval(&view("GET", "/axxb", &[])));
    assert!(!cond.eval(&view("GET", "/q?x=1", &[])));
    assert!(!cond.eval(&view("GET", "/qx", &[])));
}

#[test]
fn builder_and_text_agree() {
    let built = AlbRule::new()
        .host_header(["*.example.com"])
        .http_header("Upgrade", ["websocket"])
        .query_string([(Some("v"), "2"), (None, "beta")])
        .source_ip(["10.0.0.0/8"])
        .http_request_method(["GET"]);
    let parsed: AlbRule = "host-header *.example.com http-header Upgrade websocket \
                           query-string v=2 beta source-ip 10.0.0.0/8 http-request-method GET"
        .parse()
        .unwrap();
    assert_eq!(built, parsed);
    assert_eq!(
        built.conditions()[2],
        AlbCondition::QueryString(vec![
            QueryPair {
                key: Some("v".into()),
                value: "2".into()
            },
            QueryPair {
                key: None,
                value: "beta".into()
            },
        ])
    );
    let h = [
        httparse::Header {
            name: "Host",
            value: b"a.example.com",
        },
        httparse::Header {
            name: "Upgrade",
            value: b"websocket",
        },
    ];
    let cond = built.compile().unwrap();
    assert!(cond.eval(&view("GET", "/?v=2", &h)));
    assert!(cond.eval(&view("GET", "/?x=beta", &h)));
    assert!(!cond.eval(&view("GET", "/?v=3", &h)));
    assert!(!cond.eval(&view("POST", "/?v=2", &h)));
}

#[test]
fn alb_and_acl_conditions_combine() {
    let alb = AlbRule::new().path_pattern(["/ws*"]).compile().unwrap();
    let acl: Condition = "hdr(Upgrade) -i websocket".parse().unwrap();
    let both = alb.and(acl);
    let h = [httparse::Header {
        name: "Upgrade",
        value: b"websocket",
    }];
    assert!(both.eval(&view("GET", "/ws", &h)));
    assert!(!both.eval(&view("GET", "/ws", &[])));
    assert!(
        AlbRule::new()
            .compile()
            .unwrap()
            .eval(&view("GET", "/", &[]))
    );
}

#[test]
fn query_string_pairs_split_on_ampersand_only() {
    // ALB reads key/value pairs after `?` separated by `&`: `;` and a second `?` are
    // part of a value, unlike HAProxy's url_param.
    let cases = [
        ("/p?a=1;b=2", (Some("a"), "1;b=2"), true),
        ("/p?a=1;b=2", (Some("b"), "2"), false),
        ("/p?a=1?b=2", (Some("a"), "1?b=2"), true),
        ("/p?A=x&b=2", (Some("a"), "X"), true),
        ("/p?a=1&b=2", (Some("b"), "2"), true),
        ("/p;a=1", (Some("a"), "1"), false),
    ];
    for (target, (key, value), expected) in cases {
        let cond = AlbRule::new()
            .query_string([(key, value)])
            .compile()
            .unwrap();
        assert_eq!(
            cond.eval(&view("GET", target, &[])),
            expected,
            "{key:?}={value} on {target}"
        );
    }
}
