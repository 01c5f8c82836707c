//! Invariant checks for gangway-h1, shared by the fuzz targets (`fuzz/fuzz_targets/h1_*.rs`)
//! and the corpus replay test (`crates/gangway-h1/tests/fuzz_corpus.rs`).
//!
//! Each function takes arbitrary bytes and panics only when an invariant is broken. The
//! reference rules below are written from RFC 9112/9110/6455 on the raw bytes, independently
//! of gangway-h1's code, so a disagreement points at one of the two.

use base64::Engine as _;
use gangway_h1::{
    ChunkedTracker, ConnectionHeader, EMPTY_HEADER, Framing, Header, Parser, Rewrite, Side, Status,
    SwitchExpectation, Upgrade, parse_request, parse_response, response_framing, websocket_accept,
};
use sha1::{Digest as _, Sha1};

/// Header storage size used by the checks (the gateway uses 128).
const HEADERS: usize = 100;

/// Field names whose presence changes framing, routing or upgrade handling.
const SPECIAL: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "http2-settings",
];

/// Request head: parse, validate, classify; differential against httparse and the RFC rules.
pub(crate) fn request(data: &[u8]) {
    let mut storage = [EMPTY_HEADER; HEADERS];
    let ours = parse_request(data, &mut storage);
    let mut theirs_storage = [EMPTY_HEADER; HEADERS];
    let mut theirs = httparse::Request::new(&mut theirs_storage);
    let theirs_status = theirs.parse(data);

    match &ours {
        Ok(Status::Complete(req)) => {
            // Never laxer than plain httparse, and the same reading of the head.
            let Ok(Status::Complete(n)) = theirs_status else {
                panic!("accepted a head httparse gives {theirs_status:?}");
            };
            assert_eq!(req.head_len, n, "head length differs from httparse");
            assert_eq!(Some(req.method), theirs.method);
            assert_eq!(Some(req.target), theirs.path);
            assert_eq!(Some(req.version_minor), theirs.version);
            assert_eq!(req.headers.len(), theirs.headers.len());
            for (a, b) in req.headers.iter().zip(theirs.headers.iter()) {
                assert_eq!((a.name, a.value), (b.name, b.value));
            }
            check_accepted_request(data, req);
        }
        Ok(Status::Partial) => {
            // A complete head that httparse accepts cannot be "partial" for us.
            if let Ok(Status::Complete(n)) = theirs_status {
                panic!("partial for a complete head of {n} bytes");
            }
        }
        Err(e) => {
            assert!(
                matches!(e.status(), 400 | 414 | 426 | 431 | 501 | 505),
                "request error with status {}: {e}",
                e.status()
            );
            let _ = e.to_string();
            if let Ok(Status::Complete(n)) = theirs_status {
                // Plain heads (no framing, upgrade or odd bytes) must be accepted.
                assert!(
                    !is_plain_request(&data[..n]),
                    "rejected a plain head ({e}): {:?}",
                    String::from_utf8_lossy(&data[..n])
                );
            }
        }
    }
    // Small limits exercise the limit paths; they may only turn acceptance into rejection.
    let mut small = Parser::new();
    small.max_head_len(64).max_headers(4).max_target_len(16);
    let mut storage = [EMPTY_HEADER; HEADERS];
    if let Ok(Status::Complete(req)) = small.parse_request(data, &mut storage) {
        assert!(req.head_len <= 64 && req.headers.len() <= 4 && req.target.len() <= 16);
        assert!(
            matches!(ours, Ok(Status::Complete(_))),
            "small limits laxer"
        );
    }
}

/// RFC rules every accepted request head satisfies, checked on the raw bytes.
fn check_accepted_request(data: &[u8], req: &gangway_h1::Request<'_, '_>) {
    let head = &data[..req.head_len];
    check_head_bytes(head);
    let start = head.len() - skip_empty_lines(head).len();
    let line_end = head[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(0);
    let line = &head[start..start + line_end];
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    assert_eq!(
        parts.len(),
        3,
        "request line not three parts split by single spaces"
    );
    assert!(parts[0].iter().all(|&b| is_tchar(b)) && !parts[0].is_empty());
    assert!(parts[1].iter().all(|&b| b > 0x20 && b < 0x7f && b != b'#'));
    assert!(parts[2] == b"HTTP/1.0" || parts[2] == b"HTTP/1.1");
    let target = req.target.as_bytes();
    if req.method == "CONNECT" {
        assert!(
            target.contains(&b':') && target[0] != b'/',
            "CONNECT target"
        );
    } else if target == b"*" {
        assert_eq!(req.method, "OPTIONS");
    } else {
        assert!(
            target[0] == b'/' || target.windows(3).any(|w| w == b"://"),
            "target form"
        );
    }

    let lines_named = |name: &'static str| named(req.headers, name);
    let hosts = lines_named("host").count();
    if req.version_minor == 1 {
        assert_eq!(hosts, 1, "HTTP/1.1 needs exactly one Host");
    } else {
        assert!(hosts <= 1, "duplicate Host");
    }
    assert_eq!(req.host, lines_named("host").next().map(|h| h.value));

    // Framing (RFC 9112 6.1, 6.3).
    let cl: Vec<&[u8]> = lines_named("content-length")
        .flat_map(|h| h.value.split(|&b| b == b','))
        .map(trim)
        .collect();
    let te: Vec<&[u8]> = lines_named("transfer-encoding")
        .flat_map(|h| h.value.split(|&b| b == b','))
        .map(trim)
        .collect();
    let has_cl = lines_named("content-length").next().is_some();
    let has_te = lines_named("transfer-encoding").next().is_some();
    assert!(
        !(has_cl && has_te),
        "Content-Length with Transfer-Encoding accepted"
    );
    if has_te {
        assert_eq!(
            req.version_minor, 1,
            "Transfer-Encoding in HTTP/1.0 accepted"
        );
        assert!(
            te.last()
                .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
        );
        let chunked = te
            .iter()
            .filter(|c| c.eq_ignore_ascii_case(b"chunked"))
            .count();
        assert_eq!(chunked, 1, "chunked more than once");
        assert!(
            te.iter()
                .all(|c| !c.is_empty() && c.iter().all(|&b| is_tchar(b)))
        );
        assert_eq!(req.framing, Framing::Chunked);
    } else if has_cl {
        assert!(
            cl.iter()
                .all(|v| !v.is_empty() && v.iter().all(u8::is_ascii_digit))
        );
        let first = std::str::from_utf8(cl[0])
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        let n = first.expect("Content-Length fits u64");
        for v in &cl {
            assert_eq!(
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok()),
                Some(n)
            );
        }
        assert_eq!(req.framing, Framing::Length(n));
    } else {
        assert_eq!(req.framing, Framing::None);
    }

    // Keep-alive (RFC 9112 9.3).
    let conn: Vec<&[u8]> = lines_named("connection")
        .flat_map(|h| h.value.split(|&b| b == b','))
        .map(trim)
        .collect();
    let has = |t: &[u8]| conn.iter().any(|c| c.eq_ignore_ascii_case(t));
    let keep_alive = !has(b"close") && (req.version_minor == 1 || has(b"keep-alive"));
    assert_eq!(req.keep_alive, keep_alive, "keep-alive decision");

    // Upgrade classification (RFC 6455 4.1, RFC 9110 7.8).
    match req.upgrade {
        Upgrade::WebSocket { key, version, .. } => {
            assert_eq!((req.method, req.version_minor, version), ("GET", 1, 13));
            assert!(has(b"upgrade"), "WebSocket without Connection: upgrade");
            let decoded = base64::engine::general_purpose::STANDARD.decode(key);
            assert_eq!(
                decoded.map(|k| k.len()).ok(),
                Some(16),
                "key is not 16 bytes"
            );
            assert_eq!(lines_named("sec-websocket-key").count(), 1);
            assert_eq!(
                websocket_accept(key.as_bytes()),
                reference_accept(key.as_bytes())
            );
        }
        Upgrade::Connect { authority } => {
            assert_eq!((req.method, authority), ("CONNECT", req.target));
        }
        Upgrade::H2c { .. } | Upgrade::Other(_) => {
            assert!(
                has(b"upgrade") && req.version_minor == 1,
                "upgrade without Connection: upgrade"
            );
        }
        Upgrade::None => assert_ne!(req.method, "CONNECT"),
        _ => {}
    }

    // The same head followed by anything (the body, the next request) parses the same way.
    let mut longer = head.to_vec();
    longer.extend_from_slice(b"\r\nX");
    let mut storage = [EMPTY_HEADER; HEADERS];
    match parse_request(&longer, &mut storage) {
        Ok(Status::Complete(again)) => {
            assert_eq!((again.head_len, again.framing), (req.head_len, req.framing));
        }
        other => panic!("head with a tail parses as {other:?}"),
    }
    // Every proper prefix of an accepted head is incomplete, never an error.
    for cut in [0, 1, head.len() / 2, head.len() - 2, head.len() - 1] {
        let mut storage = [EMPTY_HEADER; HEADERS];
        let got = parse_request(&head[..cut], &mut storage).map(|s| s.is_partial());
        assert_eq!(got.map_err(|e| e.kind()), Ok(true), "prefix of {cut} bytes");
    }
}

/// No bare CR, no bare LF, no NUL or other control byte but HTAB, no obs-fold.
fn check_head_bytes(head: &[u8]) {
    assert!(head.ends_with(b"\r\n\r\n"));
    for (i, &b) in head.iter().enumerate() {
        match b {
            b'\n' => assert!(i > 0 && head[i - 1] == b'\r', "bare LF at {i}"),
            b'\r' => assert!(head.get(i + 1) == Some(&b'\n'), "bare CR at {i}"),
            b'\t' => {}
            0..=0x1f | 0x7f => panic!("control byte {b:#x} at {i}"),
            _ => {}
        }
    }
    for line in skip_empty_lines(head).split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        assert!(line[0] != b' ' && line[0] != b'\t', "obs-fold accepted");
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .expect("field line without colon");
        assert!(
            colon > 0 && line[..colon].iter().all(|&b| is_tchar(b)),
            "bad field name"
        );
    }
}

/// The head without the empty lines a recipient may skip before the start line
/// (RFC 9112 2.2; httparse skips them).
fn skip_empty_lines(mut head: &[u8]) -> &[u8] {
    while let Some(rest) = head.strip_prefix(b"\r\n") {
        head = rest;
    }
    head
}

/// A head with nothing that the strict rules single out: it must be accepted.
fn is_plain_request(head: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(head) else {
        return false;
    };
    let Some(body) = text.strip_suffix("\r\n\r\n") else {
        return false;
    };
    if head.len() > 4096
        || text.contains('\n') && text.matches('\n').count() != text.matches("\r\n").count()
    {
        return false;
    }
    let mut lines = body.split("\r\n");
    let Some(line) = lines.next() else {
        return false;
    };
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return false;
    };
    let method_ok = matches!(method, "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "PATCH");
    let target_ok = target.starts_with('/')
        && target.len() <= 1024
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._~-?=&%".contains(&b));
    if !method_ok || !target_ok || version != "HTTP/1.1" {
        return false;
    }
    let mut hosts = 0;
    let mut count = 0;
    for field in lines {
        count += 1;
        let Some((name, value)) = field.split_once(": ") else {
            return false;
        };
        let name_ok =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let value_ok = !value.is_empty()
            && !value.starts_with(' ')
            && !value.ends_with(' ')
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b" ._/-".contains(&b));
        if !name_ok || !value_ok {
            return false;
        }
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-".contains(&b))
            {
                return false;
            }
        } else if SPECIAL.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return false;
        }
    }
    hosts == 1 && count < 64
}

/// Response head (the answer to a request, itself taken from the input when it holds one)
/// and the 101 check.
pub(crate) fn response(data: &[u8]) {
    // Input: a request head then a response head, or a method selector byte then a response.
    let mut req_storage = [EMPTY_HEADER; HEADERS];
    let (upgrade, method, rest) = match parse_request(data, &mut req_storage) {
        Ok(Status::Complete(req)) => (req.upgrade, req.method, &data[req.head_len..]),
        _ => {
            let method = match data.first().map(|b| b % 4) {
                Some(0) => "HEAD",
                Some(1) => "CONNECT",
                Some(2) => "POST",
                _ => "GET",
            };
            (Upgrade::None, method, data.get(1..).unwrap_or_default())
        }
    };
    let mut storage = [EMPTY_HEADER; HEADERS];
    let ours = parse_response(rest, &mut storage, method);
    let mut theirs_storage = [EMPTY_HEADER; HEADERS];
    let mut theirs = httparse::Response::new(&mut theirs_storage);
    let theirs_status = theirs.parse(rest);
    let res = match ours {
        Ok(Status::Complete(res)) => res,
        Ok(Status::Partial) => {
            if let Ok(Status::Complete(n)) = theirs_status {
                panic!("partial for a complete response head of {n} bytes");
            }
            return;
        }
        Err(e) => {
            assert_eq!(e.status(), 502, "response errors are the upstream's: {e}");
            return;
        }
    };
    let Ok(Status::Complete(n)) = theirs_status else {
        panic!("accepted a response head httparse gives {theirs_status:?}");
    };
    assert_eq!(res.head_len, n);
    assert_eq!(
        (Some(res.status), Some(res.version_minor)),
        (theirs.code, theirs.version)
    );
    check_head_bytes(&rest[..n]);
    assert!((100..=599).contains(&res.status));

    let named = |name: &'static str| named(res.headers, name);
    let has_cl = named("content-length").next().is_some();
    let has_te = named("transfer-encoding").next().is_some();
    assert!(
        !(has_cl && has_te),
        "response with Content-Length and Transfer-Encoding accepted"
    );
    let no_body = method == "HEAD"
        || (100..200).contains(&res.status)
        || res.status == 204
        || res.status == 304
        || (method == "CONNECT" && (200..300).contains(&res.status));
    let expected = if no_body {
        Framing::None
    } else if has_te {
        let last = named("transfer-encoding")
            .flat_map(|h| h.value.split(|&b| b == b','))
            .map(trim)
            .last();
        if last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked")) {
            Framing::Chunked
        } else {
            Framing::CloseDelimited
        }
    } else if has_cl {
        let v = named("content-length")
            .next()
            .map(|h| trim(h.value.split(|&b| b == b',').next().unwrap_or_default()));
        let n = v
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|s| s.parse::<u64>().ok());
        Framing::Length(n.expect("accepted Content-Length parses"))
    } else {
        Framing::CloseDelimited
    };
    assert_eq!(res.framing, expected, "response framing");
    assert_eq!(
        response_framing(method, res.status, res.version_minor, res.headers),
        Ok(res.framing)
    );

    // The owned expectation, kept after the request head, answers as the borrowed check; it
    // is laxer only when it could not keep every name (64 bytes of them).
    let borrowed = upgrade.check_switch(&res).map_err(|e| e.kind());
    let owned = SwitchExpectation::of(&upgrade)
        .check(&res)
        .map_err(|e| e.kind());
    let names_len = match upgrade {
        Upgrade::WebSocket { protocols, .. } => protocols.iter().map(|p| p.len() + 1).sum(),
        Upgrade::Other(token) => token.len(),
        _ => 0,
    };
    if names_len <= 64 {
        assert_eq!(owned, borrowed, "SwitchExpectation and check_switch differ");
    } else if borrowed.is_ok() {
        assert_eq!(
            owned,
            Ok(()),
            "SwitchExpectation refused what check_switch accepts"
        );
    }

    // The 101 check accepts only what RFC 9110 7.8 / RFC 6455 4.2.2 allow.
    if upgrade.check_switch(&res).is_ok() {
        assert_eq!(res.status, 101);
        assert!(
            upgrade.expects_switch(),
            "switch accepted for a request that did not ask"
        );
        let conn_upgrade = named("connection")
            .flat_map(|h| h.value.split(|&b| b == b','))
            .any(|t| trim(t).eq_ignore_ascii_case(b"upgrade"));
        assert!(conn_upgrade, "101 without Connection: upgrade accepted");
        assert!(
            named("upgrade").next().is_some(),
            "101 without Upgrade accepted"
        );
        if let Upgrade::WebSocket { key, protocols, .. } = upgrade {
            let accepts: Vec<&[u8]> = named("sec-websocket-accept")
                .map(|h| trim(h.value))
                .collect();
            assert_eq!(
                accepts,
                [&reference_accept(key.as_bytes())[..]],
                "Sec-WebSocket-Accept"
            );
            let chosen: Vec<&[u8]> = named("sec-websocket-protocol")
                .map(|h| trim(h.value))
                .collect();
            assert!(chosen.len() <= 1);
            for p in chosen {
                assert!(protocols.iter().any(|o| o == p), "subprotocol not offered");
            }
        }
    }
}

/// RFC 6455 4.2.2: base64(SHA-1(key ++ GUID)).
fn reference_accept(key: &[u8]) -> [u8; 28] {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let text = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    let mut out = [0u8; 28];
    out.copy_from_slice(text.as_bytes());
    out
}

/// Chunked tracker: the end of the body found does not depend on how the bytes are split.
///
/// Input: two bytes seeding the piece sizes, then the body stream.
pub(crate) fn chunked(data: &[u8]) {
    let (seed, body) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => return,
    };
    let whole = track(body, &mut Pieces::whole());
    let split = track(body, &mut Pieces::seeded(seed));
    let bytewise = track(body, &mut Pieces::bytewise());
    assert_eq!(whole, split, "boundary depends on splitting (seed {seed})");
    assert_eq!(whole, bytewise, "boundary differs when fed byte by byte");
    if let Tracked::Done { end, data_len } = whole {
        assert!(
            end >= 5 && body[..end].ends_with(b"\r\n"),
            "end not after CRLF"
        );
        assert!(data_len <= end as u64);
        // The body alone ends at the same place; one byte short is still incomplete.
        assert_eq!(track(&body[..end], &mut Pieces::whole()), whole);
        assert_eq!(
            track(&body[..end - 1], &mut Pieces::whole()),
            Tracked::NeedMore {
                data_len: track_data_len(&body[..end - 1])
            }
        );
    }
}

fn track_data_len(body: &[u8]) -> u64 {
    let mut t = ChunkedTracker::new(Side::Request);
    let _ = t.feed(body);
    t.data_len()
}

#[derive(Debug, PartialEq, Eq)]
enum Tracked {
    Done { end: usize, data_len: u64 },
    NeedMore { data_len: u64 },
    Invalid,
}

fn track(body: &[u8], pieces: &mut Pieces) -> Tracked {
    let mut tracker = ChunkedTracker::new(Side::Request);
    let mut start = 0;
    while start < body.len() {
        let end = (start + pieces.next_len()).min(body.len());
        match tracker.feed(&body[start..end]) {
            Ok(Status::Complete(n)) => {
                assert!(n <= end - start, "Complete beyond the input");
                assert!(tracker.is_done());
                assert_eq!(tracker.feed(b"more"), Ok(Status::Complete(0)));
                return Tracked::Done {
                    end: start + n,
                    data_len: tracker.data_len(),
                };
            }
            Ok(Status::Partial) => start = end,
            Err(e) => {
                assert!(
                    matches!(e.status(), 400 | 431 | 413),
                    "chunked error status {}",
                    e.status()
                );
                return Tracked::Invalid;
            }
        }
    }
    Tracked::NeedMore {
        data_len: tracker.data_len(),
    }
}

/// Piece sizes for feeding a stream: all at once, one byte at a time, or pseudo-random.
struct Pieces {
    state: u32,
    mode: u8,
}

impl Pieces {
    fn whole() -> Self {
        Pieces { state: 0, mode: 0 }
    }
    fn bytewise() -> Self {
        Pieces { state: 0, mode: 1 }
    }
    fn seeded(seed: u16) -> Self {
        Pieces {
            state: u32::from(seed) | 1,
            mode: 2,
        }
    }
    fn next_len(&mut self) -> usize {
        match self.mode {
            0 => usize::MAX / 2,
            1 => 1,
            _ => {
                // xorshift: cheap, deterministic piece sizes of 1..=16.
                self.state ^= self.state << 13;
                self.state ^= self.state >> 17;
                self.state ^= self.state << 5;
                (self.state % 16) as usize + 1
            }
        }
    }
}

/// Head rewriting: the output of any rewrite of an accepted head re-parses to the same request.
pub(crate) fn rewrite(data: &[u8]) {
    let mut storage = [EMPTY_HEADER; HEADERS];
    let Ok(Status::Complete(req)) = parse_request(data, &mut storage) else {
        return;
    };
    let ip = std::net::IpAddr::from([192, 0, 2, data.len() as u8]);
    let appended: [(&str, &[u8]); 1] = [("X-Added", b"a b")];
    let set: [(&str, &[u8]); 1] = [("X-Set", b"1")];
    let removed = ["x-remove-me", "accept"];
    let mut full = Rewrite::new();
    full.forwarded_for(ip)
        .forwarded_proto("https")
        .append(&appended)
        .set(&set)
        .remove(&removed)
        .connection(if data.len().is_multiple_of(2) {
            ConnectionHeader::KeepAlive
        } else {
            ConnectionHeader::Close
        });
    for rw in [Rewrite::new(), full] {
        let mut out = Vec::new();
        rw.write_request(&req, &mut out)
            .expect("valid rewrite refused");
        // The rewrite adds up to 4 fields to a head that may sit at the default limits.
        let mut roomy = Parser::new();
        roomy.max_headers(HEADERS + 8).max_head_len(usize::MAX);
        let mut again_storage = [EMPTY_HEADER; HEADERS + 8];
        let again = match roomy.parse_request(&out, &mut again_storage) {
            Ok(Status::Complete(again)) => again,
            other => panic!(
                "rewritten head does not parse: {other:?}\n{}",
                String::from_utf8_lossy(&out)
            ),
        };
        assert_eq!(again.head_len, out.len());
        assert_eq!(
            (again.method, again.target, again.version_minor),
            (req.method, req.target, req.version_minor)
        );
        assert_eq!(again.framing, req.framing, "rewrite changed the framing");
        assert_eq!(again.host, req.host);
        assert_eq!(
            again.upgrade.protocol(),
            req.upgrade.protocol(),
            "rewrite changed the upgrade"
        );
        assert_eq!(again.upgrade.is_none(), req.upgrade.is_none());
        for h in again.headers {
            let hop = ["keep-alive", "proxy-connection", "te", "trailer"];
            assert!(
                !hop.iter().any(|n| h.name.eq_ignore_ascii_case(n)),
                "hop-by-hop {} forwarded",
                h.name
            );
        }
        // Fields that are neither hop-by-hop nor touched by the rewrite keep their order.
        let kept = |hs: &[Header<'_>]| -> Vec<(String, Vec<u8>)> {
            hs.iter()
                .filter(|h| {
                    let n = h.name.to_ascii_lowercase();
                    !n.starts_with("x-")
                        && !SPECIAL.contains(&n.as_str())
                        && !["keep-alive", "proxy-connection", "te", "trailer", "accept"]
                            .contains(&n.as_str())
                        && !req.headers.iter().any(|c| {
                            c.name.eq_ignore_ascii_case("connection")
                                && c.value
                                    .split(|&b| b == b',')
                                    .any(|t| trim(t).eq_ignore_ascii_case(n.as_bytes()))
                        })
                })
                .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                .collect()
        };
        assert_eq!(
            kept(again.headers),
            kept(req.headers),
            "end-to-end fields changed"
        );
    }
}

/// A pipelined client stream, fed in pieces as a connection loop reads it: head, body by
/// its framing, next head. The messages found, and where the stream is rejected, do not
/// depend on how the reads were split.
///
/// One difference is accepted: a bad request line is rejected at the first byte httparse
/// refuses, before the rest of the line is in, so whether its version reads as unsupported
/// (505) or malformed (400) can depend on what had arrived (`HTTP/0` then a space later on the
/// line). Both refuse the request; answering early matters more than waiting for the line.
///
/// Input: two bytes seeding the read sizes, then the client's byte stream.
pub(crate) fn pipeline(data: &[u8]) {
    let (seed, stream) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => return,
    };
    let same_refusal = |events: Vec<Event>| -> Vec<Event> {
        events
            .into_iter()
            .map(|e| match e {
                Event::Rejected(505) => Event::Rejected(400),
                other => other,
            })
            .collect()
    };
    let whole = same_refusal(connection(stream, &mut Pieces::whole()));
    let split = same_refusal(connection(stream, &mut Pieces::seeded(seed)));
    assert_eq!(
        whole, split,
        "messages depend on how reads were split (seed {seed})"
    );
}

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Message {
        method: String,
        target: String,
        body: u64,
    },
    Tunnel,
    Rejected(u16),
}

/// What a connection loop sees on `stream` read in `pieces`; stops at the first error,
/// tunnel or close.
fn connection(stream: &[u8], pieces: &mut Pieces) -> Vec<Event> {
    enum Body {
        Head,
        Length(u64),
        Chunked(ChunkedTracker),
    }
    let mut events = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut at = 0;
    let mut body = Body::Head;
    let mut body_len = 0u64;
    let mut pending: Option<(String, String)> = None;
    let parser = Parser::new();
    loop {
        // Process what is buffered until more bytes are needed.
        loop {
            match &mut body {
                Body::Head => {
                    if buf.is_empty() {
                        break;
                    }
                    let mut storage = [EMPTY_HEADER; HEADERS];
                    match parser.parse_request(&buf, &mut storage) {
                        Ok(Status::Partial) => break,
                        Err(e) => {
                            events.push(Event::Rejected(e.status()));
                            return events;
                        }
                        Ok(Status::Complete(req)) => {
                            let head_len = req.head_len;
                            let method = req.method.to_string();
                            let target = req.target.to_string();
                            let (tunnel, framing) = (!req.upgrade.is_none(), req.framing);
                            buf.drain(..head_len);
                            if tunnel {
                                events.push(Event::Tunnel);
                                return events;
                            }
                            body_len = 0;
                            pending = Some((method, target));
                            body = match framing {
                                Framing::Length(n) => Body::Length(n),
                                Framing::Chunked => {
                                    Body::Chunked(ChunkedTracker::new(Side::Request))
                                }
                                _ => Body::Length(0),
                            };
                        }
                    }
                }
                Body::Length(left) => {
                    let take = (*left).min(buf.len() as u64);
                    buf.drain(..take as usize);
                    *left -= take;
                    body_len += take;
                    if *left > 0 {
                        break;
                    }
                    let (method, target) = pending.take().unwrap_or_default();
                    events.push(Event::Message {
                        method,
                        target,
                        body: body_len,
                    });
                    body = Body::Head;
                }
                Body::Chunked(tracker) => {
                    if buf.is_empty() {
                        break;
                    }
                    match tracker.feed(&buf) {
                        Ok(Status::Partial) => {
                            buf.clear();
                            break;
                        }
                        Ok(Status::Complete(n)) => {
                            buf.drain(..n);
                            let (method, target) = pending.take().unwrap_or_default();
                            events.push(Event::Message {
                                method,
                                target,
                                body: tracker.data_len(),
                            });
                            body = Body::Head;
                        }
                        Err(e) => {
                            events.push(Event::Rejected(e.status()));
                            return events;
                        }
                    }
                }
            }
        }
        if at >= stream.len() {
            return events;
        }
        let end = (at + pieces.next_len()).min(stream.len());
        buf.extend_from_slice(&stream[at..end]);
        at = end;
    }
}

/// The field lines named `name` (ASCII case-insensitive).
fn named<'a, 'b>(
    headers: &'a [Header<'b>],
    name: &'static str,
) -> impl Iterator<Item = &'a Header<'b>> + use<'a, 'b> {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &s[start..end]
}

/// RFC 9110 5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
