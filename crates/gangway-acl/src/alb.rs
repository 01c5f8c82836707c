//! ALB-style rule conditions (`path-pattern`, `host-header`, `http-header`,
//! `http-request-method`, `query-string`, `source-ip`), compiled into the same
//! [`Condition`] form as HAProxy ACLs.
//!
//! Within one condition the values are ORed; the conditions of a rule are ANDed.
//! `*` matches any run of characters and `?` exactly one; `\*` and `\?` are literal.
//! Wildcard values are compiled to the cheapest matching method: no wildcard is an
//! exact match, `/ws*` a prefix, `*.example.com` a suffix, `*x*` a substring, and
//! anything else an anchored regular expression.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::condition::Condition;
use crate::error::{Error, Position};
use crate::expr::Expr;
use crate::fetch::Fetch;
use crate::lexer;
use crate::pattern::{self, MatchMethod};

/// One ALB condition; its values are ORed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlbCondition {
    /// `path-pattern`: case-sensitive wildcard match on the path (query excluded).
    PathPattern(Vec<String>),
    /// `host-header`: case-insensitive wildcard match on the Host name (port ignored).
    HostHeader(Vec<String>),
    /// `http-header`: case-insensitive wildcard match on a header's whole value.
    HttpHeader {
        /// Header name (any case, no wildcards).
        name: String,
        /// Wildcard values.
        values: Vec<String>,
    },
    /// `http-request-method`: case-sensitive exact method names.
    HttpRequestMethod(Vec<String>),
    /// `query-string`: case-insensitive wildcard match on query parameters.
    QueryString(Vec<QueryPair>),
    /// `source-ip`: client address in one of the CIDR blocks.
    SourceIp(Vec<String>),
}

/// A `query-string` value: a parameter named `key` (any parameter when `None`) whose value
/// matches the wildcard `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPair {
    /// Parameter name (compared without case), or any parameter.
    pub key: Option<String>,
    /// Wildcard pattern for the value.
    pub value: String,
}

/// An ALB rule's conditions, all of which must hold.
///
/// ```
/// use gangway_acl::{AlbRule, RequestView};
/// let cond = AlbRule::new()
///     .path_pattern(["/ws*", "/socket.io/*"])
///     .http_header("Upgrade", ["websocket"])
///     .compile()
///     .unwrap();
/// let headers = [httparse::Header { name: "Upgrade", value: b"WebSocket" }];
/// assert!(cond.eval(&RequestView::new("GET", "/ws/echo", &headers)));
///
/// // The same rule as text: a field name starts each condition.
/// let rule: AlbRule = "path-pattern /ws* /socket.io/* http-header Upgrade websocket".parse().unwrap();
/// assert!(rule.compile().unwrap().eval(&RequestView::new("GET", "/ws", &headers)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlbRule {
    conditions: Vec<AlbCondition>,
}

impl AlbRule {
    /// A rule with no conditions (it always holds).
    pub fn new() -> Self {
        AlbRule::default()
    }

    /// Adds a condition.
    pub fn condition(mut self, condition: AlbCondition) -> Self {
        self.conditions.push(condition);
        self
    }

    /// The conditions in order.
    pub fn conditions(&self) -> &[AlbCondition] {
        &self.conditions
    }

    /// Adds a `path-pattern` condition.
    pub fn path_pattern<S: Into<String>>(self, values: impl IntoIterator<Item = S>) -> Self {
        self.condition(AlbCondition::PathPattern(strings(values)))
    }

    /// Adds a `host-header` condition.
    pub fn host_header<S: Into<String>>(self, values: impl IntoIterator<Item = S>) -> Self {
        self.condition(AlbCondition::HostHeader(strings(values)))
    }

    /// Adds an `http-header` condition.
    pub fn http_header<S: Into<String>>(
        self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        self.condition(AlbCondition::HttpHeader {
            name: name.into(),
            values: strings(values),
        })
    }

    /// Adds an `http-request-method` condition.
    pub fn http_request_method<S: Into<String>>(self, values: impl IntoIterator<Item = S>) -> Self {
        self.condition(AlbCondition::HttpRequestMethod(strings(values)))
    }

    /// Adds a `query-string` condition from `(key, value)` pairs (`None` key: any parameter).
    pub fn query_string<'k, S: Into<String>>(
        self,
        pairs: impl IntoIterator<Item = (Option<&'k str>, S)>,
    ) -> Self {
        self.condition(AlbCondition::QueryString(
            pairs
                .into_iter()
                .map(|(key, value)| QueryPair {
                    key: key.map(str::to_owned),
                    value: value.into(),
                })
                .collect(),
        ))
    }

    /// Adds a `source-ip` condition (CIDR blocks such as `10.0.0.0/8` or `2001:db8::/32`).
    pub fn source_ip<S: Into<String>>(self, values: impl IntoIterator<Item = S>) -> Self {
        self.condition(AlbCondition::SourceIp(strings(values)))
    }

    /// Compiles the rule into a [`Condition`] (the AND of its conditions).
    pub fn compile(&self) -> Result<Condition, Error> {
        let here = Position::default();
        let mut parts = Vec::with_capacity(self.conditions.len());
        for condition in &self.conditions {
            parts.push(
                compile_condition(condition)
                    .map_err(|(value, reason)| Error::pattern(here, &value, reason))?,
            );
        }
        Ok(Condition::all(parts))
    }

    /// Parses a rule written as text: each condition is a field name followed by its
    /// values (`http-header` takes the header name first; `query-string` values are
    /// `key=value` or a bare `value` for any key). Quote a value that equals a field name.
    pub fn parse(text: &str) -> Result<AlbRule, Error> {
        let words = lexer::words(text)?;
        let end = lexer::end_position(text);
        let mut rule = AlbRule::new();
        let mut i = 0;
        while let Some(field) = words.get(i) {
            i += 1;
            let kind = if field.literal {
                None
            } else {
                Field::from_name(&field.text)
            };
            let Some(kind) = kind else {
                return Err(Error::syntax(field.position, &field.text, FIELDS));
            };
            let header_name = if kind == Field::HttpHeader {
                match words.get(i) {
                    Some(w) if w.literal || Field::from_name(&w.text).is_none() => {
                        i += 1;
                        Some(w.text.clone())
                    }
                    Some(w) => {
                        return Err(Error::syntax(
                            w.position,
                            &w.text,
                            "a header name after `http-header`",
                        ));
                    }
                    None => {
                        return Err(Error::syntax(
                            end,
                            "end of input",
                            "a header name after `http-header`",
                        ));
                    }
                }
            } else {
                None
            };
            let mut values = Vec::new();
            while let Some(w) = words.get(i) {
                if !w.literal && Field::from_name(&w.text).is_some() {
                    break;
                }
                i += 1;
                validate(kind, &w.text)
                    .map_err(|reason| Error::pattern(w.position, &w.text, reason))?;
                values.push(w.text.clone());
            }
            if values.is_empty() {
                let (position, found) = words
                    .get(i)
                    .map_or((end, "end of input"), |w| (w.position, w.text.as_str()));
                return Err(Error::syntax(
                    position,
                    found,
                    format!("at least one value for `{}`", field.text),
                ));
            }
            rule.conditions.push(match kind {
                Field::PathPattern => AlbCondition::PathPattern(values),
                Field::HostHeader => AlbCondition::HostHeader(values),
                Field::HttpHeader => AlbCondition::HttpHeader {
                    name: header_name.unwrap_or_default(),
                    values,
                },
                Field::HttpRequestMethod => AlbCondition::HttpRequestMethod(values),
                Field::QueryString => {
                    AlbCondition::QueryString(values.iter().map(|v| query_pair(v)).collect())
                }
                Field::SourceIp => AlbCondition::SourceIp(values),
            });
        }
        Ok(rule)
    }
}

impl FromStr for AlbRule {
    type Err = Error;

    fn from_str(s: &str) -> Result<AlbRule, Error> {
        AlbRule::parse(s)
    }
}

const FIELDS: &str = "an ALB condition field: path-pattern, host-header, http-header, http-request-method, query-string or source-ip";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    PathPattern,
    HostHeader,
    HttpHeader,
    HttpRequestMethod,
    QueryString,
    SourceIp,
}

impl Field {
    fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "path-pattern" => Field::PathPattern,
            "host-header" => Field::HostHeader,
            "http-header" => Field::HttpHeader,
            "http-request-method" => Field::HttpRequestMethod,
            "query-string" => Field::QueryString,
            "source-ip" => Field::SourceIp,
            _ => return None,
        })
    }
}

fn strings<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Vec<String> {
    values.into_iter().map(Into::into).collect()
}

fn query_pair(text: &str) -> QueryPair {
    match text.split_once('=') {
        Some(("", value)) => QueryPair {
            key: None,
            value: value.to_owned(),
        },
        Some((key, value)) => QueryPair {
            key: Some(key.to_owned()),
            value: value.to_owned(),
        },
        None => QueryPair {
            key: None,
            value: text.to_owned(),
        },
    }
}

fn validate(field: Field, value: &str) -> Result<(), String> {
    match field {
        Field::HttpRequestMethod => validate_method(value),
        Field::SourceIp => validate_cidr(value),
        _ => Ok(()),
    }
}

fn validate_method(value: &str) -> Result<(), String> {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err("a method name is made of A-Z, `-` and `_`".to_owned())
    }
}

fn validate_cidr(value: &str) -> Result<(), String> {
    pattern::parse_net(value).map(drop)
}

/// Wildcard tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glob {
    Char(char),
    Star,
    One,
}

fn glob_tokens(value: &str) -> Vec<Glob> {
    let mut out = Vec::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => out.push(Glob::Char(next)),
                None => out.push(Glob::Char('\\')),
            },
            '*' => {
                if out.last() != Some(&Glob::Star) {
                    out.push(Glob::Star);
                }
            }
            '?' => out.push(Glob::One),
            c => out.push(Glob::Char(c)),
        }
    }
    out
}

fn literal(tokens: &[Glob]) -> Option<String> {
    tokens
        .iter()
        .map(|t| match t {
            Glob::Char(c) => Some(*c),
            _ => None,
        })
        .collect()
}

/// Values grouped by the cheapest method that implements their wildcard.
#[derive(Default)]
struct GlobGroups {
    anything: bool,
    exact: Vec<String>,
    prefix: Vec<String>,
    suffix: Vec<String>,
    substring: Vec<String>,
    regex: Vec<String>,
}

impl GlobGroups {
    fn add(&mut self, value: &str) {
        let tokens = glob_tokens(value);
        if !tokens.is_empty() && tokens.iter().all(|t| *t == Glob::Star) {
            self.anything = true;
        } else if let Some(lit) = literal(&tokens) {
            self.exact.push(lit);
        } else if let Some(lit) = tokens.strip_suffix(&[Glob::Star]).and_then(literal) {
            self.prefix.push(lit);
        } else if let Some(lit) = tokens.strip_prefix(&[Glob::Star]).and_then(literal) {
            self.suffix.push(lit);
        } else if let Some(lit) = tokens
            .strip_prefix(&[Glob::Star])
            .and_then(|t| t.strip_suffix(&[Glob::Star]))
            .and_then(literal)
        {
            self.substring.push(lit);
        } else {
            let mut re = String::from("(?s)^");
            for t in &tokens {
                match t {
                    Glob::Char(c) => {
                        let mut buf = [0u8; 4];
                        re.push_str(&regex::escape(c.encode_utf8(&mut buf)));
                    }
                    Glob::Star => re.push_str(".*"),
                    Glob::One => re.push('.'),
                }
            }
            let _ = write!(re, "$");
            self.regex.push(re);
        }
    }

    fn compile(
        self,
        fetch: &Fetch,
        ignore_case: bool,
        host_only: bool,
        alb_query: bool,
    ) -> Result<Condition, (String, String)> {
        let build =
            |method: MatchMethod, patterns: Vec<String>| -> Result<Condition, (String, String)> {
                let first = patterns.first().cloned().unwrap_or_default();
                Expr::builder(fetch.clone())
                    .method(method)
                    .ignore_case(ignore_case)
                    .host_only(host_only)
                    .alb_query(alb_query)
                    .patterns(patterns)
                    .build()
                    .map(Condition::from)
                    .map_err(|e| (first, e.to_string()))
            };
        if self.anything {
            return build(MatchMethod::Found, Vec::new());
        }
        let mut parts = Vec::new();
        for (method, group) in [
            (MatchMethod::Str, self.exact),
            (MatchMethod::Beg, self.prefix),
            (MatchMethod::End, self.suffix),
            (MatchMethod::Sub, self.substring),
            (MatchMethod::Reg, self.regex),
        ] {
            if !group.is_empty() {
                parts.push(build(method, group)?);
            }
        }
        Ok(Condition::any(parts))
    }
}

fn glob_condition(
    fetch: Fetch,
    values: &[String],
    ignore_case: bool,
    host_only: bool,
    alb_query: bool,
) -> Result<Condition, (String, String)> {
    let mut groups = GlobGroups::default();
    for v in values {
        groups.add(v);
    }
    groups.compile(&fetch, ignore_case, host_only, alb_query)
}

fn compile_condition(condition: &AlbCondition) -> Result<Condition, (String, String)> {
    let nonempty = |values: &[String], field: &str| {
        if values.is_empty() {
            Err((
                field.to_owned(),
                "a condition needs at least one value".to_owned(),
            ))
        } else {
            Ok(())
        }
    };
    match condition {
        AlbCondition::PathPattern(values) => {
            nonempty(values, "path-pattern")?;
            glob_condition(Fetch::Path, values, false, false, false)
        }
        AlbCondition::HostHeader(values) => {
            nonempty(values, "host-header")?;
            glob_condition(Fetch::header("host"), values, true, true, false)
        }
        AlbCondition::HttpHeader { name, values } => {
            nonempty(values, "http-header")?;
            if name.is_empty() || name.contains(['*', '?']) {
                return Err((name.clone(), "a header name without wildcards".to_owned()));
            }
            glob_condition(Fetch::full_header(name), values, true, false, false)
        }
        AlbCondition::HttpRequestMethod(values) => {
            nonempty(values, "http-request-method")?;
            for v in values {
                validate_method(v).map_err(|r| (v.clone(), r))?;
            }
            Expr::builder(Fetch::Method)
                .method(MatchMethod::Str)
                .patterns(values.iter().cloned())
                .build()
                .map(Condition::from)
                .map_err(|e| (values[0].clone(), e.to_string()))
        }
        AlbCondition::QueryString(pairs) => {
            if pairs.is_empty() {
                return Err((
                    "query-string".to_owned(),
                    "a condition needs at least one value".to_owned(),
                ));
            }
            let mut parts = Vec::new();
            for pair in pairs {
                let fetch = Fetch::UrlParam {
                    name: pair.key.as_deref().map(Into::into),
                    delimiter: b'?',
                };
                parts.push(glob_condition(
                    fetch,
                    std::slice::from_ref(&pair.value),
                    true,
                    false,
                    true,
                )?);
            }
            Ok(Condition::any(parts))
        }
        AlbCondition::SourceIp(values) => {
            nonempty(values, "source-ip")?;
            for v in values {
                validate_cidr(v).map_err(|r| (v.clone(), r))?;
            }
            Expr::builder(Fetch::Src)
                .method(MatchMethod::Ip)
                .patterns(values.iter().cloned())
                .build()
                .map(Condition::from)
                .map_err(|e| (values[0].clone(), e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_pick_the_cheapest_method() {
        let mut g = GlobGroups::default();
        for v in ["/a", "/b*", "*.com", "*mid*", "/x?z", "a\\*b", "/c**"] {
            g.add(v);
        }
        assert_eq!(g.exact, ["/a", "a*b"]);
        assert_eq!(g.prefix, ["/b", "/c"]);
        assert_eq!(g.suffix, [".com"]);
        assert_eq!(g.substring, ["mid"]);
        assert_eq!(g.regex, ["(?s)^/x.z$"]);
        assert!(!g.anything);
        let mut g = GlobGroups::default();
        g.add("**");
        assert!(g.anything);
    }
}
