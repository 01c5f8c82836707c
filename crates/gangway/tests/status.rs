//! The status page and the demo on real sockets: the page, its JSON, its event stream and its
//! Prometheus text; broadcasts across both demo chat servers; a chat server stopped and
//! started again shows down and up; an open event stream never holds up a shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use gangway::demo::Demo;
use gangway::prelude::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const DEADLINE: Duration = Duration::from_secs(30);

/// One request on its own connection (`Connection: close`): status line, head and body.
async fn get(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

/// The JSON object of one server in a status snapshot (the text between its braces).
fn server_json<'a>(json: &'a str, name: &str) -> &'a str {
    let start = json
        .find(&format!("{{\"name\":\"{name}\",\"addr\""))
        .unwrap_or_else(|| panic!("{name} in {json}"));
    let len = json[start..]
        .find("}}")
        .or_else(|| json[start..].find("null}"))
        .unwrap();
    &json[start..start + len + 2]
}

async fn status_json(addr: SocketAddr) -> String {
    let (status, head, body) = get(addr, "GET", "/status/json").await;
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    body
}

/// Polls the JSON until `f` holds for it.
async fn wait_json(addr: SocketAddr, what: &str, f: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let json = status_json(addr).await;
        if f(&json) {
            return json;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {json}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn state_is(json: &str, server: &str, state: &str, check: &str) -> bool {
    let s = server_json(json, server);
    s.contains(&format!("\"state\":\"{state}\""))
        && s.contains(&format!("\"last_check\":{{\"result\":\"{check}\""))
}

async fn demo_gateway() -> (Demo, GatewayHandle) {
    let demo = Demo::start().await.unwrap();
    let handle = demo
        .gateway("127.0.0.1:0")
        .access_log(false)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    (demo, handle)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn next_text(ws: &mut Ws) -> String {
    loop {
        let msg = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .unwrap();
        if let Message::Text(t) = msg {
            return t.as_str().to_owned();
        }
    }
}

#[tokio::test]
async fn status_page_is_off_by_default() {
    let demo = Demo::start().await.unwrap();
    let web = Backend::new("web").server(demo.page_addr());
    let gw = Gateway::builder()
        .listen("127.0.0.1:0")
        .default_backend(&web)
        .access_log(false)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    // The request goes to the backend, which knows no such path.
    let (status, _, _) = get(gw.local_addr(), "GET", "/status/json").await;
    assert_eq!(status, 404);
    gw.shutdown().await;
}

#[tokio::test]
async fn page_json_and_metrics_paths() {
    let (_demo, gw) = demo_gateway().await;
    let addr = gw.local_addr();
    let cases = [
        (
            "GET",
            "/status",
            200,
            "text/html",
            "<title>gangway status</title>",
        ),
        ("GET", "/status/", 200, "text/html", "new EventSource"),
        (
            "GET",
            "/status/json",
            200,
            "application/json",
            "\"backends\":[",
        ),
        (
            "GET",
            "/status/metrics",
            200,
            "text/plain; version=0.0.4",
            "gangway_server_up{backend=\"ws\",server=\"chat2\"}",
        ),
        ("HEAD", "/status", 200, "text/html", ""),
        // Not a status path: the page backend answers.
        ("GET", "/status/other", 404, "text/plain", "not found"),
        ("GET", "/", 200, "text/html", "WebSocket Example"),
    ];
    for (method, path, want_status, ctype, contains) in cases {
        let (status, head, body) = get(addr, method, path).await;
        assert_eq!(status, want_status, "{method} {path}: {head}");
        assert!(head.contains(ctype), "{method} {path}: {head}");
        assert!(body.contains(contains), "{method} {path}: {body}");
        if method == "HEAD" {
            assert!(body.is_empty(), "{method} {path}: {body}");
            assert!(!head.contains("Content-Length: 0\r"), "{head}");
        }
    }
    let json = status_json(addr).await;
    for field in [
        "\"frontend\":\"gangway\"",
        "\"name\":\"ws\",\"balance\":\"leastconn\",\"check\":\"websocket /ws/echo\"",
        "\"name\":\"web\",\"balance\":\"roundrobin\",\"check\":\"http GET /health\"",
    ] {
        assert!(json.contains(field), "{field} in {json}");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn broadcasts_reach_clients_on_both_servers_and_json_counts_them() {
    let (_demo, gw) = demo_gateway().await;
    let addr = gw.local_addr();
    wait_json(addr, "both chat servers checked", |j| {
        state_is(j, "chat1", "up", "passed") && state_is(j, "chat2", "up", "passed")
    })
    .await;
    let url = format!("ws://{addr}/ws/echo");
    let (mut a, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // leastconn sends the second client to the other server once the first one's tunnel is up.
    wait_json(addr, "first tunnel open", |j| {
        j.contains("\"tunnels_active\":1,\"tunnels_total\":1,\"servers\"")
    })
    .await;
    let (mut b, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let json = wait_json(addr, "one tunnel on each chat server", |j| {
        server_json(j, "chat1").contains("\"tunnels_active\":1")
            && server_json(j, "chat2").contains("\"tunnels_active\":1")
    })
    .await;
    assert!(
        json.contains("\"tunnels_active\":2,\"tunnels_total\":2"),
        "{json}"
    );
    let (_, _, metrics) = get(addr, "GET", "/status/metrics").await;
    for server in ["chat1", "chat2"] {
        let line =
            format!("gangway_server_current_tunnels{{backend=\"ws\",server=\"{server}\"}} 1\n");
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }

    a.send(Message::text("hello from a")).await.unwrap();
    assert_eq!(next_text(&mut a).await, "Received: hello from a");
    assert_eq!(next_text(&mut b).await, "Received: hello from a");
    b.send(Message::text("hello from b")).await.unwrap();
    assert_eq!(next_text(&mut a).await, "Received: hello from b");
    assert_eq!(next_text(&mut b).await, "Received: hello from b");

    a.close(None).await.unwrap();
    b.close(None).await.unwrap();
    let json = wait_json(addr, "tunnels closed, bytes counted", |j| {
        j.contains("\"tunnels_active\":0,\"tunnels_total\":2,\"servers\"")
    })
    .await;
    for name in ["chat1", "chat2"] {
        let s = server_json(&json, name);
        assert!(!s.contains("\"bytes_in\":0,"), "{s}");
        assert!(!s.contains("\"bytes_out\":0,"), "{s}");
        assert!(s.contains("\"requests\":1,"), "{s}");
        assert!(s.contains("\"total\":1,"), "{s}");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn a_stopped_chat_server_goes_down_and_comes_back_up() {
    let (demo, gw) = demo_gateway().await;
    let addr = gw.local_addr();
    wait_json(addr, "chat2 checked", |j| {
        state_is(j, "chat2", "up", "passed")
    })
    .await;
    assert!(demo.stop_chat("chat2").await);
    assert!(!demo.stop_chat("chat2").await, "already stopped");
    let json = wait_json(addr, "chat2 down", |j| {
        state_is(j, "chat2", "down", "failed")
    })
    .await;
    // chat1 stays up; its last check itself may have been slow on a loaded machine (one
    // failure is below `fall 2`), so only the state is asserted.
    assert!(
        server_json(&json, "chat1").contains("\"state\":\"up\""),
        "{json}"
    );
    assert!(
        json.contains(
            "\"name\":\"ws\",\"balance\":\"leastconn\",\"check\":\"websocket /ws/echo\",\"up\":1"
        ),
        "{json}"
    );
    assert!(demo.start_chat("chat2").unwrap());
    assert!(!demo.start_chat("chat2").unwrap(), "already running");
    wait_json(addr, "chat2 up again", |j| {
        state_is(j, "chat2", "up", "passed")
    })
    .await;
    gw.shutdown().await;
}

/// Reads from an event stream until `n` complete `status` events arrived; returns the text.
async fn read_events(s: &mut TcpStream, buf: &mut String, n: usize) {
    while buf.matches("event: status\ndata: {").count() < n || !buf.ends_with("\n\n") {
        let mut chunk = [0u8; 8192];
        let got = tokio::time::timeout(DEADLINE, s.read(&mut chunk))
            .await
            .expect("events in time")
            .unwrap();
        assert!(got > 0, "stream ended early: {buf}");
        buf.push_str(std::str::from_utf8(&chunk[..got]).unwrap());
    }
}

#[tokio::test]
async fn events_push_snapshots_and_never_hold_up_a_shutdown() {
    let demo = Demo::start().await.unwrap();
    let gw = demo
        .gateway("127.0.0.1:0")
        .access_log(false)
        // Far longer than the test's deadline: only a stream that ends on its own lets the
        // shutdown finish in time.
        .grace(Duration::from_secs(600))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    s.write_all(b"GET /status/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    read_events(&mut s, &mut text, 2).await;
    let (head, events) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: text/event-stream"), "{head}");
    assert!(!head.contains("Content-Length"), "{head}");
    assert!(events.starts_with("retry: 1000\n\n"), "{events}");
    for event in events.split("\n\n").filter(|e| e.starts_with("event:")) {
        let data = event.strip_prefix("event: status\ndata: ").unwrap();
        assert!(
            data.starts_with("{\"frontend\":\"gangway\"") && data.ends_with("]}"),
            "{data}"
        );
        assert!(!data.contains('\n'), "one line of JSON per event: {data}");
    }
    assert_eq!(gw.active_connections(), 1);

    tokio::time::timeout(DEADLINE, gw.shutdown())
        .await
        .expect("an open event stream does not hold up the shutdown");
    let mut rest = Vec::new();
    let end = tokio::time::timeout(DEADLINE, s.read_to_end(&mut rest)).await;
    assert!(
        matches!(end, Ok(Ok(_))),
        "the stream ends with the shutdown"
    );
}

#[tokio::test]
async fn event_stream_ends_when_the_client_goes_away() {
    let (_demo, gw) = demo_gateway().await;
    let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
    s.write_all(b"GET /status/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    read_events(&mut s, &mut text, 1).await;
    assert_eq!(gw.active_connections(), 1);
    drop(s);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while gw.active_connections() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream's connection closes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn demo_commands_stop_and_start_chat_servers() {
    let demo = Demo::start().await.unwrap();
    let cases = [
        ("", None),
        ("stop chat2", Some("chat2 stopped")),
        ("stop chat2", Some("chat2: no such running server")),
        ("start chat2", Some("chat2 started")),
        ("start  chat2", Some("chat2: no such stopped server")),
        ("stop chat9", Some("chat9: no such running server")),
        (
            "reboot",
            Some("unknown command \"reboot\" (try: stop chat2, start chat2)"),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(demo.command(line).await.as_deref(), want, "{line:?}");
    }
    assert!(demo.chat_running("chat1") && demo.chat_running("chat2"));
    // The restarted server is a working chat server on its old address.
    let url = format!("ws://{}/ws/echo", demo.chat_addrs()[1]);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::text("again")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "Received: again");
}

/// A gateway in front of the demo's page server with the status page at `base`, and
/// `extra` applied to its builder.
async fn page_gateway(
    base: &str,
    extra: impl FnOnce(gangway::GatewayBuilder) -> gangway::GatewayBuilder,
) -> (Demo, GatewayHandle) {
    let demo = Demo::start().await.unwrap();
    let web = Backend::new("web").server(demo.page_addr());
    let builder = Gateway::builder()
        .listen("127.0.0.1:0")
        .default_backend(&web)
        .status_page(base)
        .access_log(false);
    let gw = extra(builder).build().unwrap().start().await.unwrap();
    (demo, gw)
}

/// Each path gets its status, with `ctype` in its head (404s come from the demo's backend).
async fn expect_pages(addr: SocketAddr, cases: &[(&str, u16, &str)]) {
    for &(path, want, ctype) in cases {
        let (status, head, _) = get(addr, "GET", path).await;
        assert_eq!(status, want, "{path}: {head}");
        assert!(head.contains(ctype), "{path}: {head}");
    }
}

#[tokio::test]
async fn the_status_path_is_configurable() {
    let (_demo, gw) = page_gateway("/admin/gangway/", |b| b).await;
    let cases = [
        ("/admin/gangway", 200, "text/html"),
        ("/admin/gangway/", 200, "text/html"),
        ("/admin/gangway/json?x=1", 200, "application/json"),
        ("/admin/gangway/metrics", 200, "text/plain; version=0.0.4"),
        // Absolute form names the same path.
        ("http://x/admin/gangway/json", 200, "application/json"),
        // Everything else goes to the backend.
        ("/admin/gangwayx", 404, "Content-Type: text/plain\r"),
        ("/admin/gangway/json/", 404, "Content-Type: text/plain\r"),
        ("/status", 404, "Content-Type: text/plain\r"),
    ];
    expect_pages(gw.local_addr(), &cases).await;
    gw.shutdown().await;
}

#[tokio::test]
async fn operator_states_and_weights_show_in_the_json() {
    let (_demo, gw) = demo_gateway().await;
    let addr = gw.local_addr();
    let cases = [
        (ServerState::Drain, 3, "\"state\":\"drain\",\"weight\":3,"),
        (ServerState::Maint, 1, "\"state\":\"maint\",\"weight\":1,"),
        (ServerState::Up, 7, "\"state\":\"up\",\"weight\":7,"),
    ];
    for (state, weight, want) in cases {
        assert!(gw.set_server_state("ws", "chat1", state));
        assert!(gw.set_server_weight("ws", "chat1", weight));
        let json = status_json(addr).await;
        let chat1 = server_json(&json, "chat1");
        assert!(chat1.contains(want), "{want} in {chat1}");
    }
    gw.shutdown().await;
}

/// `http-request deny` protects the status page and the metrics as in HAProxy (its rules run
/// before its stats page), while the monitor URI, which load balancers probe, is answered
/// before any rule.
#[tokio::test]
async fn deny_rules_protect_the_status_page_but_not_the_monitor() {
    let (_demo, gw) = page_gateway("/status", |b| {
        b.stats_uri("/prom")
            .monitor_uri("/healthz")
            // Everything from loopback is denied here: the pages must be too.
            .deny("src 127.0.0.0/8".parse().unwrap(), 403)
    })
    .await;
    let addr = gw.local_addr();
    let denied = [
        "/status",
        "/status/json",
        "/status/metrics",
        "/status/events",
        "/prom",
    ];
    let cases = denied.map(|path| (path, 403, "Content-Length"));
    expect_pages(addr, &cases).await;
    let (status, head, body) = get(addr, "GET", "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "OK\n"), "{head}");
    gw.shutdown().await;
}

/// HAProxy's default stats URI has a query (`stats enable` alone gives `/haproxy?stats`):
/// the page, its siblings and the page's own links work under it.
#[tokio::test]
async fn a_status_page_under_a_query_uri() {
    let (_demo, gw) = page_gateway("/haproxy?stats", |b| b).await;
    let addr = gw.local_addr();
    let (status, head, body) = get(addr, "GET", "/haproxy?stats").await;
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("text/html"), "{head}");
    // The page builds its links from the base the gateway writes into it.
    assert!(body.contains("data-base=\"/haproxy?stats\""), "{body}");
    let cases = [
        ("/haproxy?stats/", 200, "text/html"),
        ("/haproxy?stats/json", 200, "application/json"),
        ("/haproxy?stats/metrics", 200, "text/plain; version=0.0.4"),
        // HAProxy's own suffixes and extra parameters still mean the page.
        ("/haproxy?stats;csv", 200, "text/html"),
        ("/haproxy?stats&refresh=5", 200, "text/html"),
        // Not the page: to the backend.
        ("/haproxy", 404, "Content-Type: text/plain\r"),
        ("/haproxy?other", 404, "Content-Type: text/plain\r"),
        ("/haproxy?statsx", 404, "Content-Type: text/plain\r"),
    ];
    expect_pages(addr, &cases).await;
    gw.shutdown().await;
}
