//! Head rewriting: hop-by-hop handling, X-Forwarded-*, remove/set/append, CRLF output.

use gangway_h1::{
    ConnectionHeader, EMPTY_HEADER, ErrorKind, Rewrite, Status, is_hop_by_hop, parse_request,
    parse_response,
};

fn rewrite_request(input: &str, configure: impl FnOnce(&mut Rewrite<'_>)) -> String {
    let mut headers = [EMPTY_HEADER; 32];
    let Ok(Status::Complete(req)) = parse_request(input.as_bytes(), &mut headers) else {
        panic!("request rejected: {input:?}")
    };
    let mut rewrite = Rewrite::new();
    configure(&mut rewrite);
    let mut out = Vec::new();
    rewrite.write_request(&req, &mut out).expect("rewrite");
    String::from_utf8(out).expect("ASCII head")
}

#[test]
fn request_rewrites() {
    let ip = "2001:db8::1".parse().unwrap();
    type Configure = Box<dyn Fn(&mut Rewrite<'_>)>;
    let cases: Vec<(&str, &str, Configure, &str)> = vec![
        (
            "hop-by-hop fields dropped",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: 5\r\nProxy-Connection: close\r\nTE: trailers\r\nX-Secret: 1\r\nUpgrade: foo\r\nAccept: */*\r\n\r\n",
            Box::new(|_| {}),
            "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n",
        ),
        (
            "XFF appended to the last line",
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n\r\n",
            Box::new(move |r| {
                r.forwarded_for(ip);
            }),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2, 2001:db8::1\r\n\r\n",
        ),
        (
            "XFF added, proto replaced",
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: http\r\n\r\n",
            Box::new(|r| {
                r.forwarded_for([10, 0, 0, 1].into())
                    .forwarded_proto("https");
            }),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n",
        ),
        (
            "remove, set, append",
            "GET / HTTP/1.1\r\nHost: a\r\nCookie: x\r\nX-Id: old\r\nX-Id: older\r\n\r\n",
            Box::new(|r| {
                r.remove(&["cookie"])
                    .set(&[("X-Id", b"new")])
                    .append(&[("Via", b"1.1 gangway")]);
            }),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Id: new\r\nVia: 1.1 gangway\r\n\r\n",
        ),
        (
            "Connection: close requested",
            "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            Box::new(|r| {
                r.connection(ConnectionHeader::Close);
            }),
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        ),
        (
            "duplicate Content-Length collapsed",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\n",
            Box::new(|_| {}),
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
        ),
        (
            "chunked kept as-is",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            Box::new(|_| {}),
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        ),
        (
            "WebSocket keeps Upgrade",
            "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            Box::new(|r| {
                r.connection(ConnectionHeader::Close);
            }),
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nConnection: upgrade\r\n\r\n",
        ),
        (
            "h2c keeps HTTP2-Settings",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
            Box::new(|_| {}),
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n",
        ),
        (
            "HTTP/1.0 version kept, leading CRLF dropped",
            "\r\nGET / HTTP/1.0\r\n\r\n",
            Box::new(|r| {
                r.connection(ConnectionHeader::KeepAlive);
            }),
            "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        ),
        (
            "Connection cannot strip framing or Host",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: Content-Length, Host, X-A\r\nX-A: 1\r\n\r\n",
            Box::new(|_| {}),
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n",
        ),
        (
            "XFF named in Connection is replaced, not lost",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Forwarded-For\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n",
            Box::new(|r| {
                r.forwarded_for([10, 0, 0, 1].into());
            }),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
        ),
        (
            "XFF removed then added fresh",
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n",
            Box::new(|r| {
                r.remove(&["X-Forwarded-For"])
                    .forwarded_for([10, 0, 0, 1].into());
            }),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
        ),
        (
            "trailing whitespace of values dropped",
            "GET / HTTP/1.1\r\nHost: a \r\nX:\t v \t\r\n\r\n",
            Box::new(|_| {}),
            "GET / HTTP/1.1\r\nHost: a\r\nX: v\r\n\r\n",
        ),
    ];
    for (name, input, configure, want) in cases {
        assert_eq!(rewrite_request(input, |r| configure(r)), want, "{name}");
    }
}

#[test]
fn unsafe_rewrite_values_are_refused() {
    let mut headers = [EMPTY_HEADER; 8];
    let Ok(Status::Complete(req)) =
        parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut headers)
    else {
        panic!()
    };
    let injections: [(&str, &[u8]); 4] = [
        ("X-A", b"1\r\nX-Injected: 2"),
        ("X-A", b"\n"),
        ("X A", b"1"),
        ("", b"1"),
    ];
    for (name, value) in injections {
        let fields = [(name, value)];
        let mut out = Vec::new();
        let e = Rewrite::new()
            .append(&fields)
            .write_request(&req, &mut out)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRewrite);
        assert!(out.is_empty(), "nothing written on error");
    }
    let mut out = Vec::new();
    let e = Rewrite::new()
        .forwarded_proto("https\r\nX: 1")
        .write_request(&req, &mut out);
    assert_eq!(e.map_err(|e| e.kind()), Err(ErrorKind::InvalidRewrite));
}

#[test]
fn response_rewrites() {
    let cases: [(&str, &str, &str); 3] = [
        (
            "hop-by-hop dropped",
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ),
        (
            "101 keeps Upgrade",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nConnection: upgrade\r\n\r\n",
        ),
        (
            "no reason phrase",
            "HTTP/1.0 204\r\n\r\n",
            "HTTP/1.0 204 \r\n\r\n",
        ),
    ];
    for (name, input, want) in cases {
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(res)) = parse_response(input.as_bytes(), &mut headers, "GET")
        else {
            panic!("{name}: rejected")
        };
        let mut out = Vec::new();
        Rewrite::new().write_response(&res, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), want, "{name}");
    }
}

#[test]
fn rewrites_into_bytes_mut() {
    let mut headers = [EMPTY_HEADER; 8];
    let Ok(Status::Complete(req)) =
        parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut headers)
    else {
        panic!()
    };
    let mut out = bytes::BytesMut::with_capacity(64);
    Rewrite::new().write_request(&req, &mut out).unwrap();
    assert_eq!(&out[..], b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(is_hop_by_hop("TE") && !is_hop_by_hop("Transfer-Encoding"));
}
