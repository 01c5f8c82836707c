//! Parse errors name the line, column and token and say what was expected; unknown
//! fetches and ACL names are errors, never silently false.

use std::io;
use std::path::Path;

use gangway_acl::{AclSet, AlbRule, Condition, Error, Expr, Position};

fn at(line: u32, column: u32) -> Option<Position> {
    Some(Position { line, column })
}

#[test]
fn condition_errors_name_place_token_and_expectation() {
    // (condition text, line, column, words the message must contain)
    let cases: &[(&str, u32, u32, &[&str])] = &[
        (
            "pth_beg /ws",
            1,
            1,
            &["unknown fetch", "`pth_beg`", "expected a sample fetch"],
        ),
        (
            "hdrx(Upgrade) -i ws",
            1,
            1,
            &["unknown fetch", "`hdrx(Upgrade)`"],
        ),
        (
            "is_websocket",
            1,
            1,
            &[
                "unknown ACL",
                "`is_websocket`",
                "expected the name of an ACL",
            ],
        ),
        (
            "TRUE or",
            1,
            8,
            &["unexpected `end of input`", "expected an ACL name"],
        ),
        (
            "|| TRUE",
            1,
            1,
            &["unexpected `||`", "expected an ACL name"],
        ),
        (
            "{ path_beg /ws",
            1,
            15,
            &["`end of input`", "`}` closing the `{` at line 1, column 1"],
        ),
        ("TRUE }", 1, 6, &["unexpected `}`", "no `{` is open"]),
        (
            "{ }",
            1,
            3,
            &["unexpected `}`", "a fetch expression inside `{ }`"],
        ),
        (
            "if\n  { path_beg -x /ws }",
            2,
            14,
            &["unexpected `-x`", "a flag (-i, -m <method>"],
        ),
        (
            "{ path -m bogus /ws }",
            1,
            11,
            &["unexpected `bogus`", "a matching method after `-m`"],
        ),
        (
            "{ path_beg -m str /ws }",
            1,
            12,
            &["`path_beg` already implies `-m beg`"],
        ),
        (
            "{ src 10.0.0.0/33 }",
            1,
            7,
            &["invalid `10.0.0.0/33`", "mask length"],
        ),
        (
            "{ src example.com }",
            1,
            7,
            &["invalid `example.com`", "host names are not resolved"],
        ),
        (
            "{ hdr_cnt(x) gt }",
            1,
            17,
            &["`}`", "an integer after `gt`"],
        ),
        (
            "{ hdr_cnt(x) many }",
            1,
            14,
            &["invalid `many`", "expected an integer"],
        ),
        ("{ path_reg ^(unclosed }", 1, 12, &["invalid `^(unclosed`"]),
        // Byte-wise matching (HAProxy's PCRE): Unicode classes are refused at load.
        (
            "{ path_reg '^/\\p{L}+$' }",
            1,
            12,
            &["invalid `^/\\p{L}+$`", "Unicode not allowed", "byte-wise"],
        ),
        (
            "{ hdr_reg(x) -i ok [\u{e9}] }",
            1,
            20,
            &["invalid `[\u{e9}]`", "byte-wise"],
        ),
        (
            "{ hdr(x) }",
            1,
            10,
            &["end of expression", "at least one pattern", "-m found"],
        ),
        ("{ hdr_cnt(x) -m beg 1 }", 1, 3, &["`beg` cannot compare"]),
        ("{ ssl_fc 1 }", 1, 10, &["`-m bool` takes no pattern"]),
        (
            "{ hdr(x,first) y }",
            1,
            3,
            &["occurrence `first` must be an integer"],
        ),
        ("{ path(x) /a }", 1, 3, &["takes no argument"]),
        ("{ path \"/unterminated }", 1, 8, &["closing `\"`"]),
    ];
    for (text, line, column, needles) in cases {
        let err = Condition::parse(text).expect_err(text);
        assert_eq!(err.position(), at(*line, *column), "{text:?}: {err}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("line {line}, column {column}: ")),
            "{text:?}: {message}"
        );
        for needle in *needles {
            assert!(
                message.contains(needle),
                "{text:?}: `{message}` lacks `{needle}`"
            );
        }
    }
}

#[test]
fn acl_line_errors() {
    let mut acls = AclSet::new();
    let cases: &[(&str, u32, &str)] = &[
        ("use_backend x", 1, "expected `acl`"),
        ("acl", 4, "an ACL name after `acl`"),
        ("acl bad/name path /", 5, "an ACL name made of letters"),
        ("acl TRUE path /", 5, "not a predefined ACL"),
        ("acl x", 6, "a sample fetch"),
        ("acl x nosuch 1", 7, "unknown fetch `nosuch`"),
    ];
    for (line, column, needle) in cases {
        let err = acls.add_line(line).expect_err(line);
        assert_eq!(err.position(), at(1, *column), "{line}: {err}");
        assert!(err.to_string().contains(needle), "{line}: {err}");
    }
    // Line numbers of multi-line text are kept.
    let err = AclSet::parse("acl a path /\n\n# comment\nacl b path_beg -q /x\n").unwrap_err();
    assert_eq!(err.position(), at(4, 16), "{err}");
    assert_eq!(err.at_line(100).position(), at(103, 16));
}

#[test]
fn acl_must_be_declared_before_use() {
    let mut acls = AclSet::new();
    let err = acls.parse_condition("if is_ws").unwrap_err();
    assert!(
        matches!(err, Error::UnknownAcl { ref name, .. } if name == "is_ws"),
        "{err}"
    );
    acls.add_line("acl is_ws path_beg /ws").unwrap();
    assert!(acls.parse_condition("if is_ws").is_ok());
}

#[test]
fn pattern_file_errors_name_file_and_line() {
    let acls = AclSet::new().with_pattern_loader(|path: &Path| match path.to_str() {
        Some("nets.lst") => Ok("# office\n10.0.0.0/8\n\n192.168.0.0/16\nnot-an-ip\n".to_owned()),
        Some("paths.lst") => Ok("/a\n/b\n".to_owned()),
        _ => Err(io::Error::new(io::ErrorKind::NotFound, "no such file")),
    });
    let err = acls.parse_expr("src -f nets.lst").unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, Error::PatternFile { line: 5, .. }),
        "{message}"
    );
    assert!(
        message.starts_with("nets.lst, line 5: invalid pattern `not-an-ip`"),
        "{message}"
    );

    let err = acls
        .parse_condition("{ path_beg -f missing.lst }")
        .unwrap_err();
    assert_eq!(err.position(), at(1, 15));
    assert!(
        err.to_string()
            .contains("cannot read pattern file missing.lst: no such file"),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());

    // Patterns from the file and the line are merged.
    let expr = acls.parse_expr("path_beg -f paths.lst /c").unwrap();
    assert_eq!(expr.pattern_count(), 3);
}

#[test]
fn reading_pattern_files_from_disk() {
    let dir = std::env::temp_dir().join(format!("gangway-acl-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hosts.lst");
    std::fs::write(&file, "api.example.com\n  www.example.com\n#comment\n").unwrap();
    let text = format!("hdr(host) -i -f {}", file.display());
    let expr = Expr::parse(&text).unwrap();
    assert_eq!(expr.pattern_count(), 2);
    let h = [httparse::Header {
        name: "host",
        value: b"WWW.example.com",
    }];
    assert!(expr.eval(&gangway_acl::RequestView::new("GET", "/", &h)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn builder_and_alb_errors() {
    let err = Expr::builder(gangway_acl::Fetch::Src)
        .pattern("nope")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("invalid `nope`"), "{err}");
    let err = Expr::builder(gangway_acl::Fetch::Path).build().unwrap_err();
    assert!(err.to_string().contains("at least one pattern"), "{err}");

    let err = AlbRule::parse("path-pattern /a\nsource-ip 10.0.0.0/99").unwrap_err();
    assert_eq!(err.position(), at(2, 11), "{err}");
    let err = AlbRule::parse("path-patern /a").unwrap_err();
    assert!(err.to_string().contains("an ALB condition field"), "{err}");
    let err = AlbRule::parse("http-request-method get").unwrap_err();
    assert!(err.to_string().contains("A-Z"), "{err}");
    let err = AlbRule::parse("host-header").unwrap_err();
    assert!(
        err.to_string()
            .contains("at least one value for `host-header`"),
        "{err}"
    );
    let err = AlbRule::new()
        .path_pattern(Vec::<String>::new())
        .compile()
        .unwrap_err();
    assert!(err.to_string().contains("at least one value"), "{err}");
}

#[test]
fn regex_errors_name_the_pattern() {
    // Through the builder (the path ALB rules and code take), a set names its bad member.
    let err = gangway_acl::Expr::builder(gangway_acl::Fetch::Path)
        .method(gangway_acl::MatchMethod::Reg)
        .patterns(["^/ok", "^/\\p{Greek}"])
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("`^/\\p{Greek}`"), "{err}");
    assert!(err.contains("byte-wise"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}
