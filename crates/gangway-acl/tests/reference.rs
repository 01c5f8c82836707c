//! Property test: conditions rendered to text, parsed and compiled agree with a naive
//! reference evaluator (plain string functions, no tries, automata or sets) on random
//! conditions and requests.

use std::net::{Ipv4Addr, SocketAddr};

use gangway_acl::{AclSet, RequestView};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Fetch {
    Path,
    Url,
    Query,
    Method,
    Hdr(&'static str, i32),
    FHdr(&'static str, i32),
    HdrCnt(&'static str),
    Cook(&'static str),
    UrlParam(&'static str),
    Src,
    SslFc,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    Str,
    Beg,
    End,
    Sub,
    Dir,
    Dom,
    /// A regex made of an escaped literal, optionally anchored: (literal, ^, $).
    Reg,
    Found,
    Len,
    Int,
    Ip,
    Bool,
}

#[derive(Debug, Clone)]
struct ExprModel {
    fetch: Fetch,
    method: Method,
    ignore_case: bool,
    /// Text patterns, `(lo, hi)` ranges, or CIDRs depending on the method.
    patterns: Vec<String>,
    ranges: Vec<(i64, i64)>,
    /// For Reg: anchors per pattern.
    anchors: Vec<(bool, bool)>,
}

#[derive(Debug, Clone)]
enum Term {
    Anonymous(ExprModel),
    Named(usize),
}

#[derive(Debug, Clone)]
struct CondModel {
    /// Several `acl acl<i>` lines each; lines of one name are ORed.
    acls: Vec<Vec<ExprModel>>,
    /// OR of ANDs of possibly negated terms.
    alternatives: Vec<Vec<(bool, Term)>>,
}

#[derive(Debug, Clone)]
struct Req {
    method: &'static str,
    target: String,
    headers: Vec<(&'static str, String)>,
    src: Option<SocketAddr>,
    ssl: bool,
}

// ---------- rendering ----------

fn fetch_text(f: &Fetch) -> String {
    match f {
        Fetch::Path => "path".into(),
        Fetch::Url => "url".into(),
        Fetch::Query => "query".into(),
        Fetch::Method => "method".into(),
        Fetch::Hdr(n, 0) => format!("hdr({n})"),
        Fetch::Hdr(n, o) => format!("hdr({n},{o})"),
        Fetch::FHdr(n, 0) => format!("req.fhdr({n})"),
        Fetch::FHdr(n, o) => format!("req.fhdr({n},{o})"),
        Fetch::HdrCnt(n) => format!("hdr_cnt({n})"),
        Fetch::Cook(n) => format!("req.cook({n})"),
        Fetch::UrlParam(n) => format!("url_param({n})"),
        Fetch::Src => "src".into(),
        Fetch::SslFc => "ssl_fc".into(),
    }
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Str => "str",
        Method::Beg => "beg",
        Method::End => "end",
        Method::Sub => "sub",
        Method::Dir => "dir",
        Method::Dom => "dom",
        Method::Reg => "reg",
        Method::Found => "found",
        Method::Len => "len",
        Method::Int => "int",
        Method::Ip => "ip",
        Method::Bool => "bool",
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == ':' || c == '=' || c == '&' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

fn expr_text(e: &ExprModel) -> String {
    let mut out = format!("{} -m {}", fetch_text(&e.fetch), method_name(e.method));
    if e.ignore_case {
        out.push_str(" -i");
    }
    out.push_str(" --");
    match e.method {
        Method::Found | Method::Bool => {}
        Method::Len | Method::Int => {
            for (lo, hi) in &e.ranges {
                out.push_str(&format!(" {lo}:{hi}"));
            }
        }
        Method::Reg => {
            for (p, (start, end)) in e.patterns.iter().zip(&e.anchors) {
                let caret = if *start { "^" } else { "" };
                let dollar = if *end { "$" } else { "" };
                out.push_str(&format!(" '{caret}{}{dollar}'", regex_escape(p)));
            }
        }
        _ => {
            for p in &e.patterns {
                out.push_str(&format!(" '{p}'"));
            }
        }
    }
    out
}

fn condition_text(c: &CondModel) -> String {
    c.alternatives
        .iter()
        .map(|terms| {
            terms
                .iter()
                .map(|(neg, term)| {
                    let t = match term {
                        Term::Anonymous(e) => format!("{{ {} }}", expr_text(e)),
                        Term::Named(i) => format!("acl{i}"),
                    };
                    if *neg { format!("! {t}") } else { t }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(" || ")
}

// ---------- naive reference ----------

#[derive(Debug, Clone)]
enum Sample {
    Str(String),
    Int(i64),
    Ip(Ipv4Addr),
    Bool(bool),
}

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

fn pick(values: Vec<String>, occ: i32) -> Vec<String> {
    if occ == 0 {
        return values;
    }
    let n = values.len() as i64;
    let idx = if occ > 0 {
        i64::from(occ) - 1
    } else {
        n + i64::from(occ)
    };
    if idx >= 0 && idx < n {
        vec![values[idx as usize].clone()]
    } else {
        vec![]
    }
}

fn strip_port(s: &str) -> String {
    if s.starts_with('[') {
        return match s.find(']') {
            Some(i) => s[..=i].to_string(),
            None => s.to_string(),
        };
    }
    match s.rfind(':') {
        Some(i) if s[i + 1..].chars().all(|c| c.is_ascii_digit()) => s[..i].to_string(),
        _ => s.to_string(),
    }
}

fn samples(e: &ExprModel, r: &Req) -> Vec<Sample> {
    let named = |n: &str| -> Vec<&String> {
        r.headers
            .iter()
            .filter(|(h, _)| h.eq_ignore_ascii_case(n))
            .map(|(_, v)| v)
            .collect()
    };
    let query = r.target.split_once('?').map(|(_, q)| q.to_string());
    let strs: Vec<String> = match &e.fetch {
        Fetch::Path => vec![r.target.split('?').next().unwrap().to_string()],
        Fetch::Url => vec![r.target.clone()],
        Fetch::Query => query.into_iter().collect(),
        Fetch::Method => vec![r.method.to_string()],
        Fetch::Hdr(n, occ) => {
            let all: Vec<String> = named(n)
                .iter()
                .flat_map(|v| v.split(',').map(|x| trim(x).to_string()))
                .collect();
            pick(all, *occ)
        }
        Fetch::FHdr(n, occ) => {
            let all: Vec<String> = named(n).iter().map(|v| trim(v).to_string()).collect();
            pick(all, *occ)
        }
        Fetch::HdrCnt(n) => {
            let count = named(n).iter().map(|v| v.split(',').count()).sum::<usize>();
            return vec![Sample::Int(count as i64)];
        }
        Fetch::Cook(n) => named("cookie")
            .iter()
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| {
                let (name, value) = trim(pair).split_once('=')?;
                (trim(name) == *n).then(|| trim(value).to_string())
            })
            .collect(),
        // HAProxy: parameters separated by `&`, `;` or `?`, a name followed by `=`.
        Fetch::UrlParam(n) => query
            .map(|q| {
                q.split(['&', ';', '?'])
                    .filter_map(|p| {
                        let (name, value) = p.split_once('=')?;
                        (name == *n).then(|| value.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Fetch::Src => {
            return r
                .src
                .map(|a| match a.ip() {
                    std::net::IpAddr::V4(v4) => Sample::Ip(v4),
                    std::net::IpAddr::V6(_) => unreachable!("the generator only makes IPv4 peers"),
                })
                .into_iter()
                .collect();
        }
        Fetch::SslFc => return vec![Sample::Bool(r.ssl)],
    };
    strs.into_iter().map(Sample::Str).collect()
}

fn word_match(s: &str, p: &str, delims: &[char]) -> bool {
    let p = p.trim_matches(delims);
    if p.is_empty() {
        return false;
    }
    let bytes = s.as_bytes();
    (0..=s.len()).any(|i| {
        (i == 0 || delims.contains(&(bytes[i - 1] as char)))
            && s[i..].starts_with(p)
            && (i + p.len() == s.len() || delims.contains(&(bytes[i + p.len()] as char)))
    })
}

fn cidr_contains(cidr: &str, ip: Ipv4Addr) -> bool {
    let (net, len) = cidr.split_once('/').unwrap_or((cidr, "32"));
    let net: Ipv4Addr = net.parse().unwrap();
    let len: u32 = len.parse().unwrap();
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(net) & mask == u32::from(ip) & mask
}

/// Whether the expression compares Host names: a pattern without a port then compares
/// with the sample's port stripped, one with a port with the whole sample.
fn host_only(e: &ExprModel) -> bool {
    matches!(&e.fetch, Fetch::Hdr(n, _) | Fetch::FHdr(n, _) if n.eq_ignore_ascii_case("host"))
        && matches!(e.method, Method::Str | Method::End | Method::Dom)
}

fn expr_eval(e: &ExprModel, r: &Req) -> bool {
    let samples = samples(e, r);
    let host_only = host_only(e);
    samples.iter().any(|s| match (e.method, s) {
        (Method::Found, _) => true,
        (Method::Bool, Sample::Bool(b)) => *b,
        (Method::Int, Sample::Int(n)) => e.ranges.iter().any(|(lo, hi)| lo <= n && n <= hi),
        (Method::Len, Sample::Str(s)) => {
            let n = s.len() as i64;
            e.ranges.iter().any(|(lo, hi)| *lo <= n && n <= *hi)
        }
        (Method::Ip, Sample::Ip(ip)) => e.patterns.iter().any(|c| cidr_contains(c, *ip)),
        (m, Sample::Str(s)) => {
            let fold = |x: &str| {
                if e.ignore_case {
                    x.to_ascii_lowercase()
                } else {
                    x.to_string()
                }
            };
            e.patterns.iter().enumerate().any(|(i, p)| {
                let s = if host_only && strip_port(p) == *p {
                    fold(&strip_port(s))
                } else {
                    fold(s)
                };
                let p = fold(p);
                match m {
                    Method::Str => s == p,
                    Method::Beg => s.starts_with(&p),
                    Method::End => s.ends_with(&p),
                    Method::Sub => s.contains(&p),
                    Method::Dir => word_match(&s, &p, &['/', '?']),
                    Method::Dom => word_match(&s, &p, &['/', '?', '.', ':']),
                    Method::Reg => match e.anchors[i] {
                        (true, true) => s == p,
                        (true, false) => s.starts_with(&p),
                        (false, true) => s.ends_with(&p),
                        (false, false) => s.contains(&p),
                    },
                    _ => false,
                }
            })
        }
        _ => false,
    })
}

fn cond_eval(c: &CondModel, r: &Req) -> bool {
    c.alternatives.iter().any(|terms| {
        terms.iter().all(|(neg, term)| {
            let v = match term {
                Term::Anonymous(e) => expr_eval(e, r),
                Term::Named(i) => c.acls[*i].iter().any(|e| expr_eval(e, r)),
            };
            v != *neg
        })
    })
}

// ---------- generators ----------

const HEADER_NAMES: [&str; 5] = ["Host", "X-A", "x-a", "Cookie", "Upgrade"];

fn text(alphabet: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 1..=max).prop_map(|parts| parts.concat())
}

const PATH_PARTS: &[&str] = &["/", "a", "b", "A", "ab", ".", "x"];
const VALUE_PARTS: &[&str] = &["a", "b", "A", ".", ":", "/", "1", "8", "ws", "Ws"];

fn fetch() -> impl Strategy<Value = Fetch> {
    let name = prop::sample::select(&HEADER_NAMES[..]);
    prop_oneof![
        Just(Fetch::Path),
        Just(Fetch::Url),
        Just(Fetch::Query),
        Just(Fetch::Method),
        (name.clone(), -3i32..=3).prop_map(|(n, o)| Fetch::Hdr(n, o)),
        (name.clone(), -2i32..=2).prop_map(|(n, o)| Fetch::FHdr(n, o)),
        name.prop_map(Fetch::HdrCnt),
        prop::sample::select(&["a", "b", "sid"][..]).prop_map(Fetch::Cook),
        prop::sample::select(&["a", "b", "k"][..]).prop_map(Fetch::UrlParam),
        Just(Fetch::Src),
        Just(Fetch::SslFc),
    ]
}

fn expr_model() -> impl Strategy<Value = ExprModel> {
    (
        fetch(),
        0usize..9,
        any::<bool>(),
        // Up to 12 patterns: crosses the short-list / indexed-form thresholds.
        prop::collection::vec(text(VALUE_PARTS, 4), 1..12),
        prop::collection::vec((0i64..8, 0i64..8), 1..4),
        prop::collection::vec((any::<bool>(), any::<bool>()), 12),
        prop::collection::vec(
            (0u8..4, prop::sample::select(&[0u32, 8, 16, 24, 30, 32][..])),
            1..4,
        ),
    )
        .prop_map(
            |(fetch, m, ignore_case, mut patterns, ranges, anchors, nets)| {
                let string_methods = [
                    Method::Str,
                    Method::Beg,
                    Method::End,
                    Method::Sub,
                    Method::Dir,
                    Method::Dom,
                    Method::Reg,
                    Method::Found,
                    Method::Len,
                ];
                let method = match fetch {
                    Fetch::HdrCnt(_) => Method::Int,
                    Fetch::Src => Method::Ip,
                    Fetch::SslFc => Method::Bool,
                    _ => string_methods[m],
                };
                if matches!(fetch, Fetch::Path | Fetch::Url) {
                    // Path-like patterns make prefix and word matches likely.
                    patterns = patterns.into_iter().map(|p| format!("/{p}")).collect();
                }
                if method == Method::Ip {
                    patterns = nets
                        .iter()
                        .map(|(host, len)| format!("10.0.0.{host}/{len}"))
                        .collect();
                }
                ExprModel {
                    fetch,
                    method,
                    ignore_case,
                    patterns,
                    ranges: ranges
                        .into_iter()
                        .map(|(a, b)| (a.min(b), a.max(b)))
                        .collect(),
                    anchors,
                }
            },
        )
}

fn term(acl_count: usize) -> impl Strategy<Value = (bool, Term)> {
    (
        any::<bool>(),
        prop_oneof![
            expr_model().prop_map(Term::Anonymous),
            (0..acl_count).prop_map(Term::Named),
        ],
    )
}

fn cond_model() -> impl Strategy<Value = CondModel> {
    prop::collection::vec(prop::collection::vec(expr_model(), 1..3), 1..3).prop_flat_map(|acls| {
        let n = acls.len();
        prop::collection::vec(prop::collection::vec(term(n), 1..4), 1..3).prop_map(
            move |alternatives| CondModel {
                acls: acls.clone(),
                alternatives,
            },
        )
    })
}

fn request() -> impl Strategy<Value = Req> {
    let header = (
        prop::sample::select(&HEADER_NAMES[..]),
        prop::collection::vec(text(VALUE_PARTS, 4), 1..3).prop_map(|v| v.join(", ")),
    );
    let cookie = prop::collection::vec(
        (
            prop::sample::select(&["a", "b", "sid"][..]),
            text(VALUE_PARTS, 3),
        ),
        1..3,
    )
    .prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    });
    let query = prop::option::of(
        prop::collection::vec(
            (
                prop::sample::select(&["a", "b", "k"][..]),
                text(VALUE_PARTS, 3),
            ),
            0..3,
        )
        .prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        }),
    );
    (
        prop::sample::select(&["GET", "POST", "get"][..]),
        text(PATH_PARTS, 6),
        query,
        prop::collection::vec(header, 0..5),
        prop::option::of(cookie),
        prop::option::of(0u8..6),
        any::<bool>(),
    )
        .prop_map(|(method, path, query, mut headers, cookie, src, ssl)| {
            if let Some(c) = cookie {
                headers.push(("Cookie", c));
            }
            let mut target = format!("/{path}");
            if let Some(q) = query {
                target.push('?');
                target.push_str(&q);
            }
            Req {
                method,
                target,
                headers,
                src: src.map(|h| SocketAddr::from(([10, 0, 0, h], 4000))),
                ssl,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn compiled_agrees_with_reference(model in cond_model(), requests in prop::collection::vec(request(), 1..6)) {
        let mut acls = AclSet::new();
        for (i, lines) in model.acls.iter().enumerate() {
            for e in lines {
                let line = format!("acl acl{i} {}", expr_text(e));
                acls.add_line(&line).map_err(|err| TestCaseError::fail(format!("{line}: {err}")))?;
            }
        }
        let text = condition_text(&model);
        let condition = acls.parse_condition(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        for r in &requests {
            let headers: Vec<httparse::Header<'_>> = r
                .headers
                .iter()
                .map(|(n, v)| httparse::Header { name: n, value: v.as_bytes() })
                .collect();
            let mut view = RequestView::new(r.method, &r.target, &headers).with_ssl(r.ssl);
            view.src = r.src;
            prop_assert_eq!(condition.eval(&view), cond_eval(&model, r), "condition `{}` on {:?}", text, r);
        }
    }
}
