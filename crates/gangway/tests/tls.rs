//! TLS through the gateway with certificates generated at test time: HTTPS with a rustls client,
//! SNI selection, strict SNI, TLS 1.2 and 1.3, the handshake timeout, wss with a real
//! WebSocket client, redirect to https, forwarding headers and TLS to servers.
#![cfg(feature = "tls")]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use gangway::prelude::*;
use gangway::{TlsListener, TlsServer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;

/// A self-signed certificate for `names`: (certificate PEM, key PEM, certificate DER).
fn cert(names: &[&str]) -> (String, String, CertificateDer<'static>) {
    let c =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    (
        c.cert.pem(),
        c.signing_key.serialize_pem(),
        c.cert.der().clone(),
    )
}

fn listener_tls(certs: &[&(String, String, CertificateDer<'static>)]) -> TlsListener {
    certs.iter().fold(TlsListener::new(), |l, (c, k, _)| {
        l.cert_pem(c.as_bytes(), k.as_bytes()).unwrap()
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client trusting `roots`, offering ALPN http/1.1, limited to `versions`.
fn client_config(
    roots: &[&CertificateDer<'static>],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add((*r).clone()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

async fn tls_connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    sni: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_string()).unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .expect("handshake timed out")
}

/// One request on `s`; returns (status, head, body) of a Content-Length response.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    request: &str,
) -> (u16, String, Vec<u8>) {
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut res = httparse::Response::new(&mut hs);
        if let Ok(httparse::Status::Complete(n)) = res.parse(&buf) {
            let len: usize = res
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map_or(0, |h| {
                    std::str::from_utf8(h.value).unwrap().parse().unwrap()
                });
            let status = res.code.unwrap();
            if buf.len() >= n + len {
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                return (status, head, buf[n..n + len].to_vec());
            }
        }
        let k = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("read timed out")
            .unwrap();
        assert!(k > 0, "closed early: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..k]);
    }
}

fn tls_gateway(tls: TlsListener, web: &TestServer) -> gangway::GatewayBuilder {
    let b = Backend::new("web").server(Server::at(web.addr).name("www"));
    Gateway::builder()
        .listener(Listener::new("127.0.0.1:0").tls(tls))
        .default_backend(&b)
}

/// The listener's `gangway_listener_tls_handshake_failures_total`.
fn tls_failures(gw: &gangway::GatewayHandle) -> u64 {
    let metrics = gw.metrics_text();
    metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("gangway_listener_tls_handshake_failures_total{")?
                .rsplit_once(' ')?
                .1
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no handshake failure count in {metrics}"))
}

const ALL: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

#[tokio::test]
async fn https_requests_reach_the_backend_with_forwarding_headers() {
    let web = http_server("www").await;
    let a = cert(&["localhost"]);
    let gw = start(tls_gateway(listener_tls(&[&a]), &web)).await;
    let addr = gw.local_addr();
    let mut s = tls_connect(addr, client_config(&[&a.2], ALL), "localhost")
        .await
        .unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    // Two requests on one TLS connection (keep-alive works over TLS).
    for path in ["/one", "/two"] {
        let (status, _, body) = exchange(
            &mut s,
            &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        )
        .await;
        assert_eq!((status, body), (200, format!("www {path}\n").into_bytes()));
    }
    let head = web.last_head();
    assert!(head.contains("X-Forwarded-Proto: https\r\n"), "{head}");
    assert!(
        head.contains(&format!("X-Forwarded-Port: {}\r\n", addr.port())),
        "{head}"
    );
    // A POST body goes through TLS too.
    let (status, _, body) = exchange(
        &mut s,
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    assert_eq!((status, body), (200, b"hello".to_vec()));
    gw.shutdown().await;
}

#[tokio::test]
async fn sni_picks_the_certificate_and_unknown_names_get_the_default_or_a_failure() {
    let web = http_server("www").await;
    let a = cert(&["a.test"]);
    let b = cert(&["b.test", "*.b.test"]);
    let gw = start(tls_gateway(listener_tls(&[&a, &b]), &web)).await;
    let strict = start(tls_gateway(listener_tls(&[&a, &b]).strict_sni(), &web)).await;
    let peer_cert =
        |s: &TlsStream<TcpStream>| s.get_ref().1.peer_certificates().unwrap()[0].clone();
    // The client trusts both, so the handshake shows which one was presented.
    let both = client_config(&[&a.2, &b.2], ALL);
    for (sni, want) in [("a.test", &a.2), ("b.test", &b.2), ("x.b.test", &b.2)] {
        for g in [&gw, &strict] {
            let s = tls_connect(g.local_addr(), both.clone(), sni)
                .await
                .unwrap();
            assert_eq!(&peer_cert(&s), want, "{sni}");
        }
    }
    // An unknown name gets the first certificate (and the client, checking the name, refuses
    // it); with strict SNI the gateway refuses the handshake itself.
    let e = tls_connect(gw.local_addr(), both.clone(), "c.test")
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("NotValidForName") || e.to_string().contains("not valid"),
        "{e}"
    );
    let e = tls_connect(strict.local_addr(), both.clone(), "c.test")
        .await
        .unwrap_err();
    assert!(e.to_string().to_lowercase().contains("alert"), "{e}");
    gw.shutdown().await;
    strict.shutdown().await;
}

#[tokio::test]
async fn tls_1_2_and_1_3_are_both_negotiated() {
    let web = http_server("www").await;
    let a = cert(&["localhost"]);
    let gw = start(tls_gateway(listener_tls(&[&a]), &web)).await;
    for (version, want) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let mut s = tls_connect(
            gw.local_addr(),
            client_config(&[&a.2], &[version]),
            "localhost",
        )
        .await
        .unwrap();
        assert_eq!(s.get_ref().1.protocol_version(), Some(want));
        let (status, _, _) = exchange(&mut s, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        assert_eq!(status, 200);
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn a_handshake_that_never_finishes_is_dropped() {
    let web = http_server("www").await;
    let a = cert(&["localhost"]);
    let builder = tls_gateway(listener_tls(&[&a]), &web)
        .timeouts(Timeouts::default().client_hs(Duration::from_millis(300)));
    let gw = start(builder).await;
    // One sends nothing; the other starts a ClientHello (a TLS record header) and stalls.
    for start_bytes in [&b""[..], &[0x16, 0x03, 0x01, 0x02, 0x00][..]] {
        let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
        s.write_all(start_bytes).await.unwrap();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the gateway kept a stalled handshake open");
        assert!(rest.is_empty(), "{rest:?}");
    }
    assert_eq!(web.traffic(), 0);
    assert_eq!(tls_failures(&gw), 2);
    gw.shutdown().await;
}

#[tokio::test]
async fn wss_upgrades_tunnel_like_plain_ones() {
    let web = http_server("www").await;
    let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0")
        .await
        .unwrap();
    let a = cert(&["localhost"]);
    let ws = Backend::new("ws").server(Server::at(chat.addr()).name("chat"));
    let b = Backend::new("web").server(Server::at(web.addr).name("www"));
    let gw = start(
        Gateway::builder()
            .listener(Listener::new("127.0.0.1:0").tls(listener_tls(&[&a])))
            .route("path_beg /ws".parse().unwrap(), &ws)
            .default_backend(&b),
    )
    .await;
    let tls = tls_connect(gw.local_addr(), client_config(&[&a.2], ALL), "localhost")
        .await
        .unwrap();
    let (mut client, res) = tokio_tungstenite::client_async("wss://localhost/ws/echo", tls)
        .await
        .unwrap();
    assert_eq!(res.status(), 101);
    client.send(Message::text("hello")).await.unwrap();
    let msg = next_message(&mut client).await;
    assert_eq!(msg, Message::text("Received: hello"));
    let big = "x".repeat(200_000);
    client.send(Message::text(big.clone())).await.unwrap();
    let msg = next_message(&mut client).await;
    assert_eq!(
        msg.into_text().unwrap().as_str(),
        format!("Received: {big}")
    );
    client.close(None).await.unwrap();
    assert_eq!(web.traffic(), 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn plain_requests_redirect_to_https_and_ssl_fc_sni_routes() {
    let web = http_server("www").await;
    let api = http_server("api").await;
    let a = cert(&["a.test", "api.test"]);
    let web_b = Backend::new("web").server(Server::at(web.addr).name("www"));
    let api_b = Backend::new("api").server(Server::at(api.addr).name("api"));
    let gw = start(
        Gateway::builder()
            .listen("127.0.0.1:0")
            .listener(Listener::new("127.0.0.1:0").tls(listener_tls(&[&a])))
            .redirect(
                Some("!{ ssl_fc }".parse().unwrap()),
                Redirect::scheme("https").code(301),
            )
            .route("ssl_fc_sni -i api.test".parse().unwrap(), &api_b)
            .default_backend(&web_b),
    )
    .await;
    let (plain, tls_addr) = (gw.local_addrs()[0], gw.local_addrs()[1]);
    let out = raw_exchange(
        plain,
        b"GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    assert_eq!(status_of(&out), 301, "{text}");
    assert!(
        text.contains("Location: https://a.test/x?y=1\r\n"),
        "{text}"
    );
    let config = client_config(&[&a.2], ALL);
    for (sni, want) in [("a.test", "www /\n"), ("api.test", "api /\n")] {
        let mut s = tls_connect(tls_addr, config.clone(), sni).await.unwrap();
        let (status, _, body) =
            exchange(&mut s, &format!("GET / HTTP/1.1\r\nHost: {sni}\r\n\r\n")).await;
        assert_eq!(
            (status, String::from_utf8(body).unwrap().as_str()),
            (200, want)
        );
    }
    assert_eq!(web.traffic() + api.traffic(), 2);
    gw.shutdown().await;
}

/// A TLS backend answering every request `200 tls <path>` (Content-Length framing); counts
/// the requests for `/health`.
async fn tls_backend(
    cert: &(String, String, CertificateDer<'static>),
) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let health = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hits = health.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let chain = vec![cert.2.clone()];
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(cert.1.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, hits) = (acceptor.clone(), hits.clone());
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        buf.drain(..end + 4);
                        let path = head.split(' ').nth(1).unwrap_or("").to_string();
                        if path == "/health" {
                            hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        if path == "/close-without-notify" {
                            // A close-delimited body, then a bare TCP close (no close_notify),
                            // as many servers end such a response.
                            let res = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end";
                            let _ = s.write_all(res).await;
                            let _ = s.flush().await;
                            drop(s.into_inner().0);
                            return;
                        }
                        let body = format!("tls {path}\n");
                        let res = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if s.write_all(res.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (addr, health)
}

#[tokio::test]
async fn tls_to_servers_verifies_with_the_ca_or_not_at_all() {
    let server_cert = cert(&["127.0.0.1", "backend.test"]);
    let other = cert(&["backend.test"]);
    let (addr, _) = tls_backend(&server_cert).await;
    let cases = [
        (
            "verified by IP",
            TlsServer::new().ca_pem(server_cert.0.as_bytes()).unwrap(),
            200,
        ),
        (
            "verified by sni",
            TlsServer::new()
                .ca_pem(server_cert.0.as_bytes())
                .unwrap()
                .sni("backend.test"),
            200,
        ),
        (
            "wrong CA",
            TlsServer::new().ca_pem(other.0.as_bytes()).unwrap(),
            503,
        ),
        ("verify none", TlsServer::new().verify_none(), 200),
    ];
    for (what, tls, want) in cases {
        let b = Backend::new("b")
            .server(Server::at(addr).name("s").tls(tls).no_check())
            .retries(0);
        let gw = start(local().default_backend(&b)).await;
        let out = raw_exchange(
            gw.local_addr(),
            b"GET /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(10),
        )
        .await;
        let text = String::from_utf8_lossy(&out);
        assert_eq!(status_of(&out), want, "{what}: {text}");
        if want == 200 {
            assert!(text.ends_with("tls /p\n"), "{what}: {text}");
        }
        gw.shutdown().await;
    }
}

#[tokio::test]
async fn proxy_header_comes_before_the_tls_handshake() {
    let web = http_server("www").await;
    let a = cert(&["localhost"]);
    let b = Backend::new("web").server(Server::at(web.addr).name("www"));
    let gw = start(
        Gateway::builder()
            .listener(
                Listener::new("127.0.0.1:0")
                    .accept_proxy()
                    .tls(listener_tls(&[&a])),
            )
            .default_backend(&b),
    )
    .await;
    let mut tcp = TcpStream::connect(gw.local_addr()).await.unwrap();
    tcp.write_all(b"PROXY TCP4 203.0.113.9 127.0.0.1 5555 443\r\n")
        .await
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut s = tokio_rustls::TlsConnector::from(client_config(&[&a.2], ALL))
        .connect(name, tcp)
        .await
        .unwrap();
    let (status, _, _) = exchange(&mut s, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(status, 200);
    let head = web.last_head();
    assert!(head.contains("X-Forwarded-Port: 443\r\n"), "{head}");
    assert!(head.contains("X-Forwarded-For: 203.0.113.9\r\n"), "{head}");

    // A connection without a valid PROXY header is closed, and it is no TLS failure.
    let out = raw_exchange(
        gw.local_addr(),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    assert_eq!(tls_failures(&gw), 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_set_header_rule_has_the_last_word_on_forwarding_headers() {
    let web = http_server("www").await;
    let a = cert(&["localhost"]);
    let builder = tls_gateway(listener_tls(&[&a]), &web)
        .request_header(None, HeaderAction::set("X-Forwarded-Proto", "custom"))
        .request_header(None, HeaderAction::delete("X-Forwarded-Port"));
    let gw = start(builder).await;
    let mut s = tls_connect(gw.local_addr(), client_config(&[&a.2], ALL), "localhost")
        .await
        .unwrap();
    let (status, _, _) = exchange(
        &mut s,
        "GET / HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-Port: 1\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    let head = web.last_head().to_ascii_lowercase();
    assert_eq!(head.matches("x-forwarded-proto:").count(), 1, "{head}");
    assert!(head.contains("x-forwarded-proto: custom\r\n"), "{head}");
    assert!(!head.contains("x-forwarded-port"), "{head}");
    gw.shutdown().await;
}

#[tokio::test]
async fn tcp_mode_terminates_tls_and_routes_whole_connections_by_sni() {
    let web = http_server("www").await;
    let api = http_server("api").await;
    let a = cert(&["a.test", "api.test"]);
    let web_b = Backend::new("web").server(Server::at(web.addr).name("www"));
    let api_b = Backend::new("api").server(Server::at(api.addr).name("api"));
    let gw = start(
        Gateway::builder()
            .mode(gangway::FrontendMode::Tcp)
            .listener(Listener::new("127.0.0.1:0").tls(listener_tls(&[&a])))
            .route("ssl_fc_sni -i api.test".parse().unwrap(), &api_b)
            .default_backend(&web_b),
    )
    .await;
    let config = client_config(&[&a.2], ALL);
    for (sni, want) in [("a.test", "www /p\n"), ("api.test", "api /p\n")] {
        let mut s = tls_connect(gw.local_addr(), config.clone(), sni)
            .await
            .unwrap();
        let (status, _, body) =
            exchange(&mut s, &format!("GET /p HTTP/1.1\r\nHost: {sni}\r\n\r\n")).await;
        assert_eq!(
            (status, String::from_utf8(body).unwrap().as_str()),
            (200, want)
        );
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn tls_servers_are_health_checked_over_tls() {
    let server_cert = cert(&["127.0.0.1"]);
    let other = cert(&["127.0.0.1"]);
    let (addr, health) = tls_backend(&server_cert).await;
    // Checks come often, but each may take its time: on a loaded machine a TLS handshake can
    // outlast a 50 ms interval, and `fall 1` would turn that into a false "down".
    let check = Check::http("/health")
        .inter(Duration::from_millis(50))
        .timeout(Duration::from_secs(5))
        .rise(1)
        .fall(1);
    let trusted = TlsServer::new().ca_pem(server_cert.0.as_bytes()).unwrap();
    let b = Backend::new("b")
        .server(Server::at(addr).name("s").tls(trusted))
        .check(check.clone());
    let gw = start(local().default_backend(&b)).await;
    // HTTP checks reach the server through TLS (a plain request would fail its handshake).
    eventually("checks over TLS", || {
        health.load(std::sync::atomic::Ordering::SeqCst) >= 2
    })
    .await;
    assert_eq!(gw.server_state("b", "s"), Some(ServerState::Up));
    gw.shutdown().await;

    // A certificate the check cannot verify marks the server down.
    let untrusted = TlsServer::new().ca_pem(other.0.as_bytes()).unwrap();
    let b = Backend::new("b")
        .server(Server::at(addr).name("s").tls(untrusted))
        .check(check);
    let gw = start(local().default_backend(&b)).await;
    eventually("a failed TLS check marks the server down", || {
        gw.server_state("b", "s") == Some(ServerState::Down)
    })
    .await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_tls_check_whose_handshake_never_finishes_says_so() {
    // A server that accepts connections and never answers: the check's TLS handshake waits
    // for a ServerHello that does not come.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let server_cert = cert(&["127.0.0.1"]);
    let trusted = TlsServer::new().ca_pem(server_cert.0.as_bytes()).unwrap();
    let check = Check::http("/health")
        .inter(Duration::from_millis(100))
        .timeout(Duration::from_millis(300))
        .rise(1)
        .fall(1);
    let b = Backend::new("b")
        .server(Server::at(addr).name("s").tls(trusted))
        .check(check);
    let gw = start(local().default_backend(&b).status_page("/status")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(gw.local_addr(), "/status/json").await;
        assert_eq!(status, 200);
        let body = String::from_utf8_lossy(&body).into_owned();
        if body.contains("\"state\":\"down\"") && body.contains("\"result\":\"failed\"") {
            // Layer 6, as HAProxy's L6TOUT: not a layer 7 response timeout.
            assert!(
                body.contains("layer 6 timeout: the TLS handshake did not complete"),
                "{body}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never down: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.shutdown().await;
    holder.abort();
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_within_the_timeouts() {
    // The response fills the socket and rustls' own buffer; the write times out (`timeout
    // client`), and closing (which over TLS must first send what rustls holds) is bounded by
    // `timeout client-fin` instead of waiting for the client forever.
    let web = http_server("www").await;
    let a = cert(&["localhost"]);
    let builder = tls_gateway(listener_tls(&[&a]), &web).timeouts(
        Timeouts::default()
            .client(Duration::from_millis(300))
            .client_fin(Duration::from_millis(300)),
    );
    let gw = start(builder).await;
    let mut s = tls_connect(gw.local_addr(), client_config(&[&a.2], ALL), "localhost")
        .await
        .unwrap();
    s.write_all(b"GET /big/64000000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    eventually("the gateway has the connection", || {
        gw.active_connections() == 1
    })
    .await;
    eventually("the gateway closed the connection", || {
        gw.active_connections() == 0
    })
    .await;
    drop(s);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_tls_server_closing_without_close_notify_ends_a_close_delimited_body() {
    let server_cert = cert(&["127.0.0.1"]);
    let (addr, _) = tls_backend(&server_cert).await;
    let tls = TlsServer::new().ca_pem(server_cert.0.as_bytes()).unwrap();
    let b = Backend::new("b").server(Server::at(addr).name("s").tls(tls).no_check());
    let gw = start(local().default_backend(&b)).await;
    for _ in 0..3 {
        let out = raw_exchange(
            gw.local_addr(),
            b"GET /close-without-notify HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_secs(10),
        )
        .await;
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("HTTP/1.1 200") && text.ends_with("\r\n\r\nuntil the end"),
            "{text}"
        );
    }
    // A complete response is not a server error.
    let metrics = gw.metrics_text();
    let errors: Vec<&str> = metrics
        .lines()
        .filter(|l| l.contains("response_errors_total{"))
        .collect();
    assert!(!errors.is_empty(), "{metrics}");
    assert!(errors.iter().all(|l| l.ends_with(" 0")), "{errors:?}");
    gw.shutdown().await;
}
