//! One ACL expression: a fetch, flags, a matching method and patterns, compiled.

use std::fmt;
use std::io;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use crate::error::{Error, Position};
use crate::fetch::{self, Convert, Fetch, FetchOptions, KeywordError};
use crate::lexer::{self, Word};
use crate::pattern::{self, Folded, MatchMethod, Matcher, PatternList, Sample};
use crate::view::{self, RequestView};

/// Reads a `-f` pattern file.
pub(crate) type PatternLoader = dyn Fn(&Path) -> io::Result<String> + Send + Sync;

pub(crate) fn read_file(path: &Path) -> io::Result<String> {
    std::fs::read_to_string(path)
}

/// A compiled ACL expression such as `hdr(Upgrade) -i websocket` or `path_beg /ws /api`:
/// true when any sample of the fetch matches any pattern.
///
/// ```
/// use gangway_acl::{Expr, RequestView};
/// let expr: Expr = "path_beg -i /ws /socket".parse().unwrap();
/// let headers = [];
/// assert!(expr.eval(&RequestView::new("GET", "/WS/echo", &headers)));
/// assert!(!expr.eval(&RequestView::new("GET", "/api", &headers)));
/// ```
pub struct Expr {
    fetch: Fetch,
    method: MatchMethod,
    ignore_case: bool,
    options: FetchOptions,
    pattern_count: usize,
    /// Textual patterns as given (kept so route tables can index simple rules).
    texts: Box<[Box<str>]>,
    matcher: Matcher,
    /// For `hdr(<name>)` over all values: the name, ready to compare.
    header: Option<HeaderScan>,
}

/// The scan behind `hdr(<name>)` (every value of every occurrence), with the name's case
/// folding precomputed.
struct HeaderScan {
    name: Folded,
    host_only: bool,
}

impl HeaderScan {
    /// Calls `f` on each comma-separated value of each header named `name`, in order,
    /// until it returns true (as `Fetch::any` does for this fetch).
    #[inline(always)]
    fn any(&self, req: &RequestView<'_>, mut f: impl FnMut(&[u8]) -> bool) -> bool {
        let host_only = self.host_only;
        for h in req.headers {
            if !self.name.matches(h.name.as_bytes()) {
                continue;
            }
            let value = h.value;
            // One element (no comma, no quote) is the usual case: no splitting loop.
            let found = if !view::has_comma_or_quote(value) {
                let v = view::trim_ows(value);
                f(if host_only { view::strip_port(v) } else { v })
            } else {
                view::any_element(value, |v| {
                    f(if host_only { view::strip_port(v) } else { v })
                })
            };
            if found {
                return true;
            }
        }
        false
    }

    /// [`HeaderScan::any`] for an `f` that tests equality with a pattern holding no `,`
    /// or `"`: a whole (trimmed) value equal to it is necessarily a single element, so
    /// the value is compared before looking for commas.
    #[inline(always)]
    fn any_whole_first(&self, req: &RequestView<'_>, mut f: impl FnMut(&[u8]) -> bool) -> bool {
        let host_only = self.host_only;
        for h in req.headers {
            if !self.name.matches(h.name.as_bytes()) {
                continue;
            }
            let value = h.value;
            let whole = view::trim_ows(value);
            if f(if host_only {
                view::strip_port(whole)
            } else {
                whole
            }) {
                return true;
            }
            // Without a comma or quote the whole value was the only element.
            if view::has_comma_or_quote(value)
                && view::any_element(value, |v| {
                    f(if host_only { view::strip_port(v) } else { v })
                })
            {
                return true;
            }
        }
        false
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expr")
            .field("fetch", &self.fetch)
            .field("method", &self.method)
            .field("ignore_case", &self.ignore_case)
            .field("patterns", &self.pattern_count)
            .finish()
    }
}

impl fmt::Display for Expr {
    /// A short description: fetch, flags and pattern count (patterns are not repeated).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -m {}", self.fetch, self.method)?;
        if self.ignore_case {
            f.write_str(" -i")?;
        }
        write!(f, " ({} patterns)", self.pattern_count)
    }
}

impl Expr {
    /// Starts building an expression in code.
    ///
    /// ```
    /// use gangway_acl::{Expr, Fetch, MatchMethod, RequestView};
    /// let expr = Expr::builder(Fetch::header("Upgrade"))
    ///     .ignore_case(true)
    ///     .pattern("websocket")
    ///     .build()
    ///     .unwrap();
    /// let headers = [httparse::Header { name: "upgrade", value: b"WebSocket" }];
    /// assert!(expr.eval(&RequestView::new("GET", "/", &headers)));
    /// ```
    pub fn builder(fetch: Fetch) -> ExprBuilder {
        ExprBuilder {
            fetch,
            method: None,
            ignore_case: false,
            texts: Vec::new(),
            ranges: Vec::new(),
            options: FetchOptions::default(),
        }
    }

    /// Parses one expression, such as `hdr_end(host) -i ws.example.com`. `-f FILE` reads
    /// from the file system.
    pub fn parse(text: &str) -> Result<Expr, Error> {
        let words = lexer::words(text)?;
        parse_words(&words, End::of_text(text), &read_file)
    }

    /// Whether any sample of the fetch matches any pattern. Computes the fetch only now,
    /// stops at the first match, and never allocates.
    #[inline]
    pub fn eval(&self, req: &RequestView<'_>) -> bool {
        // Small separate bodies: the header scan keeps its registers free of the
        // other fetches' state, and this dispatch inlines into conditions.
        match &self.header {
            Some(scan) => self.eval_header(scan, req),
            None => self.eval_fetch(req),
        }
    }

    #[inline(never)]
    fn eval_header(&self, scan: &HeaderScan, req: &RequestView<'_>) -> bool {
        // One pattern (the usual ACL) is compared inline, without a set lookup call.
        match &self.matcher {
            Matcher::Str(set) => match set.single() {
                Some(p) if p.has_no_comma_or_quote() => scan.any_whole_first(req, |s| p.matches(s)),
                Some(p) => scan.any(req, |s| p.matches(s)),
                None => scan.any(req, |s| set.contains(s)),
            },
            Matcher::Beg(affixes) => match affixes.single() {
                Some(p) => scan.any(req, |s| p.begins(s)),
                None => scan.any(req, |s| affixes.matches(s)),
            },
            Matcher::End(affixes) => match affixes.single() {
                Some(p) => scan.any(req, |s| p.ends(s)),
                None => scan.any(req, |s| affixes.matches(s)),
            },
            matcher => scan.any(req, |s| matcher.matches(Sample::Str(s))),
        }
    }

    #[inline(never)]
    fn eval_fetch(&self, req: &RequestView<'_>) -> bool {
        // The commonest matchers get their own copy of the fetch loop, with the
        // comparison inlined into it.
        match &self.matcher {
            Matcher::Str(set) => self.fetch.any(self.options, req, |sample| match sample {
                Sample::Str(s) => set.contains(s),
                _ => false,
            }),
            Matcher::Beg(affixes) | Matcher::End(affixes) => {
                self.fetch.any(self.options, req, |sample| match sample {
                    Sample::Str(s) => affixes.matches(s),
                    _ => false,
                })
            }
            matcher => self
                .fetch
                .any(self.options, req, |sample| matcher.matches(sample)),
        }
    }

    /// The fetch this expression looks at.
    pub fn fetch(&self) -> &Fetch {
        &self.fetch
    }

    /// The matching method.
    pub fn method(&self) -> MatchMethod {
        self.method
    }

    /// Whether `-i` was given.
    pub fn ignore_case(&self) -> bool {
        self.ignore_case
    }

    pub(crate) fn options(&self) -> FetchOptions {
        self.options
    }

    /// Whether Host patterns with and without a port are mixed (the port-less ones
    /// compare with the port stripped, the others with the whole value).
    pub(crate) fn mixes_host_ports(&self) -> bool {
        matches!(self.matcher, Matcher::HostPorts { .. })
    }

    pub(crate) fn texts(&self) -> &[Box<str>] {
        &self.texts
    }

    /// How many patterns the expression holds.
    pub fn pattern_count(&self) -> usize {
        self.pattern_count
    }

    fn compile(
        fetch: Fetch,
        method: MatchMethod,
        ignore_case: bool,
        mut options: FetchOptions,
        patterns: &PatternList,
    ) -> Result<Expr, String> {
        if !fetch.accepts(method) {
            return Err(format!(
                "matching method `{method}` cannot compare the samples of `{fetch}`"
            ));
        }
        // Domain matching on Host ignores the port, so `example.com` matches
        // `example.com:8080`; a pattern that names a port compares with the whole value,
        // as HAProxy does (ALB rules ask for `host_only` themselves).
        let host_name_method = matches!(
            method,
            MatchMethod::Str | MatchMethod::End | MatchMethod::Dom
        ) && is_host_header(&fetch);
        let matcher = if host_name_method && !options.host_only {
            let (with_port, without_port): (Vec<String>, Vec<String>) =
                patterns.texts.iter().cloned().partition(|p| has_port(p));
            if with_port.is_empty() {
                options.host_only = true;
                Matcher::compile(method, ignore_case, patterns)?
            } else if without_port.is_empty() {
                Matcher::compile(method, ignore_case, patterns)?
            } else {
                let part = |texts: Vec<String>| {
                    Matcher::compile(
                        method,
                        ignore_case,
                        &PatternList {
                            texts,
                            ..PatternList::default()
                        },
                    )
                };
                Matcher::HostPorts {
                    without_port: Box::new(part(without_port)?),
                    with_port: Box::new(part(with_port)?),
                }
            }
        } else {
            Matcher::compile(method, ignore_case, patterns)?
        };
        let fetch = fetch.normalized();
        let header = match &fetch {
            Fetch::Header {
                name: Some(name),
                occurrence: 0,
            } if options.convert == Convert::None => Some(HeaderScan {
                name: Folded::new(name.as_bytes(), true),
                host_only: options.host_only,
            }),
            _ => None,
        };
        Ok(Expr {
            header,
            fetch,
            method,
            ignore_case,
            options,
            pattern_count: patterns.texts.len() + patterns.ranges.len() + patterns.nets.len(),
            texts: patterns.texts.iter().map(|t| t.as_str().into()).collect(),
            matcher,
        })
    }
}

/// Whether a Host pattern ends in a `:port` (then it is compared with the whole value).
fn has_port(pattern: &str) -> bool {
    view::strip_port(pattern.as_bytes()).len() != pattern.len()
}

fn is_host_header(fetch: &Fetch) -> bool {
    match fetch {
        Fetch::Header { name: Some(n), .. } | Fetch::FullHeader { name: Some(n), .. } => {
            n.eq_ignore_ascii_case("host")
        }
        _ => false,
    }
}

impl std::str::FromStr for Expr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Expr, Error> {
        Expr::parse(s)
    }
}

/// Builds an [`Expr`] in code; patterns are written as in configuration text.
#[derive(Debug, Clone)]
pub struct ExprBuilder {
    fetch: Fetch,
    method: Option<MatchMethod>,
    ignore_case: bool,
    texts: Vec<String>,
    ranges: Vec<(i64, i64)>,
    options: FetchOptions,
}

impl ExprBuilder {
    /// Sets the matching method (the fetch's default otherwise).
    pub fn method(mut self, method: MatchMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Compares strings without ASCII case (`-i`).
    pub fn ignore_case(mut self, yes: bool) -> Self {
        self.ignore_case = yes;
        self
    }

    /// Adds one pattern, written as in configuration text (`/ws`, `10.0.0.0/8`, `1:5`).
    pub fn pattern(mut self, pattern: impl Into<String>) -> Self {
        self.texts.push(pattern.into());
        self
    }

    /// Adds several patterns.
    pub fn patterns<S: Into<String>>(mut self, patterns: impl IntoIterator<Item = S>) -> Self {
        self.texts.extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Adds an inclusive integer range (for `int` and `len`).
    pub fn range(mut self, range: RangeInclusive<i64>) -> Self {
        self.ranges.push((*range.start(), *range.end()));
        self
    }

    /// Reads query parameters as ALB `query-string` conditions do.
    pub(crate) fn alb_query(mut self, yes: bool) -> Self {
        self.options.alb_query = yes;
        self
    }

    /// Strips a `:port` from header values before matching.
    pub(crate) fn host_only(mut self, yes: bool) -> Self {
        self.options.host_only = yes;
        self
    }

    /// Validates the patterns for the method and compiles. Errors carry position 0:0.
    pub fn build(self) -> Result<Expr, Error> {
        let method = self.method.unwrap_or_else(|| self.fetch.default_method());
        let here = Position::default();
        let mut list = PatternList {
            ranges: self.ranges,
            ..PatternList::default()
        };
        for text in &self.texts {
            add_pattern(method, text, &mut list).map_err(|r| Error::pattern(here, text, r))?;
        }
        if list.texts.is_empty()
            && list.ranges.is_empty()
            && list.nets.is_empty()
            && needs_patterns(method)
        {
            return Err(Error::syntax(
                here,
                "end of expression",
                "at least one pattern (or `-m found` to test presence)",
            ));
        }
        Expr::compile(self.fetch, method, self.ignore_case, self.options, &list)
            .map_err(|r| Error::pattern(here, "expression", r))
    }
}

fn needs_patterns(method: MatchMethod) -> bool {
    !matches!(method, MatchMethod::Found | MatchMethod::Bool)
}

/// Validates and stores one pattern for `method`.
fn add_pattern(method: MatchMethod, text: &str, list: &mut PatternList) -> Result<(), String> {
    match method {
        MatchMethod::Found | MatchMethod::Bool => {
            return Err(format!("`-m {method}` takes no pattern"));
        }
        MatchMethod::Int | MatchMethod::Len => list.ranges.push(pattern::parse_int_range(text)?),
        MatchMethod::Ip => list.nets.push(pattern::parse_net(text)?),
        MatchMethod::Reg => {
            pattern::check_regex(text)?;
            list.texts.push(text.to_owned());
        }
        _ => list.texts.push(text.to_owned()),
    }
    Ok(())
}

/// Where an expression's words end: the position and text of what follows them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct End<'t> {
    pub(crate) position: Position,
    pub(crate) token: &'t str,
}

impl End<'_> {
    pub(crate) fn of_text(text: &str) -> End<'static> {
        End {
            position: lexer::end_position(text),
            token: "end of input",
        }
    }
}

/// Parses expression words: `<fetch> [flags] [--] [patterns]`.
pub(crate) fn parse_words(
    words: &[Word],
    end: End<'_>,
    loader: &PatternLoader,
) -> Result<Expr, Error> {
    let Some(keyword_word) = words.first() else {
        return Err(Error::syntax(
            end.position,
            end.token,
            "a sample fetch such as `path_beg`",
        ));
    };
    let keyword = match fetch::parse_keyword(&keyword_word.text) {
        Ok(k) => k,
        Err(KeywordError::Unknown) => {
            return Err(Error::UnknownFetch {
                position: keyword_word.position,
                name: keyword_word.text.clone(),
            });
        }
        Err(KeywordError::BadArgument(reason)) => {
            return Err(Error::pattern(
                keyword_word.position,
                &keyword_word.text,
                reason,
            ));
        }
    };

    let mut ignore_case = false;
    let mut method = keyword.implied;
    let mut files: Vec<(&Word, PathBuf)> = Vec::new();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if w.literal || !w.text.starts_with('-') {
            break;
        }
        i += 1;
        match w.text.as_str() {
            "--" => break,
            "-i" => ignore_case = true,
            "-n" => {}
            "-m" => {
                let Some(name) = words.get(i) else {
                    return Err(Error::syntax(end.position, end.token, METHOD_LIST));
                };
                i += 1;
                let Some(m) = MatchMethod::from_name(&name.text) else {
                    return Err(Error::syntax(name.position, &name.text, METHOD_LIST));
                };
                if let Some(implied) = keyword.implied {
                    return Err(Error::pattern(
                        w.position,
                        "-m",
                        format!(
                            "`{}` already implies `-m {implied}`; write the plain fetch with `-m {m}` instead",
                            keyword_word.text
                        ),
                    ));
                }
                method = Some(m);
            }
            "-f" => {
                let Some(file) = words.get(i) else {
                    return Err(Error::syntax(
                        end.position,
                        end.token,
                        "a pattern file name after `-f`",
                    ));
                };
                i += 1;
                files.push((file, PathBuf::from(&file.text)));
            }
            _ => {
                return Err(Error::syntax(
                    w.position,
                    &w.text,
                    "a flag (-i, -m <method>, -f <file>, -n) or `--` before a pattern that starts with `-`",
                ));
            }
        }
    }
    let method = method.unwrap_or_else(|| keyword.fetch.default_method());
    if !keyword.fetch.accepts(method) {
        return Err(Error::pattern(
            keyword_word.position,
            &keyword_word.text,
            format!("matching method `{method}` cannot compare the samples of this fetch"),
        ));
    }

    let mut list = PatternList::default();
    while let Some(w) = words.get(i) {
        i += 1;
        if matches!(method, MatchMethod::Int | MatchMethod::Len)
            && !w.literal
            && let Some(op) = IntOperator::from_word(&w.text)
        {
            let Some(value) = words.get(i) else {
                return Err(Error::syntax(
                    end.position,
                    end.token,
                    format!("an integer after `{}`", w.text),
                ));
            };
            i += 1;
            let n = value.text.parse::<i64>().map_err(|_| {
                Error::syntax(
                    value.position,
                    &value.text,
                    format!("an integer after `{}`", w.text),
                )
            })?;
            list.ranges.push(op.range(n));
            continue;
        }
        add_pattern(method, &w.text, &mut list)
            .map_err(|r| Error::pattern(w.position, &w.text, r))?;
    }

    for (word, path) in &files {
        let text = loader(path).map_err(|source| Error::Io {
            position: word.position,
            path: path.clone(),
            source,
        })?;
        for (line_no, pattern) in pattern_file_lines(&text) {
            add_pattern(method, pattern, &mut list).map_err(|reason| Error::PatternFile {
                path: path.clone(),
                line: line_no,
                pattern: pattern.to_owned(),
                reason,
            })?;
        }
    }

    if files.is_empty()
        && list.texts.is_empty()
        && list.ranges.is_empty()
        && list.nets.is_empty()
        && needs_patterns(method)
    {
        return Err(Error::syntax(
            end.position,
            "end of expression",
            "at least one pattern (or `-m found` to test presence)",
        ));
    }
    let options = FetchOptions {
        convert: match keyword.implied {
            Some(MatchMethod::Ip) => Convert::HeaderIp,
            Some(MatchMethod::Int) => Convert::ValueInt,
            _ => Convert::None,
        },
        ..FetchOptions::default()
    };
    Expr::compile(keyword.fetch, method, ignore_case, options, &list)
        .map_err(|reason| Error::pattern(keyword_word.position, &keyword_word.text, reason))
}

const METHOD_LIST: &str =
    "a matching method after `-m`: str, beg, end, sub, dir, dom, reg, found, len, int, ip or bool";

/// The lines of a pattern file that hold patterns, with 1-based line numbers: lines
/// starting with `#` and empty lines are skipped, leading blanks removed (as HAProxy does).
fn pattern_file_lines(text: &str) -> impl Iterator<Item = (u32, &str)> {
    text.split('\n').enumerate().filter_map(|(i, line)| {
        if line.starts_with('#') {
            return None;
        }
        let line = line
            .trim_end_matches(['\r', '\n'])
            .trim_start_matches([' ', '\t']);
        if line.is_empty() {
            return None;
        }
        Some((u32::try_from(i + 1).unwrap_or(u32::MAX), line))
    })
}

#[derive(Debug, Clone, Copy)]
enum IntOperator {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

impl IntOperator {
    fn from_word(word: &str) -> Option<IntOperator> {
        Some(match word {
            "eq" => IntOperator::Eq,
            "ge" => IntOperator::Ge,
            "gt" => IntOperator::Gt,
            "le" => IntOperator::Le,
            "lt" => IntOperator::Lt,
            _ => return None,
        })
    }

    fn range(self, n: i64) -> (i64, i64) {
        match self {
            IntOperator::Eq => (n, n),
            IntOperator::Ge => (n, i64::MAX),
            // An empty range (lo > hi) never matches; the compiler drops it.
            IntOperator::Gt => (
                n.saturating_add(1),
                if n == i64::MAX { i64::MIN } else { i64::MAX },
            ),
            IntOperator::Le => (i64::MIN, n),
            IntOperator::Lt => (
                if n == i64::MIN { i64::MAX } else { i64::MIN },
                n.saturating_sub(1),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_file_rules() {
        let text = "# comment\n  /a\n\n\t/b  \r\n #kept\n/c";
        let got: Vec<(u32, &str)> = pattern_file_lines(text).collect();
        assert_eq!(got, [(2, "/a"), (4, "/b  "), (5, "#kept"), (6, "/c")]);
    }

    #[test]
    fn int_operators() {
        assert_eq!(IntOperator::Gt.range(3), (4, i64::MAX));
        assert_eq!(IntOperator::Lt.range(3), (i64::MIN, 2));
        let (lo, hi) = IntOperator::Gt.range(i64::MAX);
        assert!(lo > hi);
    }
}
