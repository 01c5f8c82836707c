//! Request and response head parsing, validation and body tracking.

use crate::proto::{BodyFraming, Parsed, RequestHead, ResponseHead, has_token, header};

/// Parses and validates a request head; `Err(status)` is the answer for an invalid one.
pub(crate) fn parse_request<'h, 'b>(
    buf: &'b [u8],
    storage: &'h mut [httparse::Header<'b>],
) -> Result<Parsed<RequestHead<'h, 'b>>, u16> {
    let mut req = httparse::Request::new(storage);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(431),
        Err(httparse::Error::Version) => return Err(505),
        Err(_) => return Err(400),
    };
    let method = req.method.ok_or(400u16)?;
    let target = req.path.ok_or(400u16)?;
    let version_minor = req.version.ok_or(400u16)?;
    let headers: &'h [httparse::Header<'b>] = req.headers;
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut te_seen = false;
    let mut hosts = 0;
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = parse_content_length(h.value).ok_or(400u16)?;
            if content_length.is_some_and(|c| c != v) {
                return Err(400);
            }
            content_length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if te_seen || !h.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(if te_seen { 400 } else { 501 });
            }
            te_seen = true;
            chunked = true;
        } else if h.name.eq_ignore_ascii_case("host") {
            hosts += 1;
        }
    }
    if (chunked && content_length.is_some()) || (chunked && version_minor == 0) || hosts > 1 {
        return Err(400);
    }
    if version_minor == 1 && hosts == 0 {
        return Err(400);
    }
    let framing = if chunked {
        BodyFraming::Chunked
    } else {
        match content_length {
            Some(0) | None => BodyFraming::None,
            Some(n) => BodyFraming::Length(n),
        }
    };
    let connection_has = |t: &str| {
        headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("connection"))
            .any(|h| has_token(h.value, t))
    };
    let upgrade = method.eq_ignore_ascii_case("CONNECT")
        || (connection_has("upgrade") && header(headers, "upgrade").is_some());
    let keep_alive = if version_minor == 0 {
        connection_has("keep-alive")
    } else {
        !connection_has("close")
    };
    let expect_continue =
        header(headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"));
    Ok(Parsed::Complete(RequestHead {
        method,
        target,
        version_minor,
        headers,
        head_len,
        framing,
        upgrade,
        keep_alive,
        expect_continue,
    }))
}

fn parse_content_length(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Parses a response head to a request with the given method; `Err(())` for an invalid one.
pub(crate) fn parse_response<'h, 'b>(
    buf: &'b [u8],
    storage: &'h mut [httparse::Header<'b>],
    request_method: &str,
) -> Result<Parsed<ResponseHead<'h, 'b>>, ()> {
    let mut res = httparse::Response::new(storage);
    let head_len = match res.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(_) => return Err(()),
    };
    let status = res.code.ok_or(())?;
    let version_minor = res.version.ok_or(())?;
    let headers: &'h [httparse::Header<'b>] = res.headers;
    let mut content_length = None;
    let mut chunked = false;
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = parse_content_length(h.value).ok_or(())?;
            if content_length.is_some_and(|c| c != v) {
                return Err(());
            }
            content_length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = has_token(h.value, "chunked");
        }
    }
    let connection_has = |t: &str| {
        headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("connection"))
            .any(|h| has_token(h.value, t))
    };
    let framing = if request_method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || (request_method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status))
    {
        BodyFraming::None
    } else if chunked {
        BodyFraming::Chunked
    } else {
        match content_length {
            Some(0) => BodyFraming::None,
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::Close,
        }
    };
    let keep_alive = framing != BodyFraming::Close
        && if version_minor == 0 {
            connection_has("keep-alive")
        } else {
            !connection_has("close")
        };
    Ok(Parsed::Complete(ResponseHead {
        status,
        version_minor,
        headers,
        head_len,
        framing,
        keep_alive,
    }))
}

/// Whether a 101 answers the upgrade request properly (`Upgrade` present; for WebSocket the
/// `Sec-WebSocket-Accept` matches the key).
pub(crate) fn valid_switch(
    request_headers_key: Option<&[u8; 28]>,
    response: &ResponseHead<'_, '_>,
) -> bool {
    if header(response.headers, "upgrade").is_none() {
        return false;
    }
    match request_headers_key {
        Some(expected) => header(response.headers, "sec-websocket-accept")
            .is_some_and(|v| v.trim_ascii() == expected.as_slice()),
        None => true,
    }
}

/// The `Sec-WebSocket-Accept` value for a key (RFC 6455).
pub(crate) fn websocket_accept(key: &[u8]) -> [u8; 28] {
    use base64::Engine as _;
    use sha1::Digest as _;
    let mut sha = sha1::Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let mut out = [0u8; 28];
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(sha.finalize(), &mut out);
    out
}

/// Follows a chunked body through the bytes that pass, to learn where it ends.
#[derive(Debug, Default)]
pub(crate) struct ChunkedTracker {
    state: ChunkState,
    remaining: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    SizeExt,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLf,
    FinalLf,
    Done,
}

impl ChunkedTracker {
    /// Feeds bytes; returns how many belong to the body and whether the body ended there.
    pub(crate) fn feed(&mut self, buf: &[u8]) -> Result<(usize, bool), ()> {
        let mut i = 0;
        while i < buf.len() {
            let b = buf[i];
            match self.state {
                ChunkState::Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let d = (b as char).to_digit(16).ok_or(())? as u64;
                        self.remaining = self.remaining.checked_mul(16).ok_or(())? + d;
                        if self.remaining > (1 << 52) {
                            return Err(());
                        }
                    }
                    b';' | b' ' | b'\t' => self.state = ChunkState::SizeExt,
                    b'\r' => self.state = ChunkState::SizeLf,
                    _ => return Err(()),
                },
                ChunkState::SizeExt => match b {
                    b'\r' => self.state = ChunkState::SizeLf,
                    b'\n' => return Err(()),
                    _ => {}
                },
                ChunkState::SizeLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.state = if self.remaining == 0 {
                        ChunkState::TrailerStart
                    } else {
                        ChunkState::Data
                    };
                }
                ChunkState::Data => {
                    let take =
                        (buf.len() - i).min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                    self.remaining -= take as u64;
                    i += take;
                    if self.remaining == 0 {
                        self.state = ChunkState::DataCr;
                    }
                    continue;
                }
                ChunkState::DataCr => {
                    if b != b'\r' {
                        return Err(());
                    }
                    self.state = ChunkState::DataLf;
                }
                ChunkState::DataLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.state = ChunkState::Size;
                }
                ChunkState::TrailerStart => match b {
                    b'\r' => self.state = ChunkState::FinalLf,
                    _ => self.state = ChunkState::TrailerLine,
                },
                ChunkState::TrailerLine => {
                    if b == b'\r' {
                        self.state = ChunkState::TrailerLf;
                    }
                }
                ChunkState::TrailerLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.state = ChunkState::TrailerStart;
                }
                ChunkState::FinalLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.state = ChunkState::Done;
                    return Ok((i + 1, true));
                }
                ChunkState::Done => return Ok((i, true)),
            }
            i += 1;
        }
        Ok((i, self.state == ChunkState::Done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_ends_where_expected() {
        let cases: &[(&[u8], Option<usize>)] = &[
            (b"0\r\n\r\nNEXT", Some(5)),
            (b"5\r\nhello\r\n0\r\n\r\n", Some(15)),
            (b"5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\nGET", Some(29)),
            (b"5\r\nhel", None),
        ];
        for (input, want) in cases {
            // Byte by byte and whole must agree.
            let mut whole = ChunkedTracker::default();
            let (n, done) = whole.feed(input).unwrap();
            assert_eq!(done.then_some(n), *want, "{input:?}");
            let mut split = ChunkedTracker::default();
            let mut end = None;
            for (i, b) in input.iter().enumerate() {
                let (_, d) = split.feed(std::slice::from_ref(b)).unwrap();
                if d {
                    end = Some(i + 1);
                    break;
                }
            }
            assert_eq!(end, *want, "{input:?} byte by byte");
        }
        assert!(ChunkedTracker::default().feed(b"zz\r\n").is_err());
    }

    #[test]
    fn request_validation_table() {
        let cases: &[(&[u8], Result<BodyFraming, u16>)] = &[
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", Ok(BodyFraming::None)),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", Ok(BodyFraming::Length(5))),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", Ok(BodyFraming::Chunked)),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", Err(400)),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", Err(400)),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", Err(400)),
            (b"GET / HTTP/1.1\r\n\r\n", Err(400)),
        ];
        for (input, want) in cases {
            let mut storage = [httparse::EMPTY_HEADER; 16];
            let got = match parse_request(input, &mut storage) {
                Ok(Parsed::Complete(h)) => Ok(h.framing),
                Ok(Parsed::Partial) => panic!("partial {input:?}"),
                Err(s) => Err(s),
            };
            assert_eq!(got, *want, "{:?}", String::from_utf8_lossy(input));
        }
    }
}
