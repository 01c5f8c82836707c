//! HTTP/1 details through the gateway: smuggling attempts, 1xx, HTTP/1.0, timeouts, rules,
//! PROXY protocol, IPv6, metrics.

mod common;

use std::time::Duration;

use common::*;
use gangway::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn simple_gateway(web: &TestServer) -> GatewayHandle {
    let b = Backend::new("web").server(Server::at(web.addr).name("www"));
    start(local().default_backend(&b)).await
}

#[tokio::test]
async fn smuggling_attempts_get_4xx_and_never_reach_a_server() {
    let web = http_server("www").await;
    let gw = simple_gateway(&web).await;
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(20_000));
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
        "X-A: b\r\n".repeat(200)
    );
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        ("CL and TE", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), &[400]),
        ("TE and CL", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n".to_vec(), &[400]),
        ("two different CL", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde".to_vec(), &[400]),
        ("CL list", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 5\r\n\r\nabcde".to_vec(), &[400]),
        ("signed CL", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd".to_vec(), &[400]),
        ("hex CL", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x4\r\n\r\nabcd".to_vec(), &[400]),
        ("space before colon", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n".to_vec(), &[400]),
        ("obs-fold TE", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n".to_vec(), &[400]),
        ("unknown coding", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n".to_vec(), &[400, 501]),
        ("chunked not last", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n".to_vec(), &[400]),
        ("chunked twice", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), &[400]),
        ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), &[400]),
        ("bare LF", b"GET / HTTP/1.1\nHost: x\n\n".to_vec(), &[400]),
        ("bare CR in value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n".to_vec(), &[400]),
        ("NUL in value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n".to_vec(), &[400]),
        ("space in name", b"GET / HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n".to_vec(), &[400]),
        ("two Host", b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n".to_vec(), &[400]),
        ("no Host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), &[400]),
        // Routed by Host, served by the target's authority: the two must agree.
        ("absolute-form naming another host", b"GET http://admin.internal/secret HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), &[400]),
        ("CONNECT naming another host", b"CONNECT internal:22 HTTP/1.1\r\nHost: x:443\r\n\r\n".to_vec(), &[400]),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), &[400, 505]),
        ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n".to_vec(), &[400, 505]),
        ("URI too long", long_uri.into_bytes(), &[414, 431]),
        ("too many headers", many_headers.into_bytes(), &[431]),
    ];
    for (name, bytes, allowed) in &cases {
        let out = raw_exchange(gw.local_addr(), bytes, Duration::from_secs(10)).await;
        let status = status_of(&out);
        assert!(
            allowed.contains(&status),
            "{name}: got {:?}",
            String::from_utf8_lossy(&out)
        );
        assert!(
            String::from_utf8_lossy(&out).contains("Connection: close"),
            "{name} closes"
        );
    }
    assert_eq!(web.requests(), 0, "no smuggling attempt reached the server");

    // A bad chunk inside a body: the bytes after it are never taken as a request.
    let out = raw_exchange(
        gw.local_addr(),
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        !String::from_utf8_lossy(&out).contains("200 OK"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        !web.state
            .heads
            .lock()
            .unwrap()
            .iter()
            .any(|h| h.contains("/smuggled"))
    );

    // Naming Content-Length in Connection must not strip it (the body would become a request).
    let inner = "GET /smuggled2 HTTP/1.1\r\nHost: x\r\n\r\n";
    let outer = format!(
        "POST /b HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Content-Length\r\nContent-Length: {}\r\n\r\n{inner}GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        inner.len()
    );
    let out = raw_exchange(gw.local_addr(), outer.as_bytes(), Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.ends_with("www /after\n"), "{text}");
    let heads = web.state.heads.lock().unwrap().clone();
    assert!(
        !heads.iter().any(|h| h.starts_with("GET /smuggled2")),
        "{heads:?}"
    );
    assert!(
        heads
            .iter()
            .any(|h| h.starts_with("POST /b") && h.contains("Content-Length: ")),
        "{heads:?}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn expect_100_continue_passes_through_in_order() {
    let web = http_server("www").await;
    let gw = simple_gateway(&web).await;
    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let (status, _, _) = read_response(&mut s, &mut buf).await;
    assert_eq!(status, 100);
    s.write_all(b"hello").await.unwrap();
    let (status, _, body) = read_response(&mut s, &mut buf).await;
    assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
    gw.shutdown().await;
}

#[tokio::test]
async fn http10_keep_alive_only_when_asked() {
    let web = http_server("www").await;
    let gw = simple_gateway(&web).await;
    let out = raw_exchange(
        gw.local_addr(),
        b"GET /a HTTP/1.0\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.1 200")
            && text.contains("Connection: close")
            && text.ends_with("www /a\n"),
        "{text}"
    );

    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    for p in ["/k1", "/k2"] {
        s.write_all(format!("GET {p} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (status, head, body) = read_response(&mut s, &mut buf).await;
        assert_eq!(status, 200);
        assert!(head.contains("Connection: keep-alive"), "{head}");
        assert_eq!(body, format!("www {p}\n").as_bytes());
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn close_delimited_response_closes_the_client_connection() {
    let web = http_server("www").await;
    let gw = simple_gateway(&web).await;
    let out = raw_exchange(
        gw.local_addr(),
        b"GET /close-delimited HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("Connection: close") && text.ends_with("\r\n\r\nuntil the end"),
        "{text}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn slow_head_gets_408() {
    let web = http_server("www").await;
    let b = Backend::new("web").server(web.addr);
    let gw = start(
        local()
            .timeouts(Timeouts::default().http_request(Duration::from_millis(300)))
            .default_backend(&b),
    )
    .await;
    let out = raw_exchange(
        gw.local_addr(),
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(status_of(&out), 408, "{}", String::from_utf8_lossy(&out));
    assert_eq!(web.requests(), 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn redirect_deny_monitor_and_stats_never_touch_a_backend() {
    let web = http_server("www").await;
    let b = Backend::new("web").server(Server::at(web.addr).name("www"));
    let gw = start(
        local()
            .deny("path_beg /admin".parse().unwrap(), 403)
            .redirect(
                Some("path_beg /old".parse().unwrap()),
                Redirect::prefix("/new").code(301),
            )
            .redirect(
                Some("hdr(host) -i plain.example".parse().unwrap()),
                Redirect::scheme("https"),
            )
            .request_header(None, HeaderAction::set("X-Env", "test"))
            .request_header(None, HeaderAction::delete("X-Secret"))
            .response_header(None, HeaderAction::add("X-Via", "gangway"))
            .monitor_uri("/healthz")
            .monitor_fail_if_down(&b)
            .stats_uri("/metrics")
            .default_backend(&b),
    )
    .await;
    let addr = gw.local_addr();
    let out = raw_exchange(
        addr,
        b"GET /admin/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status_of(&out), 403);
    let out = raw_exchange(
        addr,
        b"GET /old/page?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.1 301") && text.contains("Location: /new/old/page?q=1\r\n"),
        "{text}"
    );
    let out = raw_exchange(
        addr,
        b"GET /p HTTP/1.1\r\nHost: plain.example\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.1 302") && text.contains("Location: https://plain.example/p\r\n"),
        "{text}"
    );
    let (status, body) = get(addr, "/healthz").await;
    assert_eq!((status, body.as_slice()), (200, &b"OK\n"[..]));
    assert_eq!(web.requests(), 0, "rules answered without the backend");

    // Header actions on a forwarded request and its response.
    let out = raw_exchange(
        addr,
        b"GET /h HTTP/1.1\r\nHost: x\r\nX-Secret: s\r\nX-Env: prod\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("X-Via: gangway\r\n"), "{text}");
    let head = web.last_head();
    assert!(
        head.contains("X-Env: test\r\n") && !head.contains("prod") && !head.contains("X-Secret"),
        "{head}"
    );

    // The monitor follows the backend's health.
    gw.set_server_state("web", "www", ServerState::Maint);
    let (status, _) = get(addr, "/healthz").await;
    assert_eq!(status, 503);
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("gangway_frontend_requests_denied_total{frontend=\"gangway\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("gangway_server_up{backend=\"web\",server=\"www\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("gangway_backend_requests_total{backend=\"web\"} 1"),
        "{text}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn proxy_protocol_in_and_out() {
    let web = http_server("www").await;
    web.state
        .expect_proxy
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let b = Backend::new("web").server(Server::at(web.addr).send_proxy(ProxyVersion::V1));
    let gw = Gateway::builder()
        .listener(
            Listener::new("127.0.0.1:0")
                .accept_proxy()
                .forwarded_proto("https"),
        )
        .default_backend(&b)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let out = raw_exchange(
        gw.local_addr(),
        b"PROXY TCP4 203.0.113.9 192.0.2.1 56324 443\r\nGET /pp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(status_of(&out), 200, "{}", String::from_utf8_lossy(&out));
    let head = web.last_head();
    assert!(head.contains("X-Forwarded-For: 203.0.113.9\r\n"), "{head}");
    assert!(head.contains("X-Forwarded-Proto: https\r\n"), "{head}");
    // The port the client connected to, from the PROXY header, not the listener's.
    assert!(head.contains("X-Forwarded-Port: 443\r\n"), "{head}");
    let lines = web.state.proxy_lines.lock().unwrap().clone();
    assert_eq!(lines.len(), 1);
    // The client's addresses from its own PROXY header, destination included.
    assert!(
        lines[0].starts_with("PROXY TCP4 203.0.113.9 192.0.2.1 "),
        "{lines:?}"
    );
    assert!(lines[0].ends_with(" 443"), "{lines:?}");

    // Without a PROXY header the connection is refused service.
    let out = raw_exchange(
        gw.local_addr(),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    gw.shutdown().await;
}

#[tokio::test]
async fn ipv6_listener_and_server() {
    let web = http_server_on("[::1]:0", "v6").await;
    let b = Backend::new("web").server(web.addr);
    let gw = Gateway::builder()
        .listen("[::1]:0")
        .forwarded(true)
        .default_backend(&b)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    assert!(gw.local_addr().is_ipv6());
    let (status, body) = get(gw.local_addr(), "/six").await;
    assert_eq!((status, body.as_slice()), (200, &b"v6 /six\n"[..]));
    let head = web.last_head();
    assert!(
        head.contains("X-Forwarded-For: ::1\r\n")
            && head.contains("Forwarded: for=\"[::1]\";proto=http\r\n"),
        "{head}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn server_close_mode_opens_a_connection_per_request() {
    let web = http_server("www").await;
    let b = Backend::new("web")
        .server(web.addr)
        .mode(ConnectionMode::ServerClose);
    let gw = start(local().default_backend(&b)).await;
    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    for i in 0..3 {
        s.write_all(format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (status, _, _) = read_response(&mut s, &mut buf).await;
        assert_eq!(status, 200);
    }
    assert_eq!(web.connections(), 3);
    assert!(web.last_head().contains("Connection: close\r\n"));
    // The client connection stayed open all along.
    s.write_all(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.unwrap();
    assert!(String::from_utf8_lossy(&rest).ends_with("www /last\n"));
    gw.shutdown().await;
}

#[tokio::test]
async fn forwardfor_options_and_error_files() {
    let web = http_server("www").await;
    let b = Backend::new("web").server(web.addr);
    let mut options = gangway::Options::default();
    options.forward_for_header = "X-Client-IP".into();
    options.forward_for_if_none = true;
    let gw = start(
        local()
            .options(options)
            .deny("path_beg /private".parse().unwrap(), 403)
            .error_file(
                403,
                &b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\nConnection: close\r\n\r\nnope!\n"
                    [..],
            )
            // As in HAProxy, the 200 file answers the monitor URI.
            .monitor_uri("/healthz")
            .error_file(
                200,
                &b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhealthy\n"[..],
            )
            .default_backend(&b),
    )
    .await;
    let addr = gw.local_addr();
    let (status, body) = get(addr, "/healthz").await;
    assert_eq!((status, body.as_slice()), (200, &b"healthy\n"[..]));
    let _ = get(addr, "/a").await;
    assert!(
        web.last_head().contains("X-Client-IP: 127.0.0.1\r\n"),
        "{}",
        web.last_head()
    );
    let _ = raw_exchange(
        addr,
        b"GET /b HTTP/1.1\r\nHost: x\r\nX-Client-IP: 10.1.1.1\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        web.last_head().contains("X-Client-IP: 10.1.1.1\r\n"),
        "if-none keeps it: {}",
        web.last_head()
    );
    let out = raw_exchange(
        addr,
        b"GET /private HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        String::from_utf8_lossy(&out).ends_with("\r\n\r\nnope!\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    gw.shutdown().await;

    // `except` skips trusted networks.
    let mut options = gangway::Options::default();
    options.forward_for_except = Some(("127.0.0.0".parse().unwrap(), 8));
    let gw = start(local().options(options).default_backend(&b)).await;
    let _ = get(gw.local_addr(), "/c").await;
    assert!(
        !web.last_head().contains("X-Forwarded-For"),
        "{}",
        web.last_head()
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn tcp_mode_pipes_connections_with_retries() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    let b = Backend::new("raw")
        .server(refused_addr().await)
        .server(echo)
        .retries(2);
    let gw = start(local().mode(gangway::FrontendMode::Tcp).default_backend(&b)).await;
    for _ in 0..4 {
        let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
        s.write_all(b"not http at all\n").await.unwrap();
        let mut got = [0u8; 16];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got, b"not http at all\n");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn heads_with_many_fields_pass_both_ways() {
    // 60 fields: more than the gateway's first header table, fewer than its limit.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        while !buf.ends_with(b"\r\n\r\n") {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.unwrap();
            assert!(n > 0, "request head incomplete");
            buf.extend_from_slice(&chunk[..n]);
        }
        let fields: String = (0..60).map(|i| format!("X-R{i}: {i}\r\n")).collect();
        let response = format!("HTTP/1.1 200 OK\r\n{fields}Content-Length: 2\r\n\r\nok");
        s.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    });
    let b = Backend::new("raw").server(Server::at(addr));
    let gw = start(local().default_backend(&b)).await;
    let fields: String = (0..60).map(|i| format!("X-Q{i}: {i}\r\n")).collect();
    let request = format!("GET /many HTTP/1.1\r\nHost: x\r\n{fields}Connection: close\r\n\r\n");
    let out = raw_exchange(gw.local_addr(), request.as_bytes(), Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&out);
    assert_eq!(status_of(&out), 200, "{text}");
    assert!(
        text.contains("X-R59: 59\r\n") && text.ends_with("ok"),
        "{text}"
    );
    let seen = server.await.unwrap();
    assert!(
        seen.contains("X-Q0: 0\r\n") && seen.contains("X-Q59: 59\r\n"),
        "{seen}"
    );
}

/// A configured header or redirect can never add a line of its own to a head: values with
/// CR, LF or NUL and names that are not tokens are refused when the gateway is built.
#[test]
fn configured_headers_and_redirects_cannot_inject_lines() {
    let web = Backend::new("web").server("127.0.0.1:9");
    let build = |b: gangway::GatewayBuilder| b.default_backend(&web).build().map(|_| ());
    let base = || Gateway::builder().listen("127.0.0.1:0");

    let bad = [
        base().request_header(None, HeaderAction::set("X-Proto", "https\r\nX-Admin: 1")),
        base().response_header(None, HeaderAction::add("X-A", "a\nb")),
        base().request_header(None, HeaderAction::set("X Bad", "1")),
        base().request_header(None, HeaderAction::set("X-Nul", "a\0b")),
        base().redirect(None, Redirect::location("/x\r\nSet-Cookie: a=b")),
    ];
    for (i, b) in bad.into_iter().enumerate() {
        let err = build(b).expect_err("must be refused");
        assert!(
            matches!(err, gangway::Error::InvalidOption(_)),
            "case {i}: {err}"
        );
    }
    let backend_bad = Backend::new("web2")
        .server("127.0.0.1:9")
        .request_header(HeaderAction::set("X-A", "1\r\n"));
    let err = Gateway::builder()
        .listen("127.0.0.1:0")
        .default_backend(&backend_bad)
        .build()
        .map(|_| ())
        .expect_err("backend header must be refused");
    assert!(matches!(err, gangway::Error::InvalidOption(_)), "{err}");

    let good = base()
        .request_header(None, HeaderAction::set("X-Forwarded-Proto", "https"))
        .redirect(None, Redirect::scheme("https"));
    build(good).expect("valid header and redirect");
}

#[tokio::test]
async fn lowercase_connect_and_head_are_ordinary_methods() {
    // Methods are case-sensitive: `connect` and `head` are not CONNECT and HEAD. A 200 to
    // `connect` must not turn the connection into a tunnel past the rules, and the answer
    // to `head` has its body.
    let web = http_server("www").await;
    let b = Backend::new("web").server(Server::at(web.addr).name("www"));
    let gw = start(
        local()
            .deny("path_beg /admin".parse().unwrap(), 403)
            .default_backend(&b),
    )
    .await;
    let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    c.write_all(b"connect /x HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, _, body) = read_response(&mut c, &mut buf).await;
    assert_eq!((status, body.as_slice()), (200, &b"www /x\n"[..]));
    c.write_all(b"head /y HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, _, body) = read_response(&mut c, &mut buf).await;
    assert_eq!((status, body.as_slice()), (200, &b"www /y\n"[..]));
    // Still HTTP: the rules see the next request.
    c.write_all(b"GET /admin HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, _, _) = read_response(&mut c, &mut buf).await;
    assert_eq!(status, 403);
    assert_eq!(web.requests(), 2);
    gw.shutdown().await;
}

#[tokio::test]
async fn head_to_the_monitor_and_stats_uris_gets_no_body() {
    let web = http_server("www").await;
    let b = Backend::new("web").server(Server::at(web.addr).name("www"));
    let gw = start(
        local()
            .monitor_uri("/healthz")
            .stats_uri("/metrics")
            .default_backend(&b),
    )
    .await;
    for path in ["/healthz", "/metrics"] {
        // A HEAD, then a GET on the same connection: the GET's answer must follow the
        // HEAD's head directly.
        let request = format!(
            "HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        let out = raw_exchange(gw.local_addr(), request.as_bytes(), Duration::from_secs(20)).await;
        let text = String::from_utf8_lossy(&out);
        let (head, rest) = text.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.1 200"), "{text}");
        assert!(
            !head.contains("Content-Length: 0\r\n"),
            "the GET's length: {head}"
        );
        assert!(rest.starts_with("HTTP/1.1 200"), "{path}: {text}");
        assert!(rest.ends_with("www /next\n"), "{path}: {text}");
    }
    gw.shutdown().await;
}

/// The length of the response head at the start of `out`, as an HTTP/1 client reads it.
fn head_len(out: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    match httparse::Response::new(&mut headers).parse(out) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!("no head: {other:?} in {:?}", String::from_utf8_lossy(out)),
    }
}

#[tokio::test]
async fn head_gets_only_the_head_of_an_errorfile_with_bare_lf_lines() {
    // Error files written with LF line ends: a client reads the head up to the first empty
    // line, so a HEAD must get nothing past it (a body would be read as the next response).
    let dead = refused_addr().await;
    let b = Backend::new("web").server(dead).retries(0);
    let gw = start(
        local()
            .deny("path_beg /private".parse().unwrap(), 403)
            .error_file(
                403,
                &b"HTTP/1.1 403 Forbidden\nContent-Length: 6\nConnection: close\n\nnope!\n"[..],
            )
            .monitor_uri("/healthz")
            .error_file(
                200,
                &b"HTTP/1.1 200 OK\nContent-Length: 8\nCache-Control: no-cache\n\nhealthy\n"[..],
            )
            .error_file(
                503,
                &b"HTTP/1.1 503 Service Unavailable\nContent-Length: 5\n\ndown\n\r\n\r\n"[..],
            )
            .default_backend(&b),
    )
    .await;
    let addr = gw.local_addr();
    // The monitor answer (kept alive): the GET's answer follows the HEAD's head directly.
    let out = raw_exchange(
        addr,
        b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(20),
    )
    .await;
    let first = head_len(&out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK\n"), "{text}");
    let rest = &text[first..];
    assert!(rest.starts_with("HTTP/1.1 200 OK\n"), "{text}");
    assert!(rest.ends_with("\n\nhealthy\n"), "{text}");
    // A denial and a gateway error (no server): the head alone, then the connection closes.
    for (request, status) in [
        (&b"HEAD /private HTTP/1.1\r\nHost: x\r\n\r\n"[..], "403"),
        (&b"HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n"[..], "503"),
    ] {
        let out = raw_exchange(addr, request, Duration::from_secs(20)).await;
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
        assert_eq!(head_len(&out), out.len(), "nothing after the head: {text}");
    }
    // A GET still gets the whole file.
    let out = raw_exchange(
        addr,
        b"GET /private HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(20),
    )
    .await;
    assert!(
        out.ends_with(b"\n\nnope!\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    gw.shutdown().await;
}

/// A server that answers the first request on each connection and closes the connection
/// without answering the second; it records every request line.
async fn answers_once_per_connection() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                for n in 0.. {
                    let end = loop {
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break end;
                        }
                        let mut chunk = [0u8; 4096];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    buf.drain(..end + 4);
                    let line = head.lines().next().unwrap_or_default();
                    log.lock().unwrap().push(line.to_string());
                    if n > 0 {
                        return;
                    }
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await;
                }
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn only_idempotent_requests_are_sent_again_after_a_reused_connection_closes() {
    let (addr, seen) = answers_once_per_connection().await;
    let b = Backend::new("web").server(Server::at(addr).name("once"));
    let gw = start(local().default_backend(&b)).await;
    let count = |line: &str| seen.lock().unwrap().iter().filter(|l| *l == line).count();

    // A POST on a reused connection that the server closes unanswered: it may have acted on
    // it, so it is not sent again; the client gets a 502.
    let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    c.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut c, &mut buf).await.0, 200);
    c.write_all(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut c, &mut buf).await.0, 502);
    assert_eq!(count("POST /b HTTP/1.1"), 1, "{:?}", seen.lock().unwrap());

    // A GET in the same place is sent again on a new connection, and answered.
    let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    c.write_all(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut c, &mut buf).await.0, 200);
    c.write_all(b"GET /d HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut c, &mut buf).await.0, 200);
    assert_eq!(count("GET /d HTTP/1.1"), 2, "{:?}", seen.lock().unwrap());
    gw.shutdown().await;
}

#[tokio::test]
async fn an_upload_longer_than_the_server_timeout_still_gets_its_answer() {
    // `timeout server` is inactivity on the server side: a server reading a long upload is
    // busy, and the wait for its answer counts from the end of the upload.
    let web = http_server("www").await;
    let b = Backend::new("web").server(Server::at(web.addr).name("www"));
    let gw = start(
        local()
            .timeouts(Timeouts::default().server(Duration::from_millis(300)))
            .default_backend(&b),
    )
    .await;
    let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
    let chunk = [b'u'; 100];
    c.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        .await
        .unwrap();
    // Ten pieces 150 ms apart: the upload takes about 1.5 s, five times the server timeout.
    for _ in 0..10 {
        c.write_all(&chunk).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let mut buf = Vec::new();
    let (status, _, body) = read_response(&mut c, &mut buf).await;
    assert_eq!(status, 200);
    assert_eq!(body, vec![b'u'; 1000]);
    gw.shutdown().await;
}

#[tokio::test]
async fn repeated_lengths_go_once() {
    let web = http_server("www").await;
    let gw = simple_gateway(&web).await;
    let addr = gw.local_addr();
    for request in [
        &b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"[..],
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\nConnection: close\r\n\r\nhello",
    ] {
        let out = raw_exchange(addr, request, Duration::from_secs(20)).await;
        assert_eq!(status_of(&out), 200, "{}", String::from_utf8_lossy(&out));
        let head = web.last_head();
        assert_eq!(head.matches("Content-Length").count(), 1, "{head}");
        assert!(head.contains("Content-Length: 5\r\n"), "{head}");
    }
    gw.shutdown().await;
}

/// An HTTP/2 upgrade is not offered to servers (as HAProxy's mux_h1 drops it): the request
/// goes on as a plain one, and a server answering 101 anyway gets its client a 502, not a
/// tunnel in which HTTP/2 requests would pass past the rules.
#[tokio::test]
async fn h2c_upgrades_are_not_offered_to_servers() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = l.local_addr().unwrap();
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = heads.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let Some(head) = read_head(&mut s).await else {
                    return;
                };
                let mut chunk = [0u8; 4096];
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = s
                    .write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
                    .await;
                let _ = s.read(&mut chunk).await;
            });
        }
    });
    let b = Backend::new("web").server(server);
    let gw = start(local().default_backend(&b)).await;
    for upgrade in ["h2c", "H2C", "foo/1, h2c", "h2"] {
        let request = format!(
            "GET /h2 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: {upgrade}\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
        );
        let out = raw_exchange(gw.local_addr(), request.as_bytes(), Duration::from_secs(20)).await;
        assert_eq!(
            status_of(&out),
            502,
            "{upgrade}: {}",
            String::from_utf8_lossy(&out)
        );
        let head = heads.lock().unwrap().last().cloned().unwrap_or_default();
        assert!(head.starts_with("GET /h2 HTTP/1.1\r\n"), "{head}");
        let lower = head.to_ascii_lowercase();
        assert!(
            !lower.contains("upgrade") && !lower.contains("http2-settings"),
            "{upgrade}: {head}"
        );
    }
    gw.shutdown().await;
    task.abort();
}

#[tokio::test]
async fn a_connection_that_sent_a_proxy_header_is_not_reused_for_another_client() {
    let web = http_server("www").await;
    web.state
        .expect_proxy
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let b = Backend::new("web").server(Server::at(web.addr).send_proxy(ProxyVersion::V1));
    let gw = start(local().default_backend(&b)).await;
    // Two clients, one after the other (each from its own port): each gets its own server
    // connection, with its own PROXY header, not the first client's.
    for _ in 0..2 {
        let (status, _) = get(gw.local_addr(), "/p").await;
        assert_eq!(status, 200);
    }
    let lines = web.state.proxy_lines.lock().unwrap().clone();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(web.connections(), 2);
    // `PROXY TCP4 SRC DST SPORT DPORT`: the two clients' source ports differ.
    let port = |line: &str| line.split(' ').nth(4).unwrap_or_default().to_string();
    assert_ne!(port(&lines[0]), port(&lines[1]), "{lines:?}");
    gw.shutdown().await;
}

#[test]
fn header_names_and_values_the_gateway_writes_are_checked_at_build() {
    // (forward_for_header, forwarded_proto, the error's mention or None when it builds)
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        ("X-Forwarded-For", None, None),
        ("X-Real-IP", Some("https"), None),
        ("X-Client", Some("wss+x-1.0"), None),
        (
            "X-A\r\nX-B: 1",
            None,
            Some(r#""X-A\r\nX-B: 1" is not an HTTP header name"#),
        ),
        ("", None, Some(r#""" is not an HTTP header name"#)),
        ("X A", None, Some(r#""X A" is not an HTTP header name"#)),
        (
            "Content-Length",
            None,
            Some(r#""Content-Length" names a header the gateway writes"#),
        ),
        (
            "host",
            None,
            Some(r#""host" names a header the gateway writes"#),
        ),
        (
            "X-Real-IP",
            Some("https\r\nX-B: 1"),
            Some(r#"forwarded_proto "https\r\nX-B: 1""#),
        ),
        ("X-Real-IP", Some(""), Some(r#"forwarded_proto """#)),
        (
            "X-Real-IP",
            Some("1http"),
            Some(r#"forwarded_proto "1http""#),
        ),
    ];
    for &(header, proto, expected) in cases {
        let mut options = gangway::Options::default();
        options.forward_for_header = header.to_owned();
        let mut listener = Listener::new("127.0.0.1:0");
        if let Some(proto) = proto {
            listener = listener.forwarded_proto(proto);
        }
        let web = Backend::new("web").server("127.0.0.1:1");
        let built = Gateway::builder()
            .listener(listener)
            .options(options)
            .default_backend(&web)
            .build();
        match (built, expected) {
            (Ok(_), None) => {}
            (Err(error), Some(mention)) => {
                let message = error.to_string();
                assert!(message.contains(mention), "{header:?} {proto:?}: {message}");
            }
            (Ok(_), Some(_)) => panic!("{header:?} {proto:?}: built"),
            (Err(error), None) => panic!("{header:?} {proto:?}: {error}"),
        }
    }
}

/// The forwarding header is written after the header rules (as HAProxy adds it after its
/// `http-request` rules): a rule that deletes or sets it replaces what the client sent.
#[tokio::test]
async fn forwarded_for_comes_after_the_header_rules() {
    let web = http_server("www").await;
    let b = Backend::new("web").server(web.addr);
    let spoofed =
        "GET /x HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n";
    // (rule, if-none, request, the X-Forwarded-For lines the server must see)
    let cases: &[(Option<HeaderAction>, bool, &str, &[&str])] = &[
        (None, false, spoofed, &["6.6.6.6, 127.0.0.1"]),
        (None, true, spoofed, &["6.6.6.6"]),
        (
            Some(HeaderAction::delete("x-forwarded-for")),
            false,
            spoofed,
            &["127.0.0.1"],
        ),
        (
            Some(HeaderAction::delete("X-Forwarded-For")),
            true,
            spoofed,
            &["127.0.0.1"],
        ),
        (
            Some(HeaderAction::set("X-Forwarded-For", "10.0.0.1")),
            false,
            spoofed,
            &["10.0.0.1, 127.0.0.1"],
        ),
        (
            Some(HeaderAction::set("X-Forwarded-For", "10.0.0.1")),
            true,
            spoofed,
            &["10.0.0.1"],
        ),
        (
            Some(HeaderAction::add("X-Forwarded-For", "10.0.0.2")),
            false,
            spoofed,
            &["6.6.6.6, 10.0.0.2, 127.0.0.1"],
        ),
        // A client cannot have its own value kept by naming it in Connection.
        (
            None,
            true,
            "GET /x HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close, X-Forwarded-For\r\n\r\n",
            &["127.0.0.1"],
        ),
    ];
    for (i, (rule, if_none, request, want)) in cases.iter().enumerate() {
        let mut options = gangway::Options::default();
        options.forward_for_if_none = *if_none;
        let mut builder = local().options(options).default_backend(&b);
        if let Some(rule) = rule {
            builder = builder.request_header(None, rule.clone());
        }
        let gw = start(builder).await;
        let out = raw_exchange(gw.local_addr(), request.as_bytes(), Duration::from_secs(20)).await;
        assert_eq!(status_of(&out), 200, "case {i}");
        let head = web.last_head();
        let lines: Vec<&str> = head
            .lines()
            .filter_map(|l| {
                l.split_once(':')
                    .filter(|(n, _)| n.eq_ignore_ascii_case("x-forwarded-for"))
                    .map(|(_, v)| v.trim())
            })
            .collect();
        assert_eq!(
            lines, *want,
            "case {i} ({rule:?}, if-none {if_none}): {head}"
        );
        gw.shutdown().await;
    }
}

/// A redirect's `Location` is built from the path and query, never from the raw target: an
/// absolute-form target gives its path, `*` gives `/`, and `redirect prefix /` never turns a
/// `//host` path into a link to another host.
#[tokio::test]
async fn redirect_locations_use_the_path_of_any_target_form() {
    let web = http_server("www").await;
    let b = Backend::new("web").server(web.addr);
    let gw = start(
        local()
            .redirect(
                Some("hdr(host) -i plain.example".parse().unwrap()),
                Redirect::scheme("https"),
            )
            .redirect(None, Redirect::prefix("/")),
    )
    .await;
    let cases: &[(&str, &str)] = &[
        (
            "GET http://plain.example/a?q=1 HTTP/1.1\r\nHost: plain.example\r\n",
            "https://plain.example/a?q=1",
        ),
        (
            "OPTIONS * HTTP/1.1\r\nHost: plain.example\r\n",
            "https://plain.example/",
        ),
        (
            "GET //evil.example/x HTTP/1.1\r\nHost: y\r\n",
            "/evil.example/x",
        ),
        (
            "GET ///evil.example HTTP/1.1\r\nHost: y\r\n",
            "/evil.example",
        ),
        ("GET /a//b?c HTTP/1.1\r\nHost: y\r\n", "/a//b?c"),
    ];
    for (head, want) in cases {
        let request = format!("{head}Connection: close\r\n\r\n");
        let out = raw_exchange(gw.local_addr(), request.as_bytes(), Duration::from_secs(20)).await;
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("HTTP/1.1 302") && text.contains(&format!("\r\nLocation: {want}\r\n")),
            "{head:?}: {text}"
        );
    }
    assert_eq!(web.requests(), 0);
    drop(b);
    gw.shutdown().await;
}

/// Header rules cannot touch the headers the gateway writes from the framing and the
/// connection's state (a `del-header Content-Length` would leave the server reading the body
/// as the next request), nor leave a request with no `Host` or two.
#[test]
fn header_rules_cannot_change_framing_headers() {
    let web = Backend::new("web").server("127.0.0.1:9");
    let base = || Gateway::builder().listen("127.0.0.1:0");
    let refused = [
        HeaderAction::delete("Content-Length"),
        HeaderAction::set("content-length", "0"),
        HeaderAction::add("Content-Length", "5"),
        HeaderAction::delete("Transfer-Encoding"),
        HeaderAction::set("Transfer-Encoding", "chunked"),
        HeaderAction::set("Connection", "close"),
        HeaderAction::add("connection", "x-secret"),
        HeaderAction::delete("Upgrade"),
        HeaderAction::set("Upgrade", "websocket"),
        HeaderAction::delete("Host"),
        HeaderAction::add("Host", "other.example"),
    ];
    for action in refused {
        for side in 0..4 {
            let built = match side {
                0 => base()
                    .request_header(None, action.clone())
                    .default_backend(&web)
                    .build(),
                1 => base()
                    .response_header(None, action.clone())
                    .default_backend(&web)
                    .build(),
                2 => base()
                    .default_backend(&web.clone().request_header(action.clone()))
                    .build(),
                _ => base()
                    .default_backend(&web.clone().response_header(action.clone()))
                    .build(),
            };
            let err = built.map(|_| ()).expect_err("must be refused");
            let message = err.to_string();
            assert!(
                matches!(err, gangway::Error::InvalidOption(_)) && message.contains(action.name()),
                "{action:?} side {side}: {message}"
            );
        }
    }
    let allowed = base()
        .request_header(None, HeaderAction::set("Host", "internal.example"))
        .request_header(None, HeaderAction::delete("X-Forwarded-Proto"))
        .response_header(None, HeaderAction::delete("Server"))
        .default_backend(&web);
    allowed.build().expect("Host may be set");
}

/// A malformed chunked request body gets a 400 and the connection closes, when the server
/// has not answered yet (here it never does).
#[tokio::test]
async fn a_malformed_chunked_body_gets_400() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = s.read_to_end(&mut sink).await;
            });
        }
    });
    let b = Backend::new("silent").server(server);
    let gw = start(local().default_backend(&b)).await;
    for body in [
        &b"0x\r\n\r\n"[..],
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX\r\n0\r\n\r\n",
        b"5;a=\"\r\nhello\r\n0\r\n\r\n",
    ] {
        let mut request =
            b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        request.extend_from_slice(body);
        let out = raw_exchange(gw.local_addr(), &request, Duration::from_secs(20)).await;
        let text = String::from_utf8_lossy(&out);
        assert_eq!(
            status_of(&out),
            400,
            "{:?}: {text}",
            String::from_utf8_lossy(body)
        );
        assert!(text.contains("Connection: close\r\n"), "{text}");
    }
    gw.shutdown().await;
    task.abort();
}

/// An interim (1xx) answer loses its hop-by-hop fields like a final one, and gets no
/// http-response rules (HAProxy runs them on the final response only).
#[tokio::test]
async fn interim_answers_lose_hop_by_hop_fields() {
    let server = fixed_answer_server(
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nConnection: X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    )
    .await;
    let b = Backend::new("hints").server(server);
    let gw = start(
        local()
            .response_header(None, HeaderAction::add("X-Via", "gangway"))
            .default_backend(&b),
    )
    .await;
    let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let (status, head, _) = read_response(&mut c, &mut buf).await;
    assert_eq!(status, 103, "{head}");
    assert!(head.contains("Link: </a.css>; rel=preload\r\n"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        !lower.contains("x-hop") && !lower.contains("keep-alive") && !lower.contains("connection"),
        "{head}"
    );
    assert!(!head.contains("X-Via"), "{head}");
    let (status, head, body) = read_response(&mut c, &mut buf).await;
    assert_eq!((status, body.as_slice()), (200, &b"ok"[..]), "{head}");
    assert!(head.contains("X-Via: gangway\r\n"), "{head}");
    drop(c);
    gw.shutdown().await;
}
