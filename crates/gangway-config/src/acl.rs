//! Structural checks of ACL lines and rule conditions: balanced braces, operators in place,
//! every ACL name defined.

use gangway_acl::AclSet;

use crate::lexer::{Word, split_line};

/// `nbsrv(BACKEND) [OP] N`: a test on how many servers of a backend are up. gangway-acl has
/// no such fetch (it only sees the request); the gateway can act on it in `monitor fail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NbsrvTest {
    pub(crate) backend: String,
    pub(crate) operator: String,
    pub(crate) value: i64,
}

// Only planning a gateway (`monitor fail`) asks these.
#[cfg(feature = "gateway")]
impl NbsrvTest {
    /// Whether the test holds exactly when the backend has no server up.
    pub(crate) fn is_none_up(&self) -> bool {
        matches!(
            (self.operator.as_str(), self.value),
            ("lt", 1) | ("le", 0) | ("eq", 0)
        )
    }

    /// Whether the test holds exactly when the backend has a server up.
    pub(crate) fn is_some_up(&self) -> bool {
        matches!((self.operator.as_str(), self.value), ("gt", 0) | ("ge", 1))
    }
}

/// Reads `nbsrv(NAME) [-m int] [lt|le|eq|ge|gt] N`.
pub(crate) fn nbsrv_test(expr: &str) -> Option<NbsrvTest> {
    let words = split_line(expr, &|_| None).ok()?;
    let mut values = words.iter().map(|w| w.value.as_str());
    let backend = values.next()?.strip_prefix("nbsrv(")?.strip_suffix(')')?;
    let mut rest: Vec<&str> = values.collect();
    if rest.len() >= 2 && rest[0] == "-m" && rest[1] == "int" {
        rest.drain(..2);
    }
    let (operator, value) = match rest.as_slice() {
        [value] => ("eq", *value),
        [operator @ ("lt" | "le" | "eq" | "ge" | "gt"), value] => (*operator, *value),
        _ => return None,
    };
    Some(NbsrvTest {
        backend: backend.to_owned(),
        operator: operator.to_owned(),
        value: value.parse().ok()?,
    })
}

/// The anonymous ACL opened by the `{` at `words[open]`: the raw text of its words and the
/// index of its `}`; `None` when it is not closed.
pub(crate) fn anonymous_acl<'a>(words: &[Word<'a>], open: usize) -> Option<(Vec<&'a str>, usize)> {
    let close = open + 1 + words[open + 1..].iter().position(|w| w.value == "}")?;
    let inner = words[open + 1..close].iter().map(|w| w.raw).collect();
    Some((inner, close))
}

/// Replaces anonymous `{ nbsrv(...) ... }` ACLs by `FALSE` so gangway-acl can check the rest.
pub(crate) fn without_nbsrv(text: &str) -> String {
    let Ok(words) = split_line(text, &|_| None) else {
        return text.to_owned();
    };
    let mut out: Vec<&str> = Vec::new();
    let mut index = 0;
    while index < words.len() {
        if words[index].value == "{"
            && let Some((inner, close)) = anonymous_acl(&words, index)
            && nbsrv_test(&inner.join(" ")).is_some()
        {
            out.push("FALSE");
            index = close + 1;
            continue;
        }
        out.push(words[index].raw);
        index += 1;
    }
    out.join(" ")
}

/// Checks the text after `acl NAME` with gangway-acl's parser.
pub(crate) fn check_acl_line(expr: &str) -> Result<(), String> {
    check_acl_words(expr)?;
    if nbsrv_test(expr).is_some() {
        return Ok(());
    }
    AclSet::new()
        .parse_expr(expr)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// Word-level check (before gangway-acl sees the text).
fn check_acl_words(expr: &str) -> Result<(), String> {
    let words = split_line(expr, &|_| None)?;
    let Some(criterion) = words.first() else {
        return Err("missing criterion".to_owned());
    };
    let fetch = criterion.value.split('(').next().unwrap_or_default();
    if fetch.is_empty()
        || !fetch
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(format!("invalid criterion '{}'", criterion.value));
    }
    if criterion.value.contains('(') && !criterion.value.contains(')') {
        return Err(format!("unclosed '(' in '{}'", criterion.value));
    }
    Ok(())
}

/// Checks condition text (`a !b || { path_beg /ws }`): HAProxy's structure and names first
/// (gangway-acl alone would also take inline expressions without braces), then compiles it
/// with gangway-acl against the section's ACLs.
pub(crate) fn check_condition(text: &str, acls: &AclSet) -> Result<(), String> {
    check_condition_words(text, acls)?;
    acls.parse_condition(&format!("if {}", without_nbsrv(text)))
        .map(|_| ())
        .map_err(|error| error.to_string())
}

fn check_condition_words(text: &str, acls: &AclSet) -> Result<(), String> {
    let words = split_line(text, &|_| None)?;
    let mut expect_term = true;
    let mut index = 0;
    while index < words.len() {
        let word = words[index].value.as_str();
        match word {
            "||" | "or" => {
                if expect_term {
                    return Err(format!("'{word}' needs a condition on both sides"));
                }
                expect_term = true;
            }
            "{" => {
                let Some((inner, close)) = anonymous_acl(&words, index) else {
                    return Err("'{' without a matching '}'".to_owned());
                };
                if inner.is_empty() {
                    return Err("empty anonymous ACL '{ }'".to_owned());
                }
                if inner.contains(&"{") {
                    return Err("anonymous ACLs cannot be nested".to_owned());
                }
                check_acl_words(&inner.join(" "))
                    .map_err(|message| format!("anonymous ACL: {message}"))?;
                index = close;
                expect_term = false;
            }
            "}" => return Err("'}' without a matching '{'".to_owned()),
            "!" => {
                if index + 1 >= words.len() {
                    return Err("'!' at the end of the condition".to_owned());
                }
                index += 1;
                continue;
            }
            _ => {
                let name = word.strip_prefix('!').unwrap_or(word);
                if name.starts_with('!') {
                    return Err(format!("'{word}': use a single '!'"));
                }
                if !acls.contains(name) && !gangway_acl::predefined_acl_names().any(|p| p == name) {
                    return Err(format!("no ACL named '{name}' in this section"));
                }
                expect_term = false;
            }
        }
        index += 1;
    }
    if expect_term {
        return Err("condition ends without a term".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        let names =
            AclSet::parse("acl is_ws path_beg /ws\nacl is_example hdr_end(host) -i example.com")
                .unwrap();
        let cases: &[(&str, bool)] = &[
            ("is_ws", true),
            ("is_ws is_example", true),
            ("!is_ws", true),
            ("! is_ws", true),
            ("is_ws || is_example", true),
            ("is_ws or !is_example", true),
            ("{ path_beg /ws }", true),
            ("{ path_beg /ws } || is_ws", true),
            ("METH_GET", true),
            ("TRUE", true),
            ("missing", false),
            ("is_ws ||", false),
            ("|| is_ws", false),
            ("{ path_beg /ws", false),
            ("path_beg /ws }", false),
            ("{ }", false),
            ("!!is_ws", false),
            ("", false),
        ];
        for (text, ok) in cases {
            assert_eq!(check_condition(text, &names).is_ok(), *ok, "{text}");
        }
    }

    #[test]
    fn nbsrv_tests() {
        type Case<'a> = (&'a str, Option<(&'a str, &'a str, i64)>);
        let cases: &[Case<'_>] = &[
            ("nbsrv(be) lt 1", Some(("be", "lt", 1))),
            ("nbsrv(dynamic) -m int lt 2", Some(("dynamic", "lt", 2))),
            ("nbsrv(be) 0", Some(("be", "eq", 0))),
            ("nbsrv(be) gt 0", Some(("be", "gt", 0))),
            ("nbsrv be lt 1", None),
            ("nbsrv(be) lt", None),
            ("path_beg /x", None),
        ];
        for (text, expected) in cases {
            let got = nbsrv_test(text);
            let got = got
                .as_ref()
                .map(|t| (t.backend.as_str(), t.operator.as_str(), t.value));
            assert_eq!(got, *expected, "{text}");
        }
        assert_eq!(without_nbsrv("{ nbsrv(be) lt 1 } || down"), "FALSE || down");
    }

    #[test]
    fn acl_lines() {
        for (text, ok) in [
            ("path_beg /ws", true),
            ("hdr(Upgrade) -i WebSocket", true),
            ("hdr_end(host) -i ws.example.com", true),
            ("hdr(Upgrade -i x", false),
            ("", false),
            ("$bad x", false),
        ] {
            assert_eq!(check_acl_line(text).is_ok(), ok, "{text}");
        }
    }
}
