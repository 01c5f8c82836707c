//! The one backend every proxy in the comparison talks to.
//!
//! It listens on two ports, one standing for the HTTP servers and one for the WebSocket servers,
//! and answers the same way on both (the `X-Backend` header says which port answered, so the
//! harness can check that each proxy routed the request where it should):
//!
//! - a plain request gets `200 OK` with a 2-byte body, keep-alive unless the client says close;
//! - an upgrade request gets a valid `101 Switching Protocols`, after which the connection is a
//!   raw byte pipe whose behaviour the path picks:
//!   - `/ws/echo`: every byte read is written back;
//!   - `/ws/sink/N`: bytes are counted and checked against [`crate::pattern`] until N have
//!     arrived, then the count and the offset of the first wrong byte are sent (16 bytes, see
//!     [`pattern::sink_answer`]) and the connection closes (so the client can check every byte
//!     arrived intact);
//!   - `/ws/sink`: the same, but the count is sent when the client half-closes (so the client
//!     can check that the proxy propagated the half-close and still relays the answer);
//!   - `/ws/source/N`: N bytes of the pattern are sent, then the connection closes.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::pattern::{self, CHUNK};

/// Binds both ports on loopback (port 0) and prints `http=ADDR ws=ADDR` on stdout, then serves
/// until killed.
pub(crate) async fn run() -> io::Result<()> {
    let http = TcpListener::bind("127.0.0.1:0").await?;
    let ws = TcpListener::bind("127.0.0.1:0").await?;
    println!("http={} ws={}", http.local_addr()?, ws.local_addr()?);
    let a = tokio::spawn(serve(http, "http"));
    let b = tokio::spawn(serve(ws, "ws"));
    let _ = tokio::try_join!(a, b);
    Ok(())
}

async fn serve(listener: TcpListener, name: &'static str) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = connection(stream, name).await;
                });
            }
            // Out of file descriptors and the like: back off briefly and keep serving.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
        }
    }
}

async fn connection(mut stream: TcpStream, name: &'static str) -> io::Result<()> {
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    loop {
        // Parse as many pipelined requests as the buffer holds.
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            let head_len = match req.parse(&buf[..filled]) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => break,
                Err(_) => {
                    stream
                        .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await?;
                    return Ok(());
                }
            };
            let path = req.path.unwrap_or("/").to_owned();
            let mut key = None;
            let mut close = req.version == Some(0);
            let mut body_len = 0usize;
            for h in req.headers.iter() {
                if h.name.eq_ignore_ascii_case("sec-websocket-key") {
                    key = Some(h.value.to_vec());
                } else if h.name.eq_ignore_ascii_case("connection") {
                    let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
                    if v.contains("close") {
                        close = true;
                    } else if v.contains("keep-alive") {
                        close = false;
                    }
                } else if h.name.eq_ignore_ascii_case("content-length") {
                    body_len = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                }
            }
            if let Some(key) = key {
                let accept = gangway::h1::websocket_accept(&key);
                let accept = std::str::from_utf8(&accept).unwrap_or_default();
                let head = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nX-Backend: {name}\r\n\r\n"
                );
                stream.write_all(head.as_bytes()).await?;
                let rest = buf[head_len..filled].to_vec();
                return pipe(stream, &path, rest).await;
            }
            // Skip a small request body, if any (the harness sends none; wrk sends none).
            let consumed = (head_len + body_len).min(filled);
            let response: &[u8] = match (name, close) {
                ("http", false) => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Backend: http\r\n\r\nok",
                ("http", true) => {
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Backend: http\r\nConnection: close\r\n\r\nok"
                }
                (_, false) => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Backend: ws\r\n\r\nok",
                (_, true) => {
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Backend: ws\r\nConnection: close\r\n\r\nok"
                }
            };
            stream.write_all(response).await?;
            if close {
                let _ = stream.shutdown().await;
                return Ok(());
            }
            buf.copy_within(consumed..filled, 0);
            filled -= consumed;
        }
        if filled == buf.len() {
            return Ok(()); // head too large for a benchmark backend
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
    }
}

async fn pipe(mut stream: TcpStream, path: &str, read_ahead: Vec<u8>) -> io::Result<()> {
    if let Some(rest) = path.strip_prefix("/ws/sink") {
        // `/ws/sink/N` answers once N bytes are in; plain `/ws/sink` waits for the client's FIN.
        // `/ws/sink/N` also checks the bytes against the pattern and answers 16 bytes (count,
        // first wrong offset); plain `/ws/sink` (the half-close check) answers the count alone.
        let expect: Option<u64> = rest.strip_prefix('/').and_then(|n| n.parse().ok());
        let mut mismatch = None;
        if expect.is_some() {
            mismatch = pattern::first_mismatch(0, &read_ahead);
        }
        let mut total = read_ahead.len() as u64;
        let mut buf = vec![0u8; CHUNK];
        while expect.is_none_or(|e| total < e) {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            if expect.is_some() && mismatch.is_none() {
                mismatch = pattern::first_mismatch(total, &buf[..n]);
            }
            total += n as u64;
        }
        if expect.is_some() {
            stream
                .write_all(&pattern::sink_answer(total, mismatch))
                .await?;
        } else {
            stream.write_all(&total.to_be_bytes()).await?;
        }
        stream.shutdown().await?;
    } else if let Some(n) = path.strip_prefix("/ws/source/") {
        let total: u64 = n.parse().unwrap_or(0);
        let mut sent = 0;
        while sent < total {
            let n = (total - sent).min(CHUNK as u64) as usize;
            stream.write_all(pattern::slice(sent, n)).await?;
            sent += n as u64;
        }
        stream.shutdown().await?;
    } else {
        // echo
        stream.write_all(&read_ahead).await?;
        let (mut r, mut w) = stream.split();
        tokio::io::copy(&mut r, &mut w).await?;
        w.shutdown().await?;
    }
    Ok(())
}

/// Where a backend process said it listens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BackendAddrs {
    /// The port standing for the HTTP servers.
    pub(crate) http: SocketAddr,
    /// The port standing for the WebSocket servers.
    pub(crate) ws: SocketAddr,
}

impl BackendAddrs {
    /// Parses the `http=ADDR ws=ADDR` line printed by [`run`].
    pub(crate) fn parse(line: &str) -> Option<Self> {
        let mut http = None;
        let mut ws = None;
        for part in line.split_whitespace() {
            if let Some(a) = part.strip_prefix("http=") {
                http = a.parse().ok();
            } else if let Some(a) = part.strip_prefix("ws=") {
                ws = a.parse().ok();
            }
        }
        Some(Self {
            http: http?,
            ws: ws?,
        })
    }
}
