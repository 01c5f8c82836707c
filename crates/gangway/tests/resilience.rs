//! Failures and limits on loopback sockets: refused servers, dying tunnels, health flaps,
//! maxconn, graceful shutdown.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use gangway::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn refused_server_is_retried_and_redispatched_without_client_errors() {
    let up = http_server("up").await;
    let dead = refused_addr().await;
    let web = Backend::new("web")
        .server(Server::at(dead).name("dead"))
        .server(Server::at(up.addr).name("up"))
        .retries(3)
        .redispatch(true);
    let gw = start(local().default_backend(&web)).await;
    for i in 0..20 {
        let (status, body) = get(gw.local_addr(), &format!("/r{i}")).await;
        assert_eq!(status, 200, "request {i}");
        assert_eq!(body, format!("up /r{i}\n").as_bytes());
    }
    let metrics = gw.metrics_text();
    assert!(
        metrics.contains("gangway_server_connect_errors_total{backend=\"web\",server=\"dead\"}"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("gangway_backend_redispatches_total{backend=\"web\"} 0\n"),
        "{metrics}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn no_server_at_all_gives_a_small_503() {
    let dead = refused_addr().await;
    let web = Backend::new("web").server(dead).retries(1);
    let gw = start(local().default_backend(&web)).await;
    let out = raw_exchange(
        gw.local_addr(),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    assert!(text.len() < 400, "small body: {text}");
    assert!(
        !text.contains("127.0.0.1"),
        "no internal detail leaks: {text}"
    );
    gw.shutdown().await;
}

/// A WebSocket-ish server: answers the upgrade with a valid 101 (after a `100 Continue` when
/// asked), echoes bytes, and drops the connection when told to.
async fn tunnel_server(interim: bool) -> (std::net::SocketAddr, Arc<tokio::sync::Notify>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let kill = Arc::new(tokio::sync::Notify::new());
    let k = kill.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let k = k.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let key = loop {
                    let mut chunk = [0u8; 4096];
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let mut hs = [httparse::EMPTY_HEADER; 32];
                    let mut req = httparse::Request::new(&mut hs);
                    if let Ok(httparse::Status::Complete(_)) = req.parse(&buf) {
                        break req
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
                            .map(|h| h.value.to_vec())
                            .unwrap_or_default();
                    }
                };
                let accept = gangway::h1::websocket_accept(&key);
                let mut head = Vec::new();
                if interim {
                    head.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                head.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
                head.extend_from_slice(&accept);
                head.extend_from_slice(b"\r\n\r\n");
                s.write_all(&head).await.unwrap();
                let mut chunk = [0u8; 4096];
                loop {
                    tokio::select! {
                        r = s.read(&mut chunk) => match r {
                            Ok(0) | Err(_) => return,
                            Ok(n) => { let _ = s.write_all(&chunk[..n]).await; }
                        },
                        _ = k.notified() => return, // drops the socket: the server "dies"
                    }
                }
            });
        }
    });
    (addr, kill)
}

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

#[tokio::test]
async fn backend_dying_mid_tunnel_closes_the_client_promptly() {
    let (addr, kill) = tunnel_server(true).await;
    let ws = Backend::new("ws").server(addr);
    let gw = start(local().default_backend(&ws)).await;
    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    s.write_all(UPGRADE).await.unwrap();
    let mut buf = Vec::new();
    let (status, _, _) = read_response(&mut s, &mut buf).await;
    assert_eq!(status, 100, "the interim 100 comes through first");
    let (status, head, _) = read_response(&mut s, &mut buf).await;
    assert_eq!(status, 101, "{head}");
    s.write_all(b"ping").await.unwrap();
    let mut got = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got, b"ping");
    kill.notify_waiters();
    // The client sees EOF (or a reset) well before any tunnel timeout.
    let mut rest = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(
        r.is_ok(),
        "client connection still open after the server died"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn invalid_switch_gives_502_and_non_101_keeps_http() {
    // A server answering 101 without the right accept key.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bad = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut chunk = [0u8; 4096];
            let _ = s.read(&mut chunk).await;
            let _ = s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n").await;
            let _ = s.read(&mut chunk).await;
        }
    });
    let ws = Backend::new("bad").server(bad);
    let gw = start(local().default_backend(&ws)).await;
    let out = raw_exchange(gw.local_addr(), UPGRADE, Duration::from_secs(10)).await;
    assert!(
        String::from_utf8_lossy(&out).starts_with("HTTP/1.1 502 "),
        "{}",
        String::from_utf8_lossy(&out)
    );
    gw.shutdown().await;

    // A plain HTTP server answers the upgrade request with 200: the connection stays HTTP.
    let web = http_server("www").await;
    let b = Backend::new("web").server(web.addr);
    let gw = start(local().default_backend(&b)).await;
    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    s.write_all(UPGRADE).await.unwrap();
    let mut buf = Vec::new();
    let (status, _, body) = read_response(&mut s, &mut buf).await;
    assert_eq!((status, body.as_slice()), (200, &b"www /ws\n"[..]));
    s.write_all(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, _, body) = read_response(&mut s, &mut buf).await;
    assert_eq!((status, body.as_slice()), (200, &b"www /next\n"[..]));
    gw.shutdown().await;
}

#[tokio::test]
async fn a_101_must_answer_the_upgrade_asked_for() {
    const WS_HEAD: &str = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    const WS_101: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    let five = format!("{WS_HEAD}Sec-WebSocket-Protocol: p1, p2, p3, p4, p5\r\n\r\n");
    // (what, request, the server's answer, the status the client gets)
    let cases: [(&str, String, String, u16); 6] = [
        (
            "other protocols, the second one chosen",
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: IRC/6.9, foo\r\n\r\n"
                .into(),
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n"
                .into(),
            101,
        ),
        (
            "other protocol, named",
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: IRC/6.9\r\n\r\n".into(),
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: irc/6.9\r\n\r\n"
                .into(),
            101,
        ),
        (
            "other protocol answered with another one",
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: IRC/6.9\r\n\r\n".into(),
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"
                .into(),
            502,
        ),
        (
            "CONNECT answered 101",
            "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n".into(),
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n"
                .into(),
            502,
        ),
        (
            "fifth of five subprotocols",
            five.clone(),
            format!("{WS_101}Sec-WebSocket-Protocol: p5\r\n\r\n"),
            101,
        ),
        (
            "a subprotocol none of five offered",
            five,
            format!("{WS_101}Sec-WebSocket-Protocol: p6\r\n\r\n"),
            502,
        ),
    ];
    for (name, request, response, want) in cases {
        let server = fixed_answer_server(response).await;
        let b = Backend::new("b").server(server);
        let gw = start(local().default_backend(&b)).await;
        let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let (status, head, _) = read_response(&mut s, &mut buf).await;
        assert_eq!(status, want, "{name}: {head}");
        // Closed first, so the shutdown has no tunnel to wait for.
        drop(s);
        gw.shutdown().await;
    }
}

#[tokio::test]
async fn health_flaps_keep_requests_off_a_down_server() {
    let steady = http_server("steady").await;
    let flappy = http_server("flappy").await;
    // Frequent checks, each with time to finish: a loaded machine must not fail `steady`.
    let check = Check::http("/health")
        .inter(Duration::from_millis(50))
        .timeout(Duration::from_secs(5))
        .rise(2)
        .fall(2);
    let web = Backend::new("web")
        .server(Server::at(steady.addr).name("steady"))
        .server(Server::at(flappy.addr).name("flappy"))
        .check(check);
    let gw = start(local().default_backend(&web)).await;
    for round in 0..2 {
        flappy.set_healthy(false);
        eventually("flappy marked down", || {
            gw.server_state("web", "flappy") == Some(ServerState::Down)
        })
        .await;
        let before = flappy.traffic();
        for i in 0..20 {
            let (status, body) = get(gw.local_addr(), &format!("/down{round}-{i}")).await;
            assert_eq!(status, 200);
            assert!(
                body.starts_with(b"steady "),
                "a request reached the down server"
            );
        }
        assert_eq!(
            flappy.traffic(),
            before,
            "no request reached the down server"
        );
        flappy.set_healthy(true);
        eventually("flappy back up", || {
            gw.server_state("web", "flappy") == Some(ServerState::Up)
        })
        .await;
        let mut saw_flappy = false;
        for i in 0..10 {
            let (_, body) = get(gw.local_addr(), &format!("/up{round}-{i}")).await;
            saw_flappy |= body.starts_with(b"flappy ");
        }
        assert!(saw_flappy, "an up server takes traffic again");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn maxconn_makes_excess_clients_wait_not_fail() {
    let web = http_server("www").await;
    let b = Backend::new("web").server(Server::at(web.addr).maxconn(1));
    let gw = start(local().maxconn(3).default_backend(&b)).await;
    let addr = gw.local_addr();
    let ok = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let ok = ok.clone();
        tasks.push(tokio::spawn(async move {
            let (status, _) = get(addr, "/slow").await;
            if status == 200 {
                ok.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(ok.load(Ordering::SeqCst), 8, "every client was served");
    assert_eq!(web.max_in_flight(), 1, "server maxconn 1 held");
    gw.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_requests_and_drains_tunnels() {
    let web = http_server("www").await;
    let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0")
        .await
        .unwrap();
    let ws = Backend::new("ws").server(chat.addr());
    let b = Backend::new("web").server(web.addr);
    let gw = start(
        local()
            .route("path_beg /ws".parse().unwrap(), &ws)
            .default_backend(&b)
            .grace(Duration::from_secs(2)),
    )
    .await;
    let addr = gw.local_addr();
    let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/echo"))
        .await
        .unwrap();
    // A slow request in flight when shutdown starts.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    eventually("slow request reached the server", || web.traffic() == 1).await;
    let stopper = gw.clone();
    let shutdown = tokio::spawn(async move { stopper.shutdown().await });
    let mut buf = Vec::new();
    let (status, head, _) = read_response(&mut slow, &mut buf).await;
    assert_eq!(status, 200, "in-flight request finished");
    assert!(head.contains("Connection: close"), "{head}");
    // The tunnel still works during the grace period.
    client.send(Message::text("still here")).await.unwrap();
    let msg = next_message(&mut client).await;
    assert_eq!(msg, Message::text("Received: still here"));
    // New connections are no longer accepted.
    eventually("listener closed", || gw.active_connections() <= 1).await;
    // After the grace period the tunnel is closed and shutdown returns.
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .unwrap()
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match client.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "tunnel closed after the grace period");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "listener is closed"
    );
}

#[tokio::test]
async fn marked_down_server_keeps_tunnels_unless_shutdown_sessions() {
    for shutdown_sessions in [false, true] {
        let (addr, _kill) = tunnel_server(false).await;
        let ws = Backend::new("ws")
            .server(Server::at(addr).name("s1"))
            .shutdown_sessions_on_down(shutdown_sessions);
        let gw = start(
            local()
                .default_backend(&ws)
                .grace(Duration::from_millis(200)),
        )
        .await;
        let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
        s.write_all(UPGRADE).await.unwrap();
        let mut buf = Vec::new();
        let (status, _, _) = read_response(&mut s, &mut buf).await;
        assert_eq!(status, 101);
        assert!(gw.set_server_state("ws", "s1", ServerState::Down));
        let mut got = [0u8; 4];
        if shutdown_sessions {
            let mut rest = Vec::new();
            let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
            assert!(r.is_ok(), "tunnel closed when its server was marked down");
        } else {
            s.write_all(b"live").await.unwrap();
            tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&got, b"live", "established tunnel lives on");
        }
        gw.shutdown().await;
    }
}

#[tokio::test]
async fn per_listener_maxconn_queues_in_the_backlog() {
    let web = http_server("www").await;
    let b = Backend::new("web").server(web.addr);
    let gw = Gateway::builder()
        .listener(Listener::new("127.0.0.1:0").maxconn(1))
        .default_backend(&b)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let addr = gw.local_addr();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        tasks.push(tokio::spawn(async move { get(addr, "/slow").await.0 }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(web.max_in_flight(), 1, "one connection at a time");
    gw.shutdown().await;
}

#[tokio::test]
async fn per_server_check_and_passive_errors() {
    // Server a has its own fast check; b is never checked actively but is reported by traffic.
    let a = http_server("a").await;
    let web = Backend::new("web")
        .server(
            Server::at(a.addr).name("a").check(
                Check::http("/health")
                    .inter(Duration::from_millis(50))
                    .timeout(Duration::from_secs(5))
                    .fall(1),
            ),
        )
        .server(
            Server::at(refused_addr().await)
                .name("b")
                .check(Check::tcp().inter(Duration::from_secs(3600)))
                .observe(
                    gangway::health::PassivePolicy::default()
                        .error_limit(1)
                        .on_error("mark-down".parse().unwrap()),
                ),
        )
        .retries(2);
    let gw = start(local().default_backend(&web)).await;
    a.set_healthy(false);
    eventually("a marked down by its own check", || {
        gw.server_state("web", "a") == Some(ServerState::Down)
    })
    .await;
    a.set_healthy(true);
    eventually("a back up", || {
        gw.server_state("web", "a") == Some(ServerState::Up)
    })
    .await;
    // Traffic to b fails to connect: passive health marks it down, requests still succeed on a.
    for i in 0..6 {
        let (status, _) = get(gw.local_addr(), &format!("/{i}")).await;
        assert_eq!(status, 200);
    }
    eventually("b marked down by traffic", || {
        gw.server_state("web", "b") == Some(ServerState::Down)
    })
    .await;
    gw.shutdown().await;
}

#[tokio::test]
async fn servers_are_added_removed_and_weighted_at_runtime() {
    let a = http_server("a").await;
    let b = http_server("b").await;
    let web = Backend::new("web").server(Server::at(a.addr).name("a"));
    let gw = start(local().default_backend(&web)).await;
    gw.add_server(
        "web",
        Server::at(b.addr)
            .name("b")
            .check(Check::tcp().inter(Duration::from_millis(50))),
    )
    .unwrap();
    assert!(
        gw.add_server("web", Server::at(b.addr).name("b")).is_err(),
        "names are unique"
    );
    assert_eq!(gw.server_names("web").unwrap(), ["a", "b"]);
    let mut seen_b = false;
    for i in 0..10 {
        let (_, body) = get(gw.local_addr(), &format!("/{i}")).await;
        seen_b |= body.starts_with(b"b ");
    }
    assert!(seen_b, "the added server takes traffic");
    assert!(gw.set_server_weight("web", "b", 0));
    let before = b.traffic();
    for i in 0..6 {
        let (_, body) = get(gw.local_addr(), &format!("/w{i}")).await;
        assert!(body.starts_with(b"a "));
    }
    assert_eq!(b.traffic(), before, "weight 0 takes no requests");
    assert!(gw.set_server_weight("web", "b", 1));
    assert!(gw.remove_server("web", "a"));
    assert!(!gw.remove_server("web", "a"));
    let before = a.traffic();
    for i in 0..6 {
        let (status, body) = get(gw.local_addr(), &format!("/r{i}")).await;
        assert_eq!(status, 200);
        assert!(body.starts_with(b"b "));
    }
    assert_eq!(a.traffic(), before, "a removed server takes no requests");
    assert!(gw.metrics_text().contains("server=\"b\""));
    gw.shutdown().await;
}

/// A server whose TLS setup fails is not added, and takes no picks: it used to stay in the
/// balance set unknown to the gateway, and the requests picked for it got 503.
#[cfg(feature = "tls")]
#[tokio::test]
async fn a_server_that_fails_to_be_added_takes_no_requests() {
    let a = http_server("a").await;
    let web = Backend::new("web").server(Server::at(a.addr).name("a"));
    let gw = start(local().default_backend(&web)).await;
    let broken = Server::at(a.addr)
        .name("broken")
        .tls(gangway::TlsServer::new().sni("not a host name!"));
    assert!(gw.add_server("web", broken).is_err());
    assert_eq!(gw.server_names("web").unwrap(), ["a"]);
    for i in 0..8 {
        let (status, body) = get(gw.local_addr(), &format!("/{i}")).await;
        assert_eq!(status, 200, "request {i}");
        assert!(body.starts_with(b"a "));
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn queue_timeout_answers_503() {
    let web = http_server("www").await;
    let mut overrides = gangway::BackendTimeouts::default();
    overrides.queue = Some(Duration::from_millis(50));
    let b = Backend::new("web")
        .server(Server::at(web.addr).maxconn(1))
        .timeouts(overrides);
    let gw = start(local().default_backend(&b)).await;
    let addr = gw.local_addr();
    let mut tasks = Vec::new();
    for _ in 0..3 {
        tasks.push(tokio::spawn(async move { get(addr, "/slow").await.0 }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert_eq!(statuses[2], 503, "{statuses:?}: the queue timed out");
    gw.shutdown().await;
}

#[tokio::test]
async fn bytes_after_an_upgrade_request_wait_for_the_101() {
    // The server reads the upgrade request, checks that nothing else arrived, then switches.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (early_tx, early_rx) = tokio::sync::oneshot::channel::<usize>();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = Vec::new();
        let head_len = loop {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
        };
        let mut chunk = [0u8; 64];
        let more = tokio::time::timeout(Duration::from_millis(300), s.read(&mut chunk)).await;
        let early = buf.len() - head_len + more.map_or(0, |r| r.unwrap_or(0));
        let _ = early_tx.send(early);
        let accept = gangway::h1::websocket_accept(b"dGhlIHNhbXBsZSBub25jZQ==");
        let mut head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ".to_vec();
        head.extend_from_slice(&accept);
        head.extend_from_slice(b"\r\n\r\n");
        s.write_all(&head).await.unwrap();
        let mut chunk = [0u8; 64];
        let n = s.read(&mut chunk).await.unwrap();
        s.write_all(&chunk[..n]).await.unwrap();
    });
    let ws = Backend::new("ws").server(addr);
    let gw = start(local().default_backend(&ws)).await;
    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    let mut first = UPGRADE.to_vec();
    first.extend_from_slice(b"early");
    s.write_all(&first).await.unwrap();
    assert_eq!(
        early_rx.await.unwrap(),
        0,
        "no client byte reached the server before its 101"
    );
    let mut buf = Vec::new();
    let (status, _, _) = read_response(&mut s, &mut buf).await;
    assert_eq!(status, 101);
    let mut got = buf.clone();
    while got.len() < 5 {
        let mut chunk = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(
        got, b"early",
        "the early bytes went through the tunnel after the 101"
    );
    drop(s);
    gw.shutdown().await;
}

#[tokio::test]
async fn idle_server_connections_are_closed_after_the_purge_delay() {
    // The default delay (5 s) keeps the connection for the next request.
    let web = http_server("www").await;
    let gw = start(local().default_backend(&Backend::new("web").server(web.addr))).await;
    for path in ["/a", "/b"] {
        assert_eq!(get(gw.local_addr(), path).await.0, 200);
    }
    assert_eq!(
        web.connections(),
        1,
        "the second request reused the pooled connection"
    );
    assert_eq!(web.open_connections(), 1);
    gw.shutdown().await;

    // A short delay closes it; the next request opens a new one.
    let web = http_server("www").await;
    let b = Backend::new("web")
        .server(web.addr)
        .pool_purge_delay(Duration::from_millis(200));
    let gw = start(local().default_backend(&b)).await;
    assert_eq!(get(gw.local_addr(), "/a").await.0, 200);
    eventually("the idle server connection is closed", || {
        web.open_connections() == 0
    })
    .await;
    assert_eq!(get(gw.local_addr(), "/b").await.0, 200);
    assert_eq!(web.connections(), 2);
    gw.shutdown().await;

    // Per-server settings override the backend's: this server keeps no idle connection.
    let web = http_server("www").await;
    let b = Backend::new("web").server(Server::at(web.addr).pool_max_idle(0));
    let gw = start(local().default_backend(&b)).await;
    for path in ["/a", "/b"] {
        assert_eq!(get(gw.local_addr(), path).await.0, 200);
    }
    assert_eq!(web.connections(), 2, "nothing was pooled");
    eventually("no connection stays open", || web.open_connections() == 0).await;
    gw.shutdown().await;
}

#[tokio::test]
async fn checks_go_to_the_check_address() {
    // The server listens on 127.0.0.1 only; its checks go to 127.0.0.2 on the same port,
    // where nothing listens, so it is marked down although it would answer.
    let web = http_server("www").await;
    let b = Backend::new("web")
        .server(
            Server::at(web.addr)
                .name("s1")
                .check_addr([127, 0, 0, 2].into()),
        )
        .check(Check::tcp().inter(Duration::from_millis(100)).fall(1));
    let gw = start(local().default_backend(&b)).await;
    eventually("s1 is marked down by checks on 127.0.0.2", || {
        gw.server_state("web", "s1") == Some(ServerState::Down)
    })
    .await;
    assert_eq!(get(gw.local_addr(), "/").await.0, 503);
    assert_eq!(web.traffic(), 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_close_when_a_shutdown_begins() {
    let web = http_server("www").await;
    let b = Backend::new("web").server(web.addr);
    // A long grace period: only the shutdown itself can close the idle connection this soon.
    let gw = start(local().default_backend(&b).grace(Duration::from_secs(60))).await;
    let mut client = TcpStream::connect(gw.local_addr()).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let (status, _, _) = read_response(&mut client, &mut buf).await;
    assert_eq!(status, 200);
    // Idle between requests, then the shutdown begins: the gateway closes the connection.
    gw.begin_shutdown();
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(5), client.read(&mut byte)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "idle keep-alive connection still open: {closed:?}"
    );
}

#[tokio::test]
async fn an_unbounded_connect_timeout_still_connects() {
    // `Duration::MAX` means never: the deadline must not overflow an `Instant`.
    let web = http_server("www").await;
    let mut overrides = gangway::BackendTimeouts::default();
    overrides.connect = Some(Duration::MAX);
    let b = Backend::new("web").server(web.addr).timeouts(overrides);
    let gw = start(local().default_backend(&b)).await;
    let (status, _) = get(gw.local_addr(), "/x").await;
    assert_eq!(status, 200);
    gw.shutdown().await;
}

/// A backend answering every request `500` (and closing).
async fn failing_server() -> std::net::SocketAddr {
    fixed_answer_server(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await
}

#[tokio::test]
async fn errors_are_not_observed_without_observe() {
    // A checked server without `observe`: its 5xx answers reach clients and never mark it
    // down, however many there are (HAProxy watches traffic only with `observe`).
    let b = Backend::new("web")
        .server(Server::at(failing_server().await).name("s1"))
        .check(Check::tcp().inter(Duration::from_secs(3600)).fall(1));
    let gw = start(local().default_backend(&b)).await;
    for i in 0..30 {
        let (status, _) = get(gw.local_addr(), &format!("/{i}")).await;
        assert_eq!(status, 500, "request {i} reached the server");
    }
    assert_eq!(gw.server_state("web", "s1"), Some(ServerState::Up));
    gw.shutdown().await;
}

#[tokio::test]
async fn checks_to_another_port_carry_no_proxy_header() {
    // Traffic to the server starts with a PROXY header; its checks go to a separate health
    // port that speaks plain HTTP, so they must not (as in HAProxy without check-send-proxy).
    let web = http_server("www").await;
    web.state
        .expect_proxy
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let health = http_server("health").await;
    let b = Backend::new("web")
        .server(
            Server::at(web.addr)
                .name("s1")
                .send_proxy(ProxyVersion::V1)
                .check_port(health.addr.port()),
        )
        .check(
            Check::http("/health")
                .inter(Duration::from_millis(50))
                .fall(1),
        );
    let gw = start(local().default_backend(&b)).await;
    eventually("a check reaches the health port", || health.requests() > 0).await;
    assert!(
        health.last_head().starts_with("GET /health "),
        "{}",
        health.last_head()
    );
    assert_eq!(gw.server_state("web", "s1"), Some(ServerState::Up));
    let (status, _) = get(gw.local_addr(), "/x").await;
    assert_eq!(status, 200);
    assert!(web.state.proxy_lines.lock().unwrap()[0].starts_with("PROXY TCP4 "));
    gw.shutdown().await;
}

/// A server answering every upgrade request with a 101 that has the right
/// `Sec-WebSocket-Accept` and the given extra lines (`Upgrade` among them).
async fn switching_server(lines: &'static str) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let key = loop {
                    let mut chunk = [0u8; 4096];
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    let mut hs = [httparse::EMPTY_HEADER; 32];
                    let mut req = httparse::Request::new(&mut hs);
                    if let Ok(httparse::Status::Complete(_)) = req.parse(&buf) {
                        let key = req
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"));
                        break key.map(|h| h.value.to_vec()).unwrap_or_default();
                    }
                };
                let accept = gangway::h1::websocket_accept(&key);
                let head = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{lines}\r\n",
                    String::from_utf8_lossy(&accept)
                );
                let _ = s.write_all(head.as_bytes()).await;
                let mut chunk = [0u8; 4096];
                while let Ok(n) = s.read(&mut chunk).await {
                    if n == 0 || s.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_101_must_name_the_protocol_and_a_subprotocol_the_client_offered() {
    let request = |offered: &str| {
        let protocols = if offered.is_empty() {
            String::new()
        } else {
            format!("Sec-WebSocket-Protocol: {offered}\r\n")
        };
        format!(
            "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{protocols}\r\n"
        )
    };
    let cases: [(&'static str, &str, u16); 5] = [
        // Another protocol than the one asked for.
        ("Upgrade: h2c\r\n", "", 502),
        // A subprotocol nobody offered, or not among those offered.
        (
            "Upgrade: websocket\r\nSec-WebSocket-Protocol: chat\r\n",
            "",
            502,
        ),
        (
            "Upgrade: websocket\r\nSec-WebSocket-Protocol: chat\r\n",
            "superchat",
            502,
        ),
        // One of those offered, and none at all: both fine.
        (
            "Upgrade: websocket\r\nSec-WebSocket-Protocol: chat\r\n",
            "superchat, chat",
            101,
        ),
        ("Upgrade: websocket\r\n", "chat", 101),
    ];
    for (lines, offered, want) in cases {
        let server = switching_server(lines).await;
        let b = Backend::new("ws").server(server);
        let gw = start(local().default_backend(&b)).await;
        let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
        c.write_all(request(offered).as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let (status, head, _) = read_response(&mut c, &mut buf).await;
        assert_eq!(status, want, "{lines:?} offered {offered:?}: {head}");
        if want == 101 {
            // A tunnel: bytes come back through the echoing server.
            c.write_all(b"ping").await.unwrap();
            let mut got = [0u8; 4];
            tokio::time::timeout(Duration::from_secs(20), c.read_exact(&mut got))
                .await
                .expect("echo arrives")
                .unwrap();
            assert_eq!(&got, b"ping");
        }
        // Closed first, so the shutdown has no tunnel to wait for.
        drop(c);
        gw.shutdown().await;
    }
}

#[tokio::test]
async fn a_server_leaving_maintenance_follows_its_checks() {
    // Its checks fail while it is in maintenance: put back to ready, it stays out of rotation
    // (down) until they pass again.
    let web = http_server("www").await;
    let b = Backend::new("web")
        .server(Server::at(web.addr).name("s1"))
        .check(
            Check::http("/health")
                .inter(Duration::from_millis(50))
                .rise(1)
                .fall(1),
        );
    let gw = start(local().default_backend(&b)).await;
    assert!(gw.set_server_state("web", "s1", ServerState::Maint));
    web.set_healthy(false);
    // Two more checks seen: at least one was answered 503 in full.
    let seen = web.requests();
    eventually("checks fail during maintenance", || {
        web.requests() >= seen + 2
    })
    .await;
    assert_eq!(gw.server_state("web", "s1"), Some(ServerState::Maint));
    assert!(gw.set_server_state("web", "s1", ServerState::Up));
    assert_eq!(gw.server_state("web", "s1"), Some(ServerState::Down));
    assert_eq!(get(gw.local_addr(), "/").await.0, 503);
    web.set_healthy(true);
    eventually("back up once checks pass", || {
        gw.server_state("web", "s1") == Some(ServerState::Up)
    })
    .await;
    assert_eq!(get(gw.local_addr(), "/").await.0, 200);
    gw.shutdown().await;
}

#[tokio::test]
async fn every_timeout_may_be_duration_max() {
    // `Duration::MAX` is "never" for every timeout, as the config loader uses it.
    let never = Duration::MAX;
    let timeouts = Timeouts::default()
        .client(never)
        .server(never)
        .connect(never)
        .http_request(never)
        .http_keep_alive(never)
        .tunnel(never)
        .client_fin(never)
        .server_fin(never)
        .queue(never)
        .client_hs(never)
        .tunnel_park(Some(never));
    let mut overrides = gangway::BackendTimeouts::default();
    overrides.server = Some(never);
    overrides.connect = Some(never);
    overrides.tunnel = Some(never);
    overrides.queue = Some(never);
    overrides.server_fin = Some(never);
    let web = http_server("web").await;
    let (ws_addr, _kill) = tunnel_server(false).await;
    // maxconn 1: of two requests at once, one waits in the queue.
    let b = Backend::new("web")
        .server(Server::at(web.addr).maxconn(1))
        .timeouts(overrides);
    let ws = Backend::new("ws").server(ws_addr).timeouts(overrides);
    let gw = start(
        local()
            .timeouts(timeouts)
            .grace(Duration::from_millis(200))
            .route("path_beg /ws".parse().unwrap(), &ws)
            .default_backend(&b),
    )
    .await;
    let addr = gw.local_addr();
    let slow: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { get(addr, "/slow").await.0 }))
        .collect();
    for request in slow {
        assert_eq!(request.await.unwrap(), 200);
    }
    // Two requests on one keep-alive connection, then the same connection becomes a tunnel.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    for _ in 0..2 {
        s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (status, head, _) = read_response(&mut s, &mut buf).await;
        assert_eq!(status, 200, "{head}");
    }
    s.write_all(UPGRADE).await.unwrap();
    let (status, head, _) = read_response(&mut s, &mut buf).await;
    assert_eq!(status, 101, "{head}");
    s.write_all(b"ping").await.unwrap();
    let mut got = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got, b"ping");
    gw.shutdown().await;
}

/// A WebSocket server that answers every upgrade with a `101` naming it (`X-Server: NAME`),
/// then echoes; returns its address and its accept loop (abort it to close the listener while
/// established tunnels live on).
async fn named_tunnel_server(
    name: &'static str,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                if read_head(&mut s).await.is_none() {
                    return;
                }
                // The key of `UPGRADE` is RFC 6455's example: its accept value is known.
                let head = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-Server: {name}\r\n\r\n"
                );
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut chunk = [0u8; 4096];
                loop {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&chunk[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, accept)
}

#[tokio::test]
async fn shutdown_sessions_on_down_closes_only_that_servers_tunnels() {
    let (a, stop_a) = named_tunnel_server("a").await;
    let (b, stop_b) = named_tunnel_server("b").await;
    let check = Check::tcp()
        .inter(Duration::from_millis(50))
        .rise(1)
        .fall(1);
    let ws = Backend::new("ws")
        .server(Server::at(a).name("a").shutdown_sessions_on_down(true))
        .server(Server::at(b).name("b"))
        .check(check);
    let gw = start(
        local()
            .default_backend(&ws)
            .grace(Duration::from_millis(200)),
    )
    .await;
    eventually("both servers up", || {
        gw.server_state("ws", "a") == Some(ServerState::Up)
            && gw.server_state("ws", "b") == Some(ServerState::Up)
    })
    .await;
    // Round robin: tunnels land on both servers.
    let (mut on_a, mut on_b) = (None, None);
    for _ in 0..6 {
        let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
        s.write_all(UPGRADE).await.unwrap();
        let mut buf = Vec::new();
        let (status, head, _) = read_response(&mut s, &mut buf).await;
        assert_eq!(status, 101, "{head}");
        if head.contains("X-Server: a") {
            on_a = Some(s);
        } else {
            on_b = Some(s);
        }
        if on_a.is_some() && on_b.is_some() {
            break;
        }
    }
    let (mut on_a, mut on_b) = (on_a.expect("a tunnel to a"), on_b.expect("a tunnel to b"));

    // Both listeners close: the checks fail and both servers go down.
    stop_a.abort();
    stop_b.abort();
    eventually("both servers down", || {
        gw.server_state("ws", "a") == Some(ServerState::Down)
            && gw.server_state("ws", "b") == Some(ServerState::Down)
    })
    .await;

    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), on_a.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "a's tunnel closed when a went down");
    on_b.write_all(b"live").await.unwrap();
    let mut got = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), on_b.read_exact(&mut got))
        .await
        .expect("b's tunnel still echoes")
        .expect("b's tunnel is open");
    assert_eq!(
        &got, b"live",
        "b has no shutdown-sessions: its tunnel lives on"
    );
    gw.shutdown().await;
}

/// A connection whose 204 announced a body (which RFC 9110 forbids) is not pooled: a
/// server that sends that body anyway (here: late, just before its next answer) would
/// have it read as the next response. An answer to HEAD may give the length a GET would
/// get (RFC 9110, 9.3.2; nginx and Apache do): its connection is pooled.
#[tokio::test]
async fn a_bodiless_answer_that_announces_a_body_leaves_its_connection_unpooled() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let accepts = Arc::clone(&accepted);
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            accepts.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let mut owed: &[u8] = b"";
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    buf.drain(..end + 4);
                    // The body it announced before, sent late, then this answer.
                    let mut answer = owed.to_vec();
                    if head.starts_with("HEAD ") {
                        // A well-behaved answer: the GET's length, no body.
                        answer.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
                        owed = b"";
                    } else if head.starts_with("GET /204") {
                        answer.extend_from_slice(
                            b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
                        );
                        owed = b"hello";
                    } else {
                        answer
                            .extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nget");
                        owed = b"";
                    }
                    if s.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let b = Backend::new("web").server(server);
    let gw = start(local().default_backend(&b)).await;
    let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    for first in ["GET /204", "HEAD /"] {
        let method = first.split(' ').next().unwrap();
        c.write_all(format!("{first} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (status, head, _) = read_response_to(&mut c, &mut buf, method).await;
        assert!(status == 200 || status == 204, "{head}");
        c.write_all(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (status, head, body) = read_response(&mut c, &mut buf).await;
        assert_eq!(
            (status, body.as_slice()),
            (200, &b"get"[..]),
            "after {first}: {head}"
        );
    }
    // The 204's connection was dropped; the HEAD's was pooled and served the GET after it.
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    drop(c);
    gw.shutdown().await;
    task.abort();
}

/// An error answer to a request read to its end closes the connection at once, even when
/// the client keeps its side open: it used to wait the whole linger time (5 s) for the client,
/// holding a connection per 503 during a backend outage.
#[tokio::test]
async fn an_error_to_a_complete_request_closes_at_once() {
    let dead = refused_addr().await;
    let b = Backend::new("web").server(dead);
    let gw = start(local().default_backend(&b)).await;
    let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.unwrap();
    assert_eq!(status_of(&out), 503, "{}", String::from_utf8_lossy(&out));
    // The client keeps its side open; the gateway lets go of the connection at once, well
    // under the 5 s linger time (the deadline is generous for a busy machine).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let open = gw
            .metrics_text()
            .lines()
            .any(|l| l.starts_with("gangway_frontend_current_connections") && !l.ends_with(" 0"));
        if !open {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection lingers"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(c);
    gw.shutdown().await;
}

/// An answer given while request bytes are still coming (a 403 to a large upload) reaches a
/// client that finishes sending before it reads: the gateway closes its side, then reads and
/// drops what the client still sends (a lingering close), instead of closing with unread
/// bytes, which resets the connection and can destroy the answer.
#[tokio::test]
async fn an_error_answer_survives_an_upload_still_coming() {
    let web = http_server("www").await;
    let b = Backend::new("web").server(web.addr);
    let gw = start(
        local()
            .deny("path_beg /private".parse().unwrap(), 403)
            .default_backend(&b),
    )
    .await;
    const BODY: usize = 8 << 20;
    let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
    let head = format!("POST /private HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY}\r\n\r\n");
    c.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'a'; 64 << 10];
    let mut sent = 0;
    while sent < BODY {
        let wrote = tokio::time::timeout(Duration::from_secs(20), c.write_all(&chunk))
            .await
            .expect("the upload is read");
        assert!(wrote.is_ok(), "reset after {sent} bytes: {wrote:?}");
        sent += chunk.len();
    }
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), c.read_to_end(&mut out))
        .await
        .expect("the answer arrives");
    assert!(
        read.is_ok(),
        "{read:?} after {:?}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(status_of(&out), 403, "{}", String::from_utf8_lossy(&out));
    assert_eq!(web.requests(), 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_server_named_by_host_uses_the_address_already_found_for_it() {
    let a = http_server("a").await;
    // The name would not resolve: the gateway builds and connects with the address given.
    let name = format!("no-such-host.invalid:{}", a.addr.port());
    let web = Backend::new("web").server(Server::new(name).name("a").resolved_to(a.addr));
    let gw = start(local().default_backend(&web)).await;
    let (_, body) = get(gw.local_addr(), "/").await;
    assert!(body.starts_with(b"a "), "{body:?}");
}
