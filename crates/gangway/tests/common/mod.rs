//! Test backends and clients on loopback sockets.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A scripted HTTP/1.1 backend that records every request head it receives.
pub struct TestServer {
    pub addr: SocketAddr,
    pub name: String,
    pub heads: Arc<Mutex<Vec<String>>>,
    pub bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub fn requests(&self) -> usize {
        self.heads.lock().unwrap().len()
    }
    pub fn last_head(&self) -> String {
        self.heads
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }
    pub fn stop(self) {}
}

/// Starts a backend answering every request with `200`, body `"<name> <path>\n"` (or, for
/// `/big/N`, N bytes; `/chunked`, a chunked body; `/slow`, after 300 ms; `/echo`, the request body).
pub async fn http_server(name: &str) -> TestServer {
    http_server_on("127.0.0.1:0", name).await
}

pub async fn http_server_on(bind: &str, name: &str) -> TestServer {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (h, b, c, n) = (
        heads.clone(),
        bodies.clone(),
        connections.clone(),
        name.to_string(),
    );
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(serve_http(stream, n.clone(), h.clone(), b.clone()));
        }
    });
    TestServer {
        addr,
        name: name.into(),
        heads,
        bodies,
        connections,
        task,
    }
}

async fn serve_http(
    mut s: TcpStream,
    name: String,
    heads: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let (head_len, path, method, framing, close, expect) = loop {
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
                heads
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).to_string());
                break (
                    n,
                    req.path.unwrap().to_string(),
                    req.method.unwrap().to_string(),
                    if chunked { None } else { Some(len) },
                    close,
                    expect,
                );
            }
            let mut chunk = [0u8; 8192];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
            }
        };
        buf.drain(..head_len);
        if expect {
            if s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
                return;
            }
        }
        // Read the body (length or chunked, decoded).
        let mut body = Vec::new();
        match framing {
            Some(len) => {
                while buf.len() < len {
                    let mut chunk = [0u8; 65536];
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
                body.extend(buf.drain(..len));
            }
            None => loop {
                // Minimal chunked decoder (no extensions, no trailers).
                if let Some(pos) = buf.windows(2).position(|w| w == b"\r\n") {
                    let size = usize::from_str_radix(
                        std::str::from_utf8(&buf[..pos])
                            .unwrap()
                            .split(';')
                            .next()
                            .unwrap()
                            .trim(),
                        16,
                    )
                    .unwrap();
                    if buf.len() >= pos + 2 + size + 2 {
                        body.extend_from_slice(&buf[pos + 2..pos + 2 + size]);
                        buf.drain(..pos + 2 + size + 2);
                        if size == 0 {
                            break;
                        }
                        continue;
                    }
                }
                let mut chunk = [0u8; 65536];
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            },
        }
        bodies.lock().unwrap().push(body.clone());
        let mut response: Vec<u8> = Vec::new();
        if path == "/slow" {
            tokio::time::sleep(Duration::from_millis(300)).await;
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
            let no_body = method == "HEAD" || path == "/204";
            let status = if path == "/204" {
                "204 No Content"
            } else {
                "200 OK"
            };
            response.extend_from_slice(
                format!(
                    "HTTP/1.1 {status}\r\nX-Server: {name}\r\nContent-Length: {}\r\n\r\n",
                    if path == "/204" { 0 } else { payload.len() }
                )
                .as_bytes(),
            );
            if !no_body {
                response.extend_from_slice(&payload);
            }
        }
        if s.write_all(&response).await.is_err() || close {
            return;
        }
    }
}

/// Sends raw bytes and reads until the peer closes or `timeout` passes; returns what came back.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(timeout, s.read_to_end(&mut out)).await;
    out
}

/// Reads one HTTP/1 response (Content-Length or chunked framing) from `s`; returns (status, head, body).
pub async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> (u16, String, Vec<u8>) {
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
            if (100..200).contains(&status) {
                return (status, head, Vec::new());
            }
            let mut body = Vec::new();
            if chunked {
                loop {
                    if let Some(pos) = buf.windows(2).position(|w| w == b"\r\n") {
                        let size = usize::from_str_radix(
                            std::str::from_utf8(&buf[..pos])
                                .unwrap()
                                .split(';')
                                .next()
                                .unwrap()
                                .trim(),
                            16,
                        )
                        .unwrap();
                        if buf.len() >= pos + 2 + size + 2 {
                            body.extend_from_slice(&buf[pos + 2..pos + 2 + size]);
                            buf.drain(..pos + 2 + size + 2);
                            if size == 0 {
                                break;
                            }
                            continue;
                        }
                    }
                    fill(s, buf).await;
                }
            } else {
                let len = len.unwrap_or(0);
                while buf.len() < len {
                    fill(s, buf).await;
                }
                body.extend(buf.drain(..len));
            }
            return (status, head, body);
        }
        fill(s, buf).await;
    }
}

async fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 65536];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
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
