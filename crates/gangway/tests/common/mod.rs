//! Test backends and clients on loopback sockets.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gangway::{Gateway, GatewayBuilder, GatewayHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Knobs and gauges shared with a test server's connections.
#[derive(Default)]
pub struct ServerKnobs {
    /// `/health` answers 503 while this is set.
    pub unhealthy: AtomicBool,
    /// Requests being answered now, and the most at once.
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// Each connection starts with a PROXY v1 line, recorded here.
    pub expect_proxy: AtomicBool,
    pub proxy_lines: Mutex<Vec<String>>,
    pub heads: Mutex<Vec<String>>,
    pub bodies: Mutex<Vec<Vec<u8>>>,
    pub connections: AtomicUsize,
    /// Connections that have ended (either side closed).
    pub closed: AtomicUsize,
}

/// A scripted HTTP/1.1 backend that records every request head it receives.
pub struct TestServer {
    pub addr: SocketAddr,
    pub name: String,
    pub state: Arc<ServerKnobs>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Every request (health checks included).
    pub fn requests(&self) -> usize {
        self.state.heads.lock().unwrap().len()
    }
    /// Requests other than health checks.
    pub fn traffic(&self) -> usize {
        self.state
            .heads
            .lock()
            .unwrap()
            .iter()
            .filter(|h| !h.starts_with("GET /health "))
            .count()
    }
    pub fn last_head(&self) -> String {
        self.state
            .heads
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }
    pub fn connections(&self) -> usize {
        self.state.connections.load(SeqCst)
    }
    /// Connections accepted and not yet ended.
    pub fn open_connections(&self) -> usize {
        self.connections() - self.state.closed.load(SeqCst)
    }
    pub fn set_healthy(&self, up: bool) {
        self.state.unhealthy.store(!up, SeqCst);
    }
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(SeqCst)
    }
}

/// Starts a backend answering every request with `200`, body `"<name> <path>\n"`; special
/// paths: `/big/N` (N bytes), `/chunked`, `/close-delimited`, `/slow` (after 300 ms), `/echo`
/// (the request body), `/204`, `/health` (503 while unhealthy). Answers `100 Continue` to
/// `Expect: 100-continue`.
pub async fn http_server(name: &str) -> TestServer {
    http_server_on("127.0.0.1:0", name).await
}

pub async fn http_server_on(bind: &str, name: &str) -> TestServer {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(ServerKnobs::default());
    let (n, st) = (name.to_string(), state.clone());
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            st.connections.fetch_add(1, SeqCst);
            let (n, st) = (n.clone(), st.clone());
            tokio::spawn(async move {
                serve_http(stream, n, st.clone()).await;
                st.closed.fetch_add(1, SeqCst);
            });
        }
    });
    TestServer {
        addr,
        name: name.into(),
        state,
        task,
    }
}

async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 65536];
    match s.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(k) => {
            buf.extend_from_slice(&chunk[..k]);
            true
        }
    }
}

/// Decodes one chunked body from `buf` (reading more from `s`); `None` if the peer closed.
async fn read_chunked(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        if let Some(pos) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = std::str::from_utf8(&buf[..pos]).unwrap();
            let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16).unwrap();
            if size == 0 {
                // Skip trailers up to the empty line.
                if let Some(end) = buf[pos..].windows(4).position(|w| w == b"\r\n\r\n") {
                    buf.drain(..pos + end + 4);
                    return Some(body);
                }
            } else if buf.len() >= pos + 2 + size + 2 {
                body.extend_from_slice(&buf[pos + 2..pos + 2 + size]);
                buf.drain(..pos + 2 + size + 2);
                continue;
            }
        }
        if !read_more(s, buf).await {
            return None;
        }
    }
}

async fn serve_http(mut s: TcpStream, name: String, st: Arc<ServerKnobs>) {
    let mut buf: Vec<u8> = Vec::new();
    if st.expect_proxy.load(SeqCst) {
        loop {
            if let Some(pos) = buf.windows(2).position(|w| w == b"\r\n") {
                st.proxy_lines
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..pos]).to_string());
                buf.drain(..pos + 2);
                break;
            }
            if !read_more(&mut s, &mut buf).await {
                return;
            }
        }
    }
    loop {
        let (head_len, path, method, length, close, expect) = loop {
            let mut hs = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut hs);
            if let Ok(httparse::Status::Complete(n)) = req.parse(&buf) {
                let get = |k: &str| {
                    req.headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(k))
                        .map(|h| String::from_utf8_lossy(h.value).to_string())
                };
                let chunked =
                    get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
                let len: usize = get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let close = get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
                let expect = get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
                st.heads
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).to_string());
                let length = if chunked { None } else { Some(len) };
                break (
                    n,
                    req.path.unwrap().to_string(),
                    req.method.unwrap().to_string(),
                    length,
                    close,
                    expect,
                );
            }
            if !read_more(&mut s, &mut buf).await {
                return;
            }
        };
        buf.drain(..head_len);
        if expect && s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
            return;
        }
        let body = match length {
            Some(len) => {
                while buf.len() < len {
                    if !read_more(&mut s, &mut buf).await {
                        return;
                    }
                }
                buf.drain(..len).collect::<Vec<u8>>()
            }
            None => match read_chunked(&mut s, &mut buf).await {
                Some(b) => b,
                None => return,
            },
        };
        st.bodies.lock().unwrap().push(body.clone());
        let now = st.in_flight.fetch_add(1, SeqCst) + 1;
        st.max_in_flight.fetch_max(now, SeqCst);
        if path == "/slow" {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        st.in_flight.fetch_sub(1, SeqCst);
        let mut response: Vec<u8> = Vec::new();
        if path == "/health" && st.unhealthy.load(SeqCst) {
            let _ = s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            return;
        }
        if path == "/chunked" {
            response
                .extend_from_slice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Server: ");
            response.extend_from_slice(name.as_bytes());
            response.extend_from_slice(b"\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");
        } else if path == "/close-delimited" {
            response
                .extend_from_slice(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
            let _ = s.write_all(&response).await;
            return;
        } else {
            let payload: Vec<u8> = if let Some(n) = path.strip_prefix("/big/") {
                let n: usize = n.parse().unwrap();
                (0..n).map(|i| b'a' + (i % 26) as u8).collect()
            } else if path == "/echo" {
                body
            } else {
                format!("{name} {path}\n").into_bytes()
            };
            let no_content = path == "/204";
            let status = if no_content {
                "204 No Content"
            } else {
                "200 OK"
            };
            let length = if no_content { 0 } else { payload.len() };
            response.extend_from_slice(
                format!(
                    "HTTP/1.1 {status}\r\nX-Server: {name}\r\nContent-Length: {length}\r\n\r\n"
                )
                .as_bytes(),
            );
            if method != "HEAD" && !no_content {
                response.extend_from_slice(&payload);
            }
        }
        if s.write_all(&response).await.is_err() || close {
            return;
        }
    }
}

/// Reads from `s` up to the end of a request head (CR LF CR LF), with whatever came after it
/// in the same reads; `None` if the peer closed or failed first.
pub async fn read_head(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    Some(head)
}

/// A server that answers the first request head of every connection with `response`, then
/// holds the connection until the peer closes it (or sends more).
pub async fn fixed_answer_server(response: impl AsRef<[u8]>) -> SocketAddr {
    let response: Arc<[u8]> = Arc::from(response.as_ref());
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                if read_head(&mut s).await.is_some() {
                    let _ = s.write_all(&response).await;
                    let _ = s.read(&mut [0u8; 4096]).await;
                }
            });
        }
    });
    addr
}

/// Sends raw bytes and reads until the peer closes or `timeout` passes; returns what came back.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(timeout, s.read_to_end(&mut out)).await;
    out
}

/// Reads one HTTP/1 response (Content-Length or chunked framing; 1xx, HEAD-like and 204
/// answers have no body) from `s`; returns (status, head, body).
pub async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> (u16, String, Vec<u8>) {
    read_response_to(s, buf, "GET").await
}

pub async fn read_response_to(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    method: &str,
) -> (u16, String, Vec<u8>) {
    loop {
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut res = httparse::Response::new(&mut hs);
        if let Ok(httparse::Status::Complete(n)) = res.parse(buf) {
            let status = res.code.unwrap();
            let get = |k: &str| {
                res.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(k))
                    .map(|h| String::from_utf8_lossy(h.value).to_string())
            };
            let len: Option<usize> = get("content-length").and_then(|v| v.parse().ok());
            let chunked = get("transfer-encoding").is_some();
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            buf.drain(..n);
            if (100..200).contains(&status) || status == 204 || method == "HEAD" {
                return (status, head, Vec::new());
            }
            let body = if chunked {
                read_chunked(s, buf)
                    .await
                    .expect("connection closed in a chunked body")
            } else {
                let len = len.unwrap_or(0);
                while buf.len() < len {
                    fill(s, buf).await;
                }
                buf.drain(..len).collect()
            };
            return (status, head, body);
        }
        fill(s, buf).await;
    }
}

async fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 65536];
    let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut chunk))
        .await
        .expect("read timed out")
        .unwrap();
    assert!(
        n > 0,
        "connection closed early; have {:?}",
        String::from_utf8_lossy(buf)
    );
    buf.extend_from_slice(&chunk[..n]);
}

/// One GET on a new connection; returns (status, body).
pub async fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let (status, _, body) = read_response(&mut s, &mut buf).await;
    (status, body)
}

/// Polls `f` until it holds, up to a generous deadline.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An address nothing listens on (a port bound and released at once).
pub async fn refused_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// A gateway builder listening on a free loopback port.
pub fn local() -> GatewayBuilder {
    Gateway::builder().listen("127.0.0.1:0")
}

/// Builds and starts `builder`, failing the test on any error.
pub async fn start(builder: GatewayBuilder) -> GatewayHandle {
    builder.build().unwrap().start().await.unwrap()
}

/// The status code of a raw response (0 when there is none).
pub fn status_of(out: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(out);
    text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The next WebSocket message, failing the test after 10 s, at the end of the stream or on an
/// error.
pub async fn next_message<S>(ws: &mut S) -> tokio_tungstenite::tungstenite::Message
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures_util::StreamExt as _;
    tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("no WebSocket message within 10 s")
        .expect("the WebSocket stream ended")
        .expect("WebSocket error")
}
