//! One table row per validation rule: each malformed request is rejected with its own kind.

use gangway_h1::{EMPTY_HEADER, ErrorKind, ErrorKind::*, Framing, Parser, Status};

/// Outcome of parsing a whole head: the framing if accepted, the error kind if rejected.
fn outcome(buf: &[u8]) -> Result<Option<Framing>, ErrorKind> {
    let mut headers = [EMPTY_HEADER; 100];
    match Parser::new().parse_request(buf, &mut headers) {
        Ok(Status::Complete(req)) => Ok(Some(req.framing)),
        Ok(Status::Partial) => Ok(None),
        Err(e) => Err(e.kind()),
    }
}

/// `GET / HTTP/1.1`, `Host: a`, then `fields`, then the empty line.
fn get(fields: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n").into_bytes()
}

fn post(fields: &str) -> Vec<u8> {
    format!("POST /p HTTP/1.1\r\nHost: a\r\n{fields}\r\n").into_bytes()
}

fn post10(fields: &str) -> Vec<u8> {
    format!("POST /p HTTP/1.0\r\n{fields}\r\n").into_bytes()
}

fn raw(s: &[u8]) -> Vec<u8> {
    s.to_vec()
}

#[test]
fn rejected_requests() {
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "v".repeat(17000)
    );
    let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
    let cases: Vec<(&str, Vec<u8>, ErrorKind)> = vec![
        // Content-Length and Transfer-Encoding
        (
            "CL and TE",
            post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
            ContentLengthWithTransferEncoding,
        ),
        (
            "TE and CL",
            post("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"),
            ContentLengthWithTransferEncoding,
        ),
        (
            "TE gzip only",
            post("Transfer-Encoding: gzip\r\n"),
            ChunkedNotFinal,
        ),
        (
            "TE chunked then gzip",
            post("Transfer-Encoding: chunked, gzip\r\n"),
            ChunkedNotFinal,
        ),
        (
            "TE chunked line then gzip line",
            post("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
            ChunkedNotFinal,
        ),
        (
            "TE chunked twice",
            post("Transfer-Encoding: chunked, chunked\r\n"),
            ChunkedTwice,
        ),
        (
            "TE chunked on two lines",
            post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
            ChunkedTwice,
        ),
        (
            "TE leading comma",
            post("Transfer-Encoding: ,chunked\r\n"),
            EmptyTransferCoding,
        ),
        (
            "TE trailing comma",
            post("Transfer-Encoding: chunked,\r\n"),
            EmptyTransferCoding,
        ),
        (
            "TE empty value",
            post("Transfer-Encoding: \r\n"),
            EmptyTransferCoding,
        ),
        (
            "TE unknown coding",
            post("Transfer-Encoding: foo, chunked\r\n"),
            UnknownTransferCoding,
        ),
        (
            "TE identity",
            post("Transfer-Encoding: identity\r\n"),
            UnknownTransferCoding,
        ),
        (
            "TE chunked with parameter",
            post("Transfer-Encoding: chunked;q=1\r\n"),
            InvalidTransferCoding,
        ),
        (
            "TE quoted",
            post("Transfer-Encoding: \"chunked\"\r\n"),
            InvalidTransferCoding,
        ),
        (
            "TE space inside",
            post("Transfer-Encoding: chun ked\r\n"),
            InvalidTransferCoding,
        ),
        (
            "TE vertical tab",
            post("Transfer-Encoding: chunked\x0b\r\n"),
            ControlCharInHeaderValue,
        ),
        (
            "TE in HTTP/1.0",
            post10("Transfer-Encoding: chunked\r\n"),
            TransferEncodingHttp10,
        ),
        (
            "TE and CL in HTTP/1.0",
            post10("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"),
            TransferEncodingHttp10,
        ),
        // Content-Length
        (
            "CL plus sign",
            post("Content-Length: +1\r\n"),
            InvalidContentLength,
        ),
        (
            "CL negative",
            post("Content-Length: -1\r\n"),
            InvalidContentLength,
        ),
        (
            "CL hex",
            post("Content-Length: 0x10\r\n"),
            InvalidContentLength,
        ),
        (
            "CL inner space",
            post("Content-Length: 1 2\r\n"),
            InvalidContentLength,
        ),
        (
            "CL empty",
            post("Content-Length: \r\n"),
            InvalidContentLength,
        ),
        (
            "CL empty element",
            post("Content-Length: 5,\r\n"),
            InvalidContentLength,
        ),
        (
            "CL decimal point",
            post("Content-Length: 1.0\r\n"),
            InvalidContentLength,
        ),
        (
            "CL overflow",
            post("Content-Length: 18446744073709551616\r\n"),
            ContentLengthOverflow,
        ),
        (
            "CL huge overflow",
            post("Content-Length: 99999999999999999999999\r\n"),
            ContentLengthOverflow,
        ),
        (
            "CL list differs",
            post("Content-Length: 10, 11\r\n"),
            ConflictingContentLength,
        ),
        (
            "CL lines differ",
            post("Content-Length: 10\r\nContent-Length: 11\r\n"),
            ConflictingContentLength,
        ),
        // Line structure
        (
            "whitespace before colon",
            get("Content-Length : 0\r\n"),
            WhitespaceBeforeColon,
        ),
        (
            "tab before colon",
            get("X-A\t: 1\r\n"),
            WhitespaceBeforeColon,
        ),
        ("obs-fold", get("X-A: 1\r\n 2\r\n"), ObsFold),
        ("obs-fold with tab", get("X-A: 1\r\n\t2\r\n"), ObsFold),
        (
            "whitespace before first field",
            raw(b"GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
            WhitespaceAfterStartLine,
        ),
        ("bare CR in value", get("X-A: 1\r2\r\n"), BareCr),
        (
            "bare CR in request line",
            raw(b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"),
            BareCr,
        ),
        (
            "bare CR ending a field",
            raw(b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"),
            BareCr,
        ),
        (
            "bare LF ending request line",
            raw(b"GET / HTTP/1.1\nHost: a\r\n\r\n"),
            BareLf,
        ),
        (
            "bare LF ending a field",
            raw(b"GET / HTTP/1.1\r\nHost: a\n\r\n"),
            BareLf,
        ),
        (
            "bare LF ending the head",
            raw(b"GET / HTTP/1.1\r\nHost: a\r\n\n"),
            BareLf,
        ),
        (
            "bare LF everywhere",
            raw(b"GET / HTTP/1.1\nHost: a\n\n"),
            BareLf,
        ),
        (
            "leading bare LF",
            raw(b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            BareLf,
        ),
        ("NUL in value", get("X-A: a\0b\r\n"), NulByte),
        ("NUL in name", get("X-\0A: b\r\n"), NulByte),
        (
            "NUL in target",
            raw(b"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"),
            NulByte,
        ),
        (
            "control byte in value",
            get("X-A: a\x01b\r\n"),
            ControlCharInHeaderValue,
        ),
        (
            "DEL in value",
            get("X-A: a\x7fb\r\n"),
            ControlCharInHeaderValue,
        ),
        (
            "ESC in value",
            get("X-A: \x1b[31m\r\n"),
            ControlCharInHeaderValue,
        ),
        (
            "control byte in name",
            get("X-\x01A: b\r\n"),
            ControlCharInHeaderName,
        ),
        (
            "DEL in name",
            get("X-\x7fA: b\r\n"),
            ControlCharInHeaderName,
        ),
        ("separator in name", get("X(A): b\r\n"), InvalidHeaderName),
        ("space inside name", get("X A: b\r\n"), InvalidHeaderName),
        ("slash in name", get("X/A: b\r\n"), InvalidHeaderName),
        (
            "non-ASCII in name",
            get("X-\u{e9}: b\r\n"),
            InvalidHeaderName,
        ),
        ("quote in name", get("\"X\": b\r\n"), InvalidHeaderName),
        ("empty name", get(": b\r\n"), EmptyHeaderName),
        ("no colon", get("X-A b\r\n"), MissingColon),
        ("no colon token only", get("XA\r\n"), MissingColon),
        // Host
        (
            "missing Host",
            raw(b"GET / HTTP/1.1\r\nX: a\r\n\r\n"),
            MissingHost,
        ),
        ("duplicate Host", get("Host: b\r\n"), DuplicateHost),
        (
            "duplicate identical Host",
            get("Host: a\r\n"),
            DuplicateHost,
        ),
        (
            "Host with space",
            raw(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
            InvalidHost,
        ),
        (
            "Host list",
            raw(b"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"),
            InvalidHost,
        ),
        (
            "Host with userinfo",
            raw(b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"),
            InvalidHost,
        ),
        (
            "Host bad port",
            raw(b"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n"),
            InvalidHost,
        ),
        (
            "Host with path",
            raw(b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
            InvalidHost,
        ),
        // Request line and version
        (
            "HTTP/2.0",
            raw(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
            UnsupportedVersion,
        ),
        (
            "HTTP/1.2",
            raw(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
            UnsupportedVersion,
        ),
        (
            "HTTP/0.9",
            raw(b"GET / HTTP/0.9\r\nHost: a\r\n\r\n"),
            UnsupportedVersion,
        ),
        // Judged from the left: major 3 is unsupported whatever follows, so the answer is the
        // same however the bytes arrive (`HTTP/3` then `.0` or then CRLF).
        (
            "HTTP/3",
            raw(b"GET / HTTP/3\r\nHost: a\r\n\r\n"),
            UnsupportedVersion,
        ),
        (
            "lowercase http",
            raw(b"GET / http/1.1\r\nHost: a\r\n\r\n"),
            InvalidVersion,
        ),
        (
            "HTTP/1.10",
            raw(b"GET / HTTP/1.10\r\nHost: a\r\n\r\n"),
            InvalidVersion,
        ),
        (
            "HTTP/1",
            raw(b"GET / HTTP/1\r\nHost: a\r\n\r\n"),
            InvalidVersion,
        ),
        (
            "HTTP/1.x",
            raw(b"GET / HTTP/1.x\r\nHost: a\r\n\r\n"),
            InvalidVersion,
        ),
        (
            "no version",
            raw(b"GET /\r\nHost: a\r\n\r\n"),
            InvalidRequestLine,
        ),
        (
            "double space",
            raw(b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
            InvalidRequestLine,
        ),
        (
            "leading space",
            raw(b" GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            InvalidRequestLine,
        ),
        (
            "trailing space",
            raw(b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
            InvalidRequestLine,
        ),
        (
            "extra word",
            raw(b"GET / HTTP/1.1 x\r\nHost: a\r\n\r\n"),
            InvalidRequestLine,
        ),
        (
            "bad method byte",
            raw(b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n"),
            InvalidMethod,
        ),
        (
            "method with tab",
            raw(b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"),
            InvalidMethod,
        ),
        (
            "space in target",
            raw(b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"),
            InvalidRequestLine,
        ),
        (
            "control in target",
            raw(b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n"),
            InvalidTarget,
        ),
        (
            "DEL in target",
            raw(b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"),
            InvalidTarget,
        ),
        (
            "non-ASCII in target",
            "GET /\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n"
                .as_bytes()
                .to_vec(),
            InvalidTarget,
        ),
        (
            "fragment in target",
            raw(b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"),
            InvalidTarget,
        ),
        (
            "relative target",
            raw(b"GET a HTTP/1.1\r\nHost: a\r\n\r\n"),
            TargetFormMismatch,
        ),
        (
            "asterisk without OPTIONS",
            raw(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n"),
            TargetFormMismatch,
        ),
        (
            "authority without CONNECT",
            raw(b"GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n"),
            TargetFormMismatch,
        ),
        (
            "CONNECT with origin-form",
            raw(b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"),
            TargetFormMismatch,
        ),
        (
            "CONNECT without port",
            raw(b"CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n"),
            TargetFormMismatch,
        ),
        (
            "absolute-form naming another host",
            raw(b"GET http://admin.internal/secret HTTP/1.1\r\nHost: public.example\r\n\r\n"),
            HostMismatch,
        ),
        (
            "absolute-form with another port",
            raw(b"GET http://a:8080/ HTTP/1.1\r\nHost: a\r\n\r\n"),
            HostMismatch,
        ),
        (
            "absolute-form, https default port on the http scheme",
            raw(b"GET http://a/ HTTP/1.1\r\nHost: a:443\r\n\r\n"),
            HostMismatch,
        ),
        (
            "absolute-form, userinfo hiding another host",
            raw(b"GET http://public.example@admin.internal/ HTTP/1.1\r\nHost: public.example\r\n\r\n"),
            HostMismatch,
        ),
        (
            "absolute-form, empty Host",
            raw(b"GET http://a/ HTTP/1.1\r\nHost: \r\n\r\n"),
            HostMismatch,
        ),
        (
            "absolute-form, query right after the authority",
            raw(b"GET http://b?x HTTP/1.1\r\nHost: a\r\n\r\n"),
            HostMismatch,
        ),
        (
            "CONNECT naming another host",
            raw(b"CONNECT internal:22 HTTP/1.1\r\nHost: public:443\r\n\r\n"),
            HostMismatch,
        ),
        (
            "CONNECT, Host without a port that is not 80 or 443",
            raw(b"CONNECT a:8443 HTTP/1.1\r\nHost: a\r\n\r\n"),
            HostMismatch,
        ),
        (
            "CONNECT, Host on another port",
            raw(b"CONNECT a:443 HTTP/1.1\r\nHost: a:80\r\n\r\n"),
            HostMismatch,
        ),
        (
            "absolute-form, backslash in the authority",
            raw(b"GET http://admin.internal\\@public.example/ HTTP/1.1\r\nHost: public.example\r\n\r\n"),
            InvalidTarget,
        ),
        (
            "absolute-form, empty authority",
            raw(b"GET http:///admin HTTP/1.1\r\nHost: public.example\r\n\r\n"),
            InvalidTarget,
        ),
        (
            "absolute-form over HTTP/1.0 without Host",
            raw(b"GET http://admin.internal/ HTTP/1.0\r\n\r\n"),
            MissingHost,
        ),
        // Limits
        ("target too long", long_target.into_bytes(), UriTooLong),
        ("head too large", big_head.into_bytes(), HeadTooLarge),
        ("too many headers", get(&many), TooManyHeaders),
    ];
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (name, input, want) in &cases {
        let got = outcome(input);
        if got != Err(*want) {
            failures.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn accepted_requests() {
    let cases: Vec<(&str, Vec<u8>, Framing)> = vec![
        ("plain GET", get(""), Framing::None),
        ("CL", post("Content-Length: 5\r\n"), Framing::Length(5)),
        ("CL zero", post("Content-Length: 0\r\n"), Framing::Length(0)),
        (
            "CL identical list",
            post("Content-Length: 5, 5\r\n"),
            Framing::Length(5),
        ),
        (
            "CL identical lines",
            post("Content-Length: 5\r\nContent-Length: 5\r\n"),
            Framing::Length(5),
        ),
        (
            "CL leading zeros",
            post("Content-Length: 007\r\n"),
            Framing::Length(7),
        ),
        (
            "CL max",
            post("Content-Length: 18446744073709551615\r\n"),
            Framing::Length(u64::MAX),
        ),
        (
            "TE chunked",
            post("Transfer-Encoding: chunked\r\n"),
            Framing::Chunked,
        ),
        (
            "TE uppercase",
            post("Transfer-Encoding: CHUNKED\r\n"),
            Framing::Chunked,
        ),
        (
            "TE gzip, chunked",
            post("Transfer-Encoding: gzip, chunked\r\n"),
            Framing::Chunked,
        ),
        (
            "TE on two lines",
            post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
            Framing::Chunked,
        ),
        (
            "TE OWS",
            post("Transfer-Encoding:  gzip ,\tchunked \r\n"),
            Framing::Chunked,
        ),
        (
            "HTTP/1.0 without Host",
            raw(b"GET / HTTP/1.0\r\n\r\n"),
            Framing::None,
        ),
        (
            "leading CRLF",
            raw(b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Framing::None,
        ),
        (
            "absolute-form",
            raw(b"GET http://a/x?y HTTP/1.1\r\nHost: a\r\n\r\n"),
            Framing::None,
        ),
        (
            "absolute-form, Host in other letter case",
            raw(b"GET HTTP://Example.COM/x HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            Framing::None,
        ),
        (
            "absolute-form, default port in the target only",
            raw(b"GET http://a:80/ HTTP/1.1\r\nHost: a\r\n\r\n"),
            Framing::None,
        ),
        (
            "absolute-form, default port in Host only",
            raw(b"GET https://a/ HTTP/1.1\r\nHost: a:443\r\n\r\n"),
            Framing::None,
        ),
        (
            "absolute-form ws with its default port",
            raw(b"GET ws://a:80/chat HTTP/1.1\r\nHost: a\r\n\r\n"),
            Framing::None,
        ),
        (
            "absolute-form, userinfo dropped",
            raw(b"GET http://u:p@a:8080/ HTTP/1.1\r\nHost: a:8080\r\n\r\n"),
            Framing::None,
        ),
        (
            "absolute-form, IPv6",
            raw(b"GET http://[::1]:8080/ HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
            Framing::None,
        ),
        (
            "absolute-form over HTTP/1.0 with Host",
            raw(b"GET http://a/ HTTP/1.0\r\nHost: a\r\n\r\n"),
            Framing::None,
        ),
        (
            "absolute-form, empty port in the target",
            raw(b"GET http://a:/ HTTP/1.1\r\nHost: a\r\n\r\n"),
            Framing::None,
        ),
        (
            "absolute-form, IPv6 with the default port in Host only",
            raw(b"GET http://[::1]/ HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"),
            Framing::None,
        ),
        (
            "CONNECT to 443, Host without the port (Java, Node agents)",
            raw(b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Framing::None,
        ),
        (
            "CONNECT to 80, Host with an empty port",
            raw(b"CONNECT a:80 HTTP/1.1\r\nHost: a:\r\n\r\n"),
            Framing::None,
        ),
        (
            "OPTIONS *",
            raw(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
            Framing::None,
        ),
        (
            "CONNECT",
            raw(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"),
            Framing::None,
        ),
        (
            "IPv6 Host",
            raw(b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
            Framing::None,
        ),
        (
            "empty Host",
            raw(b"GET / HTTP/1.1\r\nHost: \r\n\r\n"),
            Framing::None,
        ),
        ("obs-text value", get("X-A: caf\u{e9}\r\n"), Framing::None),
        ("tab in value", get("X-A: a\tb\r\n"), Framing::None),
        ("empty value", get("X-A:\r\n"), Framing::None),
    ];
    for (name, input, want) in &cases {
        let got = outcome(input);
        assert_eq!(got, Ok(Some(*want)), "{name}");
    }
}

#[test]
fn partial_heads_wait_for_more() {
    let full = get("X-A: 1\r\n");
    for end in 0..full.len() {
        assert_eq!(outcome(&full[..end]), Ok(None), "prefix of {end} bytes");
    }
    assert_eq!(outcome(&full), Ok(Some(Framing::None)));
}

fn error_of(parser: &Parser, buf: &[u8]) -> gangway_h1::Error {
    let mut headers = [EMPTY_HEADER; 16];
    match parser.parse_request(buf, &mut headers) {
        Err(e) => e,
        Ok(other) => panic!("accepted: {other:?}"),
    }
}

#[test]
fn statuses() {
    let default = Parser::new();
    assert_eq!(error_of(&default, b"GET / HTTP/2.0\r\n\r\n").status(), 505);
    assert_eq!(
        error_of(&default, &post("Transfer-Encoding: br, chunked\r\n")).status(),
        501
    );
    assert_eq!(
        error_of(&default, &post("Content-Length: 1, 2\r\n")).status(),
        400
    );
    let mut small = Parser::new();
    small.max_head_len(64).max_headers(2).max_target_len(8);
    let e = error_of(&small, b"GET /123456789 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!((e.kind(), e.status()), (UriTooLong, 414));
    let e = error_of(&small, &get("A: 1\r\nB: 2\r\n"));
    assert_eq!((e.kind(), e.status()), (TooManyHeaders, 431));
    // Over the head limit while still partial: no need to wait for the end.
    let e = error_of(
        &small,
        format!("GET / HTTP/1.1\r\nX: {}", "v".repeat(80)).as_bytes(),
    );
    assert_eq!((e.kind(), e.status()), (HeadTooLarge, 431));
    // A long request line with no end in sight is a 414 before the head limit.
    let mut p = Parser::new();
    p.max_target_len(16);
    let e = error_of(&p, format!("GET /{}", "a".repeat(200)).as_bytes());
    assert_eq!((e.kind(), e.status()), (UriTooLong, 414));
}

#[test]
fn errors_say_where() {
    let buf = b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n";
    let e = error_of(&Parser::new(), buf);
    assert_eq!((e.kind(), e.offset()), (BareLf, Some(23)));
    assert_eq!(e.to_string(), "request: bare LF line ending at byte 23");
    assert!(
        std::str::from_utf8(e.response())
            .unwrap()
            .starts_with("HTTP/1.1 400 Bad Request\r\n")
    );
}
