//! Invariant checks for gangway-acl, shared by the fuzz targets (`fuzz/fuzz_targets/acl_*.rs`)
//! and the corpus replay test (`crates/gangway-acl/tests/fuzz_corpus.rs`).

use std::net::SocketAddr;

use gangway_acl::{AclSet, AlbRule, Condition, Expr, RequestView};

/// Requests every parsed condition is evaluated on (any answer is fine; no panic).
fn sample_views(f: impl FnMut(&RequestView<'_>)) {
    let ws = [
        httparse::Header {
            name: "Host",
            value: b"example.com:8080",
        },
        httparse::Header {
            name: "Upgrade",
            value: b"websocket",
        },
        httparse::Header {
            name: "Connection",
            value: b"Upgrade, keep-alive",
        },
        httparse::Header {
            name: "Cookie",
            value: b"sid=1; a=b",
        },
        httparse::Header {
            name: "X-A",
            value: b"\xff\xfe, ,1",
        },
    ];
    let src: SocketAddr = "10.1.2.3:5000".parse().unwrap_or_else(|_| unreachable!());
    let src6: SocketAddr = "[2001:db8::1]:443"
        .parse()
        .unwrap_or_else(|_| unreachable!());
    let views = [
        RequestView::new("GET", "/ws/chat?room=1&k=v;x", &ws)
            .with_src(src)
            .with_sni("example.com"),
        RequestView::new("POST", "http://a.example/x/../y?", &ws[..1])
            .with_src(src6)
            .with_ssl(true),
        RequestView::new("", "", &[]).with_version_minor(0),
        RequestView::new("CONNECT", "a:1", &ws[2..]),
    ];
    views.iter().for_each(f);
}

/// Condition, expression, `acl` lines and ALB rule parsing: never panics, errors point
/// inside the text, and parsed conditions evaluate without panicking.
///
/// Input: a selector byte, then the text (lossy UTF-8).
pub(crate) fn parse(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match selector % 4 {
        0 => match text.parse::<Condition>() {
            Ok(c) => sample_views(|v| {
                let _ = c.eval(v);
            }),
            Err(e) => check_error(&text, &e),
        },
        1 => match Expr::parse(&text) {
            Ok(e) => {
                let _ = (e.fetch(), e.method(), e.pattern_count(), format!("{e:?}"));
                sample_views(|v| {
                    let _ = e.eval(v);
                });
            }
            Err(e) => check_error(&text, &e),
        },
        2 => {
            // `acl` lines first, then the last line as a condition over them.
            let (lines, cond) = text.rsplit_once('\n').unwrap_or((&text, ""));
            match AclSet::parse(lines) {
                Ok(set) => {
                    let names: Vec<String> = set.names().map(str::to_owned).collect();
                    for n in &names {
                        assert!(
                            set.contains(n) && set.get(n).is_some(),
                            "named acl {n} lost"
                        );
                    }
                    match set.parse_condition(cond) {
                        Ok(c) => sample_views(|v| {
                            let _ = c.eval(v);
                        }),
                        Err(e) => check_error(cond, &e),
                    }
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
        _ => match AlbRule::parse(&text) {
            Ok(rule) => {
                let _ = rule.conditions().len();
                if let Ok(c) = rule.compile() {
                    sample_views(|v| {
                        let _ = c.eval(v);
                    });
                }
            }
            Err(e) => check_error(&text, &e),
        },
    }
}

fn check_error(text: &str, e: &gangway_acl::Error) {
    let message = e.to_string();
    assert!(!message.is_empty());
    if let Some(p) = e.position() {
        let _ = format!("{p:?}");
        let lines = text.split('\n').count().max(1);
        assert!(
            (p.line as usize) <= lines,
            "error line {} beyond {lines} lines: {message}",
            p.line
        );
    }
}

// ---------- differential: compiled matcher vs a naive evaluator ----------

const NAMES: [&str; 3] = ["X-A", "x-a", "Cookie"];
const PARTS: [&str; 10] = ["a", "b", "A", ".", ":", "/", "1", "ws", "Ws", "ab"];
const METHODS: [&str; 3] = ["GET", "POST", "get"];

/// Reads fuzz bytes as choices; missing bytes read as zero.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }
    fn word(&mut self, max: usize) -> String {
        let n = 1 + self.below(max);
        (0..n).map(|_| PARTS[self.below(PARTS.len())]).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fetch {
    Path,
    Url,
    Method,
    Hdr(&'static str, i32),
    FHdr(&'static str, i32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    Str,
    Beg,
    End,
    Sub,
    Dir,
    Dom,
    Found,
    Len,
}

#[derive(Debug, Clone)]
struct ExprModel {
    fetch: Fetch,
    method: Method,
    ignore_case: bool,
    patterns: Vec<String>,
    lens: Vec<(i64, i64)>,
}

impl ExprModel {
    fn read(c: &mut Choices<'_>) -> Self {
        let occ = i32::from(c.byte() % 7) - 3;
        let fetch = match c.below(5) {
            0 => Fetch::Path,
            1 => Fetch::Url,
            2 => Fetch::Method,
            3 => Fetch::Hdr(NAMES[c.below(NAMES.len())], occ),
            _ => Fetch::FHdr(NAMES[c.below(NAMES.len())], occ),
        };
        let method = [
            Method::Str,
            Method::Beg,
            Method::End,
            Method::Sub,
            Method::Dir,
            Method::Dom,
            Method::Found,
            Method::Len,
        ][c.below(8)];
        let ignore_case = c.byte() & 1 == 1;
        // Up to 12 patterns: crosses the short-list / indexed-form thresholds.
        let n = 1 + c.below(12);
        let mut patterns: Vec<String> = (0..n).map(|_| c.word(4)).collect();
        if matches!(fetch, Fetch::Path | Fetch::Url) {
            patterns = patterns.into_iter().map(|p| format!("/{p}")).collect();
        }
        let lens = (0..1 + c.below(3))
            .map(|_| {
                let (a, b) = (i64::from(c.byte() % 9), i64::from(c.byte() % 9));
                (a.min(b), a.max(b))
            })
            .collect();
        ExprModel {
            fetch,
            method,
            ignore_case,
            patterns,
            lens,
        }
    }

    fn text(&self) -> String {
        let fetch = match self.fetch {
            Fetch::Path => "path".to_string(),
            Fetch::Url => "url".to_string(),
            Fetch::Method => "method".to_string(),
            Fetch::Hdr(n, 0) => format!("hdr({n})"),
            Fetch::Hdr(n, o) => format!("hdr({n},{o})"),
            Fetch::FHdr(n, 0) => format!("req.fhdr({n})"),
            Fetch::FHdr(n, o) => format!("req.fhdr({n},{o})"),
        };
        let method = format!("{:?}", self.method).to_ascii_lowercase();
        let mut out = format!("{fetch} -m {method}");
        if self.ignore_case {
            out.push_str(" -i");
        }
        out.push_str(" --");
        match self.method {
            Method::Found => {}
            Method::Len => self
                .lens
                .iter()
                .for_each(|(lo, hi)| out.push_str(&format!(" {lo}:{hi}"))),
            _ => self
                .patterns
                .iter()
                .for_each(|p| out.push_str(&format!(" '{p}'"))),
        }
        out
    }

    fn samples(&self, r: &Req) -> Vec<String> {
        let named = |n: &str| -> Vec<&String> {
            r.headers
                .iter()
                .filter(|(h, _)| h.eq_ignore_ascii_case(n))
                .map(|(_, v)| v)
                .collect()
        };
        let trim = |s: &str| s.trim_matches([' ', '\t']).to_string();
        match self.fetch {
            Fetch::Path => vec![r.target.split('?').next().unwrap_or_default().to_string()],
            Fetch::Url => vec![r.target.clone()],
            Fetch::Method => vec![r.method.to_string()],
            Fetch::Hdr(n, occ) => pick(
                named(n)
                    .iter()
                    .flat_map(|v| v.split(',').map(trim))
                    .collect(),
                occ,
            ),
            Fetch::FHdr(n, occ) => pick(named(n).iter().map(|v| trim(v)).collect(), occ),
        }
    }

    fn eval(&self, r: &Req) -> bool {
        let fold = |x: &str| {
            if self.ignore_case {
                x.to_ascii_lowercase()
            } else {
                x.to_string()
            }
        };
        self.samples(r).iter().any(|s| match self.method {
            Method::Found => true,
            Method::Len => {
                let n = s.len() as i64;
                self.lens.iter().any(|(lo, hi)| *lo <= n && n <= *hi)
            }
            m => {
                let s = fold(s);
                self.patterns.iter().any(|p| {
                    let p = fold(p);
                    match m {
                        Method::Str => s == p,
                        Method::Beg => s.starts_with(&p),
                        Method::End => s.ends_with(&p),
                        Method::Sub => s.contains(&p),
                        Method::Dir => word_match(&s, &p, &['/', '?']),
                        _ => word_match(&s, &p, &['/', '?', '.', ':']),
                    }
                })
            }
        })
    }
}

/// HAProxy occurrence: 0 all, n > 0 the n-th, n < 0 counted from the last.
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
    if (0..n).contains(&idx) {
        vec![values[idx as usize].clone()]
    } else {
        vec![]
    }
}

/// `-m dir` / `-m dom`: the pattern appears as whole delimited words.
fn word_match(s: &str, p: &str, delims: &[char]) -> bool {
    let p = p.trim_matches(delims);
    if p.is_empty() {
        return false;
    }
    let bytes = s.as_bytes();
    (0..=s.len()).any(|i| {
        (i == 0 || delims.contains(&(bytes[i - 1] as char)))
            && s.get(i..).is_some_and(|rest| rest.starts_with(p))
            && (i + p.len() == s.len() || delims.contains(&(bytes[i + p.len()] as char)))
    })
}

#[derive(Debug)]
struct Req {
    method: &'static str,
    target: String,
    headers: Vec<(&'static str, String)>,
}

impl Req {
    fn read(c: &mut Choices<'_>) -> Self {
        let method = METHODS[c.below(METHODS.len())];
        let mut target = format!("/{}", c.word(6));
        if c.byte() & 1 == 1 {
            target.push('?');
            target.push_str(&c.word(3));
        }
        let headers = (0..c.below(5))
            .map(|_| {
                let name = NAMES[c.below(NAMES.len())];
                let values: Vec<String> = (0..1 + c.below(3)).map(|_| c.word(4)).collect();
                (name, values.join(", "))
            })
            .collect();
        Req {
            method,
            target,
            headers,
        }
    }
}

/// Builds `acl` lines and a condition from the input, renders them as text, parses and
/// compiles them, and checks the compiled matcher against the naive evaluator above.
pub(crate) fn reference(data: &[u8]) {
    let mut c = Choices(data);
    let acls: Vec<Vec<ExprModel>> = (0..1 + c.below(3))
        .map(|_| {
            (0..1 + c.below(2))
                .map(|_| ExprModel::read(&mut c))
                .collect()
        })
        .collect();
    // OR of ANDs of possibly negated terms: (negated, Ok(named acl) or Err(anonymous expr)).
    let alternatives: Vec<Vec<(bool, Result<usize, ExprModel>)>> = (0..1 + c.below(3))
        .map(|_| {
            (0..1 + c.below(3))
                .map(|_| {
                    let neg = c.byte() & 1 == 1;
                    let term = if c.byte() & 1 == 1 {
                        Ok(c.below(acls.len()))
                    } else {
                        Err(ExprModel::read(&mut c))
                    };
                    (neg, term)
                })
                .collect()
        })
        .collect();
    let requests: Vec<Req> = (0..1 + c.below(4)).map(|_| Req::read(&mut c)).collect();

    let mut set = AclSet::new();
    for (i, lines) in acls.iter().enumerate() {
        for e in lines {
            let line = format!("acl acl{i} {}", e.text());
            if let Err(err) = set.add_line(&line) {
                panic!("valid acl line refused: {line}: {err}");
            }
        }
    }
    let text = alternatives
        .iter()
        .map(|terms| {
            terms
                .iter()
                .map(|(neg, term)| {
                    let t = match term {
                        Ok(i) => format!("acl{i}"),
                        Err(e) => format!("{{ {} }}", e.text()),
                    };
                    if *neg { format!("! {t}") } else { t }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(" || ");
    let condition = set
        .parse_condition(&text)
        .unwrap_or_else(|e| panic!("valid condition refused: {text}: {e}"));
    for r in &requests {
        let headers: Vec<httparse::Header<'_>> = r
            .headers
            .iter()
            .map(|(n, v)| httparse::Header {
                name: n,
                value: v.as_bytes(),
            })
            .collect();
        let view = RequestView::new(r.method, &r.target, &headers);
        let expected = alternatives.iter().any(|terms| {
            terms.iter().all(|(neg, term)| {
                let v = match term {
                    Ok(i) => acls[*i].iter().any(|e| e.eval(r)),
                    Err(e) => e.eval(r),
                };
                v != *neg
            })
        });
        assert_eq!(
            condition.eval(&view),
            expected,
            "condition `{text}` on {r:?}"
        );
    }
}
