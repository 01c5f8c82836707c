//! Sample fetches: what part of the request an ACL looks at.

use std::fmt;
use std::net::IpAddr;

use crate::pattern::{self, MatchMethod, Sample};
use crate::view::{self, CommaElements, RequestView};

/// A sample fetch: which part of the request an expression looks at.
///
/// Header fetches try every comma-separated value of every occurrence of the header (as
/// HAProxy does in ACLs) unless an occurrence is chosen: `1` is the first value, `-1` the
/// last, `0` means all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fetch {
    /// `path`: the path, from the first `/` up to `?`.
    Path,
    /// `url`: the whole request-target.
    Url,
    /// `query`: what follows the first `?` (no sample when there is none).
    Query,
    /// `method`: the request method.
    Method,
    /// `req.ver`: the HTTP version as `1.0` / `1.1`.
    ReqVer,
    /// `hdr(<name>[,<occ>])` / `req.hdr`: comma-separated header values.
    Header {
        /// Header name (any case); `None` looks at every header.
        name: Option<Box<str>>,
        /// Which value: 0 for all, positive from the first, negative from the last.
        occurrence: i32,
    },
    /// `req.fhdr(<name>[,<occ>])`: whole header lines, commas not splitting.
    FullHeader {
        /// Header name (any case); `None` looks at every header.
        name: Option<Box<str>>,
        /// Which line: 0 for all, positive from the first, negative from the last.
        occurrence: i32,
    },
    /// `hdr_cnt([<name>])` / `req.hdr_cnt`: number of comma-separated values.
    HeaderCount {
        /// Header name; `None` counts every header's values.
        name: Option<Box<str>>,
    },
    /// `req.fhdr_cnt([<name>])`: number of header lines.
    FullHeaderCount {
        /// Header name; `None` counts every header line.
        name: Option<Box<str>>,
    },
    /// `src`: the client address (PROXY-protocol source when present).
    Src,
    /// `src_port`: the client port.
    SrcPort,
    /// `url_param([<name>[,<delim>]])` / `urlp`: values of the parameters in the list
    /// after the first `delim` of the request-target, separated by `&`, `;` or `delim`
    /// (HAProxy's rules).
    UrlParam {
        /// Parameter name (case-sensitive); `None` yields every value that follows a `=`.
        name: Option<Box<str>>,
        /// Where the parameter list starts (after its first occurrence), and a parameter
        /// separator besides `&` and `;`: `?` by default.
        delimiter: u8,
    },
    /// `req.cook([<name>])` / `cook`: values of cookies in `Cookie` headers.
    Cookie {
        /// Cookie name (case-sensitive); `None` yields every cookie's value.
        name: Option<Box<str>>,
    },
    /// `req.cook_cnt([<name>])` / `cook_cnt`: number of such cookies.
    CookieCount {
        /// Cookie name; `None` counts every cookie.
        name: Option<Box<str>>,
    },
    /// `ssl_fc`: whether the client connection is TLS.
    SslFc,
    /// `ssl_fc_sni` / `req.ssl_sni`: the TLS server name.
    SslSni,
    /// `always_true` / `always_false`.
    Constant(bool),
}

/// What kind of sample a fetch produces, deciding which matching methods make sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SampleType {
    Str,
    Int,
    Ip,
    Bool,
}

impl Fetch {
    /// `hdr(name)`: every comma-separated value of header `name`.
    pub fn header(name: &str) -> Fetch {
        Fetch::Header {
            name: Some(name.into()),
            occurrence: 0,
        }
    }

    /// `req.fhdr(name)`: every full line of header `name`.
    pub fn full_header(name: &str) -> Fetch {
        Fetch::FullHeader {
            name: Some(name.into()),
            occurrence: 0,
        }
    }

    /// `url_param(name)`: every value of query parameter `name`.
    pub fn url_param(name: &str) -> Fetch {
        Fetch::UrlParam {
            name: Some(name.into()),
            delimiter: b'?',
        }
    }

    /// `req.cook(name)`: every value of cookie `name`.
    pub fn cookie(name: &str) -> Fetch {
        Fetch::Cookie {
            name: Some(name.into()),
        }
    }

    /// The same fetch with header names lowercased (compared without case at run time).
    pub(crate) fn normalized(self) -> Fetch {
        let lower = |n: Option<Box<str>>| n.map(|n| n.to_ascii_lowercase().into_boxed_str());
        match self {
            Fetch::Header { name, occurrence } => Fetch::Header {
                name: lower(name),
                occurrence,
            },
            Fetch::FullHeader { name, occurrence } => Fetch::FullHeader {
                name: lower(name),
                occurrence,
            },
            Fetch::HeaderCount { name } => Fetch::HeaderCount { name: lower(name) },
            Fetch::FullHeaderCount { name } => Fetch::FullHeaderCount { name: lower(name) },
            other => other,
        }
    }

    pub(crate) fn sample_type(&self) -> SampleType {
        match self {
            Fetch::Path
            | Fetch::Url
            | Fetch::Query
            | Fetch::Method
            | Fetch::ReqVer
            | Fetch::Header { .. }
            | Fetch::FullHeader { .. }
            | Fetch::UrlParam { .. }
            | Fetch::Cookie { .. }
            | Fetch::SslSni => SampleType::Str,
            Fetch::HeaderCount { .. }
            | Fetch::FullHeaderCount { .. }
            | Fetch::SrcPort
            | Fetch::CookieCount { .. } => SampleType::Int,
            Fetch::Src => SampleType::Ip,
            Fetch::SslFc | Fetch::Constant(_) => SampleType::Bool,
        }
    }

    /// The matching method used when none is given.
    pub fn default_method(&self) -> MatchMethod {
        match self.sample_type() {
            SampleType::Str => MatchMethod::Str,
            SampleType::Int => MatchMethod::Int,
            SampleType::Ip => MatchMethod::Ip,
            SampleType::Bool => MatchMethod::Bool,
        }
    }

    /// Whether `method` can compare this fetch's samples.
    pub(crate) fn accepts(&self, method: MatchMethod) -> bool {
        use MatchMethod as M;
        match (self.sample_type(), method) {
            (_, M::Found) => true,
            (SampleType::Str, _) => !matches!(method, M::Bool),
            (SampleType::Int, m) => matches!(m, M::Int | M::Bool),
            (SampleType::Ip, m) => matches!(m, M::Ip),
            (SampleType::Bool, m) => matches!(m, M::Bool),
        }
    }

    /// Calls `f` on each sample until it returns true; returns whether it did.
    #[inline]
    pub(crate) fn any(
        &self,
        opts: FetchOptions,
        req: &RequestView<'_>,
        mut f: impl FnMut(Sample<'_>) -> bool,
    ) -> bool {
        match opts.convert {
            Convert::None => self.any_raw(opts, req, f),
            // `hdr_ip`: values that are no address give no sample (the next is tried).
            Convert::HeaderIp => self.any_raw(opts, req, |sample| match sample {
                Sample::Str(s) => pattern::header_ip(s).is_some_and(|ip| f(Sample::Ip(ip))),
                other => f(other),
            }),
            Convert::ValueInt => self.any_raw(opts, req, |sample| match sample {
                Sample::Str(s) => f(Sample::Int(pattern::value_int(s))),
                other => f(other),
            }),
        }
    }

    /// [`Fetch::any`] before `opts.convert`.
    #[inline]
    fn any_raw(
        &self,
        opts: FetchOptions,
        req: &RequestView<'_>,
        mut f: impl FnMut(Sample<'_>) -> bool,
    ) -> bool {
        match self {
            Fetch::Path => req.path().is_some_and(|p| f(Sample::Str(p.as_bytes()))),
            Fetch::Url => f(Sample::Str(req.target.as_bytes())),
            Fetch::Query => req.query().is_some_and(|q| f(Sample::Str(q.as_bytes()))),
            Fetch::Method => f(Sample::Str(req.method.as_bytes())),
            Fetch::ReqVer => version_text(req.version_minor).is_some_and(|v| f(Sample::Str(v))),
            Fetch::Header { name, occurrence } => {
                let host_only = opts.host_only;
                let mut g = |v: &[u8]| {
                    let v = if host_only { view::strip_port(v) } else { v };
                    f(Sample::Str(v))
                };
                if *occurrence == 0 {
                    // The common ACL case: try every value, in order, without iterator adapters.
                    let wanted = name.as_deref().map(str::as_bytes);
                    for h in req.headers {
                        let n = h.name.as_bytes();
                        if let Some(w) = wanted
                            && (n.len() != w.len() || !view::eq_folded(w, n))
                        {
                            continue;
                        }
                        if view::any_element(h.value, &mut g) {
                            return true;
                        }
                    }
                    return false;
                }
                let values = header_values(req.headers, name.as_deref());
                pick(values, *occurrence, &mut g)
            }
            Fetch::FullHeader { name, occurrence } => {
                let host_only = opts.host_only;
                let mut g = |v: &[u8]| {
                    let v = view::trim_ows(v);
                    let v = if host_only { view::strip_port(v) } else { v };
                    f(Sample::Str(v))
                };
                let lines = req
                    .headers
                    .iter()
                    .filter(|h| view::name_is(h, name.as_deref()))
                    .map(|h| h.value);
                pick(lines, *occurrence, &mut g)
            }
            Fetch::HeaderCount { name } => {
                let n = header_values(req.headers, name.as_deref()).count();
                f(Sample::Int(saturate(n)))
            }
            Fetch::FullHeaderCount { name } => {
                let n = req
                    .headers
                    .iter()
                    .filter(|h| view::name_is(h, name.as_deref()))
                    .count();
                f(Sample::Int(saturate(n)))
            }
            Fetch::Src => req.src.is_some_and(|a| f(Sample::Ip(canonical(a.ip())))),
            Fetch::SrcPort => req.src.is_some_and(|a| f(Sample::Int(i64::from(a.port())))),
            Fetch::UrlParam { name, .. } if opts.alb_query => req.query().is_some_and(|q| {
                view::any_query_pair(q.as_bytes(), name.as_deref().map(str::as_bytes), |v| {
                    f(Sample::Str(v))
                })
            }),
            Fetch::UrlParam { name, delimiter } => view::any_url_param(
                req.target.as_bytes(),
                name.as_deref().map(str::as_bytes),
                *delimiter,
                |v| f(Sample::Str(v)),
            ),
            Fetch::Cookie { name } => {
                view::any_cookie(req.headers, name.as_deref().map(str::as_bytes), |v| {
                    f(Sample::Str(v))
                })
            }
            Fetch::CookieCount { name } => {
                let mut n = 0usize;
                view::any_cookie(req.headers, name.as_deref().map(str::as_bytes), |_| {
                    n += 1;
                    false
                });
                f(Sample::Int(saturate(n)))
            }
            Fetch::SslFc => f(Sample::Bool(req.ssl)),
            Fetch::SslSni => req.sni.is_some_and(|s| f(Sample::Str(s.as_bytes()))),
            Fetch::Constant(b) => f(Sample::Bool(*b)),
        }
    }
}

/// How a compiled expression adjusts its fetch (not part of the textual fetch name).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FetchOptions {
    /// Strip a `:port` from the value (domain matching on the Host header).
    pub(crate) host_only: bool,
    /// ALB `query-string` parameters: after `?`, split on `&` only, names compared
    /// without case.
    pub(crate) alb_query: bool,
    /// How the `_ip` and `_val` fetches turn a string into their typed sample.
    pub(crate) convert: Convert,
}

/// The typed sample a derived fetch makes of each string (HAProxy's `hdr_ip`,
/// `hdr_val`, `urlp_val`, `cook_val` are fetches of their own, not casts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Convert {
    /// Strings as they are (`-m ip` / `-m int` then cast them).
    #[default]
    None,
    /// `hdr_ip`: an IPv4 address, optionally with `:port`, or an IPv6 address.
    HeaderIp,
    /// `*_val`: the leading integer, 0 without digits.
    ValueInt,
}

fn saturate(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// An IPv4-mapped IPv6 peer address is reported as the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn version_text(minor: u8) -> Option<&'static [u8]> {
    const TEXTS: [&[u8]; 10] = [
        b"1.0", b"1.1", b"1.2", b"1.3", b"1.4", b"1.5", b"1.6", b"1.7", b"1.8", b"1.9",
    ];
    TEXTS.get(usize::from(minor)).copied()
}

fn header_values<'h>(
    headers: &'h [httparse::Header<'h>],
    name: Option<&'h str>,
) -> impl Iterator<Item = &'h [u8]> + Clone + 'h {
    headers
        .iter()
        .filter(move |h| view::name_is(h, name))
        .flat_map(|h| CommaElements::new(h.value))
}

/// Applies `f` to all values (`occurrence == 0`) or to the chosen one.
#[inline]
fn pick<'v>(
    mut values: impl Iterator<Item = &'v [u8]> + Clone,
    occurrence: i32,
    f: &mut impl FnMut(&[u8]) -> bool,
) -> bool {
    match occurrence {
        0 => values.any(f),
        n if n > 0 => values
            .nth(usize::try_from(n - 1).unwrap_or(usize::MAX))
            .is_some_and(f),
        n => {
            let total = values.clone().count();
            let back = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
            total
                .checked_sub(back)
                .and_then(|i| values.nth(i))
                .is_some_and(f)
        }
    }
}

/// A fetch keyword resolved: the fetch and the matching method its name implies.
#[derive(Debug)]
pub(crate) struct Keyword {
    pub(crate) fetch: Fetch,
    /// Set for derived keywords such as `path_beg` (which then refuse `-m`).
    pub(crate) implied: Option<MatchMethod>,
}

/// Why a fetch keyword could not be resolved.
#[derive(Debug)]
pub(crate) enum KeywordError {
    Unknown,
    BadArgument(String),
}

/// Resolves `word` (such as `hdr_end(host)` or `req.fhdr(x,-1)`) into a fetch.
pub(crate) fn parse_keyword(word: &str) -> Result<Keyword, KeywordError> {
    let (name, args) = match word.find('(') {
        Some(open) => {
            let Some(inner) = word[open + 1..].strip_suffix(')') else {
                return Err(KeywordError::BadArgument(
                    "arguments must end with `)` and contain no spaces".to_owned(),
                ));
            };
            (&word[..open], Some(inner))
        }
        None => (word, None),
    };
    let args: Vec<&str> = match args {
        None | Some("") => Vec::new(),
        Some(a) => a.split(',').collect(),
    };
    let (base, suffix) = split_suffix(name);
    let implied = match suffix {
        None => None,
        Some(s) => Some(suffix_method(s).ok_or(KeywordError::Unknown)?),
    };
    let fetch = match base {
        "path" => no_args(&args, Fetch::Path)?,
        "url" => no_args(&args, Fetch::Url)?,
        "query" if implied.is_none() => no_args(&args, Fetch::Query)?,
        "method" if implied.is_none() => no_args(&args, Fetch::Method)?,
        "req.ver" | "req_ver" if implied.is_none() => no_args(&args, Fetch::ReqVer)?,
        "hdr" | "req.hdr" => {
            let (name, occurrence) = name_and_occurrence(&args)?;
            Fetch::Header { name, occurrence }
        }
        "req.fhdr" if implied.is_none() => {
            let (name, occurrence) = name_and_occurrence(&args)?;
            Fetch::FullHeader { name, occurrence }
        }
        "hdr_cnt" | "req.hdr_cnt" if implied.is_none() => Fetch::HeaderCount {
            name: optional_name(&args)?,
        },
        "req.fhdr_cnt" if implied.is_none() => Fetch::FullHeaderCount {
            name: optional_name(&args)?,
        },
        "src" if implied.is_none() => no_args(&args, Fetch::Src)?,
        "src_port" if implied.is_none() => no_args(&args, Fetch::SrcPort)?,
        "url_param" | "urlp" => {
            if args.len() > 2 {
                return Err(KeywordError::BadArgument(
                    "expected at most a parameter name and a delimiter".to_owned(),
                ));
            }
            let delimiter = match args.get(1) {
                None => b'?',
                Some(d) if d.len() == 1 => d.as_bytes()[0],
                Some(_) => {
                    return Err(KeywordError::BadArgument(
                        "the delimiter must be one character".to_owned(),
                    ));
                }
            };
            Fetch::UrlParam {
                name: args.first().filter(|n| !n.is_empty()).map(|n| (*n).into()),
                delimiter,
            }
        }
        "req.cook" | "cook" => Fetch::Cookie {
            name: optional_name(&args)?,
        },
        "req.cook_cnt" | "cook_cnt" if implied.is_none() => Fetch::CookieCount {
            name: optional_name(&args)?,
        },
        "ssl_fc" if implied.is_none() => no_args(&args, Fetch::SslFc)?,
        "ssl_fc_sni" | "req.ssl_sni" if implied.is_none() => no_args(&args, Fetch::SslSni)?,
        "always_true" if implied.is_none() => no_args(&args, Fetch::Constant(true))?,
        "always_false" if implied.is_none() => no_args(&args, Fetch::Constant(false))?,
        _ => return Err(KeywordError::Unknown),
    };
    // `hdr_ip`/`hdr_val` exist for headers, cookies and parameters only; `_val` needs those.
    if matches!(implied, Some(MatchMethod::Ip | MatchMethod::Int))
        && !matches!(
            fetch,
            Fetch::Header { .. } | Fetch::Cookie { .. } | Fetch::UrlParam { .. }
        )
    {
        return Err(KeywordError::Unknown);
    }
    if implied == Some(MatchMethod::Ip) && !matches!(fetch, Fetch::Header { .. }) {
        return Err(KeywordError::Unknown);
    }
    Ok(Keyword { fetch, implied })
}

/// Splits `path_beg` into (`path`, `beg`); names without a known suffix are returned whole.
fn split_suffix(name: &str) -> (&str, Option<&str>) {
    const BASES: [&str; 6] = ["path", "url", "hdr", "urlp", "cook", "req.hdr"];
    if let Some((base, suffix)) = name.rsplit_once('_')
        && BASES.contains(&base)
        && suffix_method(suffix).is_some()
    {
        return (base, Some(suffix));
    }
    (name, None)
}

fn suffix_method(suffix: &str) -> Option<MatchMethod> {
    Some(match suffix {
        "beg" => MatchMethod::Beg,
        "end" => MatchMethod::End,
        "sub" => MatchMethod::Sub,
        "dir" => MatchMethod::Dir,
        "dom" => MatchMethod::Dom,
        "reg" => MatchMethod::Reg,
        "len" => MatchMethod::Len,
        "val" => MatchMethod::Int,
        "ip" => MatchMethod::Ip,
        _ => return None,
    })
}

fn no_args(args: &[&str], fetch: Fetch) -> Result<Fetch, KeywordError> {
    if args.is_empty() {
        Ok(fetch)
    } else {
        Err(KeywordError::BadArgument(
            "this fetch takes no argument".to_owned(),
        ))
    }
}

fn optional_name(args: &[&str]) -> Result<Option<Box<str>>, KeywordError> {
    match args {
        [] => Ok(None),
        [name] => Ok(Some((*name).into())),
        _ => Err(KeywordError::BadArgument(
            "expected at most one name".to_owned(),
        )),
    }
}

fn name_and_occurrence(args: &[&str]) -> Result<(Option<Box<str>>, i32), KeywordError> {
    match args {
        [] => Ok((None, 0)),
        [name] => Ok((Some((*name).into()), 0)),
        [name, occ] => {
            let occurrence = occ.trim().parse::<i32>().map_err(|_| {
                KeywordError::BadArgument(format!(
                    "occurrence `{occ}` must be an integer (1 = first, -1 = last)"
                ))
            })?;
            Ok((Some((*name).into()), occurrence))
        }
        _ => Err(KeywordError::BadArgument(
            "expected a header name and an optional occurrence".to_owned(),
        )),
    }
}

impl fmt::Display for Fetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |n: &Option<Box<str>>| n.as_deref().unwrap_or("").to_owned();
        match self {
            Fetch::Path => f.write_str("path"),
            Fetch::Url => f.write_str("url"),
            Fetch::Query => f.write_str("query"),
            Fetch::Method => f.write_str("method"),
            Fetch::ReqVer => f.write_str("req.ver"),
            Fetch::Header {
                name,
                occurrence: 0,
            } => write!(f, "req.hdr({})", opt(name)),
            Fetch::Header { name, occurrence } => write!(f, "req.hdr({},{occurrence})", opt(name)),
            Fetch::FullHeader {
                name,
                occurrence: 0,
            } => write!(f, "req.fhdr({})", opt(name)),
            Fetch::FullHeader { name, occurrence } => {
                write!(f, "req.fhdr({},{occurrence})", opt(name))
            }
            Fetch::HeaderCount { name } => write!(f, "req.hdr_cnt({})", opt(name)),
            Fetch::FullHeaderCount { name } => write!(f, "req.fhdr_cnt({})", opt(name)),
            Fetch::Src => f.write_str("src"),
            Fetch::SrcPort => f.write_str("src_port"),
            Fetch::UrlParam {
                name,
                delimiter: b'?',
            } => write!(f, "url_param({})", opt(name)),
            Fetch::UrlParam { name, delimiter } => {
                write!(f, "url_param({},{})", opt(name), char::from(*delimiter))
            }
            Fetch::Cookie { name } => write!(f, "req.cook({})", opt(name)),
            Fetch::CookieCount { name } => write!(f, "req.cook_cnt({})", opt(name)),
            Fetch::SslFc => f.write_str("ssl_fc"),
            Fetch::SslSni => f.write_str("ssl_fc_sni"),
            Fetch::Constant(true) => f.write_str("always_true"),
            Fetch::Constant(false) => f.write_str("always_false"),
        }
    }
}
