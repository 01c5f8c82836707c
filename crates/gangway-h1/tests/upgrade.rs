//! Upgrade classification, 101 validation, response parsing and keep-alive.

use gangway_h1::{
    EMPTY_HEADER, Error, ErrorKind, ErrorKind::*, Framing, Parser, Side, Status, SwitchExpectation,
    TokenList, Upgrade, parse_request, parse_response, websocket_accept,
};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn ws_request(method: &str, version: &str, fields: &str) -> Vec<u8> {
    format!("{method} /ws HTTP/{version}\r\nHost: a\r\n{fields}\r\n").into_bytes()
}

const WS_FIELDS: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// The upgrade class of a request, as a string, or the error kind.
fn class(buf: &[u8]) -> Result<String, ErrorKind> {
    let mut headers = [EMPTY_HEADER; 32];
    match parse_request(buf, &mut headers) {
        Ok(Status::Complete(req)) => Ok(match req.upgrade {
            Upgrade::None => "none".into(),
            Upgrade::WebSocket {
                key,
                version,
                protocols,
            } => {
                let p: Vec<String> = protocols
                    .iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                format!("websocket {key} {version} [{}]", p.join(" "))
            }
            Upgrade::H2c { settings } => {
                format!(
                    "h2c {}",
                    settings.map(String::from_utf8_lossy).unwrap_or_default()
                )
            }
            Upgrade::Connect { authority } => format!("connect {authority}"),
            Upgrade::Other(p) => format!("other {p}"),
            _ => "unknown".into(),
        }),
        Ok(Status::Partial) => Ok("partial".into()),
        Err(e) => Err(e.kind()),
    }
}

#[test]
fn classification() {
    let ws = format!("websocket {KEY} 13 []");
    let cases: Vec<(&str, Vec<u8>, Result<String, ErrorKind>)> = vec![
        (
            "browser handshake",
            ws_request("GET", "1.1", WS_FIELDS),
            Ok(ws.clone()),
        ),
        (
            "tokens in lists, any case",
            ws_request(
                "GET",
                "1.1",
                &format!(
                    "Upgrade: foo, WebSocket\r\nConnection: keep-alive, UPGRADE\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
                ),
            ),
            Ok(ws.clone()),
        ),
        (
            "subprotocols",
            ws_request(
                "GET",
                "1.1",
                &format!("{WS_FIELDS}Sec-WebSocket-Protocol: chat, superchat\r\n"),
            ),
            Ok(format!("websocket {KEY} 13 [chat superchat]")),
        ),
        (
            "POST",
            ws_request("POST", "1.1", WS_FIELDS),
            Err(WebSocketMethod),
        ),
        (
            "HTTP/1.0",
            format!("GET /ws HTTP/1.0\r\n{WS_FIELDS}\r\n").into_bytes(),
            Err(WebSocketHttpVersion),
        ),
        (
            "no Connection: upgrade",
            ws_request(
                "GET",
                "1.1",
                &WS_FIELDS.replace("Connection: Upgrade", "Connection: keep-alive"),
            ),
            Err(WebSocketMissingConnectionUpgrade),
        ),
        (
            "no key",
            ws_request(
                "GET",
                "1.1",
                &WS_FIELDS.replace(&format!("Sec-WebSocket-Key: {KEY}\r\n"), ""),
            ),
            Err(WebSocketMissingKey),
        ),
        (
            "short key",
            ws_request("GET", "1.1", &WS_FIELDS.replace(KEY, "dGhlIHNhbXBsZQ==")),
            Err(WebSocketInvalidKey),
        ),
        (
            "key not base64",
            ws_request(
                "GET",
                "1.1",
                &WS_FIELDS.replace(KEY, "dGhlIHNhbXBsZSBub25j!Q=="),
            ),
            Err(WebSocketInvalidKey),
        ),
        (
            "key non-canonical",
            ws_request(
                "GET",
                "1.1",
                &WS_FIELDS.replace(KEY, "dGhlIHNhbXBsZSBub25jZR=="),
            ),
            Err(WebSocketInvalidKey),
        ),
        (
            "two keys",
            ws_request(
                "GET",
                "1.1",
                &format!("{WS_FIELDS}Sec-WebSocket-Key: {KEY}\r\n"),
            ),
            Err(WebSocketInvalidKey),
        ),
        (
            "no version",
            ws_request(
                "GET",
                "1.1",
                &WS_FIELDS.replace("Sec-WebSocket-Version: 13\r\n", ""),
            ),
            Err(WebSocketMissingVersion),
        ),
        (
            "version not a number",
            ws_request(
                "GET",
                "1.1",
                &WS_FIELDS.replace("Version: 13", "Version: x"),
            ),
            Err(WebSocketMissingVersion),
        ),
        (
            "version 8",
            ws_request(
                "GET",
                "1.1",
                &WS_FIELDS.replace("Version: 13", "Version: 8"),
            ),
            Err(WebSocketUnsupportedVersion),
        ),
        (
            "two protocol lines",
            ws_request(
                "GET",
                "1.1",
                &format!("{WS_FIELDS}Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b\r\n"),
            ),
            Err(WebSocketInvalidProtocol),
        ),
        (
            "empty protocol element",
            ws_request(
                "GET",
                "1.1",
                &format!("{WS_FIELDS}Sec-WebSocket-Protocol: a,,b\r\n"),
            ),
            Err(WebSocketInvalidProtocol),
        ),
        (
            "h2c",
            ws_request(
                "GET",
                "1.1",
                "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n",
            ),
            Ok("h2c AAMAAABkAAQAAP__".into()),
        ),
        (
            "other",
            ws_request("GET", "1.1", "Upgrade: TLS/1.2\r\nConnection: Upgrade\r\n"),
            Ok("other TLS/1.2".into()),
        ),
        (
            "Upgrade without Connection",
            ws_request("GET", "1.1", "Upgrade: TLS/1.2\r\n"),
            Ok("none".into()),
        ),
        (
            "Upgrade in HTTP/1.0",
            b"GET / HTTP/1.0\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n".to_vec(),
            Ok("none".into()),
        ),
        (
            "Connection: upgrade alone",
            ws_request("GET", "1.1", "Connection: Upgrade\r\n"),
            Ok("none".into()),
        ),
        (
            "CONNECT",
            b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n".to_vec(),
            Ok("connect a:443".into()),
        ),
        ("plain", ws_request("GET", "1.1", ""), Ok("none".into())),
    ];
    for (name, buf, want) in &cases {
        assert_eq!(&class(buf), want, "{name}");
    }
}

#[test]
fn websocket_version_error_is_426_with_header() {
    let mut headers = [EMPTY_HEADER; 32];
    let buf = ws_request(
        "GET",
        "1.1",
        &WS_FIELDS.replace("Version: 13", "Version: 8"),
    );
    let e = parse_request(&buf, &mut headers).map(|_| ()).unwrap_err();
    assert_eq!(e.status(), 426);
    let response = std::str::from_utf8(e.response()).unwrap();
    assert!(response.starts_with("HTTP/1.1 426 "));
    assert!(response.contains("\r\nSec-WebSocket-Version: 13\r\n"));
}

fn switch_check(request: &[u8], response: &str) -> Result<(), ErrorKind> {
    let (mut h1, mut h2) = ([EMPTY_HEADER; 32], [EMPTY_HEADER; 32]);
    let Ok(Status::Complete(req)) = parse_request(request, &mut h1) else {
        panic!("request did not parse")
    };
    let Ok(Status::Complete(res)) = parse_response(response.as_bytes(), &mut h2, req.method) else {
        panic!("response did not parse: {response:?}")
    };
    let kind = |e: Error| {
        assert_eq!((e.side(), e.status()), (Side::Response, 502));
        e.kind()
    };
    let borrowed = req.upgrade.check_switch(&res).map_err(kind);
    // The owned expectation, kept after the request head, answers the same.
    let owned = SwitchExpectation::of(&req.upgrade);
    assert_eq!(owned.expects_switch(), req.upgrade.expects_switch());
    assert_eq!(owned.check(&res).map_err(kind), borrowed, "{response:?}");
    borrowed
}

#[test]
fn switching_protocols() {
    let ws = ws_request("GET", "1.1", WS_FIELDS);
    let ws_proto = ws_request(
        "GET",
        "1.1",
        &format!("{WS_FIELDS}Sec-WebSocket-Protocol: chat, superchat\r\n"),
    );
    let h2c = ws_request(
        "GET",
        "1.1",
        "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n",
    );
    let plain = ws_request("GET", "1.1", "");
    let connect = b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n".to_vec();
    let other = ws_request("GET", "1.1", "Upgrade: IRC/6.9\r\nConnection: Upgrade\r\n");
    let many = ws_request(
        "GET",
        "1.1",
        &format!("{WS_FIELDS}Sec-WebSocket-Protocol: a, bb, ccc, dddd, eeeee, ffffff\r\n"),
    );
    let ok = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n"
    );
    type Case<'a> = (&'a str, &'a [u8], String, Result<(), ErrorKind>);
    let cases: Vec<Case<'_>> = vec![
        ("valid", &ws, format!("{ok}\r\n"), Ok(())),
        (
            "valid, case differs",
            &ws,
            format!(
                "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: upgrade\r\nsec-websocket-accept: {ACCEPT}\r\n\r\n"
            ),
            Ok(()),
        ),
        (
            "offered protocol",
            &ws_proto,
            format!("{ok}Sec-WebSocket-Protocol: superchat\r\n\r\n"),
            Ok(()),
        ),
        (
            "protocol not offered",
            &ws_proto,
            format!("{ok}Sec-WebSocket-Protocol: other\r\n\r\n"),
            Err(SwitchProtocolNotOffered),
        ),
        (
            "protocol with none offered",
            &ws,
            format!("{ok}Sec-WebSocket-Protocol: chat\r\n\r\n"),
            Err(SwitchProtocolNotOffered),
        ),
        (
            "wrong accept",
            &ws,
            ok.replace(ACCEPT, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=") + "\r\n",
            Err(SwitchAcceptMismatch),
        ),
        (
            "missing accept",
            &ws,
            ok.replace(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n"), "") + "\r\n",
            Err(SwitchAcceptMismatch),
        ),
        (
            "two accepts",
            &ws,
            format!("{ok}Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n"),
            Err(SwitchAcceptMismatch),
        ),
        (
            "wrong upgrade",
            &ws,
            ok.replace("Upgrade: websocket", "Upgrade: h2c") + "\r\n",
            Err(SwitchUpgradeMismatch),
        ),
        (
            "no Connection",
            &ws,
            ok.replace("Connection: Upgrade\r\n", "") + "\r\n",
            Err(SwitchMissingConnectionUpgrade),
        ),
        (
            "not 101",
            &ws,
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".into(),
            Err(NotSwitchingProtocols),
        ),
        (
            "101 to a plain request",
            &plain,
            format!("{ok}\r\n"),
            Err(UnexpectedSwitch),
        ),
        (
            "h2c",
            &h2c,
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                .into(),
            Ok(()),
        ),
        (
            "h2c answered websocket",
            &h2c,
            format!("{ok}\r\n"),
            Err(SwitchUpgradeMismatch),
        ),
        (
            "101 to CONNECT",
            &connect,
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                .into(),
            Err(UnexpectedSwitch),
        ),
        (
            "other protocol",
            &other,
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: irc/6.9\r\n\r\n"
                .into(),
            Ok(()),
        ),
        (
            "other protocol answered h2c",
            &other,
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                .into(),
            Err(SwitchUpgradeMismatch),
        ),
        (
            "other protocol, no Upgrade",
            &other,
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n".into(),
            Err(SwitchUpgradeMismatch),
        ),
        (
            "sixth of six offered",
            &many,
            format!("{ok}Sec-WebSocket-Protocol: ffffff\r\n\r\n"),
            Ok(()),
        ),
        (
            "a prefix of an offered one",
            &many,
            format!("{ok}Sec-WebSocket-Protocol: ffff\r\n\r\n"),
            Err(SwitchProtocolNotOffered),
        ),
        (
            "two offered names joined",
            &many,
            format!("{ok}Sec-WebSocket-Protocol: a,bb\r\n\r\n"),
            Err(SwitchProtocolNotOffered),
        ),
        (
            "empty protocol",
            &ws_proto,
            format!("{ok}Sec-WebSocket-Protocol: \r\n\r\n"),
            Err(SwitchProtocolNotOffered),
        ),
        (
            "two protocol fields",
            &ws_proto,
            format!("{ok}Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n"),
            Err(SwitchProtocolNotOffered),
        ),
    ];
    for (name, req, res, want) in &cases {
        assert_eq!(&switch_check(req, res), want, "{name}");
    }
}

/// The owned expectation keeps 64 bytes of names: past that, names that did not fit are not
/// checked (a chosen one must still be a token); those that fit still are.
#[test]
fn switch_expectation_with_long_names() {
    let long: Vec<String> = (0..12).map(|i| format!("proto-{i:02}")).collect();
    let ws = ws_request(
        "GET",
        "1.1",
        &format!("{WS_FIELDS}Sec-WebSocket-Protocol: {}\r\n", long.join(", ")),
    );
    let other_token = format!("X{}", "y".repeat(80));
    let other = ws_request(
        "GET",
        "1.1",
        &format!("Upgrade: {other_token}\r\nConnection: Upgrade\r\n"),
    );
    let ok = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n"
    );
    let owned = |req: &[u8], res: &str| {
        let (mut h1, mut h2) = ([EMPTY_HEADER; 32], [EMPTY_HEADER; 32]);
        let Ok(Status::Complete(req)) = parse_request(req, &mut h1) else {
            panic!("request did not parse")
        };
        let expect = SwitchExpectation::of(&req.upgrade);
        let Ok(Status::Complete(res)) = parse_response(res.as_bytes(), &mut h2, "GET") else {
            panic!("response did not parse: {res:?}")
        };
        (
            expect.check(&res).map_err(|e| e.kind()),
            req.upgrade.check_switch(&res).map_err(|e| e.kind()),
        )
    };
    let chosen = |p: &str| format!("{ok}Sec-WebSocket-Protocol: {p}\r\n\r\n");
    // The first six names (6 * 8 + 5 separators = 53 bytes) fit.
    assert_eq!(owned(&ws, &chosen("proto-00")), (Ok(()), Ok(())));
    assert_eq!(owned(&ws, &chosen("proto-11")), (Ok(()), Ok(())));
    assert_eq!(
        owned(&ws, &chosen("proto-99")),
        (Ok(()), Err(SwitchProtocolNotOffered)),
        "not kept: not checked"
    );
    assert_eq!(
        owned(&ws, &chosen("a b")),
        (Err(SwitchProtocolNotOffered), Err(SwitchProtocolNotOffered)),
        "still a token"
    );
    let switch_to =
        |p: &str| format!("HTTP/1.1 101 OK\r\nConnection: upgrade\r\nUpgrade: {p}\r\n\r\n");
    assert_eq!(owned(&other, &switch_to(&other_token)), (Ok(()), Ok(())));
    assert_eq!(
        owned(&other, &switch_to("h2c")),
        (Ok(()), Err(SwitchUpgradeMismatch))
    );
    assert_eq!(
        owned(&other, "HTTP/1.1 101 OK\r\nConnection: upgrade\r\n\r\n"),
        (Err(SwitchUpgradeMismatch), Err(SwitchUpgradeMismatch))
    );
}

#[test]
fn accept_matches_rfc_and_other_keys() {
    assert_eq!(&websocket_accept(KEY.as_bytes()), ACCEPT.as_bytes());
    // Cross-checked with Python: base64(sha1(b"x3JJHMbDL1EzLkh9GBhXDw==" + GUID)).
    assert_eq!(
        &websocket_accept(b"x3JJHMbDL1EzLkh9GBhXDw=="),
        b"HSmrc0sMlYUkAGmm5OPpG2HaGWk="
    );
}

fn response_outcome(buf: &[u8], method: &str) -> Result<(Framing, bool), ErrorKind> {
    let mut headers = [EMPTY_HEADER; 32];
    match parse_response(buf, &mut headers, method) {
        Ok(Status::Complete(res)) => Ok((res.framing, res.keep_alive)),
        Ok(Status::Partial) => panic!("partial"),
        Err(e) => {
            assert_eq!(e.status(), 502);
            Err(e.kind())
        }
    }
}

#[test]
fn responses() {
    type Case<'a> = (
        &'a str,
        &'a [u8],
        &'a str,
        Result<(Framing, bool), ErrorKind>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
            "GET",
            Ok((Framing::Length(3), true)),
        ),
        (
            "chunked",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET",
            Ok((Framing::Chunked, true)),
        ),
        (
            "gzip only: close-delimited",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "GET",
            Ok((Framing::CloseDelimited, false)),
        ),
        (
            "nothing: close-delimited",
            b"HTTP/1.1 200 OK\r\n\r\n",
            "GET",
            Ok((Framing::CloseDelimited, false)),
        ),
        (
            "HEAD",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
            "HEAD",
            Ok((Framing::None, true)),
        ),
        (
            "204",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            "GET",
            Ok((Framing::None, true)),
        ),
        (
            "304",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
            "GET",
            Ok((Framing::None, true)),
        ),
        (
            "100",
            b"HTTP/1.1 100 Continue\r\n\r\n",
            "POST",
            Ok((Framing::None, true)),
        ),
        (
            "CONNECT 200",
            b"HTTP/1.1 200 Connection Established\r\n\r\n",
            "CONNECT",
            Ok((Framing::None, true)),
        ),
        (
            "CONNECT 407",
            b"HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n",
            "CONNECT",
            Ok((Framing::Length(0), true)),
        ),
        (
            "close",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "GET",
            Ok((Framing::Length(0), false)),
        ),
        (
            "1.0 keep-alive",
            b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n",
            "GET",
            Ok((Framing::Length(0), true)),
        ),
        (
            "1.0 default close",
            b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            "GET",
            Ok((Framing::Length(0), false)),
        ),
        (
            "no reason",
            b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
            "GET",
            Ok((Framing::Length(0), true)),
        ),
        (
            "CL and TE",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET",
            Err(ContentLengthWithTransferEncoding),
        ),
        (
            "conflicting CL",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n",
            "GET",
            Err(ConflictingContentLength),
        ),
        (
            "TE in 1.0",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET",
            Err(TransferEncodingHttp10),
        ),
        (
            "chunked twice",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            "GET",
            Err(ChunkedTwice),
        ),
        (
            "status 2 digits",
            b"HTTP/1.1 20 OK\r\n\r\n",
            "GET",
            Err(InvalidStatusLine),
        ),
        (
            "status 099",
            b"HTTP/1.1 099 OK\r\n\r\n",
            "GET",
            Err(InvalidStatusLine),
        ),
        (
            "status letters",
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            "GET",
            Err(InvalidStatusLine),
        ),
        (
            "version 2",
            b"HTTP/2.0 200 OK\r\n\r\n",
            "GET",
            Err(UnsupportedVersion),
        ),
        (
            "bad version",
            b"HTTX/1.1 200 OK\r\n\r\n",
            "GET",
            Err(InvalidVersion),
        ),
        (
            "control in reason",
            b"HTTP/1.1 200 O\x01K\r\n\r\n",
            "GET",
            Err(InvalidStatusLine),
        ),
        (
            "bare LF",
            b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
            "GET",
            Err(BareLf),
        ),
        (
            "obs-fold",
            b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
            "GET",
            Err(ObsFold),
        ),
        (
            "space before colon",
            b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
            "GET",
            Err(WhitespaceBeforeColon),
        ),
    ];
    for (name, buf, method, want) in &cases {
        assert_eq!(&response_outcome(buf, method), want, "{name}");
    }
}

#[test]
fn keep_alive_decision() {
    let ka = |buf: &[u8]| {
        let mut headers = [EMPTY_HEADER; 16];
        match parse_request(buf, &mut headers) {
            Ok(Status::Complete(req)) => req.keep_alive,
            other => panic!("{other:?}"),
        }
    };
    assert!(ka(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    ));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n"
    ));
    assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"
    ));
}

#[test]
fn token_lists() {
    let list = TokenList::new(b" a, ,B ");
    assert!(list.contains("b") && !list.is_empty());
    assert_eq!(list.iter().count(), 2);
}

#[test]
fn parser_limits_are_per_parser() {
    let mut p = Parser::new();
    p.max_headers(1);
    let mut headers = [EMPTY_HEADER; 8];
    let e = p
        .parse_request(b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\r\n", &mut headers)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.kind(), TooManyHeaders);
}

/// A request for other protocols than WebSocket and h2c may be answered with any protocol it
/// listed (RFC 9110, 7.8): `of_request` keeps them all, where `of` (and the borrowed check)
/// knows only the first.
#[test]
fn a_switch_to_any_protocol_listed_is_accepted() {
    let request = ws_request(
        "GET",
        "1.1",
        "Upgrade: foo, bar/2\r\nConnection: Upgrade\r\n",
    );
    let mut headers = [EMPTY_HEADER; 32];
    let Ok(Status::Complete(req)) = parse_request(&request, &mut headers) else {
        panic!("request did not parse")
    };
    let expect = SwitchExpectation::of_request(&req);
    for (upgrade, ok) in [
        ("foo", true),
        ("bar/2", true),
        ("BAR/2", true),
        ("baz", false),
    ] {
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: {upgrade}\r\n\r\n"
        );
        let mut h = [EMPTY_HEADER; 32];
        let Ok(Status::Complete(res)) = parse_response(response.as_bytes(), &mut h, req.method)
        else {
            panic!("response did not parse")
        };
        assert_eq!(expect.check(&res).is_ok(), ok, "{upgrade}");
    }
}
