//! No input makes the parsers or the evaluator panic: arbitrary text either parses or
//! returns an error with a position, and whatever parses evaluates on arbitrary requests.

use gangway_acl::{AclSet, AlbRule, Condition, Expr, RequestView};
use proptest::prelude::*;

/// Words and characters that exercise every branch of the grammar.
const PIECES: &[&str] = &[
    " ",
    "\n",
    "\t",
    "{",
    "}",
    "!",
    "!{",
    "||",
    "or",
    "if",
    "unless",
    "-i",
    "-m",
    "-f",
    "--",
    "-n",
    "-x",
    "str",
    "beg",
    "end",
    "sub",
    "dir",
    "dom",
    "reg",
    "found",
    "len",
    "int",
    "ip",
    "bool",
    "path",
    "path_beg",
    "hdr(",
    "hdr(host)",
    "hdr(x,-1)",
    "req.fhdr(a,2)",
    "hdr_cnt",
    "hdr_val(a)",
    "src",
    "url_param(a,;)",
    "req.cook(s)",
    "ssl_fc",
    "method",
    "req.ver",
    "TRUE",
    "METH_GET",
    "acl",
    "x",
    "/",
    "/ws",
    ".",
    ":",
    "?",
    "*",
    "\"",
    "'",
    "\\",
    "#",
    "(",
    ")",
    ",",
    "10.0.0.0/8",
    "::1/200",
    "gt",
    "1:",
    ":5",
    "9999999999999999999999",
    "-1",
    "é",
    "\u{0}",
    "^(",
    "a{2}",
    "path-pattern",
    "host-header",
    "http-header",
    "query-string",
    "source-ip",
    "http-request-method",
    "k=v",
    "=",
    "GET",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..16).prop_map(|p| p.concat())
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b','),
            Just(b'"'),
            Just(b':'),
            Just(b';'),
            Just(b'='),
            Just(b' '),
            any::<u8>()
        ],
        0..24,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsing_never_panics(input in text(), target in "[ -~]{0,24}", value in bytes(), cookie in bytes()) {
        let acls = AclSet::new().with_pattern_loader(|_| Ok("a\n#b\n c\n10.0.0.1\n".to_owned()));
        let mut set = acls.clone();
        let results = [
            Condition::parse(&input).map(drop),
            Expr::parse(&input).map(drop),
            AlbRule::parse(&input).and_then(|r| r.compile()).map(drop),
            set.add_line(&input),
            acls.parse_condition(&input).map(drop),
        ];
        for r in &results {
            if let Err(e) = r {
                // Every error renders and points somewhere (or names a file).
                prop_assert!(!e.to_string().is_empty());
            }
        }
        let headers = [
            httparse::Header { name: "Host", value: &value },
            httparse::Header { name: "x", value: &value },
            httparse::Header { name: "Cookie", value: &cookie },
        ];
        let view = RequestView::new("GET", &target, &headers).with_src("10.0.0.1:1".parse().unwrap());
        if let Ok(c) = acls.parse_condition(&input) {
            let _ = c.eval(&view);
        }
        if let Ok(rule) = AlbRule::parse(&input)
            && let Ok(c) = rule.compile()
        {
            let _ = c.eval(&view);
        }
    }
}
