//! Request and response head parsing, validation and body tracking.

use crate::proto::{BodyFraming, Parsed, RequestHead, ResponseHead, header};

/// Subprotocols of a WebSocket request whose names [`SwitchCheck`] keeps.
const OFFERED: usize = 4;

/// What a `101` must show to answer an upgrade request, kept after the request's head is gone
/// (without allocating): gangway-h1's `Upgrade::check_switch`, for a head that is no longer
/// in the buffer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SwitchCheck {
    /// The protocol asked for when it is one known by name (`websocket`, `h2c`): the 101's
    /// `Upgrade` must name it. Other protocols' names are not checked.
    protocol: Option<&'static str>,
    /// WebSocket: the `Sec-WebSocket-Accept` the key asks for.
    accept: Option<[u8; 28]>,
    /// WebSocket: hashes of the offered subprotocols' names, the first `offered` of them;
    /// `offered == u8::MAX` when more than [`OFFERED`] were offered (the server's choice is
    /// then not checked).
    offered_hashes: [u64; OFFERED],
    offered: u8,
}

impl SwitchCheck {
    fn of(upgrade: &gangway_h1::Upgrade<'_>) -> SwitchCheck {
        match upgrade {
            gangway_h1::Upgrade::WebSocket { key, protocols, .. } => {
                let mut check = SwitchCheck {
                    protocol: Some("websocket"),
                    accept: Some(gangway_h1::websocket_accept(key.as_bytes())),
                    ..SwitchCheck::default()
                };
                for name in protocols.iter() {
                    match check.offered_hashes.get_mut(usize::from(check.offered)) {
                        Some(slot) => {
                            *slot = name_hash(name);
                            check.offered += 1;
                        }
                        None => {
                            check.offered = u8::MAX;
                            break;
                        }
                    }
                }
                check
            }
            gangway_h1::Upgrade::H2c { .. } => SwitchCheck {
                protocol: Some("h2c"),
                ..SwitchCheck::default()
            },
            _ => SwitchCheck::default(),
        }
    }

    /// Whether the server may choose the subprotocol `name`.
    fn offers(&self, name: &[u8]) -> bool {
        self.offered == u8::MAX
            || self.offered_hashes[..usize::from(self.offered)].contains(&name_hash(name))
    }
}

/// FNV-1a over a subprotocol name (names are case-sensitive, RFC 6455 4.1).
fn name_hash(name: &[u8]) -> u64 {
    name.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Parses and validates a request head (gangway-h1's strict rules); `Err(status)` is the
/// answer for an invalid one. `switch` receives what a 101 to it must show.
pub(crate) fn parse_request<'h, 'b>(
    parser: &gangway_h1::Parser,
    buf: &'b [u8],
    storage: &'h mut [httparse::Header<'b>],
    switch: &mut SwitchCheck,
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
    *switch = SwitchCheck::of(&req.upgrade);
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

/// Parses a response head to a request with the given method; `Err(())` for an invalid one.
pub(crate) fn parse_response<'h, 'b>(
    parser: &gangway_h1::Parser,
    buf: &'b [u8],
    storage: &'h mut [httparse::Header<'b>],
    request_method: &str,
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
    Ok(Parsed::Complete(ResponseHead {
        status: res.status,
        reason: res.reason,
        headers: res.headers,
        head_len: res.head_len,
        framing,
        keep_alive: res.keep_alive,
    }))
}

/// Whether a 101 answers the upgrade request properly: `Connection: upgrade`, an `Upgrade`
/// naming the protocol asked for, and for WebSocket the `Sec-WebSocket-Accept` of the key and
/// at most one subprotocol, one the client offered.
pub(crate) fn valid_switch(check: &SwitchCheck, response: &ResponseHead<'_, '_>) -> bool {
    let headers = |name: &'static str| {
        response
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    if header(response.headers, "upgrade").is_none()
        || !gangway_h1::header_list_contains(response.headers, "connection", "upgrade")
    {
        return false;
    }
    if let Some(protocol) = check.protocol
        && !gangway_h1::upgrade_names(response.headers, protocol)
    {
        return false;
    }
    if let Some(expected) = &check.accept {
        let mut accepts = headers("sec-websocket-accept");
        match (accepts.next(), accepts.next()) {
            (Some(v), None) if v.trim_ascii() == expected.as_slice() => {}
            _ => return false,
        }
        let mut chosen = headers("sec-websocket-protocol");
        match (chosen.next(), chosen.next()) {
            (None, _) => {}
            (Some(v), None) if check.offers(v.trim_ascii()) => {}
            _ => return false,
        }
    }
    true
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
            let mut switch = SwitchCheck::default();
            let got = match parse_request(&parser, input, &mut storage, &mut switch) {
                Ok(Parsed::Complete(h)) => Ok(h.framing),
                Ok(Parsed::Partial) => panic!("partial {input:?}"),
                Err(s) => Err(s),
            };
            assert_eq!(got, *want, "{:?}", String::from_utf8_lossy(input));
        }
    }
}
