//! In-process demo backends: the HTML page and WebSocket broadcast server of the HAProxy
//! WebSocket guide (seed 001), so an example gateway runs on its own.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! let page = gangway::demo::serve_page("127.0.0.1:0").await?;
//! let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0").await?;
//! println!("page on {}, chat on {}", page.addr(), chat.addr());
//! # Ok(()) }
//! ```

use std::net::SocketAddr;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// The demo page: type a message, every connected browser sees `Received: <message>`.
/// It connects to `/ws/echo` on the host that served it.
pub const INDEX_HTML: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<title>WebSocket Example</title>
</head>
<body>
<h1>WebSocket Example</h1>
<form>
<label for="message">Message:</label><br />
<input type="text" id="message" name="message" /><br />
<input type="button" id="sendBtn" value="Send" />
</form>
<div id="output"></div>
<script type="text/javascript">
window.onload = function() {
  // connect to the server through the gateway that served this page
  let socket = new WebSocket("ws://" + window.location.host + "/ws/echo");
  socket.onopen = () => socket.send("Client connected!");
  var sendButton = document.getElementById("sendBtn");
  var message = document.getElementById("message");
  sendButton.onclick = () => { socket.send(message.value); }
  message.onkeypress = (evt) => {
    if (evt.keyCode === 13) { evt.preventDefault(); socket.send(message.value); }
  }
  socket.onmessage = (evt) => {
    var output = document.getElementById("output");
    var line = document.createElement("div");
    line.textContent = evt.data;
    output.appendChild(line);
  }
}
</script>
</body>
</html>
"#;

/// A running demo server; it stops when dropped.
#[derive(Debug)]
pub struct DemoServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DemoServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves [`INDEX_HTML`] at `/` and `/ws`, `OK` at `/health`, 404 elsewhere (HTTP/1.1 with
/// keep-alive).
pub async fn serve_page(addr: &str) -> std::io::Result<DemoServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(page_connection(stream));
        }
    });
    Ok(DemoServer { addr, task })
}

async fn page_connection(mut stream: TcpStream) {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let (head_len, path, close, body_len, head_only) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let close = req.version == Some(0)
                        || req.headers.iter().any(|h| {
                            h.name.eq_ignore_ascii_case("connection")
                                && h.value.eq_ignore_ascii_case(b"close")
                        });
                    let body_len = req
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .and_then(|h| {
                            std::str::from_utf8(h.value)
                                .ok()?
                                .trim()
                                .parse::<usize>()
                                .ok()
                        })
                        .unwrap_or(0);
                    let path = req
                        .path
                        .unwrap_or("/")
                        .split('?')
                        .next()
                        .unwrap_or("/")
                        .to_owned();
                    break (n, path, close, body_len, req.method == Some("HEAD"));
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => return,
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        // Skip any request body.
        while buf.len() < head_len + body_len {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_len + body_len);
        let (status, ctype, body) = match path.as_str() {
            "/" | "/ws" | "/index.html" => ("200 OK", "text/html; charset=utf-8", INDEX_HTML),
            "/health" => ("200 OK", "text/plain", "OK\n"),
            _ => ("404 Not Found", "text/plain", "not found\n"),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{}\r\n{}",
            body.len(),
            if close { "Connection: close\r\n" } else { "" },
            if head_only { "" } else { body }
        );
        if stream.write_all(response.as_bytes()).await.is_err() || close {
            return;
        }
    }
}

/// A WebSocket server: every text message from any client goes to every connected client as
/// `Received: <message>` (the guide's express-ws broadcast). Any path is accepted.
pub async fn serve_websocket_broadcast(addr: &str) -> std::io::Result<DemoServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, _) = broadcast::channel::<String>(256);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(websocket_connection(stream, tx.clone()));
        }
    });
    Ok(DemoServer { addr, task })
}

async fn websocket_connection(stream: TcpStream, tx: broadcast::Sender<String>) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let mut rx = tx.subscribe();
    loop {
        tokio::select! {
            msg = source.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let _ = tx.send(format!("Received: {}", text.as_str()));
                }
                Some(Ok(Message::Binary(data))) => {
                    let _ = tx.send(format!("Received: {}", String::from_utf8_lossy(&data)));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            out = rx.recv() => match out {
                Ok(text) => {
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    let _ = sink.close().await;
}
