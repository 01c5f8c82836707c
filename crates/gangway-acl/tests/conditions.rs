//! Condition grammar (implicit and, `or` / `||`, `!`, `{ }`, `if` / `unless`, ORed `acl`
//! lines) and the predefined ACLs.

use gangway_acl::{AclSet, Condition, Expr, Fetch, MatchMethod, RequestView, predefined_acl_names};

fn acls() -> AclSet {
    AclSet::parse(
        "# the seed's ACLs plus a few more
         acl ws path_beg /ws
         acl ws hdr(Upgrade) -i WebSocket
         acl api path_beg /api
         acl internal src 10.0.0.0/8
         acl get method GET",
    )
    .unwrap()
}

#[test]
fn grammar_table() {
    let acls = acls();
    let upgrade = [httparse::Header {
        name: "Upgrade",
        value: b"websocket",
    }];
    let ws_get = RequestView::new("GET", "/ws/x", &[]).with_src("10.0.0.1:1".parse().unwrap());
    let api_post = RequestView::new("POST", "/api/x", &[]).with_src("192.0.2.1:1".parse().unwrap());
    let upgrade_get = RequestView::new("GET", "/chat", &upgrade);
    // (condition, on ws_get, on api_post, on upgrade_get)
    let cases: &[(&str, bool, bool, bool)] = &[
        ("ws", true, false, true),
        ("if ws", true, false, true),
        ("unless ws", false, true, false),
        ("ws get", true, false, true),
        ("ws internal", true, false, false),
        ("ws or api", true, true, true),
        ("ws || api", true, true, true),
        ("api || ws internal", true, true, false),
        ("!ws", false, true, false),
        ("! ws", false, true, false),
        ("! ! ws", true, false, true),
        ("!ws !api", false, false, false),
        ("unless !ws", true, false, true),
        ("{ path_beg /api } !get", false, true, false),
        (
            "{ path_beg /api } || { hdr(upgrade) -i websocket }",
            false,
            true,
            true,
        ),
        ("! { src 10.0.0.0/8 }", false, true, true),
        ("path_beg /ws /api", true, true, false),
        ("path_beg /api or ws internal", true, true, false),
        ("!path_beg /ws", false, true, true),
        ("{ path_beg /ws } { method GET } || TRUE", true, true, true),
        ("FALSE || get", true, false, true),
        ("TRUE FALSE", false, false, false),
        ("METH_GET HTTP_1.1", true, false, true),
        ("{ path -m sub or }", false, false, false),
        ("{ path_beg \"/ws\" }", true, false, false),
    ];
    for (text, a, b, c) in cases {
        let cond = acls
            .parse_condition(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            [
                cond.eval(&ws_get),
                cond.eval(&api_post),
                cond.eval(&upgrade_get)
            ],
            [*a, *b, *c],
            "{text}"
        );
    }
}

#[test]
fn combinators_match_text() {
    let ws = Condition::from(Expr::parse("path_beg /ws").unwrap());
    let get = Condition::from(
        Expr::builder(Fetch::Method)
            .method(MatchMethod::Str)
            .pattern("GET")
            .build()
            .unwrap(),
    );
    let upgrade = [httparse::Header {
        name: "Upgrade",
        value: b"websocket",
    }];
    let views = [
        RequestView::new("GET", "/ws", &[]),
        RequestView::new("POST", "/ws", &[]),
        RequestView::new("GET", "/", &upgrade),
    ];
    let pairs = [
        (
            ws.clone().and(get.clone()),
            "{ path_beg /ws } { method GET }",
        ),
        (
            ws.clone().or(get.clone()),
            "{ path_beg /ws } || { method GET }",
        ),
        (!ws.clone(), "! { path_beg /ws }"),
        (!!ws.clone(), "{ path_beg /ws }"),
        (
            Condition::all([ws.clone(), !get.clone()]),
            "{ path_beg /ws } !{ method GET }",
        ),
        (Condition::any([]), "FALSE"),
        (Condition::all([]), "TRUE"),
        (Condition::always(), "TRUE"),
        (Condition::never(), "always_false"),
    ];
    for (built, text) in pairs {
        let parsed: Condition = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        for v in &views {
            assert_eq!(built.eval(v), parsed.eval(v), "{text}");
        }
    }
    assert!(Condition::never().is_never());
    assert!(!Condition::always().is_never());
}

#[test]
fn acl_lines_with_one_name_are_ored_and_snapshot() {
    let mut acls = AclSet::new();
    acls.add_line("acl x path /a").unwrap();
    let before = acls.parse_condition("x").unwrap();
    acls.add_line("acl x path /b").unwrap();
    let after = acls.get("x").unwrap();
    let b = RequestView::new("GET", "/b", &[]);
    assert!(
        !before.eval(&b),
        "a condition sees the lines declared before it"
    );
    assert!(after.eval(&b));
    assert!(acls.contains("x"));
    assert_eq!(acls.names().collect::<Vec<_>>(), ["x"]);
    acls.add("y", Expr::parse("path /c").unwrap()).unwrap();
    assert!(
        acls.parse_condition("y")
            .unwrap()
            .eval(&RequestView::new("GET", "/c", &[]))
    );
}

#[test]
fn predefined_acls() {
    let names: Vec<&str> = predefined_acl_names().collect();
    let acls = AclSet::new();
    for name in &names {
        assert!(acls.get(name).is_some(), "{name} must compile");
    }
    let content = [httparse::Header {
        name: "Content-Length",
        value: b"12",
    }];
    let empty = [httparse::Header {
        name: "Content-Length",
        value: b"0",
    }];
    let get11 = RequestView::new("GET", "/x", &[]).with_src("127.0.0.1:1".parse().unwrap());
    let post10 = RequestView::new("POST", "http://h/x", &content)
        .with_version_minor(0)
        .with_src("[::1]:1".parse().unwrap());
    let star = RequestView::new("OPTIONS", "*", &empty).with_src("192.0.2.1:1".parse().unwrap());
    // (name, get11, post10, star)
    let cases: &[(&str, bool, bool, bool)] = &[
        ("TRUE", true, true, true),
        ("FALSE", false, false, false),
        ("HTTP", true, true, true),
        ("HTTP_1.0", false, true, false),
        ("HTTP_1.1", true, false, true),
        ("HTTP_2.0", false, false, false),
        ("HTTP_CONTENT", false, true, false),
        ("HTTP_URL_ABS", false, true, false),
        ("HTTP_URL_SLASH", true, false, false),
        ("HTTP_URL_STAR", false, false, true),
        ("LOCALHOST", true, true, false),
        ("METH_CONNECT", false, false, false),
        ("METH_DELETE", false, false, false),
        ("METH_GET", true, false, false),
        ("METH_HEAD", false, false, false),
        ("METH_OPTIONS", false, false, true),
        ("METH_POST", false, true, false),
        ("METH_PUT", false, false, false),
        ("METH_TRACE", false, false, false),
    ];
    assert_eq!(
        cases.len(),
        names.len(),
        "every predefined ACL is in the table"
    );
    for (name, a, b, c) in cases {
        let cond = acls.get(name).unwrap();
        assert_eq!(
            [cond.eval(&get11), cond.eval(&post10), cond.eval(&star)],
            [*a, *b, *c],
            "{name}"
        );
    }
    assert!(RequestView::new("HEAD", "/", &[]).method == "HEAD");
    assert!(
        acls.get("METH_GET")
            .unwrap()
            .eval(&RequestView::new("HEAD", "/", &[]))
    );
}
