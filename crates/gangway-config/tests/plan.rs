//! Converting configs into gateway builders: what converts, what the gateway refuses (with
//! file:line and keyword), and a monitor URI driven by `nbsrv()`.

use std::time::Duration;

use gangway_config::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn plan_text(text: &str) -> Result<Plan, Error> {
    let loaded = parse_haproxy(text, "plan.cfg").unwrap_or_else(|e| panic!("{e}"));
    plan(&loaded, PlanOptions::default())
}

fn plan_errors(text: &str) -> Vec<String> {
    match plan_text(text) {
        Ok(_) => panic!("expected the gateway to refuse:\n{text}"),
        Err(error) => error
            .diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

const FE: &str = "frontend fe\n bind 127.0.0.1:0\n default_backend be\n";

#[test]
fn every_seed_fixture_plans_and_builds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let loaded = load(&path).unwrap();
        let plan = plan(&loaded, PlanOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            plan.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            plan.warnings
        );
        for frontend in plan.frontends {
            frontend
                .builder
                .build()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn refusals_name_the_line_and_keyword() {
    let cases: &[(&str, &str)] = &[
        (
            "frontend fe\n bind 127.0.0.1:0\n http-request redirect prefix /x append-slash\n default_backend be\nbackend be\n server s 127.0.0.1:1\n",
            "plan.cfg:3: 'http-request': 'append-slash'",
        ),
        (
            "frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s 127.0.0.1:1 check addr no-such-host.invalid\n",
            "plan.cfg:5: 'server': server 's': 'addr no-such-host.invalid' does not resolve",
        ),
        (
            // The gateway refused it when built, without a line.
            "frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server ok 127.0.0.1:1\n server s no-such-host.invalid:80\n",
            "plan.cfg:6: 'server': server 's': 'no-such-host.invalid:80' does not resolve",
        ),
        (
            "frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n option httpchk\n http-check expect rstring ^ok\n server s 127.0.0.1:1 check\n",
            "plan.cfg:6: 'http-check': 'expect rstring' is not supported",
        ),
        (
            "frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n balance uri depth 2\n server s 127.0.0.1:1\n",
            "plan.cfg:5: 'balance'",
        ),
        (
            "frontend fe\n bind 127.0.0.1:0\n option forwardfor except 10.0.0.0/40\n default_backend be\nbackend be\n server s 127.0.0.1:1\n",
            "plan.cfg:3: 'option forwardfor': 'except 10.0.0.0/40'",
        ),
        (
            // The lexer turns `\r\n` into CR LF: a header line would be injected.
            "frontend fe\n bind 127.0.0.1:0\n option forwardfor header X-A\\r\\nX-B:\\ 1\n default_backend be\nbackend be\n server s 127.0.0.1:1\n",
            r#"plan.cfg:3: 'option forwardfor': header "X-A\r\nX-B: 1" is not an HTTP header name"#,
        ),
        (
            // The gateway refused it when built, without a line.
            "frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n option forwardfor header Content-Length\n server s 127.0.0.1:1\n",
            "plan.cfg:5: 'option forwardfor': header 'Content-Length' is one the gateway writes itself",
        ),
        (
            "frontend fe\n bind 127.0.0.1:0\n option forwardfor header host\n default_backend be\nbackend be\n server s 127.0.0.1:1\n",
            "plan.cfg:3: 'option forwardfor': header 'host' is one the gateway writes itself",
        ),
        (
            "frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n http-request deny\n server s 127.0.0.1:1\n",
            "plan.cfg:5: 'http-request': in a backend",
        ),
        (
            "frontend fe\n bind 127.0.0.1:0\n acl down nbsrv(be) lt 1\n use_backend be if down\n default_backend be\nbackend be\n server s 127.0.0.1:1\n",
            "plan.cfg:4: 'use_backend': 'nbsrv()' can only be used in 'monitor fail'",
        ),
        (
            "frontend fe\n bind 127.0.0.1:0\n monitor-uri /alive\n monitor fail if { path_beg /x }\n default_backend be\nbackend be\n server s 127.0.0.1:1\n",
            "plan.cfg:4: 'monitor': the gateway supports",
        ),
        (
            "frontend fe\n bind 127.0.0.1:0\n monitor-uri /alive\n acl few nbsrv(be) lt 2\n monitor fail if few\n default_backend be\nbackend be\n server s 127.0.0.1:1\n",
            "plan.cfg:5: 'monitor'",
        ),
    ];
    for (text, prefix) in cases {
        let errors = plan_errors(text);
        assert!(
            errors.iter().any(|e| e.starts_with(prefix)),
            "no error starting {prefix:?} in {errors:#?}"
        );
    }
}

#[test]
fn warnings_for_what_the_gateway_ignores() {
    let text = format!(
        "{FE}backend be\n hash-type map-based\n balance source\n server s1 127.0.0.1:1 check inter 1s observe layer7\n server s2 127.0.0.1:2 check inter 2s\n"
    );
    let plan = plan_text(&text).unwrap();
    let warnings: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("'hash-type': the gateway always uses consistent hashing")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("different check timing")),
        "{warnings:?}"
    );
}

#[test]
fn servers_differing_only_in_check_port_or_addr_do_not_warn() {
    // `port` and `addr` are per server in the gateway; only the timing is shared.
    let text = format!(
        "{FE}backend be\n server s1 127.0.0.1:1 check port 8081\n server s2 127.0.0.1:2 check port 8082 addr 127.0.0.2\n server s3 127.0.0.1:3 check\n"
    );
    let plan = plan_text(&text).unwrap();
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn a_check_version_other_than_http_1_warns() {
    let plan_warnings = |chk: &str| -> Vec<String> {
        let text = format!("{FE}backend be\n {chk}\n server s 127.0.0.1:1 check\n");
        let plan = plan_text(&text).unwrap();
        plan.warnings.iter().map(ToString::to_string).collect()
    };
    assert_eq!(
        plan_warnings("option httpchk GET /health HTTP/2.0"),
        [
            "plan.cfg:5: 'option httpchk': version 'HTTP/2.0' is ignored: the gateway's checks are HTTP/1.1 requests"
        ]
    );
    for chk in [
        "option httpchk",
        "option httpchk GET /health HTTP/1.1\\r\\nHost:\\ svc",
        "option httpchk\n http-check send ver HTTP/1.0",
    ] {
        assert!(plan_warnings(chk).is_empty(), "{chk}");
    }
}

#[test]
fn monitor_fail_conditions_the_gateway_accepts() {
    for condition in [
        "if down",
        "if { nbsrv(be) lt 1 }",
        "if down || { nbsrv(other) eq 0 }",
        "unless { nbsrv(be) gt 0 }",
    ] {
        let text = format!(
            "frontend fe\n bind 127.0.0.1:0\n monitor-uri /alive\n acl down nbsrv(be) lt 1\n monitor fail {condition}\n default_backend be\nbackend be\n server s 127.0.0.1:1\nbackend other\n server s 127.0.0.1:2\n"
        );
        let plan = plan_text(&text).unwrap_or_else(|e| panic!("{condition}: {e}"));
        plan.frontends
            .into_iter()
            .next()
            .unwrap()
            .builder
            .build()
            .unwrap();
    }
}

/// Builds and starts the plan's first frontend.
/// Everything a `GET /` to `addr` gets back until the gateway closes.
async fn get_to_end(addr: std::net::SocketAddr) -> Vec<u8> {
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), client.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    response
}

async fn start_first(plan: Plan) -> gangway::GatewayHandle {
    let frontend = plan.frontends.into_iter().next().expect("a frontend");
    frontend.builder.build().unwrap().start().await.unwrap()
}

async fn status(addr: std::net::SocketAddr, path: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn monitor_uri_fails_while_the_backend_is_down() {
    // A port nothing listens on: the check fails and the backend goes down.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = format!(
        "frontend fe\n bind 127.0.0.1:0\n monitor-uri /alive\n acl site_dead nbsrv(be) lt 1\n monitor fail if site_dead\n default_backend be\nbackend be\n server s {dead} check inter 100ms fall 1 rise 1\n"
    );
    let plan = plan_text(&text).unwrap();
    let handle = start_first(plan).await;
    let addr = handle.local_addr();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let code = status(addr, "/alive").await;
        if code == 503 {
            break;
        }
        assert_eq!(code, 200, "the monitor URI answers 200 or 503");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the monitor never reported the dead backend"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.shutdown().await;
}

/// A server answering every request with 200 after `delay`; sends each request head it
/// reads.
async fn recording_server(
    delay: Duration,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                tokio::time::sleep(delay).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    (addr, rx)
}

/// How many requests each server of `received` got, once `sent` were answered (a server
/// records the request head before answering it).
fn counts(received: &mut [tokio::sync::mpsc::UnboundedReceiver<String>]) -> Vec<usize> {
    received
        .iter_mut()
        .map(|rx| std::iter::from_fn(|| rx.try_recv().ok()).count())
        .collect()
}

#[tokio::test]
async fn option_allbackups_shares_traffic_among_every_backup() {
    // The regular server is in maintenance (`disabled`), or there is none.
    let regular = ["server s1 127.0.0.1:1 disabled\n", ""];
    for (option, expected) in [
        ("option allbackups\n ", [2, 2]),
        ("", [4, 0]),
        ("option allbackups\n no option allbackups\n ", [4, 0]),
    ] {
        for regular in regular {
            let (b1, rx1) = recording_server(Duration::ZERO).await;
            let (b2, rx2) = recording_server(Duration::ZERO).await;
            let text = format!(
                "{FE}backend be\n {option}{regular} server b1 {b1} backup\n server b2 {b2} backup\n"
            );
            let handle = start_first(plan_text(&text).unwrap()).await;
            for _ in 0..4 {
                assert_eq!(status(handle.local_addr(), "/").await, 200, "{text}");
            }
            assert_eq!(counts(&mut [rx1, rx2]), expected, "{text}");
            handle.shutdown().await;
        }
    }
}

#[tokio::test]
async fn zero_timeouts_mean_no_timeout() {
    let (server, _) = recording_server(Duration::ZERO).await;
    let text = format!(
        "defaults\n mode http\n timeout connect 0\n timeout client 0\n timeout server 0\n{FE}backend be\n server s {server}\n"
    );
    let handle = start_first(plan_text(&text).unwrap()).await;
    assert_eq!(status(handle.local_addr(), "/").await, 200);
    handle.shutdown().await;
}

#[tokio::test]
async fn timeout_check_zero_falls_back_to_inter() {
    // Checks answered after 50 ms: fine within `inter 1s`, failed by a zero (1 ms) timeout.
    let (server, mut checks) = recording_server(Duration::from_millis(50)).await;
    let text = format!(
        "defaults\n mode http\n timeout check 0\nfrontend fe\n bind 127.0.0.1:0\n monitor-uri /alive\n acl down nbsrv(be) lt 1\n monitor fail if down\n default_backend be\nbackend be\n option httpchk GET /health\n server s {server} check inter 1s fastinter 100ms downinter 100ms fall 1 rise 1\n"
    );
    let handle = start_first(plan_text(&text).unwrap()).await;
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(20), checks.recv())
            .await
            .expect("checks arrive")
            .unwrap();
    }
    // Checks run one after another: the first one's result is in, and fall 1 would have marked
    // the server down had it failed.
    assert_eq!(status(handle.local_addr(), "/alive").await, 200);
    handle.shutdown().await;
}

#[tokio::test]
async fn http_check_send_without_option_httpchk_keeps_tcp_checks() {
    // A server that reads and never answers, as a database would an HTTP request: an HTTP check
    // would write to it and time out (fall 1: DOWN); a TCP check connects and closes.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let (tx, mut received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let _ = stream.read_to_end(&mut got).await;
                let _ = tx.send(got);
            });
        }
    });
    let text = format!(
        "defaults\n mode http\n timeout check 200ms\n http-check send hdr Host svc\nfrontend fe\n bind 127.0.0.1:0\n monitor-uri /alive\n acl down nbsrv(be) lt 1\n monitor fail if down\n default_backend be\nbackend be\n server s {server} check inter 100ms fall 1 rise 1\n"
    );
    let handle = start_first(plan_text(&text).unwrap()).await;
    for _ in 0..2 {
        let got = tokio::time::timeout(Duration::from_secs(20), received.recv())
            .await
            .expect("checks arrive")
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            "",
            "a TCP check sends nothing"
        );
    }
    assert_eq!(status(handle.local_addr(), "/alive").await, 200);
    handle.shutdown().await;
}

#[tokio::test]
async fn check_headers_reach_the_server() {
    let cases = [
        "option httpchk GET /health HTTP/1.1\\r\\nHost:\\ svc\\r\\nAuthorization:\\ Bearer\\ t0k",
        "option httpchk GET /health\n http-check send ver HTTP/1.1 hdr Host svc hdr Authorization \"Bearer t0k\"",
        // Headers given before `ver` (HAProxy takes the keywords in any order).
        "option httpchk\n http-check send meth GET hdr Host svc hdr Authorization \"Bearer t0k\" ver HTTP/1.1 uri /health",
    ];
    for chk in cases {
        let (server, mut heads) = recording_server(Duration::ZERO).await;
        let text = format!(
            "defaults\n mode http\n{FE}backend be\n {chk}\n server s {server} check inter 100ms\n"
        );
        let handle = start_first(plan_text(&text).unwrap()).await;
        let head = tokio::time::timeout(Duration::from_secs(20), heads.recv())
            .await
            .expect("no check arrived")
            .unwrap();
        let lower = head.to_ascii_lowercase();
        assert!(head.starts_with("GET /health HTTP/1.1\r\n"), "{head}");
        assert!(lower.contains("\r\nhost: svc\r\n"), "{chk}: {head}");
        assert!(
            lower.contains("\r\nauthorization: bearer t0k\r\n"),
            "{chk}: {head}"
        );
        handle.shutdown().await;
    }
}

#[tokio::test]
async fn tcp_mode_pipes_connections() {
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = echo.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = echo.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let text = format!(
        "defaults\n mode tcp\n timeout tunnel 1m\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {echo_addr}\n"
    );
    let plan = plan_text(&text).unwrap();
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    let handle = start_first(plan).await;
    let mut client = tokio::net::TcpStream::connect(handle.local_addr())
        .await
        .unwrap();
    client.write_all(b"not http at all\r\n").await.unwrap();
    let mut echoed = [0u8; 17];
    tokio::time::timeout(Duration::from_secs(20), client.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echoed, b"not http at all\r\n");
    drop(client);
    handle.shutdown().await;
}

#[tokio::test]
async fn errorfile_is_served() {
    let dir = std::env::temp_dir().join(format!("gangway-plan-errorfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("503.http");
    let body = "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\ncome back later\n";
    std::fs::write(&page, body).unwrap();
    // A backend with no server: every request gets the 503 page.
    let text = format!(
        "defaults\n mode http\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n errorfile 503 {}\n",
        page.display()
    );
    let plan = plan_text(&text).unwrap();
    let handle = start_first(plan).await;
    let response = get_to_end(handle.local_addr()).await;
    assert_eq!(String::from_utf8_lossy(&response), body);
    handle.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_device_error_file_is_read_up_to_its_size_as_in_haproxy() {
    // `/dev/zero` has size 0, as `/dev/null`: an empty answer (the connection closes), where
    // reading it to the end filled the memory and the gateway never started.
    let text = "defaults\n mode http\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n errorfile 503 /dev/zero\n";
    let (done, planned) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(plan_text(text).unwrap()));
    let plan = planned.recv_timeout(Duration::from_secs(20)).unwrap();
    let handle = start_first(plan).await;
    let response = get_to_end(handle.local_addr()).await;
    assert_eq!(response, b"");
    handle.shutdown().await;
}

#[tokio::test]
async fn stats_uri_serves_the_status_page_and_metrics() {
    let text = "defaults\n mode http\nfrontend fe\n bind 127.0.0.1:0\n stats uri /stats\n default_backend be\nbackend be\n server s 127.0.0.1:1\n";
    let plan = plan_text(text).unwrap();
    let handle = start_first(plan).await;
    for path in ["/stats", "/stats/json", "/stats/metrics"] {
        assert_eq!(status(handle.local_addr(), path).await, 200, "{path}");
    }
    handle.shutdown().await;
}

#[test]
fn observe_turns_on_passive_health_and_on_error_alone_warns() {
    let watched = format!(
        "{FE}backend be\n server s1 127.0.0.1:9 check observe layer4 on-error mark-down error-limit 3\n"
    );
    let plan = plan_text(&watched).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    for frontend in plan.frontends {
        frontend.builder.build().unwrap_or_else(|e| panic!("{e}"));
    }

    let unwatched = format!("{FE}backend be\n server s1 127.0.0.1:9 check on-error mark-down\n");
    let plan = plan_text(&unwatched).unwrap_or_else(|e| panic!("{e}"));
    let warnings: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("plan.cfg:5") && w.contains("no effect without 'observe")),
        "{warnings:?}"
    );
}

/// Writes a self-signed certificate for `names` into a fresh directory: (chain+key file,
/// certificate-only file, key file).
#[cfg(feature = "tls")]
fn cert_files(tag: &str, names: &[&str]) -> (String, String, String) {
    let dir = std::env::temp_dir().join(format!("gangway-plan-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let (cert, key) = (c.cert.pem(), c.signing_key.serialize_pem());
    let both = dir.join("both.pem");
    std::fs::write(&both, format!("{cert}{key}")).unwrap();
    let only = dir.join("cert.pem");
    std::fs::write(&only, &cert).unwrap();
    let key_file = dir.join("key.pem");
    std::fs::write(&key_file, &key).unwrap();
    let text = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
    (text(both), text(only), text(key_file))
}

#[cfg(feature = "tls")]
#[test]
fn tls_binds_and_servers_plan_and_build() {
    let (a, a_cert, _) = cert_files("ok-a", &["a.test"]);
    let (b, _, _) = cert_files("ok-b", &["b.test"]);
    let text = format!(
        "frontend fe\n bind 127.0.0.1:0 ssl crt {a} crt {b} strict-sni alpn http/1.1\n timeout client-hs 3s\n http-request redirect scheme https code 301 unless {{ ssl_fc }}\n default_backend be\nbackend be\n server s1 127.0.0.1:1 ssl verify required ca-file {a_cert} sni str(a.test)\n server s2 127.0.0.1:2 ssl verify none\n"
    );
    let planned = plan_text(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(planned.warnings.is_empty(), "{:?}", planned.warnings);
    for frontend in planned.frontends {
        frontend.builder.build().unwrap();
    }
    // The same in TOML.
    let toml = format!(
        "[[frontend]]\nname = \"fe\"\nbind = [{{ address = \"127.0.0.1:0\", ssl = true, crt = [\"{a}\", \"{b}\"], strict-sni = true }}]\ntimeout = {{ client-hs = \"3s\" }}\ndefault_backend = \"be\"\n[[backend]]\nname = \"be\"\nserver = [{{ name = \"s1\", address = \"127.0.0.1:1\", ssl = true, ca-file = \"{a_cert}\" }}]\n"
    );
    let loaded = parse_toml(&toml, "plan.toml").unwrap_or_else(|e| panic!("{e}"));
    let plan = plan(&loaded, PlanOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    for frontend in plan.frontends {
        frontend.builder.build().unwrap();
    }
}

#[cfg(feature = "tls")]
#[test]
fn missing_or_bad_certificates_are_errors_naming_the_file_and_line() {
    let (_, cert_only, key) = cert_files("bad", &["a.test"]);
    let garbage =
        std::env::temp_dir().join(format!("gangway-plan-{}-garbage.pem", std::process::id()));
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let garbage = garbage.to_string_lossy().into_owned();
    let cases = [
        (
            "frontend fe\n bind 127.0.0.1:0 ssl crt /nonexistent/site.pem\n default_backend be\nbackend be\n server s 127.0.0.1:1\n".to_string(),
            "plan.cfg:2: 'bind': crt /nonexistent/site.pem: cannot read /nonexistent/site.pem".to_string(),
        ),
        (
            format!("frontend fe\n bind 127.0.0.1:0 ssl crt {cert_only}\n default_backend be\nbackend be\n server s 127.0.0.1:1\n"),
            format!("plan.cfg:2: 'bind': crt {cert_only}: {cert_only}: no private key found"),
        ),
        (
            format!("frontend fe\n bind 127.0.0.1:0 ssl crt {key}\n default_backend be\nbackend be\n server s 127.0.0.1:1\n"),
            format!("plan.cfg:2: 'bind': crt {key}: {key}: no certificate"),
        ),
        (
            format!("frontend fe\n bind 127.0.0.1:0 ssl crt {garbage}\n default_backend be\nbackend be\n server s 127.0.0.1:1\n"),
            format!("plan.cfg:2: 'bind': crt {garbage}: {garbage}: bad PEM"),
        ),
        (
            format!("{FE}backend be\n server s 127.0.0.1:1 ssl\n"),
            "plan.cfg:5: 'server': server 's': 'ssl' verifies the server's certificate: give 'ca-file FILE'".to_string(),
        ),
        (
            format!("{FE}backend be\n server s 127.0.0.1:1 ssl ca-file /nonexistent/ca.pem\n"),
            "plan.cfg:5: 'server': ca-file /nonexistent/ca.pem: cannot read /nonexistent/ca.pem".to_string(),
        ),
    ];
    for (text, want) in cases {
        let errors = plan_errors(&text);
        assert!(
            errors.iter().any(|e| e.starts_with(&want)),
            "want {want:?}, got {errors:?}"
        );
    }
}

/// How many listeners on `addr` the plan's gateways have.
fn listeners_on(plan: &Plan, addr: &str) -> usize {
    let quoted = format!("addr: {addr:?}");
    plan.frontends
        .iter()
        .map(|frontend| format!("{:?}", frontend.builder).matches(&quoted).count())
        .sum()
}

#[test]
fn an_ipv6_wildcard_leaves_ipv4_to_an_ipv4_wildcard_on_the_same_port() {
    // `:::8080` without v6only takes IPv4 clients too; with `bind :8080` beside it (same or
    // another frontend) that bind takes them, and 0.0.0.0:8080 is listened on once.
    let be = "backend be\n server s1 127.0.0.1:9000\n";
    for text in [
        format!("frontend fe\n bind :8080\n bind :::8080\n default_backend be\n{be}"),
        format!("frontend fe\n bind :::8080\n bind 0.0.0.0:8080\n default_backend be\n{be}"),
        format!(
            "frontend a\n bind :::8080\n default_backend be\nfrontend b\n bind *:8080\n default_backend be\n{be}"
        ),
    ] {
        let plan = plan_text(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(listeners_on(&plan, "0.0.0.0:8080"), 1, "{text}");
        assert_eq!(listeners_on(&plan, "[::]:8080"), 1, "{text}");
    }
    // Alone, the IPv6 wildcard still adds the IPv4 one.
    let plan = plan_text(&format!(
        "frontend fe\n bind :::8080\n default_backend be\n{be}"
    ))
    .unwrap();
    assert_eq!(listeners_on(&plan, "0.0.0.0:8080"), 1);
    assert_eq!(listeners_on(&plan, "[::]:8080"), 1);
}

#[test]
fn the_same_address_bound_twice_is_an_error_at_the_second_bind() {
    let be = "backend be\n server s1 127.0.0.1:9000\n";
    let errors = plan_errors(&format!(
        "frontend a\n bind 127.0.0.1:8080\n default_backend be\nfrontend b\n bind 127.0.0.1:8080\n default_backend be\n{be}"
    ));
    assert_eq!(
        errors,
        ["plan.cfg:5: 'bind': 127.0.0.1:8080 is already listened on (bind at line 2)"]
    );
    let errors = plan_errors(&format!(
        "frontend a\n bind :::8080\n bind :::8080 v6only\n default_backend be\n{be}"
    ));
    assert_eq!(
        errors,
        ["plan.cfg:3: 'bind': [::]:8080 is already listened on (bind at line 2)"]
    );
    // A wildcard and a specific address on one port overlap (`run` would fail to bind);
    // the IPv4 wildcard that `bind :::PORT` adds counts too.
    let errors = plan_errors(&format!(
        "frontend a\n bind :8080\n default_backend be\nfrontend b\n bind 127.0.0.1:8080\n default_backend be\n{be}"
    ));
    assert_eq!(
        errors,
        [
            "plan.cfg:5: 'bind': 127.0.0.1:8080 overlaps 0.0.0.0:8080, already listened on (bind at line 2): a wildcard and a specific address cannot share a port; bind one of them"
        ]
    );
    let errors = plan_errors(&format!(
        "frontend a\n bind 127.0.0.1:8080\n bind :::8080\n default_backend be\n{be}"
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("plan.cfg:3: 'bind': 0.0.0.0:8080 overlaps 127.0.0.1:8080"),
        "{errors:?}"
    );
    // Other ports, other families and two specific addresses are fine.
    plan_text(&format!(
        "frontend a\n bind :8080\n bind 127.0.0.1:8081\n bind [::1]:8080 \n bind 127.0.0.2:8082\n bind 127.0.0.3:8082\n default_backend be\n{be}"
    ))
    .unwrap();
    // Port 0 twice is two free ports.
    plan_text(&format!(
        "frontend a\n bind 127.0.0.1:0\n bind 127.0.0.1:0\n default_backend be\n{be}"
    ))
    .unwrap();
}

#[test]
fn a_bind_name_names_its_listeners() {
    let be = "backend be\n server s1 127.0.0.1:9000\n";
    let text = format!("frontend fe\n bind :::0 name web id 3\n default_backend be\n{be}");
    let loaded = parse_haproxy(&text, "plan.cfg").unwrap();
    assert_eq!(
        loaded.config.frontends[0].bind[0].name.as_deref(),
        Some("web")
    );
    let toml = "[[frontend]]\nname = \"fe\"\nbind = [{ address = \":::0\", name = \"web\" }]\n\
                default_backend = \"be\"\n[[backend]]\nname = \"be\"\n\
                server = [{ name = \"s1\", address = \"127.0.0.1:9000\" }]\n";
    assert_eq!(parse_toml(toml, "t.toml").unwrap().config, loaded.config);
    let plan = plan(&loaded, PlanOptions::default()).unwrap();
    let debug = format!("{:?}", plan.frontends[0].builder);
    assert!(debug.contains("name: Some(\"web\")"), "{debug}");
}

#[test]
fn a_server_that_does_not_resolve_is_one_error_however_many_frontends_use_its_backend() {
    let text = "frontend a\n bind 127.0.0.1:0\n default_backend be\nfrontend b\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server ok 127.0.0.1:1\n server s no-such-host.invalid:80\n";
    let errors = plan_errors(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "plan.cfg:9: 'server': server 's': 'no-such-host.invalid:80' does not resolve"
        ),
        "{errors:?}"
    );
}
