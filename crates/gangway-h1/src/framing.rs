//! Message framing: where a body ends (RFC 9112 6).

use crate::error::{Error, ErrorKind, Side};
use crate::syntax::{is_token, split_strict};

/// How the body of a message is delimited (RFC 9112 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// No body: a request with neither Content-Length nor Transfer-Encoding, a response to
    /// HEAD, a 1xx/204/304 response, or a 2xx response to CONNECT (the connection becomes a tunnel).
    None,
    /// Exactly this many body bytes follow the head.
    Length(u64),
    /// A chunked body follows; track it with [`ChunkedTracker`](crate::ChunkedTracker).
    Chunked,
    /// The body runs until the server closes the connection (responses only).
    CloseDelimited,
}

impl Framing {
    /// Whether a body may follow the head.
    pub fn has_body(&self) -> bool {
        !matches!(self, Framing::None | Framing::Length(0))
    }
}

/// Transfer codings this crate understands (RFC 9112 7 and the IANA registry).
const KNOWN_CODINGS: [&str; 6] = [
    "chunked",
    "gzip",
    "deflate",
    "compress",
    "x-gzip",
    "x-compress",
];

/// Accumulates framing header fields during the header scan.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FramingFields {
    pub(crate) content_length: Option<u64>,
    pub(crate) content_length_lines: u16,
    pub(crate) transfer_encoding: bool,
    chunked_count: u8,
    last_is_chunked: bool,
}

impl FramingFields {
    /// One Content-Length field line: a list of identical decimal values.
    pub(crate) fn add_content_length(&mut self, value: &[u8], side: Side) -> Result<(), Error> {
        self.content_length_lines = self.content_length_lines.saturating_add(1);
        for elem in split_strict(value) {
            let n = parse_decimal(elem).map_err(|kind| Error::new(kind, side, None))?;
            match self.content_length {
                Some(prev) if prev != n => {
                    return Err(Error::new(ErrorKind::ConflictingContentLength, side, None));
                }
                _ => self.content_length = Some(n),
            }
        }
        Ok(())
    }

    /// One Transfer-Encoding field line, in order of appearance.
    pub(crate) fn add_transfer_encoding(&mut self, value: &[u8], side: Side) -> Result<(), Error> {
        self.transfer_encoding = true;
        for coding in split_strict(value) {
            let err = |kind| Error::new(kind, side, None);
            if coding.is_empty() {
                return Err(err(ErrorKind::EmptyTransferCoding));
            }
            if !is_token(coding) {
                return Err(err(ErrorKind::InvalidTransferCoding));
            }
            if !KNOWN_CODINGS
                .iter()
                .any(|k| coding.eq_ignore_ascii_case(k.as_bytes()))
            {
                return Err(err(ErrorKind::UnknownTransferCoding));
            }
            let is_chunked = coding.eq_ignore_ascii_case(b"chunked");
            if is_chunked && self.chunked_count > 0 {
                return Err(err(ErrorKind::ChunkedTwice));
            }
            if is_chunked {
                self.chunked_count += 1;
            }
            self.last_is_chunked = is_chunked;
        }
        Ok(())
    }

    /// Cross-field rules, then the framing of a request (RFC 9112 6.1, 6.3).
    pub(crate) fn request_framing(&self, version_minor: u8) -> Result<Framing, Error> {
        self.check(version_minor, Side::Request)?;
        if self.transfer_encoding {
            if !self.last_is_chunked {
                return Err(Error::req(ErrorKind::ChunkedNotFinal));
            }
            return Ok(Framing::Chunked);
        }
        Ok(match self.content_length {
            Some(n) => Framing::Length(n),
            None => Framing::None,
        })
    }

    /// Cross-field rules, then the framing of a response to `request_method` (RFC 9112 6.3).
    pub(crate) fn response_framing(
        &self,
        version_minor: u8,
        request_method: &str,
        status: u16,
    ) -> Result<Framing, Error> {
        self.check(version_minor, Side::Response)?;
        if request_method == "HEAD"
            || (100..200).contains(&status)
            || status == 204
            || status == 304
        {
            return Ok(Framing::None);
        }
        if request_method == "CONNECT" && (200..300).contains(&status) {
            return Ok(Framing::None);
        }
        if self.transfer_encoding {
            return Ok(if self.last_is_chunked {
                Framing::Chunked
            } else {
                Framing::CloseDelimited
            });
        }
        Ok(match self.content_length {
            Some(n) => Framing::Length(n),
            None => Framing::CloseDelimited,
        })
    }

    fn check(&self, version_minor: u8, side: Side) -> Result<(), Error> {
        if self.transfer_encoding && version_minor == 0 {
            return Err(Error::new(ErrorKind::TransferEncodingHttp10, side, None));
        }
        if self.transfer_encoding && self.content_length_lines > 0 {
            return Err(Error::new(
                ErrorKind::ContentLengthWithTransferEncoding,
                side,
                None,
            ));
        }
        Ok(())
    }
}

/// `1*DIGIT` into a `u64`.
fn parse_decimal(s: &[u8]) -> Result<u64, ErrorKind> {
    if s.is_empty() {
        return Err(ErrorKind::InvalidContentLength);
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return Err(ErrorKind::InvalidContentLength);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(ErrorKind::ContentLengthOverflow)?;
    }
    Ok(n)
}

/// The framing of a response, given the method of the request it answers.
///
/// Applies the same smuggling rules as [`Parser::parse_response`](crate::Parser::parse_response)
/// to an already parsed set of header fields.
///
/// ```
/// use gangway_h1::{response_framing, Framing, Header};
/// let headers = [Header { name: "Content-Length", value: b"5" }];
/// assert_eq!(response_framing("GET", 200, 1, &headers), Ok(Framing::Length(5)));
/// assert_eq!(response_framing("HEAD", 200, 1, &headers), Ok(Framing::None));
/// assert_eq!(response_framing("GET", 200, 1, &[]), Ok(Framing::CloseDelimited));
/// ```
pub fn response_framing(
    request_method: &str,
    status: u16,
    version_minor: u8,
    headers: &[httparse::Header<'_>],
) -> Result<Framing, Error> {
    let mut fields = FramingFields::default();
    for h in headers {
        if crate::syntax::name_is(h.name, "content-length") {
            fields.add_content_length(h.value, Side::Response)?;
        } else if crate::syntax::name_is(h.name, "transfer-encoding") {
            fields.add_transfer_encoding(h.value, Side::Response)?;
        }
    }
    fields.response_framing(version_minor, request_method, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal(b"0"), Ok(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_decimal(b"18446744073709551616"),
            Err(ErrorKind::ContentLengthOverflow)
        );
        assert_eq!(parse_decimal(b"+1"), Err(ErrorKind::InvalidContentLength));
    }

    #[test]
    fn response_rules() {
        let cl = [httparse::Header {
            name: "content-length",
            value: b"3",
        }];
        let te = [httparse::Header {
            name: "Transfer-Encoding",
            value: b"gzip",
        }];
        assert_eq!(response_framing("GET", 204, 1, &cl), Ok(Framing::None));
        assert_eq!(response_framing("GET", 304, 1, &cl), Ok(Framing::None));
        assert_eq!(response_framing("GET", 101, 1, &[]), Ok(Framing::None));
        assert_eq!(response_framing("CONNECT", 200, 1, &[]), Ok(Framing::None));
        assert_eq!(
            response_framing("CONNECT", 407, 1, &cl),
            Ok(Framing::Length(3))
        );
        assert_eq!(
            response_framing("GET", 200, 1, &te),
            Ok(Framing::CloseDelimited)
        );
        assert_eq!(
            response_framing("GET", 200, 0, &te).map_err(|e| (e.kind(), e.status())),
            Err((ErrorKind::TransferEncodingHttp10, 502))
        );
    }
}
