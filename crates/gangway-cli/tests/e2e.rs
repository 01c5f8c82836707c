//! End to end: the `gangway` binary runs each seed config (addresses moved to loopback, ports
//! picked by the OS) in front of test backends, and HTTP and WebSocket traffic goes through it;
//! SIGHUP reloads without dropping an open WebSocket, SIGTERM stops it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};

const DEADLINE: Duration = Duration::from_secs(20);

/// A test backend: answers HTTP requests with `NAME PATH` (keep-alive) and echoes WebSocket
/// messages as `NAME: TEXT`.
async fn backend(name: &'static str) -> u16 {
    stoppable_backend(name).await.0
}

/// A [`backend`] and its accept loop: aborting it closes the listener (health checks then
/// fail) while established connections go on.
async fn stoppable_backend(name: &'static str) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_backend_connection(name, stream));
        }
    });
    (port, accept)
}

async fn serve_backend_connection(name: &'static str, stream: TcpStream) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push(line.trim_end().to_owned());
        }
        let path = head
            .first()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("?")
            .to_owned();
        let header = |wanted: &str| {
            head.iter().skip(1).find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(wanted)
                    .then(|| v.trim().to_owned())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        if header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
            let key = header("sec-websocket-key").unwrap_or_default();
            let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            let mut stream = reader.into_inner();
            if stream.write_all(response.as_bytes()).await.is_err() {
                return;
            }
            let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                stream,
                tungstenite::protocol::Role::Server,
                None,
            )
            .await;
            while let Some(message) = ws.next().await {
                let message = match message {
                    Ok(message) => message,
                    Err(error) => {
                        eprintln!("test backend {name}: WebSocket error: {error}");
                        return;
                    }
                };
                if let Message::Text(text) = message
                    && ws
                        .send(Message::text(format!("{name}: {text}")))
                        .await
                        .is_err()
                {
                    return;
                }
            }
            return;
        }
        let body = format!("{name} {path}");
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
            body.len()
        );
        if reader
            .get_mut()
            .write_all(response.as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The gateway process; killed when dropped.
struct Gangway {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every stderr line so far (also passed on to the test's stderr).
    errors: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _dir: TempDir,
}

impl Drop for Gangway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("gangway-e2e-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../gangway-config/tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Rewrites `127.0.0.1:PORT` per `ports` (fixture port -> real port; 0 for listeners).
fn relocate(text: &str, ports: &HashMap<u16, u16>) -> String {
    let pattern = regex::Regex::new(r"127\.0\.0\.1:(\d+)\b").unwrap();
    pattern
        .replace_all(text, |caps: &regex::Captures<'_>| {
            let port: u16 = caps[1].parse().unwrap();
            match ports.get(&port) {
                Some(new) => format!("127.0.0.1:{new}"),
                None => caps[0].to_owned(),
            }
        })
        .into_owned()
}

impl Gangway {
    fn start(tag: &str, file_name: &str, config: &str) -> Gangway {
        let dir = temp_dir(tag);
        let path = dir.0.join(file_name);
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_gangway"))
            .args(["run", "-c"])
            .arg(&path)
            // GANGWAY_E2E_LOG=debug shows the gateway's logs when a test fails.
            .env(
                "RUST_LOG",
                std::env::var("GANGWAY_E2E_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gangway");
        let stderr = child.stderr.take().unwrap();
        let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = errors.clone();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("{line}");
                kept.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Gangway {
            child,
            lines,
            errors,
            _dir: dir,
        }
    }

    /// Starts the gateway on seed fixture `seed`, written as `file_name` with its ports moved
    /// per `ports` (see [`relocate`]); returns it (keep it bound: dropping it stops the
    /// process) and the address of its first listener.
    async fn start_seed(
        tag: &str,
        file_name: &str,
        seed: &str,
        ports: &HashMap<u16, u16>,
    ) -> (Gangway, String) {
        let mut gangway = Gangway::start(tag, file_name, &relocate(&fixture(seed), ports));
        let addr = gangway.listening().await;
        (gangway, addr)
    }

    fn config_path(&self) -> PathBuf {
        std::fs::read_dir(&self._dir.0)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    }

    /// Waits for a stdout line starting with `prefix`.
    async fn line(&mut self, prefix: &str) -> String {
        let wait = async {
            while let Some(line) = self.lines.recv().await {
                if line.starts_with(prefix) {
                    return line;
                }
            }
            panic!("gangway exited before printing '{prefix}'");
        };
        tokio::time::timeout(DEADLINE, wait)
            .await
            .unwrap_or_else(|_| panic!("no '{prefix}' line in time"))
    }

    /// The address of the next `listening:` line.
    async fn listening(&mut self) -> String {
        listener_address(&self.line("listening:").await)
    }

    /// How many stderr lines so far contain `text`.
    fn stderr_count(&self, text: &str) -> usize {
        let errors = self.errors.lock().unwrap();
        errors.iter().filter(|line| line.contains(text)).count()
    }

    /// Waits for the process to exit; returns its status and how long that took.
    async fn exit(mut self) -> (std::process::ExitStatus, Duration) {
        tokio::task::spawn_blocking(move || {
            let start = std::time::Instant::now();
            let deadline = start + DEADLINE;
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    return (status, start.elapsed());
                }
                assert!(std::time::Instant::now() < deadline, "gangway did not exit");
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .await
        .unwrap()
    }

    fn signal(&self, name: &str) {
        // The shell's builtin `kill`: no dependency on a kill binary being installed.
        let status = Command::new("sh")
            .args(["-c", &format!("kill -{name} {}", self.child.id())])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// The address in a `listening: ... http://ADDR/` line (or `https://`).
fn listener_address(line: &str) -> String {
    let url = line.rsplit(' ').next().unwrap();
    url.trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned()
}

/// Sends one HTTP/1.1 request on `stream`, returns (status, body).
async fn request(stream: &mut TcpStream, path: &str, host: &str) -> (u16, String) {
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    read_response(stream).await
}

async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.unwrap();
        assert!(
            n > 0,
            "connection closed in the response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    let length = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

/// GET on a fresh connection, retried until the answer is not a 503 (servers may still be
/// coming up); returns (status, body).
async fn get(addr: &str, path: &str, host: &str) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let answer = request(&mut stream, path, host).await;
        if answer.0 != 503 || tokio::time::Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn websocket(addr: &str, path: &str, host: &str) -> Ws {
    let request = tungstenite::handshake::client::Request::builder()
        .uri(format!("ws://{host}{path}"))
        .header("Host", host)
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header(
            "Sec-WebSocket-Key",
            tungstenite::handshake::client::generate_key(),
        )
        .body(())
        .unwrap();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("WebSocket handshake through gangway");
    assert_eq!(response.status(), 101);
    ws
}

async fn echo(ws: &mut Ws, text: &str) -> String {
    ws.send(Message::text(text)).await.unwrap();
    let reply = tokio::time::timeout(DEADLINE, ws.next())
        .await
        .expect("echo in time");
    match reply {
        Some(Ok(Message::Text(text))) => text.to_string(),
        other => panic!("unexpected WebSocket reply {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed000_zato_http_websocket_and_monitor_uri() {
    let (http, ws) = (backend("http").await, backend("ws").await);
    let ports = HashMap::from([(11223, 0), (17010, http), (48902, ws)]);
    let (_gangway, addr) = Gangway::start_seed("000", "zato.cfg", "seed000.cfg", &ports).await;
    assert_eq!(
        get(&addr, "/zato/ping", "lb").await,
        (200, "http /zato/ping".into())
    );
    assert_eq!(get(&addr, "/ws", "lb").await, (200, "ws /ws".into()));
    assert_eq!(get(&addr, "/zato-lb-alive", "lb").await.0, 200);
    let mut socket = websocket(&addr, "/ws/channel", "lb").await;
    assert_eq!(echo(&mut socket, "hello").await, "ws: hello");
    // `hdr(Upgrade) -i WebSocket` routes an upgrade on any path.
    let mut socket = websocket(&addr, "/other", "lb").await;
    assert_eq!(echo(&mut socket, "hi").await, "ws: hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed001a_everything_to_the_websocket_servers() {
    let (s1, s2) = (backend("s1").await, backend("s2").await);
    let ports = HashMap::from([(8080, 0), (3000, s1), (3001, s2)]);
    let (_gangway, addr) = Gangway::start_seed("001a", "haproxy.cfg", "seed001a.cfg", &ports).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (status, body) = get(&addr, "/ws", "lb").await;
        assert_eq!(status, 200);
        seen.push(body);
    }
    assert!(
        seen.contains(&"s1 /ws".to_owned()) && seen.contains(&"s2 /ws".to_owned()),
        "round robin over both: {seen:?}"
    );
    let mut socket = websocket(&addr, "/ws/echo", "lb").await;
    let reply = echo(&mut socket, "Client connected!").await;
    assert!(
        reply == "s1: Client connected!" || reply == "s2: Client connected!",
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed001b_path_routing_per_request_on_one_connection() {
    let (s1, s2, web) = (
        backend("s1").await,
        backend("s2").await,
        backend("web").await,
    );
    let ports = HashMap::from([(8080, 0), (3000, s1), (3001, s2), (3002, web)]);
    let (_gangway, addr) = Gangway::start_seed("001b", "haproxy.cfg", "seed001b.cfg", &ports).await;
    assert_eq!(get(&addr, "/", "lb").await, (200, "web /".into()));
    // One keep-alive client connection: each request is routed on its own, then an upgrade.
    let _ = get(&addr, "/", "lb").await;
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(
        request(&mut stream, "/index.html", "lb").await,
        (200, "web /index.html".into())
    );
    let (status, body) = request(&mut stream, "/ws", "lb").await;
    assert_eq!(status, 200);
    assert!(body == "s1 /ws" || body == "s2 /ws", "{body}");
    assert_eq!(
        request(&mut stream, "/again", "lb").await,
        (200, "web /again".into())
    );
    let upgrade = "GET /ws/echo HTTP/1.1\r\nHost: lb\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    stream.write_all(upgrade.as_bytes()).await.unwrap();
    let (status, _) = read_response(&mut stream).await;
    assert_eq!(status, 101);
    let mut socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
        stream,
        tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    let reply = echo(&mut socket, "after three requests").await;
    assert!(
        reply.ends_with(": after three requests") && reply.starts_with('s'),
        "{reply}"
    );
}

async fn seed004(
    file: &str,
    tag: &str,
    checks: &[(&str, &str, &str)],
    ws_host: &str,
    ws_path: &str,
) {
    let (www, ws) = (backend("www").await, backend("ws").await);
    let ports = HashMap::from([(80, 0), (8080, www), (8000, ws)]);
    let (_gangway, addr) = Gangway::start_seed(tag, "haproxy.cfg", file, &ports).await;
    for (path, host, want) in checks {
        assert_eq!(
            get(&addr, path, host).await,
            (200, (*want).to_owned()),
            "{file}: GET {path} Host {host}"
        );
    }
    let mut socket = websocket(&addr, ws_path, ws_host).await;
    assert_eq!(echo(&mut socket, "ping").await, "ws: ping", "{file}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed004_subdomain() {
    let checks = [
        ("/", "ws.example.com", "ws /"),
        ("/", "www.example.com", "www /"),
        ("/chat", "ws.example.com:80", "ws /chat"),
    ];
    seed004(
        "seed004-subdomain.cfg",
        "004s",
        &checks,
        "ws.example.com",
        "/socket",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed004_uri() {
    let checks = [
        ("/websockets/x", "example.com", "ws /websockets/x"),
        ("/WebSockets", "www.example.com", "ws /WebSockets"),
        ("/websockets", "other.org", "www /websockets"),
        ("/", "example.com", "www /"),
    ];
    seed004(
        "seed004-uri.cfg",
        "004u",
        &checks,
        "example.com",
        "/websockets/chat",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed004_websocket_detection() {
    // A plain request to the WebSocket host is not an upgrade: it goes to www.
    let checks = [
        ("/", "ws.example.com", "www /"),
        ("/", "example.com", "www /"),
    ];
    seed004(
        "seed004-detect.cfg",
        "004d",
        &checks,
        "ws.example.com",
        "/anything",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toml_twin_runs_too() {
    let (s1, s2, web) = (
        backend("s1").await,
        backend("s2").await,
        backend("web").await,
    );
    let ports = HashMap::from([(8080, 0), (3000, s1), (3001, s2), (3002, web)]);
    let (_gangway, addr) =
        Gangway::start_seed("001t", "gangway.toml", "seed001b.toml", &ports).await;
    assert_eq!(get(&addr, "/", "lb").await, (200, "web /".into()));
    let mut socket = websocket(&addr, "/ws/echo", "lb").await;
    assert!(echo(&mut socket, "x").await.ends_with(": x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reload_keeps_open_websockets_and_sigterm_stops() {
    let (s1, s2, web, next) = (
        backend("s1").await,
        backend("s2").await,
        backend("web").await,
        backend("next").await,
    );
    let ports = HashMap::from([(8080, 0), (3000, s1), (3001, s2), (3002, web)]);
    let (mut gangway, addr) =
        Gangway::start_seed("reload", "haproxy.cfg", "seed001b.cfg", &ports).await;
    let mut socket = websocket(&addr, "/ws/echo", "lb").await;
    assert!(echo(&mut socket, "before").await.ends_with(": before"));

    // A broken file is rejected and the running config stays.
    std::fs::write(gangway.config_path(), "frontend broken\n bind nowhere\n").unwrap();
    gangway.signal("HUP");
    gangway.line("reload rejected:").await;
    assert!(echo(&mut socket, "still").await.ends_with(": still"));
    assert_eq!(get(&addr, "/", "lb").await, (200, "web /".into()));

    // The same frontend, now sending plain requests to another backend.
    let reloaded = ports_with(&ports, 3002, next);
    std::fs::write(
        gangway.config_path(),
        relocate(&fixture("seed001b.cfg"), &reloaded),
    )
    .unwrap();
    gangway.signal("HUP");
    gangway.line("reloaded:").await;
    let new_addr = gangway.listening().await;
    assert_eq!(get(&new_addr, "/", "lb").await, (200, "next /".into()));
    assert!(
        echo(&mut socket, "after reload")
            .await
            .ends_with(": after reload"),
        "the open WebSocket survives"
    );

    gangway.signal("TERM");
    let status = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            if let Some(status) = gangway.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "gangway did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
    assert!(status.success(), "{status:?}");
}

fn ports_with(ports: &HashMap<u16, u16>, from: u16, to: u16) -> HashMap<u16, u16> {
    let mut ports = ports.clone();
    ports.insert(from, to);
    ports
}

/// Writes a fresh self-signed certificate for `localhost` (chain and key in one PEM file, as
/// HAProxy's `crt`) to `path`; returns its DER.
#[cfg(feature = "tls")]
fn write_cert(path: &Path) -> Vec<u8> {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(
        path,
        format!("{}{}", c.cert.pem(), c.signing_key.serialize_pem()),
    )
    .unwrap();
    c.cert.der().to_vec()
}

/// Connects over TLS (trusting any certificate: the test compares the one presented) and
/// sends one GET; returns (the certificate presented, status, body).
#[cfg(feature = "tls")]
async fn https_get(addr: &str, path: &str) -> (Vec<u8>, u16, String) {
    use std::sync::Arc;
    #[derive(Debug)]
    struct AnyCert(Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for AnyCert {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &rustls::pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &rustls::pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(
        DEADLINE,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .unwrap()
    .unwrap();
    let cert = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, tls.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (cert, status, body)
}

#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_ssl_crt_serves_https_and_sighup_reloads_the_certificate() {
    let web = backend("web").await;
    let dir = temp_dir("tls-certs");
    let pem = dir.0.join("site.pem");
    let first = write_cert(&pem);
    let config = format!(
        "defaults\n mode http\n timeout connect 5s\n timeout client 30s\n timeout server 30s\nfrontend fe\n bind 127.0.0.1:0 ssl crt {}\n bind 127.0.0.1:0\n http-request redirect scheme https unless {{ ssl_fc }}\n default_backend web\nbackend web\n server w 127.0.0.1:{web}\n",
        pem.display()
    );
    let mut gangway = Gangway::start("tls", "haproxy.cfg", &config);
    let (tls_line, plain_line) = (
        gangway.line("listening:").await,
        gangway.line("listening:").await,
    );
    assert!(tls_line.contains("https://"), "{tls_line}");
    let (addr, plain) = (listener_address(&tls_line), listener_address(&plain_line));
    let (cert, status, body) = https_get(&addr, "/x").await;
    assert_eq!((status, body.as_str()), (200, "web /x"));
    assert_eq!(cert, first);
    let mut stream = TcpStream::connect(&plain).await.unwrap();
    let (status, _) = request(&mut stream, "/x", "localhost").await;
    assert_eq!(status, 302, "plain requests are redirected to https");

    // A missing certificate is refused on reload, naming the file; the running one stays.
    let missing = dir.0.join("missing.pem");
    std::fs::write(
        gangway.config_path(),
        config.replace(&pem.display().to_string(), &missing.display().to_string()),
    )
    .unwrap();
    gangway.signal("HUP");
    gangway.line("reload rejected:").await;
    assert_eq!(https_get(&addr, "/y").await.0, first);

    // A new certificate in the same file is picked up by SIGHUP.
    let second = write_cert(&pem);
    std::fs::write(gangway.config_path(), &config).unwrap();
    gangway.signal("HUP");
    gangway.line("reloaded:").await;
    let new_addr = gangway.listening().await;
    let (cert, status, _) = https_get(&new_addr, "/z").await;
    assert_eq!(status, 200);
    assert_eq!(
        cert, second,
        "the reloaded gateway presents the new certificate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_whose_listener_cannot_bind_brings_the_previous_config_back() {
    let (s1, s2, web) = (
        backend("s1").await,
        backend("s2").await,
        backend("web").await,
    );
    let ports = HashMap::from([(8080, 0), (3000, s1), (3001, s2), (3002, web)]);
    let (mut gangway, addr) =
        Gangway::start_seed("rebind", "haproxy.cfg", "seed001b.cfg", &ports).await;
    let mut socket = websocket(&addr, "/ws/echo", "lb").await;
    assert!(echo(&mut socket, "before").await.ends_with(": before"));

    // A valid file whose listener wants an address another socket holds.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap().port();
    let mut elsewhere = ports.clone();
    elsewhere.insert(8080, taken);
    std::fs::write(
        gangway.config_path(),
        relocate(&fixture("seed001b.cfg"), &elsewhere),
    )
    .unwrap();
    gangway.signal("HUP");
    // After its retries the new listener gives up, and the previous config serves again.
    gangway.line("reload failed:").await;
    let again = gangway.listening().await;
    assert_eq!(get(&again, "/", "lb").await, (200, "web /".into()));
    assert!(
        echo(&mut socket, "still").await.ends_with(": still"),
        "the open WebSocket survives"
    );
    assert!(
        gangway.child.try_wait().unwrap().is_none(),
        "gangway still runs"
    );
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_every_frontend_within_one_hard_stop_after() {
    let ws = backend("ws").await;
    let config = format!(
        "global\n hard-stop-after 3s\ndefaults\n mode http\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n timeout tunnel 1h\nfrontend a\n bind 127.0.0.1:0\n default_backend ws\nfrontend b\n bind 127.0.0.1:0\n default_backend ws\nbackend ws\n server s1 127.0.0.1:{ws}\n"
    );
    let mut gangway = Gangway::start("hardstop", "haproxy.cfg", &config);
    let (a, b) = (gangway.listening().await, gangway.listening().await);
    // A WebSocket tunnel on each frontend: both gateways wait out the grace period.
    let mut on_a = websocket(&a, "/ws", "a").await;
    let mut on_b = websocket(&b, "/ws", "b").await;
    assert!(echo(&mut on_a, "a").await.ends_with(": a"));
    assert!(echo(&mut on_b, "b").await.ends_with(": b"));

    let start = std::time::Instant::now();
    gangway.signal("TERM");
    let (status, _) = gangway.exit().await;
    let took = start.elapsed();
    assert!(status.success(), "{status:?}");
    // One `hard-stop-after` (3 s) for both, with room for a slow machine; one after the
    // other took 6 s and more.
    assert!(
        took < Duration::from_millis(5500),
        "stopping took {took:?}, more than one hard-stop-after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_exits_without_waiting_for_the_grace_period() {
    let ws = backend("ws").await;
    let config = format!(
        "global\n hard-stop-after 120s\ndefaults\n mode http\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n timeout tunnel 1h\nfrontend a\n bind 127.0.0.1:0\n default_backend ws\nbackend ws\n server s1 127.0.0.1:{ws}\n"
    );
    let mut gangway = Gangway::start("second-term", "haproxy.cfg", &config);
    let addr = gangway.listening().await;
    // An open tunnel: the first SIGTERM waits up to two minutes for it.
    let mut tunnel = websocket(&addr, "/ws", "a").await;
    assert!(echo(&mut tunnel, "a").await.ends_with(": a"));
    let start = std::time::Instant::now();
    gangway.signal("TERM");
    // The stop has begun once the listener is closed.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the listener closes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gangway.signal("TERM");
    let (status, _) = gangway.exit().await;
    assert!(status.success(), "{status:?}");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "the second SIGTERM did not cut the 120 s grace period short"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_cannot_bind_logs_each_warning_once() {
    let (s1, s2, web) = (
        backend("s1").await,
        backend("s2").await,
        backend("web").await,
    );
    let ports = HashMap::from([(8080, 0), (3000, s1), (3001, s2), (3002, web)]);
    let (mut gangway, _) =
        Gangway::start_seed("warnonce", "haproxy.cfg", "seed001b.cfg", &ports).await;
    // A file with a warning (an ignored process-level directive) whose listener wants an
    // address another socket holds: retried for 5 s, then the previous config comes back.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut elsewhere = ports.clone();
    elsewhere.insert(8080, held.local_addr().unwrap().port());
    let config = relocate(&fixture("seed001b.cfg"), &elsewhere);
    std::fs::write(gangway.config_path(), format!("global\n daemon\n{config}")).unwrap();
    gangway.signal("HUP");
    gangway.line("reload failed:").await;
    gangway.listening().await;
    assert_eq!(
        gangway.stderr_count("process-level directive ignored"),
        1,
        "the reload's warning is logged once"
    );
    drop(held);
}

/// A SIGTERM while a reload waits for an address to come free (up to 5 s) stops the process
/// at once instead of after the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_during_a_reload_stops_at_once() {
    let (s1, s2, web) = (
        backend("s1").await,
        backend("s2").await,
        backend("web").await,
    );
    let ports = HashMap::from([(8080, 0), (3000, s1), (3001, s2), (3002, web)]);
    let (gangway, addr) =
        Gangway::start_seed("term-in-reload", "haproxy.cfg", "seed001b.cfg", &ports).await;
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut elsewhere = ports.clone();
    elsewhere.insert(8080, held.local_addr().unwrap().port());
    let config = relocate(&fixture("seed001b.cfg"), &elsewhere);
    std::fs::write(gangway.config_path(), config).unwrap();
    gangway.signal("HUP");
    // The reload has closed the old listener and waits for the held address.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old listener closes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let start = std::time::Instant::now();
    gangway.signal("TERM");
    let (status, _) = gangway.exit().await;
    assert!(status.success(), "{status:?}");
    // Waiting out the reload took 5 s and more (the retries, then the previous config).
    let took = start.elapsed();
    assert!(took < Duration::from_secs(4), "stopping took {took:?}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_marked_down_shutdown_sessions_closes_only_that_servers_tunnels() {
    let ((a, stop_a), (b, stop_b)) = (stoppable_backend("a").await, stoppable_backend("b").await);
    let config = format!(
        "defaults\n mode http\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n timeout tunnel 1h\nfrontend fe\n bind 127.0.0.1:0\n default_backend ws\nbackend ws\n server a 127.0.0.1:{a} check inter 100ms rise 1 fall 1 on-marked-down shutdown-sessions\n server b 127.0.0.1:{b} check inter 100ms rise 1 fall 1\n"
    );
    let mut gangway = Gangway::start("shutdown-sessions", "haproxy.cfg", &config);
    let addr = gangway.listening().await;
    // Round robin: tunnels land on both servers.
    let (mut on_a, mut on_b) = (None, None);
    for _ in 0..6 {
        let mut socket = websocket(&addr, "/ws", "x").await;
        if echo(&mut socket, "x").await.starts_with("a:") {
            on_a = Some(socket);
        } else {
            on_b = Some(socket);
        }
        if on_a.is_some() && on_b.is_some() {
            break;
        }
    }
    let (mut on_a, mut on_b) = (on_a.expect("a tunnel to a"), on_b.expect("a tunnel to b"));

    // Both listeners close: the checks fail and both servers are marked down.
    stop_a.abort();
    stop_b.abort();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let marked_down = |server: &str| {
        gangway.stderr_count(&format!(
            "server state changed backend=ws server={server} from=up to=down"
        )) > 0
    };
    while !(marked_down("a") && marked_down("b")) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "both servers marked down in the log"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The health checker's own line names the server too (it said `server=()`).
    assert!(gangway.stderr_count("server is DOWN server=\"ws/a\"") > 0);
    let end = tokio::time::timeout(DEADLINE, async {
        loop {
            match on_a.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "a's tunnel is closed when a goes down");
    assert_eq!(
        echo(&mut on_b, "live").await,
        "b: live",
        "b has no shutdown-sessions: its tunnel lives on"
    );
}
