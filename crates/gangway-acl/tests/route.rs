//! Route tables: first matching rule wins, default otherwise; the index over simple rules
//! never changes which rule wins.

use gangway_acl::{Condition, RequestView, RouteMatch, RouteTable};
use proptest::prelude::*;

fn parse(text: &str) -> Condition {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn first_match_then_default() {
    let table = RouteTable::new()
        .with_route(parse("{ path_beg /api/v2/ }"), "v2")
        .with_route(parse("{ path_beg /api/ } !METH_GET"), "api-writes")
        .with_route(parse("{ path_beg /api/ }"), "api")
        .with_route(
            parse("{ hdr(host) -i static.example.com } || { path_end .css .js }"),
            "static",
        )
        .with_default("web");
    let cases = [
        ("GET", "/api/v2/users", None, "v2"),
        ("POST", "/api/v1/users", None, "api-writes"),
        ("GET", "/api/v1/users", None, "api"),
        ("GET", "/app.js", None, "static"),
        ("GET", "/", Some("STATIC.example.com:443"), "static"),
        ("GET", "/", Some("www.example.com"), "web"),
    ];
    for (method, target, host, expected) in cases {
        let headers: Vec<httparse::Header<'_>> = host
            .iter()
            .map(|h| httparse::Header {
                name: "Host",
                value: h.as_bytes(),
            })
            .collect();
        let view = RequestView::new(method, target, &headers);
        assert_eq!(
            table.route(&view),
            Some(&expected),
            "{method} {target} {host:?}"
        );
    }
    assert_eq!(table.len(), 4);
    let without_default = RouteTable::new().with_route(parse("{ path_beg /ws }"), 1);
    assert_eq!(
        without_default.find(&RequestView::new("GET", "/", &[])),
        None
    );
    assert_eq!(
        without_default.find(&RequestView::new("GET", "/ws", &[])),
        Some(RouteMatch::Rule(0))
    );
    let mapped = table.map(str::len);
    assert_eq!(mapped.route(&RequestView::new("GET", "/", &[])), Some(&3));
}

#[test]
fn an_earlier_unindexed_rule_beats_a_later_indexed_one() {
    let mut table = RouteTable::new();
    table.push(parse("{ path_sub admin }"), "admin");
    for i in 0..100 {
        table.push(parse(&format!("{{ path_beg /t{i}/ }}")), "tenant");
    }
    table.push(parse("TRUE"), "catch-all");
    assert_eq!(
        table.route(&RequestView::new("GET", "/t5/admin", &[])),
        Some(&"admin")
    );
    assert_eq!(
        table.route(&RequestView::new("GET", "/t5/x", &[])),
        Some(&"tenant")
    );
    assert_eq!(
        table.route(&RequestView::new("GET", "/other", &[])),
        Some(&"catch-all")
    );
}

#[test]
fn and_rules_are_candidates_only_when_their_indexed_term_matches() {
    let mut table = RouteTable::new();
    for i in 0..200 {
        table.push(
            parse(&format!("{{ path_beg /t{i}/ }} {{ hdr(x-tenant) t{i} }}")),
            i,
        );
    }
    table.push(parse("{ path_beg /t7/ }"), 1000);
    table.set_default(2000);
    let tenant = [httparse::Header {
        name: "X-Tenant",
        value: b"t7",
    }];
    let other = [httparse::Header {
        name: "X-Tenant",
        value: b"t8",
    }];
    assert_eq!(
        table.route(&RequestView::new("GET", "/t7/x", &tenant)),
        Some(&7)
    );
    assert_eq!(
        table.route(&RequestView::new("GET", "/t7/x", &other)),
        Some(&1000)
    );
    assert_eq!(
        table.route(&RequestView::new("GET", "/t8/x", &other)),
        Some(&8)
    );
    assert_eq!(
        table.route(&RequestView::new("GET", "/t8/x", &tenant)),
        Some(&2000)
    );
}

// `:8` makes Host values and patterns with ports (compared whole, not stripped).
const SEGMENTS: &[&str] = &["/a", "/b", "/ab", "/A", ".js", "x", ":8"];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(SEGMENTS), 1..4).prop_map(|p| p.concat())
}

fn simple() -> BoxedStrategy<String> {
    (
        prop::sample::select(
            &[
                "path",
                "path_beg",
                "path_end",
                "path_sub",
                "hdr(host)",
                "hdr_beg(host)",
                "hdr_end(host)",
                "path_dir",
            ][..],
        ),
        any::<bool>(),
        prop::collection::vec(text(), 1..4),
    )
        .prop_map(|(fetch, ic, patterns)| {
            let flag = if ic { " -i" } else { "" };
            format!("{{ {fetch}{flag} {} }}", patterns.join(" "))
        })
        .boxed()
}

fn rule() -> impl Strategy<Value = String> {
    let simple = simple();
    prop_oneof![
        4 => simple.clone(),
        1 => (simple.clone(), simple.clone()).prop_map(|(a, b)| format!("{a} || {b}")),
        1 => (simple.clone(), simple.clone()).prop_map(|(a, b)| format!("{a} {b}")),
        1 => simple.prop_map(|a| format!("! {a}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn indexed_table_picks_the_first_matching_rule(
        rules in prop::collection::vec(rule(), 1..40),
        requests in prop::collection::vec((text(), prop::option::of(text())), 1..8),
    ) {
        let conditions: Vec<Condition> = rules.iter().map(|r| parse(r)).collect();
        let mut table = RouteTable::new();
        for (i, c) in conditions.iter().enumerate() {
            table.push(c.clone(), i);
        }
        for (path, host) in &requests {
            let headers: Vec<httparse::Header<'_>> = host
                .iter()
                .map(|h| httparse::Header { name: "Host", value: h.as_bytes() })
                .collect();
            let view = RequestView::new("GET", path, &headers);
            let linear = conditions.iter().position(|c| c.eval(&view));
            prop_assert_eq!(table.route(&view).copied(), linear, "path {} host {:?}", path, host);
        }
    }
}
