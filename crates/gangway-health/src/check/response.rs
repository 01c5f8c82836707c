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
/// Feed it the bytes received so far each time more arrive (and `eof` once the server
/// closed); it answers [`Progress::NeedMore`] until it can decide. Bytes beyond the check
/// buffer limit are never needed: a full buffer decides on what it holds.
/// [`evaluate`](Self::evaluate) looks at the whole buffer each time;
/// [`advance`](Self::advance) remembers its work, so that an answer arriving in many small
/// pieces costs time in proportion to its size, not to its square.
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
    read: Reading<'c>,
}

/// What [`ResponseCheck::advance`] remembers between calls.
#[derive(Debug, Clone, Default)]
struct Reading<'c> {
    /// Where the head being read starts (past interim answers).
    head_at: usize,
    /// How far the search for the end of the head has looked.
    scanned: usize,
    /// Where the head's first byte other than CR or LF is: the parser skips empty lines
    /// before a status line, so only an empty line after it ends the head.
    content_at: Option<usize>,
    /// The buffer length at the last parse of the head (`head_at` before the first): an
    /// incomplete head is parsed again once the buffer has doubled, so that an invalid one is
    /// found without waiting for its end, in linear time.
    parsed: usize,
    /// Where the final answer's head ends (its body or, after a `101`, the first frame
    /// starts), once it is parsed.
    head_end: Option<usize>,
    /// The final answer's body, once its head is in.
    body: Option<BodyRead<'c>>,
    /// The verdict, once reached.
    done: Option<Result<Option<u16>, CheckFailure>>,
    /// Bytes looked at so far (head searches, parses, chunked decoding), for tests.
    #[cfg(test)]
    examined: usize,
}

/// The body of a final answer whose body has an expectation.
#[derive(Debug, Clone)]
struct BodyRead<'c> {
    status: u16,
    expect: &'c BodyExpect,
    /// Where the body starts in the buffer.
    at: usize,
    framing: Framing,
    /// A chunked body's decoding so far.
    chunks: Option<Dechunk>,
}

/// Decodes a chunked body with [`ChunkedTracker`] (which validates the framing) as its bytes
/// arrive.
#[derive(Debug, Clone)]
struct Dechunk {
    tracker: ChunkedTracker,
    /// Where the bytes not yet fed to the tracker start in the buffer.
    fed: usize,
    /// The chunk data so far.
    data: Vec<u8>,
    /// Whether the last chunk and the trailers are in.
    complete: bool,
}

impl Dechunk {
    fn new(at: usize) -> Self {
        Dechunk {
            tracker: ChunkedTracker::new(Side::Response),
            fed: at,
            data: Vec::new(),
            complete: false,
        }
    }

    /// Feeds the buffer's bytes past those fed before.
    fn feed(&mut self, buf: &[u8]) -> Result<(), &'static str> {
        while !self.complete && self.fed < buf.len() {
            let in_chunk = self.tracker.remaining_in_chunk();
            // Chunk data goes to `data` in one piece; framing bytes are fed one at a time so
            // the tracker says where the data starts.
            let step = if in_chunk > 0 {
                let take = in_chunk.min((buf.len() - self.fed) as u64) as usize;
                self.data.extend_from_slice(&buf[self.fed..self.fed + take]);
                take
            } else {
                1
            };
            match self.tracker.feed(&buf[self.fed..self.fed + step]) {
                Ok(Status::Complete(_)) => self.complete = true,
                Ok(Status::Partial) => {}
                Err(err) => return Err(err.kind().as_str()),
            }
            self.fed += step;
        }
        Ok(())
    }
}

/// Response headers a check looks at; more than this is an invalid answer for a probe.
const MAX_HEADERS: usize = 64;

type Verdict = Result<Option<u16>, CheckFailure>;

impl<'c> ResponseCheck<'c> {
    fn new(expect: Expect<'c>, method: &'c str, limit: usize) -> Self {
        let mut parser = Parser::new();
        parser.max_head_len(limit).max_headers(MAX_HEADERS);
        ResponseCheck {
            expect,
            method,
            parser,
            limit,
            read: Reading::default(),
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

    /// Where the final answer's head ends in the buffer passed to [`advance`](Self::advance),
    /// once parsed: after a WebSocket `101`, where the server's frames start.
    pub(crate) fn head_end(&self) -> Option<usize> {
        self.read.head_end
    }

    /// Evaluates the response bytes received so far; `eof` says the server closed. Each call
    /// starts from the first byte: see [`advance`](Self::advance) to read an answer as it
    /// arrives.
    pub fn evaluate(&self, buf: &[u8], eof: bool) -> Progress {
        let mut fresh = ResponseCheck {
            expect: self.expect.clone(),
            method: self.method,
            parser: self.parser,
            limit: self.limit,
            read: Reading::default(),
        };
        fresh.advance(buf, eof)
    }

    /// Like [`evaluate`](Self::evaluate), but picks up where the previous call stopped: pass
    /// the same buffer each time, grown by the bytes that arrived since (the bytes already
    /// passed must not change). The work of a call is proportional to the new bytes, so an
    /// answer trickling in byte by byte costs linear time. Once decided, it keeps answering
    /// the same verdict.
    ///
    /// ```
    /// use gangway_health::{Check, Progress};
    ///
    /// let check = Check::http("/health").expect_body_contains("ready");
    /// let mut eval = check.response_check(None).unwrap();
    /// let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nrea\r\n2\r\ndy\r\n0\r\n\r\n";
    /// for end in 1..answer.len() {
    ///     assert_eq!(eval.advance(&answer[..end], false), Progress::NeedMore);
    /// }
    /// assert_eq!(eval.advance(answer, false), Progress::Done(Ok(Some(200))));
    /// ```
    pub fn advance(&mut self, buf: &[u8], eof: bool) -> Progress {
        if let Some(done) = &self.read.done {
            return Progress::Done(done.clone());
        }
        match self.decide(buf, eof) {
            Some(verdict) => {
                self.read.done = Some(verdict.clone());
                Progress::Done(verdict)
            }
            None => Progress::NeedMore,
        }
    }

    /// The verdict, if the bytes so far decide it.
    fn decide(&mut self, buf: &[u8], eof: bool) -> Option<Verdict> {
        let full = buf.len() >= self.limit;
        loop {
            if self.read.body.is_some() {
                return self.decide_body(buf, eof, full);
            }
            let start = self.read.head_at;
            let grown =
                buf.len() > self.read.parsed && buf.len() - start >= 2 * (self.read.parsed - start);
            // The search for the end goes on lazily: a parse that found the head incomplete
            // says there is no end in the bytes it saw.
            if !(grown || eof || full || self.find_head_end(buf)) {
                return None;
            }
            self.read.parsed = buf.len();
            self.count(buf.len() - start);
            let mut headers = [EMPTY_HEADER; MAX_HEADERS];
            let response =
                match self
                    .parser
                    .parse_response(&buf[start..], &mut headers, self.method)
                {
                    Ok(Status::Complete(response)) => response,
                    Ok(Status::Partial) if eof => {
                        return Some(Err(CheckFailure::ClosedEarly {
                            received: buf.len(),
                        }));
                    }
                    Ok(Status::Partial) => return None,
                    Err(err) if err.kind() == ErrorKind::HeadTooLarge => {
                        return Some(Err(CheckFailure::ResponseTooLarge { limit: self.limit }));
                    }
                    Err(err) => {
                        return Some(Err(CheckFailure::InvalidResponse {
                            reason: err.kind().as_str(),
                        }));
                    }
                };
            let status = response.status;
            let body_at = start + response.head_len;
            self.read.head_end = Some(body_at);
            // Interim answers (100 Continue, 103 Early Hints) precede the real one, a `101`
            // included (RFC 9110, 15.2: a client must parse any number of them).
            if (100..200).contains(&status) && status != 101 {
                self.read.head_at = body_at;
                self.read.scanned = body_at;
                self.read.content_at = None;
                self.read.parsed = body_at;
                self.read.head_end = None;
                continue;
            }
            let (statuses, expect) = match &self.expect {
                Expect::WebSocket { key, protocols } => {
                    return Some(check_upgrade(key, protocols, &response));
                }
                Expect::Http { statuses, body } => (*statuses, *body),
            };
            if !statuses.contains(status) {
                return Some(Err(CheckFailure::UnexpectedStatus { status }));
            }
            let Some(expect) = expect else {
                return Some(Ok(Some(status)));
            };
            self.read.body = Some(BodyRead {
                status,
                expect,
                at: body_at,
                framing: response.framing,
                chunks: (response.framing == Framing::Chunked).then(|| Dechunk::new(body_at)),
            });
        }
    }

    /// Looks for the end of the head (an empty line after the status line) in the bytes not
    /// searched yet; `true` once found.
    fn find_head_end(&mut self, buf: &[u8]) -> bool {
        let from = self.read.scanned.max(self.read.head_at);
        if from >= buf.len() {
            return false;
        }
        self.count(buf.len() - from);
        self.read.scanned = buf.len();
        let content_at = match self.read.content_at {
            Some(at) => at,
            None => match buf[from..].iter().position(|&b| b != b'\r' && b != b'\n') {
                Some(at) => *self.read.content_at.insert(from + at),
                None => return false,
            },
        };
        // An LF ends the head when the line it ends is empty: LF LF or LF CR LF. The bytes
        // before an LF past the first content byte are within the head.
        let search = from.max(content_at + 1);
        for lf in memchr::memchr_iter(b'\n', &buf[search..]) {
            let at = search + lf;
            let empty = match buf[at - 1] {
                b'\n' => true,
                b'\r' => buf[at - 2] == b'\n',
                _ => false,
            };
            if empty {
                self.read.scanned = at + 1;
                return true;
            }
        }
        false
    }

    /// The verdict on the body, if the bytes so far decide it.
    fn decide_body(&mut self, buf: &[u8], eof: bool, full: bool) -> Option<Verdict> {
        let body = self.read.body.as_mut()?;
        let (status, expect) = (body.status, body.expect);
        let verdict = |bytes: &[u8]| {
            Some(if expect.matches(bytes) {
                Ok(Some(status))
            } else {
                Err(CheckFailure::BodyMismatch)
            })
        };
        let closed_early = || {
            Some(Err(CheckFailure::ClosedEarly {
                received: buf.len(),
            }))
        };
        let bytes = buf.get(body.at..).unwrap_or_default();
        match body.framing {
            Framing::None => verdict(&[]),
            Framing::Length(len) => {
                if bytes.len() as u64 >= len {
                    verdict(&bytes[..len as usize])
                } else if full {
                    verdict(bytes)
                } else if eof {
                    closed_early()
                } else {
                    None
                }
            }
            Framing::CloseDelimited => (eof || full).then(|| verdict(bytes))?,
            Framing::Chunked => {
                let chunks = body.chunks.get_or_insert_with(|| Dechunk::new(body.at));
                let before = chunks.fed;
                let fed = chunks.feed(buf);
                let (after, complete) = (chunks.fed, chunks.complete);
                let decided = match fed {
                    Err(reason) => Some(Err(CheckFailure::InvalidResponse { reason })),
                    Ok(()) if complete || full => verdict(&chunks.data),
                    Ok(()) if eof => closed_early(),
                    Ok(()) => None,
                };
                self.count(after - before);
                decided
            }
        }
    }

    /// Counts bytes looked at (tests only).
    #[cfg_attr(not(test), allow(clippy::unused_self))]
    fn count(&mut self, _bytes: usize) {
        #[cfg(test)]
        {
            self.read.examined += _bytes;
        }
    }
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
#[cfg(test)]
pub(crate) fn contains_close_frame(frames: &[u8]) -> bool {
    find_close_frame(frames, &mut 0)
}

/// Whether a close frame starts at `*at` or at a later frame boundary in `frames`; `*at`
/// moves past the complete frames looked at, so that a later call with more bytes goes on
/// from there.
pub(crate) fn find_close_frame(frames: &[u8], at: &mut usize) -> bool {
    while let Some(&[b0, b1]) = frames.get(*at..*at + 2) {
        if b0 & 0x0f == 0x8 {
            return true;
        }
        let (len_bytes, mut len) = match b1 & 0x7f {
            126 => (2, 0u64),
            127 => (8, 0u64),
            short => (0, u64::from(short)),
        };
        let Some(ext) = frames.get(*at + 2..*at + 2 + len_bytes) else {
            return false;
        };
        for &b in ext {
            len = (len << 8) | u64::from(b);
        }
        let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
        let Some(next) = len.checked_add(*at as u64 + 2 + len_bytes as u64 + mask) else {
            return false;
        };
        match usize::try_from(next) {
            Ok(next) if next <= frames.len() => *at = next,
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
            // Interim answers before the 101 are read past, as before any final answer.
            (
                format!(
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n{good}"
                ),
                Progress::Done(Ok(Some(101))),
            ),
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

    /// A large answer: `fields` header fields, then a chunked body of `chunks` one- and
    /// two-byte chunks (some with extensions) and a trailer. The body ends with "ready",
    /// split across chunks, when `ready`.
    fn trickled_answer(fields: usize, chunks: usize, ready: bool) -> Vec<u8> {
        let mut answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..fields {
            answer.extend_from_slice(format!("X-Field-{i}: {}\r\n", "v".repeat(40)).as_bytes());
        }
        answer.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        let mut body = vec![b'.'; chunks];
        if ready {
            body.extend_from_slice(b"ready");
        }
        for (i, piece) in body.chunks(2).enumerate() {
            let ext = if i % 3 == 0 { ";ext=\"q\"" } else { "" };
            answer.extend_from_slice(format!("{:x}{ext}\r\n", piece.len()).as_bytes());
            answer.extend_from_slice(piece);
            answer.extend_from_slice(b"\r\n");
        }
        answer.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
        answer
    }

    #[test]
    fn advancing_byte_by_byte_looks_at_each_byte_a_few_times() {
        let statuses: &'static StatusSet = Box::leak(Box::new(StatusSet::from(200)));
        let ready: &'static BodyExpect =
            Box::leak(Box::new(BodyExpect::Contains(b"ready".to_vec())));
        let mut long_length = b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n".to_vec();
        long_length.resize(long_length.len() + 19_995, b'.');
        long_length.extend_from_slice(b"ready");
        let cases: Vec<(Vec<u8>, Progress)> = vec![
            (
                trickled_answer(60, 8000, true),
                Progress::Done(Ok(Some(200))),
            ),
            (
                trickled_answer(60, 8000, false),
                Progress::Done(Err(CheckFailure::BodyMismatch)),
            ),
            (
                trickled_answer(0, 20_000, true),
                Progress::Done(Ok(Some(200))),
            ),
            (long_length, Progress::Done(Ok(Some(200)))),
        ];
        for (answer, expected) in cases {
            let mut eval = ResponseCheck::http("GET", statuses, Some(ready), 1 << 20);
            for end in 1..answer.len() {
                assert_eq!(
                    eval.advance(&answer[..end], false),
                    Progress::NeedMore,
                    "{end}"
                );
            }
            assert_eq!(eval.advance(&answer, false), expected);
            // The head search and decoding look at each byte once, the parses at most three
            // times; evaluating each prefix from the start looked at about len^2 / 2 bytes.
            let examined = eval.read.examined;
            assert!(
                examined <= 4 * answer.len(),
                "{examined} bytes looked at for a {}-byte answer",
                answer.len()
            );
        }
    }

    #[test]
    fn head_ends_are_found_across_pieces() {
        let statuses: &'static StatusSet = Box::leak(Box::new(StatusSet::from(200)));
        // (answer, expected): every line ending and leading empty lines, fed a byte at a time.
        let cases: &[(&[u8], Progress)] = &[
            (b"HTTP/1.1 200 OK\r\n\r\n", Progress::Done(Ok(Some(200)))),
            (
                b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n",
                Progress::Done(Ok(Some(200))),
            ),
            (
                b"\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
                Progress::Done(Ok(Some(200))),
            ),
            (
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
                Progress::Done(Ok(Some(200))),
            ),
            (
                b"HTTP/1.1 200 OK\n\n",
                Progress::Done(Err(CheckFailure::InvalidResponse {
                    reason: "bare LF line ending",
                })),
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: b\n\r\n",
                Progress::Done(Err(CheckFailure::InvalidResponse {
                    reason: "bare LF line ending",
                })),
            ),
        ];
        for (answer, expected) in cases {
            let mut eval = ResponseCheck::http("GET", statuses, None, 1024);
            let mut decided = Progress::NeedMore;
            for end in 1..=answer.len() {
                decided = eval.advance(&answer[..end], false);
                if decided != Progress::NeedMore {
                    assert_eq!(end, answer.len(), "{:?}", String::from_utf8_lossy(answer));
                    break;
                }
            }
            assert_eq!(&decided, expected, "{:?}", String::from_utf8_lossy(answer));
        }
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

            /// Reading an answer in pieces decides as evaluating the bytes so far would, and
            /// never later than the whole answer (or the close).
            #[test]
            fn advancing_agrees_with_evaluating(
                valid in response(),
                noise in proptest::collection::vec(any::<u8>(), 0..200),
                garbage in any::<bool>(),
                with_body in any::<bool>(),
                cuts in proptest::collection::vec(1usize..40, 1..20),
            ) {
                let bytes = if garbage { noise } else { valid };
                let bytes = &bytes[..bytes.len().min(128)];
                let expect = with_body.then(body_expect);
                let checks = [
                    ResponseCheck::http("GET", statuses(), expect, 128),
                    ResponseCheck::websocket(*b"dGhlIHNhbXBsZSBub25jZQ==", "", 128),
                ];
                for eval in checks {
                    let mut reader = eval.clone();
                    let mut end = 0;
                    let mut decided = Progress::NeedMore;
                    for step in cuts.iter().cycle() {
                        end = (end + step).min(bytes.len());
                        decided = reader.advance(&bytes[..end], false);
                        if decided != Progress::NeedMore {
                            prop_assert_eq!(&decided, &eval.evaluate(&bytes[..end], false), "at {}", end);
                            break;
                        }
                        if end == bytes.len() {
                            break;
                        }
                    }
                    if decided == Progress::NeedMore {
                        prop_assert_eq!(eval.evaluate(bytes, false), Progress::NeedMore);
                        prop_assert_eq!(reader.advance(bytes, true), eval.evaluate(bytes, true));
                    }
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
