//! The borrowed request an ACL is evaluated against, and the allocation-free ways of
//! pulling samples (path, header values, cookies, query parameters) out of it.

use std::net::SocketAddr;

/// A borrowed view of one HTTP/1 request head plus what the connection knows about it.
///
/// Nothing is copied: `gangway-h1` (or `httparse` directly) fills the header slice and the
/// gateway adds the peer address and TLS facts.
///
/// ```
/// use gangway_acl::RequestView;
/// let headers = [httparse::Header { name: "Host", value: b"example.com" }];
/// let view = RequestView::new("GET", "/ws/chat?room=1", &headers)
///     .with_src("192.0.2.7:51000".parse().unwrap())
///     .with_ssl(true);
/// assert_eq!(view.path(), Some("/ws/chat"));
/// assert_eq!(view.query(), Some("room=1"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// Request method as received (`GET`, `POST`, ...).
    pub method: &'a str,
    /// Request-target as received: origin form `/path?query`, absolute form
    /// `http://host/path?query`, authority form or `*`.
    pub target: &'a str,
    /// Minor version of HTTP/1.x (0 or 1).
    pub version_minor: u8,
    /// Request header fields in received order.
    pub headers: &'a [httparse::Header<'a>],
    /// Client address: the PROXY-protocol source when present, else the TCP peer.
    pub src: Option<SocketAddr>,
    /// Whether the client connection is TLS terminated here.
    pub ssl: bool,
    /// TLS server name indication sent by the client, if any.
    pub sni: Option<&'a str>,
}

impl<'a> RequestView<'a> {
    /// A view of an HTTP/1.1 request with no peer address and no TLS.
    pub fn new(method: &'a str, target: &'a str, headers: &'a [httparse::Header<'a>]) -> Self {
        RequestView {
            method,
            target,
            version_minor: 1,
            headers,
            src: None,
            ssl: false,
            sni: None,
        }
    }

    /// Sets the HTTP/1.x minor version.
    pub fn with_version_minor(mut self, minor: u8) -> Self {
        self.version_minor = minor;
        self
    }

    /// Sets the client address (PROXY-protocol source when present, else the TCP peer).
    pub fn with_src(mut self, src: SocketAddr) -> Self {
        self.src = Some(src);
        self
    }

    /// Sets whether the client connection is TLS.
    pub fn with_ssl(mut self, ssl: bool) -> Self {
        self.ssl = ssl;
        self
    }

    /// Sets the TLS server name indication.
    pub fn with_sni(mut self, sni: &'a str) -> Self {
        self.sni = Some(sni);
        self
    }

    /// The path as HAProxy's `path` fetch sees it: from the first slash (after the
    /// `scheme://` and authority of an absolute-form target) up to the first `?`. `None`
    /// for `*` and authority-form targets.
    pub fn path(&self) -> Option<&'a str> {
        path_of(self.target)
    }

    /// The target from where [`path`](Self::path) starts to its end: the path and the query
    /// as in origin form, also for an absolute-form target (`http://h/p?q` gives `/p?q`).
    /// `None` where there is no path.
    ///
    /// ```
    /// use gangway_acl::RequestView;
    /// let view = RequestView::new("GET", "http://example.com/status?x=1", &[]);
    /// assert_eq!(view.path_and_query(), Some("/status?x=1"));
    /// ```
    pub fn path_and_query(&self) -> Option<&'a str> {
        path_start(self.target).map(|start| &self.target[start..])
    }

    /// The query string after the first `?`, `None` when there is no `?`.
    pub fn query(&self) -> Option<&'a str> {
        let i = find_byte(self.target.as_bytes(), b'?')?;
        Some(&self.target[i + 1..])
    }
}

pub(crate) fn path_of(target: &str) -> Option<&str> {
    let start = path_start(target)?;
    let end = find_byte(&target.as_bytes()[start..], b'?').map_or(target.len(), |p| start + p);
    Some(&target[start..end])
}

/// Where the path of `target` starts (see [`path_of`]).
fn path_start(target: &str) -> Option<usize> {
    let bytes = target.as_bytes();
    Some(if bytes.first() == Some(&b'/') {
        0
    } else {
        // HAProxy's http_get_path: `*` has no path; a target starting with a letter must
        // be `scheme://`; then the path starts at the next `/`, wherever it is (even in
        // a query: `http://h?x=/y` has the path `/y`).
        let mut at = 0;
        match bytes.first()? {
            b'*' => return None,
            c if c.is_ascii_alphabetic() => {
                at = 1 + bytes[1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                    .count();
                if !bytes[at..].starts_with(b"://") {
                    return None;
                }
                at += 3;
            }
            _ => {}
        }
        at + find_byte(&bytes[at..], b'/')?
    })
}

/// Removes optional whitespace around a header value element.
#[inline]
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    // Most elements have nothing to trim: two byte tests instead of two loops.
    match s {
        [] => return s,
        // Bytes above the space are never blanks: one compare per end.
        [only] if *only > b' ' => return s,
        [first, .., last] if *first > b' ' && *last > b' ' => return s,
        _ => {}
    }
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Calls `f` on each comma-separated element of one header value (as [`CommaElements`]
/// yields them) until it returns true; a loop is cheaper than the iterator here.
#[inline]
pub(crate) fn any_element(mut value: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> bool {
    loop {
        match find_comma_or_quote(value) {
            None => return f(trim_ows(value)),
            Some(i) if value[i] == b',' => {
                if f(trim_ows(&value[..i])) {
                    return true;
                }
                value = &value[i + 1..];
            }
            Some(_) => return CommaElements::new(value).any(f),
        }
    }
}

/// Iterates the comma-separated elements of one header value (commas inside
/// double-quoted strings do not split), trimmed of optional whitespace.
#[derive(Debug, Clone)]
pub(crate) struct CommaElements<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> CommaElements<'a> {
    pub(crate) fn new(value: &'a [u8]) -> Self {
        CommaElements { rest: Some(value) }
    }
}

impl<'a> Iterator for CommaElements<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        // Fast path: no quote before the next comma.
        match find_comma_or_quote(rest) {
            None => {
                self.rest = None;
                return Some(trim_ows(rest));
            }
            Some(i) if rest[i] == b',' => {
                self.rest = Some(&rest[i + 1..]);
                return Some(trim_ows(&rest[..i]));
            }
            Some(_) => {}
        }
        let mut quoted = false;
        let mut escaped = false;
        let mut end = rest.len();
        for (i, &b) in rest.iter().enumerate() {
            if quoted {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    quoted = false;
                }
            } else if b == b',' {
                end = i;
                break;
            } else if b == b'"' {
                quoted = true;
            }
        }
        if end == rest.len() {
            self.rest = None;
        } else {
            self.rest = Some(&rest[end + 1..]);
        }
        Some(trim_ows(&rest[..end]))
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Four bytes of `s` from `at` as a little-endian word (`s` must hold them).
#[inline]
fn word4_at(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// The first and last four bytes of `s` (4 to 8 bytes long) as one word: equal words
/// mean equal slices when the lengths are equal.
#[inline]
pub(crate) fn ends4(s: &[u8]) -> u64 {
    word4_at(s, 0) | (word4_at(s, s.len() - 4) << 32)
}

/// Eight bytes of `s` from `at` as a little-endian word (`s` must hold them).
#[inline]
pub(crate) fn word_at(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(w)
}

/// High bit set in each byte of `x` equal to `b` (exact for the lowest such byte).
#[inline]
fn bytes_equal_to(x: u64, b: u8) -> u64 {
    let y = x ^ (ONES * u64::from(b));
    y.wrapping_sub(ONES) & !y & HIGHS
}

/// Index of the first `b` in `s`, eight bytes at a time (short request parts make
/// SIMD set-up cost more than it saves).
#[inline]
pub(crate) fn find_byte(s: &[u8], b: u8) -> Option<usize> {
    if s.len() >= 256 {
        return memchr::memchr(b, s);
    }
    let mut i = 0;
    while i + 8 <= s.len() {
        let hits = bytes_equal_to(word_at(s, i), b);
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&c| c == b).map(|p| i + p)
}

/// High bit set in each byte of `x` that is `,` or `"`.
#[inline]
fn comma_or_quote_bits(x: u64) -> u64 {
    bytes_equal_to(x, b',') | bytes_equal_to(x, b'"')
}

/// Whether `s` holds a `,` or `"`: words, the last one overlapping, and no byte loop.
#[inline]
pub(crate) fn has_comma_or_quote(s: &[u8]) -> bool {
    let len = s.len();
    if len >= 8 {
        let mut i = 0;
        while i + 8 <= len {
            if comma_or_quote_bits(word_at(s, i)) != 0 {
                return true;
            }
            i += 8;
        }
        return i != len && comma_or_quote_bits(word_at(s, len - 8)) != 0;
    }
    if len >= 4 {
        // Both halves are real bytes of `s` (they may overlap): no false hit.
        return comma_or_quote_bits(ends4(s)) != 0;
    }
    s.iter().any(|&b| b == b',' || b == b'"')
}

/// Index of the first `,` or `"`, eight bytes at a time.
#[inline]
pub(crate) fn find_comma_or_quote(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 8 <= s.len() {
        let x = word_at(s, i);
        let hits = bytes_equal_to(x, b',') | bytes_equal_to(x, b'"');
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..]
        .iter()
        .position(|&b| b == b',' || b == b'"')
        .map(|p| i + p)
}

/// Whether a header field's name is `name` (already lowercase); `None` matches all.
#[inline]
pub(crate) fn name_is(header: &httparse::Header<'_>, name: Option<&str>) -> bool {
    name.is_none_or(|n| eq_folded(n.as_bytes(), header.name.as_bytes()))
}

/// Lowercases the ASCII letters of eight bytes at once.
#[inline]
fn lower8(x: u64) -> u64 {
    let low7 = x & (0x7f * ONES);
    // High bit set in each byte that is >= 'A' (0x41), respectively > 'Z' (0x5a).
    let ge_a = low7 + (0x80 - 0x41) * ONES;
    let gt_z = low7 + (0x80 - 0x5b) * ONES;
    let upper = ge_a & !gt_z & !x & HIGHS;
    x | (upper >> 2)
}

/// Whether `a` equals `b`, a word at a time (short request parts make a `memcmp` call
/// cost more than the comparison).
#[inline]
pub(crate) fn eq_exact(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if len < 8 {
        if len >= 4 {
            return ends4(a) == ends4(b);
        }
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let mut i = 0;
    while i + 8 <= len {
        if word_at(a, i) != word_at(b, i) {
            return false;
        }
        i += 8;
    }
    // The last, possibly overlapping, word covers the tail.
    i == len || word_at(a, len - 8) == word_at(b, len - 8)
}

/// Whether `s` equals `lower` (which is already ASCII lowercase) ignoring ASCII case.
#[inline]
pub(crate) fn eq_folded(lower: &[u8], s: &[u8]) -> bool {
    let len = lower.len();
    if len != s.len() {
        return false;
    }
    if len < 8 {
        if len >= 4 {
            return ends4(lower) == lower8(ends4(s));
        }
        return lower
            .iter()
            .zip(s)
            .all(|(x, y)| *x == y.to_ascii_lowercase());
    }
    let mut i = 0;
    while i + 8 <= len {
        if word_at(lower, i) != lower8(word_at(s, i)) {
            return false;
        }
        i += 8;
    }
    // The last, possibly overlapping, word covers the tail.
    i == len || word_at(lower, len - 8) == lower8(word_at(s, len - 8))
}

/// Removes a `:port` suffix from a Host value (`[v6]:port` keeps the brackets).
#[inline]
pub(crate) fn strip_port(host: &[u8]) -> &[u8] {
    // The common Host without a port ends in a letter: no digit scan.
    match host {
        [first, .., last] if *first != b'[' && !last.is_ascii_digit() && *last != b':' => {
            return host;
        }
        _ => {}
    }
    if host.first() == Some(&b'[') {
        return match memchr::memchr(b']', host) {
            Some(i) => &host[..=i],
            None => host,
        };
    }
    let digits = host.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    match host.len().checked_sub(digits + 1) {
        Some(colon) if host[colon] == b':' => &host[..colon],
        _ => host,
    }
}

/// Calls `f` with the value of every cookie named `name` (every cookie when `None`) in
/// the `Cookie` headers, in order, until `f` returns true.
pub(crate) fn any_cookie(
    headers: &[httparse::Header<'_>],
    name: Option<&[u8]>,
    mut f: impl FnMut(&[u8]) -> bool,
) -> bool {
    for header in headers.iter().filter(|h| name_is(h, Some("cookie"))) {
        for pair in header.value.split(|&b| b == b';') {
            let pair = trim_ows(pair);
            let Some(eq) = memchr::memchr(b'=', pair) else {
                continue;
            };
            let (cookie_name, value) = (trim_ows(&pair[..eq]), trim_ows(&pair[eq + 1..]));
            if name.is_none_or(|n| n == cookie_name) && f(value) {
                return true;
            }
        }
    }
    false
}

/// HAProxy's `url_param(<name>,<delimiter>)`: calls `f` with the value of every
/// parameter named `name` (with no name, every value that follows a `=`), in order, until
/// `f` returns true. The parameter list starts after the first `delimiter` of the
/// request-target; parameters are separated by `&`, `;` or `delimiter`, and a name only
/// matches when `=` follows it (`?flag` has no `flag` value).
pub(crate) fn any_url_param(
    target: &[u8],
    name: Option<&[u8]>,
    delimiter: u8,
    mut f: impl FnMut(&[u8]) -> bool,
) -> bool {
    let Some(at) = find_byte(target, delimiter) else {
        return false;
    };
    let list = &target[at + 1..];
    let is_separator = |b: &u8| matches!(*b, b'&' | b';') || *b == delimiter;
    let value_at = |from: usize| {
        let value = &list[from..];
        &value[..value.iter().position(is_separator).unwrap_or(value.len())]
    };
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        // Any parameter: each value runs from the next `=` to the next separator.
        let mut pos = 0;
        while let Some(eq) = memchr::memchr(b'=', &list[pos..]) {
            let value = value_at(pos + eq + 1);
            if f(value) {
                return true;
            }
            pos += eq + 1 + value.len();
        }
        return false;
    };
    // As HAProxy's http_find_url_param_pos: at each parameter start, the name must be
    // followed by `=`.
    let mut pos = 0;
    while pos + name.len() < list.len() {
        let mut skip_from = pos;
        if list[pos + name.len()] == b'=' {
            if &list[pos..pos + name.len()] == name {
                let value = value_at(pos + name.len() + 1);
                if f(value) {
                    return true;
                }
                skip_from = pos + name.len() + 1 + value.len();
            } else {
                skip_from = pos + name.len() + 1;
            }
        }
        match list[skip_from..].iter().position(is_separator) {
            Some(i) => pos = skip_from + i + 1,
            None => return false,
        }
    }
    false
}

/// ALB `query-string` parameters: the query after the first `?` split on `&` only, each
/// a `key=value` pair (a bare word is a key with an empty value); calls `f` with the value
/// of each parameter whose key equals `name` without ASCII case (any non-empty key when
/// `None`) until it returns true.
pub(crate) fn any_query_pair(
    query: &[u8],
    name: Option<&[u8]>,
    mut f: impl FnMut(&[u8]) -> bool,
) -> bool {
    for param in query.split(|&b| b == b'&') {
        let (key, value) = match memchr::memchr(b'=', param) {
            Some(eq) => (&param[..eq], &param[eq + 1..]),
            None => (param, &b""[..]),
        };
        let wanted = match name {
            None => !key.is_empty(),
            Some(n) => n.eq_ignore_ascii_case(key),
        };
        if wanted && f(value) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_of_targets() {
        let cases = [
            ("/", Some("/")),
            ("/ws/echo?x=1", Some("/ws/echo")),
            ("/a?b?c", Some("/a")),
            ("http://example.com/p/q?x", Some("/p/q")),
            ("http://example.com", None),
            // As HAProxy's http_get_path: the first `/` after the authority, even in a query.
            ("http://example.com?x=/y", Some("/y")),
            ("HTTPS://u:p@example.com:8443/a?b", Some("/a")),
            ("h2c+x.y://example.com/a", Some("/a")),
            ("ex ample://h/a", None),
            ("foo?x=http://h/a", None),
            ("example.com/a", None),
            ("%2Fa/b", Some("/b")),
            ("*", None),
            ("example.com:443", None),
            ("", None),
        ];
        for (target, expected) in cases {
            assert_eq!(path_of(target), expected, "target {target:?}");
        }
    }

    #[test]
    fn comma_elements_respect_quotes() {
        let got: Vec<&[u8]> = CommaElements::new(b" a , \"b,c\" ,d,, ").collect();
        assert_eq!(got, [&b"a"[..], b"\"b,c\"", b"d", b"", b""]);
        let got: Vec<&[u8]> = CommaElements::new(b"").collect();
        assert_eq!(got, [&b""[..]]);
    }

    #[test]
    fn eq_folded_matches_eq_ignore_ascii_case() {
        let samples: [&[u8]; 8] = [
            b"",
            b"Host",
            b"UPGRADE",
            b"Sec-WebSocket-Version",
            b"x-@[`{-AZaz09",
            b"\xc3\x89t\xc3\xa9-long-header-name",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            b"@[`{\x80\xff",
        ];
        for a in samples {
            for b in samples {
                let lower = a.to_ascii_lowercase();
                assert_eq!(
                    eq_folded(&lower, b),
                    lower.eq_ignore_ascii_case(b),
                    "{a:?} {b:?}"
                );
            }
            assert!(eq_folded(&a.to_ascii_lowercase(), a));
        }
    }

    #[test]
    fn eq_exact_matches_slice_equality() {
        let samples: [&[u8]; 7] = [
            b"",
            b"a",
            b"abcdefg",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefgh-abcdefgX",
            b"abcdefgh-abcdefgY",
        ];
        for a in samples {
            for b in samples {
                assert_eq!(eq_exact(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn strip_port_cases() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"example.com:8080", b"example.com"),
            (b"example.com", b"example.com"),
            (b"[::1]:80", b"[::1]"),
            (b"[::1]", b"[::1]"),
            (b"a:b", b"a:b"),
            (b"host:", b"host"),
        ];
        for (input, expected) in cases {
            assert_eq!(strip_port(input), expected);
        }
    }

    #[test]
    fn cookies_and_params() {
        let headers = [
            httparse::Header {
                name: "Cookie",
                value: b"a=1; sid=xyz ;b",
            },
            httparse::Header {
                name: "cookie",
                value: b"sid=second",
            },
        ];
        let mut seen = Vec::new();
        any_cookie(&headers, Some(b"sid"), |v| {
            seen.push(v.to_vec());
            false
        });
        assert_eq!(seen, [b"xyz".to_vec(), b"second".to_vec()]);

        let values = |target: &str, name: Option<&str>, delimiter: u8| {
            let mut seen = Vec::new();
            any_url_param(target.as_bytes(), name.map(str::as_bytes), delimiter, |v| {
                seen.push(String::from_utf8(v.to_vec()).unwrap());
                false
            });
            seen
        };
        // (target, name, delimiter, values): HAProxy's http_find_url_param_pos rules.
        let cases: [(&str, Option<&str>, u8, &[&str]); 16] = [
            ("/p?a=1&b=2;x&a=3&flag", Some("a"), b'?', &["1", "3"]),
            ("/p?a=1;sid=x", Some("sid"), b'?', &["x"]),
            ("/p?a=1?sid=x", Some("sid"), b'?', &["x"]),
            ("/p?flag", Some("flag"), b'?', &[]),
            ("/p?flag&flag=", Some("flag"), b'?', &[""]),
            ("/p?A=1", Some("a"), b'?', &[]),
            ("/p?ab=1&b=2", Some("b"), b'?', &["2"]),
            ("/p?a=1=2", Some("a"), b'?', &["1=2"]),
            ("/p", Some("a"), b'?', &[]),
            ("/p?", Some("a"), b'?', &[]),
            ("/foo;JSESSIONID=abc", Some("JSESSIONID"), b';', &["abc"]),
            (
                "/foo;JSESSIONID=abc?x=1",
                Some("JSESSIONID"),
                b';',
                &["abc?x=1"],
            ),
            ("/foo;JSESSIONID=abc", Some("JSESSIONID"), b'?', &[]),
            ("/p?flag&a=1&=2;b", None, b'?', &["1", "2"]),
            ("/p?flag", None, b'?', &[]),
            ("/p?a=1", Some(""), b'?', &["1"]),
        ];
        for (target, name, delimiter, expected) in cases {
            assert_eq!(
                values(target, name, delimiter),
                expected,
                "{target} {name:?} {}",
                char::from(delimiter)
            );
        }

        let mut seen = Vec::new();
        any_query_pair(b"a=1;2&flag&A=3", Some(b"a"), |v| {
            seen.push(v.to_vec());
            false
        });
        assert_eq!(seen, [b"1;2".to_vec(), b"3".to_vec()]);
        assert!(any_query_pair(b"a=1&flag", Some(b"flag"), |v| v.is_empty()));
        assert!(!any_query_pair(b"=1", None, |_| true));
    }
}
