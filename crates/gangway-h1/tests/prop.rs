//! Property tests: rewrite round-trips, chunked boundaries independent of splitting,
//! no panics on any input, and never more lenient than httparse.

use gangway_h1::{
    ChunkedTracker, EMPTY_HEADER, Framing, Parser, Rewrite, Side, Status, parse_request,
    parse_response,
};
use proptest::prelude::*;

/// Field names the generator avoids: they carry framing, routing or hop-by-hop meaning.
const SPECIAL: [&str; 16] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
    "x-forwarded-for",
    "x-forwarded-proto",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "http2-settings",
    "trailer",
    "x-added",
];

fn field_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}".prop_filter("special field", |n| {
        !SPECIAL.iter().any(|s| s.eq_ignore_ascii_case(n))
    })
}

/// A field value as it survives parsing: no leading/trailing whitespace, obs-text allowed.
fn field_value() -> impl Strategy<Value = Vec<u8>> {
    let visible = prop_oneof![9 => 0x21u8..=0x7e, 1 => 0x80u8..=0xff];
    let inner =
        prop_oneof![8 => 0x21u8..=0x7e, 1 => Just(b' '), 1 => Just(b'\t'), 1 => 0x80u8..=0xff];
    (
        visible.clone(),
        prop::collection::vec(inner, 0..40),
        visible,
    )
        .prop_map(|(a, mid, z)| {
            let mut v = vec![a];
            v.extend(mid);
            v.push(z);
            v
        })
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("GET".to_string()),
        Just("POST".to_string()),
        Just("PUT".to_string()),
        "[A-Z]{1,10}".prop_filter("CONNECT needs authority-form", |m| m != "CONNECT"),
    ]
}

fn target() -> impl Strategy<Value = String> {
    "/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,40}(\\?[A-Za-z0-9=&%-]{0,20})?"
}

fn host() -> impl Strategy<Value = String> {
    "[a-z0-9-]{1,20}(\\.[a-z]{2,5})?(:[0-9]{1,5})?"
}

#[derive(Clone, Debug)]
struct Head {
    method: String,
    target: String,
    version_minor: u8,
    fields: Vec<(String, Vec<u8>)>,
}

impl Head {
    fn render(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.{}\r\n",
            self.method, self.target, self.version_minor
        )
        .into_bytes();
        for (name, value) in &self.fields {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

fn head() -> impl Strategy<Value = Head> {
    (
        method(),
        target(),
        0u8..=1,
        host(),
        prop::collection::vec((field_name(), field_value()), 0..20),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(method, target, version_minor, host, mut fields, at)| {
            // HTTP/1.1 needs exactly one Host; put it anywhere.
            if version_minor == 1 {
                let i = at.index(fields.len() + 1);
                fields.insert(i, ("Host".into(), host.into_bytes()));
            }
            Head {
                method,
                target,
                version_minor,
                fields,
            }
        })
}

/// (name, value) pairs of a parsed head.
fn fields_of(buf: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut headers = [EMPTY_HEADER; 64];
    match parse_request(buf, &mut headers) {
        Ok(Status::Complete(req)) => req
            .headers
            .iter()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect(),
        other => panic!(
            "rewritten head rejected: {other:?}\n{}",
            String::from_utf8_lossy(buf)
        ),
    }
}

/// A chunked body: (data, extension) chunks then trailers, plus the encoded bytes.
fn chunked_body() -> impl Strategy<Value = Vec<u8>> {
    let chunk = (
        prop::collection::vec(any::<u8>(), 1..64),
        prop::option::of(r#"[a-z]{1,6}(=([a-z0-9]{1,6}|"([a-z ]|\\[a-z"]){0,4}"))?"#),
        any::<bool>(),
        0usize..3,
    );
    let trailer = ("[A-Za-z-]{1,10}", "[ -~]{0,20}");
    (
        prop::collection::vec(chunk, 0..8),
        prop::collection::vec(trailer, 0..3),
    )
        .prop_map(|(chunks, trailers)| {
            let mut out = Vec::new();
            for (data, ext, upper, zeros) in chunks {
                let size = if upper {
                    format!("{:X}", data.len())
                } else {
                    format!("{:x}", data.len())
                };
                out.extend_from_slice("0".repeat(zeros).as_bytes());
                out.extend_from_slice(size.as_bytes());
                if let Some(ext) = ext {
                    out.push(b';');
                    out.extend_from_slice(ext.as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&data);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n");
            for (name, value) in trailers {
                out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            out
        })
}

/// Feeds `body` in pieces cut at `cuts`; returns the offset where the tracker saw the end.
fn boundary(body: &[u8], cuts: &[usize]) -> Option<usize> {
    let mut tracker = ChunkedTracker::new(Side::Request);
    let mut start = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    ends.push(body.len());
    ends.sort_unstable();
    for end in ends {
        if end < start {
            continue;
        }
        match tracker.feed(&body[start..end]) {
            Ok(Status::Complete(n)) => return Some(start + n),
            Ok(Status::Partial) => start = end,
            Err(e) => panic!("valid body rejected: {e}"),
        }
    }
    None
}

/// End offset, error (kind and absolute offset), or still partial, for a split feed.
fn verdict(
    body: &[u8],
    cuts: &[usize],
) -> Result<Option<usize>, (gangway_h1::ErrorKind, Option<usize>)> {
    let mut tracker = ChunkedTracker::new(Side::Request);
    let mut start = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    ends.push(body.len());
    ends.sort_unstable();
    for end in ends {
        if end < start {
            continue;
        }
        match tracker.feed(&body[start..end]) {
            Ok(Status::Complete(n)) => return Ok(Some(start + n)),
            Ok(Status::Partial) => start = end,
            Err(e) => return Err((e.kind(), e.offset())),
        }
    }
    Ok(None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn rewrite_without_changes_is_identity(h in head()) {
        let buf = h.render();
        let mut headers = [EMPTY_HEADER; 64];
        let parsed = Parser::new().parse_request(&buf, &mut headers);
        let Ok(Status::Complete(req)) = parsed else {
            return Err(TestCaseError::fail(format!("valid head rejected: {parsed:?}\n{}", String::from_utf8_lossy(&buf))));
        };
        prop_assert_eq!(req.head_len, buf.len());
        prop_assert_eq!(req.framing, Framing::None);
        let mut out = Vec::new();
        Rewrite::new().write_request(&req, &mut out).unwrap();
        prop_assert_eq!(out, buf);
    }

    #[test]
    fn rewrite_loses_nothing(h in head(), ip in any::<std::net::IpAddr>(), extra in field_value()) {
        let buf = h.render();
        let mut headers = [EMPTY_HEADER; 64];
        let Ok(Status::Complete(req)) = parse_request(&buf, &mut headers) else {
            return Err(TestCaseError::fail("valid head rejected"));
        };
        let appended = [("X-Added", extra.as_slice())];
        let mut out = Vec::new();
        Rewrite::new()
            .forwarded_for(ip)
            .forwarded_proto("https")
            .append(&appended)
            .write_request(&req, &mut out)
            .unwrap();
        let mut want = fields_of(&buf);
        want.push(("X-Forwarded-For".into(), ip.to_string().into_bytes()));
        want.push(("X-Forwarded-Proto".into(), b"https".to_vec()));
        want.push(("X-Added".into(), extra.clone()));
        prop_assert_eq!(fields_of(&out), want);
        prop_assert!(out.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn prefixes_of_valid_heads_are_partial(h in head(), cut in any::<prop::sample::Index>()) {
        let buf = h.render();
        let end = cut.index(buf.len());
        let mut headers = [EMPTY_HEADER; 64];
        let got = parse_request(&buf[..end], &mut headers).map(|s| s.is_partial());
        prop_assert_eq!(got, Ok(true));
    }

    #[test]
    fn chunked_boundary_does_not_depend_on_splitting(
        body in chunked_body(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        tail in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut stream = body.clone();
        stream.extend_from_slice(&tail);
        prop_assert_eq!(boundary(&stream, &[]), Some(body.len()));
        prop_assert_eq!(boundary(&stream, &cuts), Some(body.len()));
        let bytewise: Vec<usize> = (0..stream.len()).collect();
        prop_assert_eq!(boundary(&stream, &bytewise), Some(body.len()));
    }

    #[test]
    fn chunked_verdict_does_not_depend_on_splitting_even_when_invalid(
        body in chunked_body(),
        at in any::<prop::sample::Index>(),
        byte in prop_oneof![Just(b'\n'), Just(b'\r'), Just(b';'), Just(b' '), Just(b'"'), any::<u8>()],
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut body = body;
        let i = at.index(body.len());
        body[i] = byte;
        prop_assert_eq!(verdict(&body, &[]), verdict(&body, &cuts));
        let bytewise: Vec<usize> = (0..body.len()).collect();
        prop_assert_eq!(verdict(&body, &[]), verdict(&body, &bytewise));
    }

    #[test]
    fn no_input_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), cuts in prop::collection::vec(any::<usize>(), 0..4)) {
        let mut headers = [EMPTY_HEADER; 16];
        let _ = parse_request(&bytes, &mut headers);
        let mut headers = [EMPTY_HEADER; 16];
        let _ = parse_response(&bytes, &mut headers, "GET");
        let mut tracker = ChunkedTracker::new(Side::Response);
        let mut start = 0;
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        ends.push(bytes.len());
        ends.sort_unstable();
        for end in ends {
            if tracker.feed(&bytes[start..end]).is_err() {
                break;
            }
            start = end;
        }
    }

    #[test]
    fn mutated_heads_never_panic_and_accepted_ones_rewrite_cleanly(
        h in head(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        insert in any::<bool>(),
    ) {
        let mut buf = h.render();
        let i = at.index(buf.len());
        if insert { buf.insert(i, byte) } else { buf[i] = byte }
        let mut headers = [EMPTY_HEADER; 64];
        if let Ok(Status::Complete(req)) = parse_request(&buf, &mut headers) {
            let mut out = Vec::new();
            Rewrite::new().write_request(&req, &mut out).unwrap();
            let mut again = [EMPTY_HEADER; 64];
            match parse_request(&out, &mut again) {
                Ok(Status::Complete(req2)) => {
                    prop_assert_eq!(req2.framing, req.framing);
                    prop_assert_eq!(req2.method, req.method);
                    prop_assert_eq!(req2.target, req.target);
                }
                other => return Err(TestCaseError::fail(format!("rewrite of an accepted head rejected: {other:?}"))),
            }
        }
    }

    #[test]
    fn never_more_lenient_than_httparse(
        h in head(),
        at in any::<prop::sample::Index>(),
        byte in prop_oneof![Just(b'\n'), Just(b'\r'), Just(b' '), Just(b'\t'), Just(0u8), Just(b':'), any::<u8>()],
    ) {
        let mut buf = h.render();
        let i = at.index(buf.len());
        buf.insert(i, byte);
        let mut theirs = [EMPTY_HEADER; 64];
        let theirs_ok = httparse::Request::new(&mut theirs).parse(&buf).is_ok();
        let mut ours = [EMPTY_HEADER; 64];
        let ours_ok = parse_request(&buf, &mut ours).is_ok();
        prop_assert!(theirs_ok || !ours_ok, "accepted what httparse rejects: {:?}", String::from_utf8_lossy(&buf));
    }
}
