//! End-to-end routing on loopback sockets: real HTTP and WebSocket clients through the gateway.

mod common;

use common::*;
use futures_util::SinkExt as _;
use gangway::prelude::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn seed_gateway(web: std::net::SocketAddr, ws: std::net::SocketAddr) -> GatewayHandle {
    let ws = Backend::new("ws").server(Server::at(ws).name("ws1"));
    let web = Backend::new("web").server(Server::at(web).name("www1"));
    start(
        local()
            .route(
                "path_beg /ws || hdr(Upgrade) -i websocket".parse().unwrap(),
                &ws,
            )
            .default_backend(&web),
    )
    .await
}

#[tokio::test]
async fn hyper_client_gets_the_web_backend_with_forwarding_headers() {
    let web = http_server("www1").await;
    let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0")
        .await
        .unwrap();
    let gw = seed_gateway(web.addr, chat.addr()).await;

    let stream = TcpStream::connect(gw.local_addr()).await.unwrap();
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(conn);
    for path in ["/", "/index.html", "/a?b=c"] {
        let req = hyper::Request::get(path)
            .header("Host", "example.com")
            .header("X-Forwarded-For", "203.0.113.7")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let res = sender.send_request(req).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-server"], "www1");
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(body, format!("www1 {path}\n").as_bytes());
    }
    assert_eq!(web.requests(), 3);
    // One client connection, reused by hyper; the server side is pooled too.
    assert_eq!(web.connections(), 1);
    let head = web.last_head();
    assert!(
        head.contains("X-Forwarded-For: 203.0.113.7, 127.0.0.1\r\n"),
        "{head}"
    );
    assert!(head.contains("X-Forwarded-Proto: http\r\n"), "{head}");
    gw.shutdown().await;
}

#[tokio::test]
async fn websocket_client_reaches_the_websocket_backend() {
    let web = http_server("www1").await;
    let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0")
        .await
        .unwrap();
    let gw = seed_gateway(web.addr, chat.addr()).await;

    let url = format!("ws://{}/ws/echo", gw.local_addr());
    let (mut a, res) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_eq!(res.status(), 101);
    let (mut b, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    a.send(Message::text("hello")).await.unwrap();
    for ws in [&mut a, &mut b] {
        let msg = next_message(ws).await;
        assert_eq!(msg, Message::text("Received: hello"));
    }
    // Large binary frames go through the tunnel too.
    let big = "x".repeat(200_000);
    b.send(Message::text(big.clone())).await.unwrap();
    let msg = next_message(&mut a).await;
    assert_eq!(
        msg.into_text().unwrap().as_str(),
        format!("Received: {big}")
    );
    a.close(None).await.unwrap();
    assert_eq!(
        web.requests(),
        0,
        "no WebSocket traffic reaches the web backend"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn keep_alive_get_get_upgrade_is_routed_per_request() {
    let web = http_server("www1").await;
    let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0")
        .await
        .unwrap();
    let gw = seed_gateway(web.addr, chat.addr()).await;

    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    for path in ["/one", "/two"] {
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (status, _, body) = read_response(&mut s, &mut buf).await;
        assert_eq!(status, 200);
        assert_eq!(body, format!("www1 {path}\n").as_bytes());
    }
    // Now an upgrade on the same connection: it must go to the WebSocket backend.
    s.write_all(b"GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").await.unwrap();
    let (status, head, _) = read_response(&mut s, &mut buf).await;
    assert_eq!(status, 101, "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    assert!(buf.is_empty());
    // Speak WebSocket on the raw stream from here on.
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        s,
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    ws.send(Message::text("after two gets")).await.unwrap();
    let msg = next_message(&mut ws).await;
    assert_eq!(msg, Message::text("Received: after two gets"));
    assert_eq!(web.requests(), 2);
    gw.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let web = http_server("www1").await;
    let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0")
        .await
        .unwrap();
    let gw = seed_gateway(web.addr, chat.addr()).await;
    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    let mut batch = Vec::new();
    for i in 0..10 {
        batch.extend_from_slice(format!("GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    batch.extend_from_slice(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /last HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(&batch).await.unwrap();
    let mut buf = Vec::new();
    for i in 0..10 {
        let (status, _, body) = read_response(&mut s, &mut buf).await;
        assert_eq!(status, 200);
        assert_eq!(body, format!("www1 /p{i}\n").as_bytes());
    }
    let (_, _, body) = read_response(&mut s, &mut buf).await;
    assert_eq!(body, b"hello");
    let (_, _, body) = read_response(&mut s, &mut buf).await;
    assert_eq!(body, b"www1 /last\n");
    gw.shutdown().await;
}

#[tokio::test]
async fn chunked_and_large_bodies_stream_both_ways() {
    let web = http_server("www1").await;
    let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0")
        .await
        .unwrap();
    let gw = seed_gateway(web.addr, chat.addr()).await;
    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    let mut buf = Vec::new();

    // Chunked request body, echoed back.
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n").await.unwrap();
    let (status, _, body) = read_response(&mut s, &mut buf).await;
    assert_eq!(status, 200);
    assert_eq!(body, b"Wikipedia");

    // Chunked response body.
    s.write_all(b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (_, head, body) = read_response(&mut s, &mut buf).await;
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    assert_eq!(body, b"hello, world");

    // 8 MiB response and 3 MiB request body.
    s.write_all(b"GET /big/8388608 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (_, _, body) = read_response(&mut s, &mut buf).await;
    assert_eq!(body.len(), 8 << 20);
    assert!(
        body.iter()
            .enumerate()
            .all(|(i, &b)| b == b'a' + (i % 26) as u8)
    );
    let upload: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
    s.write_all(
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            upload.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    s.write_all(&upload).await.unwrap();
    let (_, _, body) = read_response(&mut s, &mut buf).await;
    assert!(body == upload, "echoed body differs");

    // HEAD and 204 carry no body even though the server sets Content-Length.
    s.write_all(b"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (status, head, _) = read_head_only(&mut s, &mut buf).await;
    assert_eq!(status, 200, "{head}");
    let (status, _, _) = read_head_only(&mut s, &mut buf).await;
    assert_eq!(status, 204);
    let (_, _, body) = read_response(&mut s, &mut buf).await;
    assert_eq!(body, b"www1 /after\n");
    gw.shutdown().await;
}

/// Reads a response head whose body is known to be empty (HEAD, 204).
async fn read_head_only(s: &mut TcpStream, buf: &mut Vec<u8>) -> (u16, String, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).to_string();
            buf.drain(..end + 4);
            let status = head[9..12].parse().unwrap();
            return (status, head, Vec::new());
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn demo_page_and_health_through_the_gateway() {
    let page = gangway::demo::serve_page("127.0.0.1:0").await.unwrap();
    let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0")
        .await
        .unwrap();
    let gw = seed_gateway(page.addr(), chat.addr()).await;
    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    s.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, head, _) = read_response_to(&mut s, &mut buf, "HEAD").await;
    assert_eq!(status, 200, "{head}");
    let (status, _, body) = read_response(&mut s, &mut buf).await;
    assert_eq!(status, 200);
    assert_eq!(body, gangway::demo::INDEX_HTML.as_bytes());
    let (status, _, body) = read_response(&mut s, &mut buf).await;
    assert_eq!((status, body.as_slice()), (200, &b"OK\n"[..]));
    gw.shutdown().await;
}
