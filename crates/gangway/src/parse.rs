//! Request and response head parsing, validation and body tracking.

use crate::proto::{BodyFraming, Parsed, RequestHead, ResponseHead};

/// Parses and validates a request head (gangway-h1's strict rules); `Err(status)` is the
/// answer for an invalid one. `switch` receives what a 101 to it must show (kept after the
/// head's buffer moved on).
pub(crate) fn parse_request<'h, 'b>(
    parser: &gangway_h1::Parser,
    buf: &'b [u8],
    storage: &'h mut [httparse::Header<'b>],
    switch: &mut gangway_h1::SwitchExpectation,
) -> Result<Parsed<RequestHead<'h, 'b>>, u16> {
    let req = match parser.parse_request(buf, storage) {
        Ok(gangway_h1::Status::Partial) => return Ok(Parsed::Partial),
        Ok(gangway_h1::Status::Complete(r)) => r,
        Err(e) => {
            tracing::debug!(error = %e, "invalid request");
            return Err(e.status());
        }
    };
    let framing = match req.framing {
        gangway_h1::Framing::None | gangway_h1::Framing::Length(0) => BodyFraming::None,
        gangway_h1::Framing::Length(n) => BodyFraming::Length(n),
        gangway_h1::Framing::Chunked => BodyFraming::Chunked,
        gangway_h1::Framing::CloseDelimited => return Err(400),
    };
    *switch = gangway_h1::SwitchExpectation::of_request(&req);
    Ok(Parsed::Complete(RequestHead {
        method: req.method,
        target: req.target,
        version_minor: req.version_minor,
        headers: req.headers,
        head_len: req.head_len,
        framing,
        upgrade: req.upgrade.is_tunnel_candidate(),
        keep_alive: req.keep_alive,
    }))
}

/// Parses a response head to a request with the given method and `switch` expectation;
/// `Err(())` for an invalid one.
pub(crate) fn parse_response<'h, 'b>(
    parser: &gangway_h1::Parser,
    buf: &'b [u8],
    storage: &'h mut [httparse::Header<'b>],
    request_method: &str,
    switch: &gangway_h1::SwitchExpectation,
) -> Result<Parsed<ResponseHead<'h, 'b>>, ()> {
    let res = match parser.parse_response(buf, storage, request_method) {
        Ok(gangway_h1::Status::Partial) => return Ok(Parsed::Partial),
        Ok(gangway_h1::Status::Complete(r)) => r,
        Err(e) => {
            tracing::debug!(error = %e, "invalid response");
            return Err(());
        }
    };
    let framing = match res.framing {
        gangway_h1::Framing::None | gangway_h1::Framing::Length(0) => BodyFraming::None,
        gangway_h1::Framing::Length(n) => BodyFraming::Length(n),
        gangway_h1::Framing::Chunked => BodyFraming::Chunked,
        gangway_h1::Framing::CloseDelimited => BodyFraming::Close,
    };
    let switch_ok = res.status == 101
        && switch
            .check(&res)
            .inspect_err(|e| tracing::debug!(error = %e, "invalid 101 response"))
            .is_ok();
    Ok(Parsed::Complete(ResponseHead {
        status: res.status,
        reason: res.reason,
        headers: res.headers,
        head_len: res.head_len,
        framing,
        keep_alive: res.keep_alive,
        switch_ok,
    }))
}

/// Follows a chunked body through the bytes that pass, to learn where it ends.
#[derive(Debug)]
pub(crate) struct ChunkedTracker(gangway_h1::ChunkedTracker);

impl ChunkedTracker {
    pub(crate) fn new(side: gangway_h1::Side) -> Self {
        ChunkedTracker(gangway_h1::ChunkedTracker::new(side))
    }

    /// Feeds bytes; returns how many belong to the body and whether the body ended there.
    pub(crate) fn feed(&mut self, buf: &[u8]) -> Result<(usize, bool), ()> {
        match self.0.feed(buf) {
            Ok(gangway_h1::Status::Partial) => Ok((buf.len(), false)),
            Ok(gangway_h1::Status::Complete(n)) => Ok((n, true)),
            Err(_) => Err(()),
        }
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
            let mut whole = ChunkedTracker::new(gangway_h1::Side::Request);
            let (n, done) = whole.feed(input).unwrap();
            assert_eq!(done.then_some(n), *want, "{input:?}");
            let mut split = ChunkedTracker::new(gangway_h1::Side::Request);
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
        assert!(
            ChunkedTracker::new(gangway_h1::Side::Request)
                .feed(b"zz\r\n")
                .is_err()
        );
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
        let parser = gangway_h1::Parser::new();
        for (input, want) in cases {
            let mut storage = [httparse::EMPTY_HEADER; 16];
            let mut switch = gangway_h1::SwitchExpectation::default();
            let got = match parse_request(&parser, input, &mut storage, &mut switch) {
                Ok(Parsed::Complete(h)) => Ok(h.framing),
                Ok(Parsed::Partial) => panic!("partial {input:?}"),
                Err(s) => Err(s),
            };
            assert_eq!(got, *want, "{:?}", String::from_utf8_lossy(input));
        }
    }
}
