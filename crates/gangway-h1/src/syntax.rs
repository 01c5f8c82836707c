//! Byte classes and comma-separated token lists from RFC 9110 5.6.

/// `tchar` from RFC 9110 5.6.2.
const fn tchar_rule(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
        | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// reg-name bytes of a Host (unreserved / pct-encoded / sub-delims), minus `,` which only
/// list-folding of two Host fields produces.
const fn host_char_rule(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'-' | b'.' | b'_' | b'~' | b'%' | b'!' | b'$' | b'&' | b'\''
        | b'(' | b')' | b'*' | b'+' | b';' | b'=')
}

/// Builds a 256-entry table from a byte rule at compile time.
macro_rules! byte_table {
    ($rule:ident) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $rule(i as u8);
            i += 1;
        }
        t
    }};
}

/// Lookup tables: one load per byte on the hot path instead of a chain of compares.
static TCHAR: [bool; 256] = byte_table!(tchar_rule);
static HOST_CHAR: [bool; 256] = byte_table!(host_char_rule);

/// `tchar` from RFC 9110 5.6.2.
#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// A byte allowed in a Host reg-name.
#[inline]
pub(crate) fn is_host_char(b: u8) -> bool {
    HOST_CHAR[b as usize]
}

/// Whether `s` is a non-empty `token`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Whether `b` may appear in a field value as written on the wire (HTAB, SP, VCHAR, obs-text).
pub(crate) const fn is_field_vchar(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// Whether `text` is an RFC 3986 URI scheme: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
/// The rule for an absolute-form request target's scheme; a scheme is also safe to write as a
/// header value (`X-Forwarded-Proto`) and as a `Forwarded` token.
///
/// ```
/// assert!(gangway_h1::is_uri_scheme(b"https"));
/// assert!(gangway_h1::is_uri_scheme(b"coap+tcp"));
/// assert!(!gangway_h1::is_uri_scheme(b"1http"));
/// assert!(!gangway_h1::is_uri_scheme(b"ht tp"));
/// assert!(!gangway_h1::is_uri_scheme(b""));
/// ```
pub fn is_uri_scheme(text: &[u8]) -> bool {
    text.first().is_some_and(u8::is_ascii_alphabetic)
        && text
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Whether `name` may stand as a header field name: a non-empty `token` (RFC 9110 5.1).
/// Use it on names that come from configuration before they are written into a head.
///
/// ```
/// assert!(gangway_h1::is_valid_field_name(b"X-Forwarded-Proto"));
/// assert!(!gangway_h1::is_valid_field_name(b"X Forwarded"));
/// assert!(!gangway_h1::is_valid_field_name(b""));
/// ```
pub fn is_valid_field_name(name: &[u8]) -> bool {
    is_token(name)
}

/// Whether `value` may stand as a header field value: no CR, LF, NUL or other control byte
/// but HTAB (RFC 9110 5.5), so it can never end its line or start another.
///
/// ```
/// assert!(gangway_h1::is_valid_field_value(b"https"));
/// assert!(!gangway_h1::is_valid_field_value(b"x\r\nInjected: 1"));
/// ```
pub fn is_valid_field_value(value: &[u8]) -> bool {
    value.iter().all(|&b| is_field_vchar(b))
}

/// Trims optional whitespace (SP / HTAB) from both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// A comma-separated list of elements from one header field value (`#element`, RFC 9110 5.6.1),
/// iterated without allocating. Elements are trimmed of OWS; empty elements are skipped.
///
/// ```
/// let list = gangway_h1::TokenList::new(b"Upgrade, keep-alive ,,HTTP2-Settings");
/// let tokens: Vec<&[u8]> = list.iter().collect();
/// assert_eq!(tokens, [&b"Upgrade"[..], b"keep-alive", b"HTTP2-Settings"]);
/// assert!(list.contains("upgrade"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenList<'b> {
    value: &'b [u8],
}

impl<'b> TokenList<'b> {
    /// A list over one header field value.
    pub const fn new(value: &'b [u8]) -> Self {
        Self { value }
    }

    /// The raw field value.
    pub const fn as_bytes(&self) -> &'b [u8] {
        self.value
    }

    /// Whether the list has no non-empty element.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Whether an element equals `token`, ASCII case-insensitively.
    pub fn contains(&self, token: &str) -> bool {
        self.iter()
            .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
    }

    /// The elements, OWS-trimmed, empty ones skipped.
    pub fn iter(&self) -> TokenIter<'b> {
        TokenIter { rest: self.value }
    }
}

impl<'b> IntoIterator for TokenList<'b> {
    type Item = &'b [u8];
    type IntoIter = TokenIter<'b>;
    fn into_iter(self) -> TokenIter<'b> {
        self.iter()
    }
}

/// Iterator over the elements of a [`TokenList`].
#[derive(Clone, Debug)]
pub struct TokenIter<'b> {
    rest: &'b [u8],
}

impl<'b> Iterator for TokenIter<'b> {
    type Item = &'b [u8];
    fn next(&mut self) -> Option<&'b [u8]> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            // Field values are short: a plain scan beats memchr's setup cost here.
            let (elem, rest) = match self.rest.iter().position(|&b| b == b',') {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, &self.rest[..0]),
            };
            self.rest = rest;
            let elem = trim_ows(elem);
            if !elem.is_empty() {
                return Some(elem);
            }
        }
    }
}

/// Splits a list strictly: yields every element including empty ones (for smuggling checks).
pub(crate) fn split_strict(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

/// Position of `needle` in a short slice (no SIMD setup).
#[inline]
pub(crate) fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Case-insensitive header name comparison against a lowercase ASCII name.
#[inline]
pub(crate) fn name_is(name: &str, lower: &str) -> bool {
    eq_lower_dyn(name.as_bytes(), lower.as_bytes())
}

/// ASCII case-insensitive equality against a lowercase literal made of `[a-z0-9-]`.
///
/// Branch-free (`b | 0x20` folds case) so short compares vectorize. Only control bytes could
/// fold onto `-` or a digit, so they are counted as a difference: the result is exact.
#[inline]
pub(crate) fn eq_lower_dyn(bytes: &[u8], lower: &[u8]) -> bool {
    debug_assert!(
        lower
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
    );
    bytes.len() == lower.len()
        && bytes.iter().zip(lower).fold(0u8, |diff, (&b, l)| {
            diff | ((b | 0x20) ^ l) | u8::from(b < 0x20)
        }) == 0
}

/// [`eq_lower_dyn`] against a literal whose length is known at compile time: the compare
/// unrolls into a few (overlapping) word operations instead of a byte loop.
#[inline(always)]
pub(crate) fn eq_lower<const N: usize>(bytes: &[u8], lower: &[u8; N]) -> bool {
    eq_lower_words::<N, true>(bytes, lower)
}

/// [`eq_lower`] without the control-byte test, for a literal of letters only (then
/// `b | 0x20` alone is exact for any byte) or a field name or value that httparse accepted
/// (no control byte but HTAB, which folds to `)`: names are tokens, values HTAB, SP,
/// VCHAR and obs-text).
#[inline(always)]
pub(crate) fn eq_lower_field<const N: usize>(bytes: &[u8], lower: &[u8; N]) -> bool {
    debug_assert!(
        lower.iter().all(u8::is_ascii_lowercase) || bytes.iter().all(|&b| b == b'\t' || b >= 0x20)
    );
    eq_lower_words::<N, false>(bytes, lower)
}

#[inline(always)]
fn eq_lower_words<const N: usize, const CONTROL: bool>(bytes: &[u8], lower: &[u8; N]) -> bool {
    debug_assert!(
        lower
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
    );
    if bytes.len() != N {
        return false;
    }
    let diff = |word: u64, lower: u64| {
        if CONTROL {
            word_diff(word, lower)
        } else {
            (word | 0x2020_2020_2020_2020) ^ lower
        }
    };
    if N >= 8 {
        let mut acc = 0;
        let mut at = 0;
        while at + 8 <= N {
            acc |= diff(load_u64(bytes, at), load_u64(lower, at));
            at += 8;
        }
        if at < N {
            acc |= diff(load_u64(bytes, N - 8), load_u64(lower, N - 8));
        }
        acc == 0
    } else if N >= 4 {
        let first = diff(load_u32(bytes, 0).into(), load_u32(lower, 0).into());
        let last = diff(load_u32(bytes, N - 4).into(), load_u32(lower, N - 4).into());
        // Only the low 4 bytes of each widened word carry data.
        (first | last) & 0xffff_ffff == 0
    } else {
        eq_lower_dyn(bytes, lower)
    }
}

/// Per-byte `(b | 0x20) ^ l`, with the top bit of each byte below 0x20 set too (SWAR: the
/// `(x - 0x20..) & !x & 0x80..` test is exact for "some byte is below 0x20").
#[inline(always)]
fn word_diff(word: u64, lower: u64) -> u64 {
    const CASE: u64 = 0x2020_2020_2020_2020;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    ((word | CASE) ^ lower) | (word.wrapping_sub(CASE) & !word & HIGH)
}

/// The 8 bytes at `at` as a little-endian word (0 past the end; callers stay in bounds).
#[inline(always)]
pub(crate) fn load_u64(s: &[u8], at: usize) -> u64 {
    s.get(at..)
        .and_then(<[u8]>::first_chunk::<8>)
        .map_or(0, |c| u64::from_le_bytes(*c))
}

/// The 4 bytes at `at` as a little-endian word (0 past the end; callers stay in bounds).
#[inline(always)]
fn load_u32(s: &[u8], at: usize) -> u32 {
    s.get(at..)
        .and_then(<[u8]>::first_chunk::<4>)
        .map_or(0, |c| u32::from_le_bytes(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_skips_empty() {
        let v: Vec<&[u8]> = TokenList::new(b" a ,\t, b\t").iter().collect();
        assert_eq!(v, [&b"a"[..], b"b"]);
        assert!(TokenList::new(b" , ").is_empty());
        let strict: Vec<&[u8]> = split_strict(b",a, ").collect();
        assert_eq!(strict, [&b""[..], b"a", b""]);
    }

    #[test]
    fn case_folding_is_exact() {
        assert!(eq_lower(b"Keep-Alive", b"keep-alive"));
        assert!(eq_lower(b"SEC-WEBSOCKET-KEY", b"sec-websocket-key"));
        assert!(!eq_lower(b"keep\ralive", b"keep-alive"));
        assert!(!eq_lower(b"h\x122c", b"h2c"));
        assert!(!eq_lower(b"h2", b"h2c"));
        for b in 0..=255u8 {
            for l in b"az09-" {
                assert_eq!(
                    eq_lower(&[b], &[*l]),
                    b.to_ascii_lowercase() == *l,
                    "{b:#x} vs {l}"
                );
            }
        }
    }

    #[test]
    fn field_case_folding_is_exact_for_field_bytes() {
        let field_byte = |b: u8| b == b'\t' || (b >= 0x20 && b != 0x7f);
        for b in (0..=255u8).filter(|&b| field_byte(b)) {
            for l in b"az09-" {
                assert_eq!(
                    eq_lower_field(&[b, b, b, b, b, b, b, b], &[*l; 8]),
                    b.to_ascii_lowercase() == *l,
                    "{b:#x} vs {l}"
                );
                assert_eq!(
                    eq_lower_field(&[b, b, b, b], &[*l; 4]),
                    b.to_ascii_lowercase() == *l,
                    "{b:#x} vs {l}"
                );
            }
        }
        assert!(eq_lower_field(
            b"Sec-WebSocket-Version",
            b"sec-websocket-version"
        ));
        assert!(!eq_lower_field(
            b"Sec-WebSocket-Versio_",
            b"sec-websocket-version"
        ));
        assert!(!eq_lower(
            b"Sec-WebSocket-Ver\rion",
            b"sec-websocket-version"
        ));
    }

    #[test]
    fn byte_classes() {
        assert!(is_token(b"chunked"));
        assert!(!is_token(b"chun ked"));
        assert!(!is_token(b""));
        assert!(is_field_vchar(b'\t') && is_field_vchar(0x80) && !is_field_vchar(0x7f));
        assert!(!is_field_vchar(0));
    }
}
