//! A loopback server whose behaviour tests switch at runtime: answer 200, answer 500, hang,
//! answer a good or a bad 101, or refuse connections altogether.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// `200 OK` with body `all is ok`.
    Ok = 0,
    /// `500 Internal Server Error`.
    Error500 = 1,
    /// Reads the request and never answers.
    Hang = 2,
    /// A valid 101 (with the first subprotocol offered, if any), then answers the client's
    /// close frame.
    WsGood = 3,
    /// A 101 with a wrong `Sec-WebSocket-Accept`.
    WsBadAccept = 4,
    /// Accepts and closes at once without reading.
    Close = 5,
    /// A valid 101, then neither reads nor closes for 30 s.
    WsSilent = 6,
    /// A valid 101, then reads (and counts) the client's close frame but neither answers it
    /// nor closes for 30 s.
    WsNoCloseReply = 7,
}

impl Mode {
    fn from_u8(v: u8) -> Mode {
        match v {
            0 => Mode::Ok,
            1 => Mode::Error500,
            2 => Mode::Hang,
            3 => Mode::WsGood,
            4 => Mode::WsBadAccept,
            6 => Mode::WsSilent,
            7 => Mode::WsNoCloseReply,
            _ => Mode::Close,
        }
    }
}

#[derive(Default)]
pub struct Seen {
    pub accepted: AtomicUsize,
    pub requests: Mutex<Vec<Vec<u8>>>,
    pub ws_close_frames: AtomicUsize,
    pub open: AtomicUsize,
    pub peak_open: AtomicUsize,
}

pub struct TestServer {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    pub seen: Arc<Seen>,
    task: Mutex<Option<JoinHandle<()>>>,
    refusing: AtomicBool,
}

impl TestServer {
    pub async fn start(mode: Mode) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = TestServer {
            addr,
            mode: Arc::new(AtomicU8::new(mode as u8)),
            seen: Arc::new(Seen::default()),
            task: Mutex::new(None),
            refusing: AtomicBool::new(false),
        };
        server.serve(listener);
        server
    }

    fn serve(&self, listener: TcpListener) {
        let mode = Arc::clone(&self.mode);
        let seen = Arc::clone(&self.seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                seen.accepted.fetch_add(1, Ordering::SeqCst);
                let mode = Mode::from_u8(mode.load(Ordering::SeqCst));
                tokio::spawn(handle(stream, mode, Arc::clone(&seen)));
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Closes the listening socket: connections are refused until [`accept_again`].
    pub async fn refuse(&self) {
        let task = self.task.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        self.refusing.store(true, Ordering::SeqCst);
    }

    /// Listens again on the same port.
    pub async fn accept_again(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.refusing.store(false, Ordering::SeqCst);
        self.serve(listener);
    }

    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.seen.requests.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }
}

struct OpenGuard(Arc<Seen>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(mut stream: TcpStream, mode: Mode, seen: Arc<Seen>) {
    let now = seen.open.fetch_add(1, Ordering::SeqCst) + 1;
    seen.peak_open.fetch_max(now, Ordering::SeqCst);
    let _guard = OpenGuard(Arc::clone(&seen));
    if mode == Mode::Close {
        return;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    // Read until the end of a request head (a PROXY header, if any, comes first).
    let head_end = loop {
        // A PROXY v2 header starts with CRLFCRLF: look for the head after it.
        let skip = if buf.starts_with(b"\r\n\r\n\0\r\nQUIT\n") {
            16
        } else {
            0
        };
        if let Some(at) = buf.get(skip..).and_then(|b| find(b, b"\r\n\r\n")) {
            break skip + at + 4;
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => {
                if !buf.is_empty() {
                    seen.requests.lock().unwrap().push(buf);
                }
                return;
            }
        }
    };
    let request = buf[..head_end].to_vec();
    seen.requests.lock().unwrap().push(request.clone());
    let text = String::from_utf8_lossy(&request).into_owned();
    match mode {
        Mode::Ok => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nall is ok\r\n")
                .await;
        }
        Mode::Error500 => {
            let _ = stream
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        }
        Mode::Hang => {
            // Hold the connection open without answering until the client gives up.
            let _ = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk)).await;
        }
        Mode::WsGood | Mode::WsBadAccept | Mode::WsSilent | Mode::WsNoCloseReply => {
            let key = text
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("sec-websocket-key")
                        .then(|| value.trim().to_owned())
                })
                .unwrap_or_default();
            let accept = if mode != Mode::WsBadAccept {
                accept_for(&key)
            } else {
                accept_for("not the key")
            };
            // Like a real server, choose the first subprotocol offered, if any.
            let protocol = text
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("sec-websocket-protocol")
                        .then(|| value.split(',').next().unwrap_or("").trim().to_owned())
                })
                .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
                .unwrap_or_default();
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{protocol}\r\n"
            );
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
            if mode == Mode::WsSilent {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
            // Expect the client's masked close frame: 0x88, 0x82, mask, code 1000.
            let mut frame = [0u8; 8];
            if let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut frame)).await
            {
                let code = [frame[6] ^ frame[2], frame[7] ^ frame[3]];
                if frame[0] == 0x88 && frame[1] == 0x82 && code == 1000u16.to_be_bytes() {
                    seen.ws_close_frames.fetch_add(1, Ordering::SeqCst);
                    if mode == Mode::WsNoCloseReply {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    let _ = stream.write_all(&[0x88, 0x02, 0x03, 0xe8]).await;
                }
            }
        }
        Mode::Close => {}
    }
}

pub fn accept_for(key: &str) -> String {
    use base64::Engine;
    use sha1::Digest;
    let mut sha = sha1::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A loopback port with nothing listening (bound, then closed).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Polls `cond` until it holds, failing after a generous deadline.
pub async fn wait_for(mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
