//! Sans-IO evaluation of a check's response bytes.

use gangway_h1::{
    ChunkedTracker, EMPTY_HEADER, ErrorKind, Framing, Parser, Response, Side, Status, TokenList,
    Upgrade,
};

use crate::check::{BodyExpect, WS_KEY_LEN};
use crate::{CheckFailure, StatusSet};

/// Where the evaluation of a response stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed to decide.
    NeedMore,
    /// Decided: passed (with the final status) or failed.
    Done(Result<Option<u16>, CheckFailure>),
}

#[derive(Debug, Clone)]
enum Expect<'c> {
    Http {
        statuses: &'c StatusSet,
        body: Option<&'c BodyExpect>,
    },
    WebSocket {
        key: [u8; WS_KEY_LEN],
        /// The `Sec-WebSocket-Protocol` value the request offered (empty: none).
        protocols: &'c str,
    },
}

/// Decides whether a check's response passes, from the bytes received so far.
///
/// Heads are parsed and validated by [`gangway_h1`] (framing and smuggling rules included);
/// a WebSocket `101` is validated by [`gangway_h1::Upgrade::check_switch`].
///
/// Feed it the whole buffer each time more bytes arrive (and `eof` once the server closed);
/// it answers [`Progress::NeedMore`] until it can decide. Bytes beyond the check buffer limit
/// are never needed: a full buffer decides on what it holds.
///
/// ```
/// use gangway_health::{Check, Progress};
///
/// let check = Check::http("/health").expect_status(200).expect_body_contains("ok");
/// let eval = check.response_check(None).unwrap();
/// assert_eq!(eval.evaluate(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", false), Progress::NeedMore);
/// assert_eq!(eval.evaluate(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false), Progress::Done(Ok(Some(200))));
/// ```
#[derive(Debug, Clone)]
pub struct ResponseCheck<'c> {
    expect: Expect<'c>,
    method: &'c str,
    parser: Parser,
    limit: usize,
}

/// Response headers a check looks at; more than this is an invalid answer for a probe.
const MAX_HEADERS: usize = 64;

impl<'c> ResponseCheck<'c> {
    fn new(expect: Expect<'c>, method: &'c str, limit: usize) -> Self {
        let mut parser = Parser::new();
        parser.max_head_len(limit).max_headers(MAX_HEADERS);
        ResponseCheck {
            expect,
            method,
            parser,
            limit,
        }
    }

    pub(crate) fn http(
        method: &'c str,
        statuses: &'c StatusSet,
        body: Option<&'c BodyExpect>,
        limit: usize,
    ) -> Self {
        Self::new(Expect::Http { statuses, body }, method, limit)
    }

    pub(crate) fn websocket(key: [u8; WS_KEY_LEN], protocols: &'c str, limit: usize) -> Self {
        Self::new(Expect::WebSocket { key, protocols }, "GET", limit)
    }

    /// The buffer size past which the evaluation decides on what it has.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Evaluates the response bytes received so far; `eof` says the server closed.
    pub fn evaluate(&self, buf: &[u8], eof: bool) -> Progress {
        let full = buf.len() >= self.limit;
        let mut offset = 0;
        loop {
            let mut headers = [EMPTY_HEADER; MAX_HEADERS];
            let response =
                match self
                    .parser
                    .parse_response(&buf[offset..], &mut headers, self.method)
                {
                    Ok(Status::Complete(response)) => response,
                    Ok(Status::Partial) if eof => {
                        return Progress::Done(Err(CheckFailure::ClosedEarly {
                            received: buf.len(),
                        }));
                    }
                    Ok(Status::Partial) => return Progress::NeedMore,
                    Err(err) if err.kind() == ErrorKind::HeadTooLarge => {
                        return Progress::Done(Err(CheckFailure::ResponseTooLarge {
                            limit: self.limit,
                        }));
                    }
                    Err(err) => {
                        return Progress::Done(Err(CheckFailure::InvalidResponse {
                            reason: err.kind().as_str(),
                        }));
                    }
                };
            let status = response.status;
            let (statuses, expect) = match &self.expect {
                Expect::WebSocket { key, protocols } => {
                    return Progress::Done(check_upgrade(key, protocols, &response));
                }
                Expect::Http { statuses, body } => (statuses, body),
            };
            // Interim answers (100 Continue, 103 Early Hints) precede the real one.
            if (100..200).contains(&status) && status != 101 {
                offset += response.head_len;
                continue;
            }
            if !statuses.contains(status) {
                return Progress::Done(Err(CheckFailure::UnexpectedStatus { status }));
            }
            let Some(expect) = expect else {
                return Progress::Done(Ok(Some(status)));
            };
            let body = &buf[offset + response.head_len..];
            let verdict = |bytes: &[u8]| {
                if expect.matches(bytes) {
                    Progress::Done(Ok(Some(status)))
                } else {
                    Progress::Done(Err(CheckFailure::BodyMismatch))
                }
            };
            let closed_early = || {
                Progress::Done(Err(CheckFailure::ClosedEarly {
                    received: buf.len(),
                }))
            };
            return match response.framing {
                Framing::None => verdict(&[]),
                Framing::Length(len) => {
                    if body.len() as u64 >= len {
                        verdict(&body[..len as usize])
                    } else if full {
                        verdict(body)
                    } else if eof {
                        closed_early()
                    } else {
                        Progress::NeedMore
                    }
                }
                Framing::CloseDelimited => {
                    if eof || full {
                        verdict(body)
                    } else {
                        Progress::NeedMore
                    }
                }
                Framing::Chunked => {
                    let mut decoded = Vec::new();
                    match dechunk(body, &mut decoded) {
                        Err(reason) => {
                            Progress::Done(Err(CheckFailure::InvalidResponse { reason }))
                        }
                        Ok(true) => verdict(&decoded),
                        Ok(false) if full => verdict(&decoded),
                        Ok(false) if eof => closed_early(),
                        Ok(false) => Progress::NeedMore,
                    }
                }
            };
        }
    }
}

/// Decodes a chunked body into `out` with [`ChunkedTracker`] (which validates the framing);
/// `Ok(true)` once the body is complete.
fn dechunk(body: &[u8], out: &mut Vec<u8>) -> Result<bool, &'static str> {
    let mut tracker = ChunkedTracker::new(Side::Response);
    let mut at = 0;
    while at < body.len() {
        let in_chunk = tracker.remaining_in_chunk();
        // Chunk data goes to `out` in one piece; framing bytes are fed one at a time so the
        // tracker says where the data starts.
        let step = if in_chunk > 0 {
            let take = in_chunk.min((body.len() - at) as u64) as usize;
            out.extend_from_slice(&body[at..at + take]);
            take
        } else {
            1
        };
        match tracker.feed(&body[at..at + step]) {
            Ok(Status::Complete(_)) => return Ok(true),
            Ok(Status::Partial) => at += step,
            Err(err) => return Err(err.kind().as_str()),
        }
    }
    Ok(tracker.is_done())
}

fn check_upgrade(
    key: &[u8; WS_KEY_LEN],
    protocols: &str,
    response: &Response<'_, '_>,
) -> Result<Option<u16>, CheckFailure> {
    let key = std::str::from_utf8(key).map_err(|_| CheckFailure::BadUpgrade {
        reason: "invalid Sec-WebSocket-Key",
    })?;
    let upgrade = Upgrade::WebSocket {
        key,
        version: 13,
        protocols: TokenList::new(protocols.as_bytes()),
    };
    match upgrade.check_switch(response) {
        Ok(()) => Ok(Some(101)),
        Err(err) if err.kind() == ErrorKind::NotSwitchingProtocols => {
            Err(CheckFailure::UnexpectedStatus {
                status: response.status,
            })
        }
        Err(err) => Err(CheckFailure::BadUpgrade {
            reason: err.kind().as_str(),
        }),
    }
}

/// Whether `frames` (server-to-client WebSocket frames) hold a close frame; incomplete frames
/// at the end are ignored.
pub(crate) fn contains_close_frame(frames: &[u8]) -> bool {
    let mut at = 0;
    while let Some(&[b0, b1]) = frames.get(at..at + 2) {
        if b0 & 0x0f == 0x8 {
            return true;
        }
        let (len_bytes, mut len) = match b1 & 0x7f {
            126 => (2, 0u64),
            127 => (8, 0u64),
            short => (0, u64::from(short)),
        };
        let Some(ext) = frames.get(at + 2..at + 2 + len_bytes) else {
            return false;
        };
        for &b in ext {
            len = (len << 8) | u64::from(b);
        }
        let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
        let Some(next) = len.checked_add(at as u64 + 2 + len_bytes as u64 + mask) else {
            return false;
        };
        match usize::try_from(next) {
            Ok(next) if next <= frames.len() => at = next,
            _ => return false,
        }
    }
    false
}

/// A masked close frame with status 1000 (normal closure), as a client must send it.
pub(crate) fn close_frame(mask: [u8; 4]) -> [u8; 8] {
    let code = 1000u16.to_be_bytes();
    [
        0x88,
        0x82,
        mask[0],
        mask[1],
        mask[2],
        mask[3],
        code[0] ^ mask[0],
        code[1] ^ mask[1],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(statuses: &StatusSet, body: Option<&BodyExpect>) -> ResponseCheck<'static> {
        // Leak is fine in tests: the evaluator borrows its expectations.
        let statuses: &'static StatusSet = Box::leak(Box::new(statuses.clone()));
        let body: Option<&'static BodyExpect> = body.map(|b| &*Box::leak(Box::new(b.clone())));
        ResponseCheck::http("GET", statuses, body, 1024)
    }

    #[test]
    fn http_status_table() {
        let set: StatusSet = "200,300-399".parse().unwrap();
        let eval = http(&set, None);
        let cases: &[(&[u8], bool, Progress)] = &[
            (
                b"HTTP/1.1 200 OK\r\n\r\n",
                false,
                Progress::Done(Ok(Some(200))),
            ),
            (
                b"HTTP/1.0 302 Found\r\nLocation: /\r\n\r\n",
                false,
                Progress::Done(Ok(Some(302))),
            ),
            (
                b"HTTP/1.1 500 Oops\r\n\r\n",
                false,
                Progress::Done(Err(CheckFailure::UnexpectedStatus { status: 500 })),
            ),
            (
                b"HTTP/1.1 204 No Content\r\n\r\n",
                false,
                Progress::Done(Err(CheckFailure::UnexpectedStatus { status: 204 })),
            ),
            (
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
                false,
                Progress::Done(Ok(Some(200))),
            ),
            (b"HTTP/1.1 100 Continue\r\n\r\n", false, Progress::NeedMore),
            (b"HTTP/1.1 200 OK\r\nServer", false, Progress::NeedMore),
            (
                b"HTTP/1.1 200 OK\r\nServer",
                true,
                Progress::Done(Err(CheckFailure::ClosedEarly { received: 23 })),
            ),
            (
                b"",
                true,
                Progress::Done(Err(CheckFailure::ClosedEarly { received: 0 })),
            ),
            (
                b"SSH-2.0-OpenSSH\r\n",
                false,
                Progress::Done(Err(CheckFailure::InvalidResponse {
                    reason: "malformed HTTP version",
                })),
            ),
            (
                b"HTTP/1.1 2000 OK\r\n\r\n",
                false,
                Progress::Done(Err(CheckFailure::InvalidResponse {
                    reason: "malformed status line",
                })),
            ),
        ];
        for (bytes, eof, expected) in cases {
            assert_eq!(
                &eval.evaluate(bytes, *eof),
                expected,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn http_body_table() {
        let set = StatusSet::from(200);
        let contains = BodyExpect::Contains(b"ready".to_vec());
        let regex = BodyExpect::Regex(regex::bytes::Regex::new(r#""status":\s*"up""#).unwrap());
        let ok = Progress::Done(Ok(Some(200)));
        let mismatch = Progress::Done(Err(CheckFailure::BodyMismatch));
        let cases: Vec<(&BodyExpect, &[u8], bool, Progress)> = vec![
            (&contains, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nready", false, ok.clone()),
            (&contains, b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nnot yet", false, mismatch.clone()),
            (&contains, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nall re", false, Progress::NeedMore),
            (&contains, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nall re", true, Progress::Done(Err(CheckFailure::ClosedEarly { received: 44 }))),
            (&contains, b"HTTP/1.1 200 OK\r\n\r\nis ready", false, Progress::NeedMore),
            (&contains, b"HTTP/1.1 200 OK\r\n\r\nis ready", true, ok.clone()),
            (&contains, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nrea\r\n2;x=y\r\ndy\r\n0\r\n\r\n", false, ok.clone()),
            (&contains, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nrea\r\n", false, Progress::NeedMore),
            (&contains, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, Progress::Done(Err(CheckFailure::InvalidResponse { reason: "invalid chunk size" }))),
            (&contains, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", false, Progress::Done(Err(CheckFailure::InvalidResponse { reason: "conflicting Content-Length values" }))),
            (&contains, b"HTTP/1.1 204 No Content\r\n\r\n", false, Progress::Done(Err(CheckFailure::UnexpectedStatus { status: 204 }))),
            (&regex, b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\": \"up\"}", false, ok.clone()),
            (&regex, b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"status\": \"down\"}", false, mismatch.clone()),
        ];
        for (expect, bytes, eof, expected) in cases {
            let eval = http(&set, Some(expect));
            assert_eq!(
                eval.evaluate(bytes, eof),
                expected,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn full_buffer_decides() {
        let set = StatusSet::from(200);
        let expect = BodyExpect::Contains(b"needle".to_vec());
        let statuses: &'static StatusSet = Box::leak(Box::new(set));
        let expect: &'static BodyExpect = Box::leak(Box::new(expect));
        let eval = ResponseCheck::http("GET", statuses, Some(expect), 64);
        let mut big = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
        big.resize(64, b'x');
        assert_eq!(
            eval.evaluate(&big, false),
            Progress::Done(Err(CheckFailure::BodyMismatch))
        );
        let head_only = [b'H'; 64];
        assert_eq!(
            eval.evaluate(&head_only, false),
            Progress::Done(Err(CheckFailure::InvalidResponse {
                reason: "malformed HTTP version"
            }))
        );
        let long_head =
            b"HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert_eq!(
            eval.evaluate(long_head, false),
            Progress::Done(Err(CheckFailure::ResponseTooLarge { limit: 64 }))
        );
    }

    #[test]
    fn upgrade_table() {
        // RFC 6455 section 1.3 example key and accept.
        let eval = ResponseCheck::websocket(*b"dGhlIHNhbXBsZSBub25jZQ==", "", 1024);
        let good = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        // Offered subprotocols: the answer may pick one of them, or none.
        let offering =
            ResponseCheck::websocket(*b"dGhlIHNhbXBsZSBub25jZQ==", "chat, superchat", 1024);
        let picked = |p: &str| {
            good.replace(
                "\r\n\r\n",
                &format!("\r\nSec-WebSocket-Protocol: {p}\r\n\r\n"),
            )
        };
        assert_eq!(
            offering.evaluate(picked("superchat").as_bytes(), false),
            Progress::Done(Ok(Some(101)))
        );
        assert_eq!(
            offering.evaluate(good.as_bytes(), false),
            Progress::Done(Ok(Some(101)))
        );
        assert_eq!(
            offering.evaluate(picked("mqtt").as_bytes(), false),
            Progress::Done(Err(CheckFailure::BadUpgrade {
                reason: "101 response picked a subprotocol not offered",
            }))
        );
        let cases: Vec<(String, Progress)> = vec![
            (good.to_owned(), Progress::Done(Ok(Some(101)))),
            (
                good.replace("Upgrade: websocket", "Upgrade: WebSocket"),
                Progress::Done(Ok(Some(101))),
            ),
            (
                good.replace("Connection: Upgrade", "Connection: keep-alive, upgrade"),
                Progress::Done(Ok(Some(101))),
            ),
            (
                good.replace(
                    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                ),
                Progress::Done(Err(CheckFailure::BadUpgrade {
                    reason: "Sec-WebSocket-Accept missing or wrong",
                })),
            ),
            (
                good.replace("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", ""),
                Progress::Done(Err(CheckFailure::BadUpgrade {
                    reason: "Sec-WebSocket-Accept missing or wrong",
                })),
            ),
            (
                good.replace("Upgrade: websocket\r\n", ""),
                Progress::Done(Err(CheckFailure::BadUpgrade {
                    reason: "101 response upgrades to a protocol not requested",
                })),
            ),
            (
                good.replace("Connection: Upgrade", "Connection: close"),
                Progress::Done(Err(CheckFailure::BadUpgrade {
                    reason: "101 response without Connection: upgrade",
                })),
            ),
            (
                "HTTP/1.1 200 OK\r\n\r\n".to_owned(),
                Progress::Done(Err(CheckFailure::UnexpectedStatus { status: 200 })),
            ),
            ("HTTP/1.1 101 Switching".to_owned(), Progress::NeedMore),
        ];
        for (text, expected) in cases {
            assert_eq!(eval.evaluate(text.as_bytes(), false), expected, "{text:?}");
        }
    }

    #[test]
    fn close_frame_scan() {
        let cases: &[(&[u8], bool)] = &[
            (&[], false),
            (&[0x88, 0x02, 0x03, 0xe8], true),
            (&[0x88], false),
            (&[0x81, 0x02, b'h', b'i', 0x88, 0x00], true),
            (
                &[0x81, 0x7e, 0x00, 0x03, b'a', b'b', b'c', 0x88, 0x00],
                true,
            ),
            (
                &[0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                false,
            ),
            (&[0x81, 0x05, b'h', b'i'], false),
            (&[0x89, 0x80, 1, 2, 3, 4, 0x88, 0x00], true),
        ];
        for (bytes, expected) in cases {
            assert_eq!(contains_close_frame(bytes), *expected, "{bytes:?}");
        }
        let frame = close_frame([1, 2, 3, 4]);
        assert_eq!(frame[..2], [0x88, 0x82]);
        assert_eq!([frame[6] ^ 1, frame[7] ^ 2], 1000u16.to_be_bytes());
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn statuses() -> &'static StatusSet {
            Box::leak(Box::new("200-299".parse::<StatusSet>().unwrap()))
        }

        fn body_expect() -> &'static BodyExpect {
            Box::leak(Box::new(BodyExpect::Contains(b"ready".to_vec())))
        }

        /// A response the evaluator can decide: chunked or with a length, sometimes with
        /// interim answers first.
        fn response() -> impl Strategy<Value = Vec<u8>> {
            (
                prop_oneof![Just(200u16), Just(204), Just(302), Just(500)],
                proptest::collection::vec(any::<u8>(), 0..64),
                any::<bool>(),
                any::<bool>(),
                proptest::collection::vec(1usize..8, 0..4),
            )
                .prop_map(|(status, mut body, ready, interim, chunks)| {
                    if ready {
                        body.extend_from_slice(b"ready");
                    }
                    let mut out = Vec::new();
                    if interim {
                        out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    out.extend_from_slice(format!("HTTP/1.1 {status} X\r\n").as_bytes());
                    if status == 204 {
                        out.extend_from_slice(b"\r\n");
                    } else if chunks.is_empty() {
                        out.extend_from_slice(
                            format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                        );
                        out.extend_from_slice(&body);
                    } else {
                        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                        let mut rest = &body[..];
                        for size in chunks.iter().cycle() {
                            if rest.is_empty() {
                                break;
                            }
                            let take = (*size).min(rest.len());
                            out.extend_from_slice(format!("{take:x}\r\n").as_bytes());
                            out.extend_from_slice(&rest[..take]);
                            out.extend_from_slice(b"\r\n");
                            rest = &rest[take..];
                        }
                        out.extend_from_slice(b"0\r\n\r\n");
                    }
                    out
                })
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), eof in any::<bool>()) {
                let http = ResponseCheck::http("GET", statuses(), Some(body_expect()), 128);
                let _ = http.evaluate(&bytes, eof);
                let ws = ResponseCheck::websocket(*b"dGhlIHNhbXBsZSBub25jZQ==", "", 128);
                let _ = ws.evaluate(&bytes, eof);
                let _ = contains_close_frame(&bytes);
            }

            /// A full buffer is always decided (the IO loop relies on it to never spin).
            #[test]
            fn full_buffers_decide(bytes in proptest::collection::vec(any::<u8>(), 128..200), head in any::<bool>()) {
                let mut buf = if head { b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n".to_vec() } else { Vec::new() };
                buf.extend_from_slice(&bytes);
                buf.truncate(128);
                let http = ResponseCheck::http("GET", statuses(), Some(body_expect()), 128);
                prop_assert!(http.evaluate(&buf, false) != Progress::NeedMore);
                let ws = ResponseCheck::websocket(*b"dGhlIHNhbXBsZSBub25jZQ==", "", 128);
                prop_assert!(ws.evaluate(&buf, false) != Progress::NeedMore);
                // So is any prefix once the server closed.
                for cut in 0..buf.len() {
                    prop_assert!(http.evaluate(&buf[..cut], true) != Progress::NeedMore);
                    prop_assert!(ws.evaluate(&buf[..cut], true) != Progress::NeedMore);
                }
            }

            /// Deciding early never contradicts the verdict on the whole response, and the
            /// whole response is always decided.
            #[test]
            fn prefixes_agree_with_the_whole(bytes in response(), with_body in any::<bool>()) {
                let expect = with_body.then(body_expect);
                let eval = ResponseCheck::http("GET", statuses(), expect, 4096);
                let whole = eval.evaluate(&bytes, false);
                prop_assert!(whole != Progress::NeedMore, "undecided: {:?}", String::from_utf8_lossy(&bytes));
                for cut in 0..bytes.len() {
                    match eval.evaluate(&bytes[..cut], false) {
                        Progress::NeedMore => {}
                        early => prop_assert_eq!(&early, &whole, "cut at {}", cut),
                    }
                }
            }
        }
    }
}
