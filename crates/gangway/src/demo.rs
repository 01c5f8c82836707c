//! In-process demo backends: the HTML page and WebSocket broadcast server of the HAProxy
//! WebSocket guide (seed 001), so an example gateway runs on its own.
//!
//! [`Demo`] is the whole demo behind `gangway demo` and `examples/single_port.rs`: the page,
//! and two chat servers behind a `leastconn` backend that share every message through a
//! [`Hub`], so a message from a browser on one server reaches browsers on the other.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let demo = gangway::demo::Demo::start().await?;
//! let gateway = demo.gateway("127.0.0.1:8080").build()?.start().await?;
//! println!("open http://{}/ and http://{}/status", gateway.local_addr(), gateway.local_addr());
//! # Ok(()) }
//! ```
//!
//! The hub is an in-process channel because both chat servers run in this process. Chat
//! servers on separate machines share messages the same way through something they all reach:
//! Redis pub/sub (`PUBLISH chat <message>`, every server `SUBSCRIBE`s and forwards to its own
//! clients), NATS or another message bus. The gateway needs nothing special for it: each
//! WebSocket is one tunnel to one server.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::Message;

use crate::{Backend, Balance, Check, GatewayBuilder, Server, Timeouts};

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
  var output = document.getElementById("output");
  var message = document.getElementById("message");
  function show(text) {
    var line = document.createElement("div");
    line.textContent = text;
    output.appendChild(line);
  }
  var socket;
  function connect() {
    // connect to the server through the gateway that served this page
    socket = new WebSocket("ws://" + window.location.host + "/ws/echo");
    socket.onopen = () => socket.send("Client connected!");
    socket.onmessage = (evt) => show(evt.data);
    // the server went away (stopped, or down): the gateway picks another one
    socket.onclose = () => { show("(disconnected, reconnecting)"); setTimeout(connect, 1000); };
  }
  connect();
  function send() { if (socket.readyState === WebSocket.OPEN) socket.send(message.value); }
  document.getElementById("sendBtn").onclick = send;
  message.onkeypress = (evt) => {
    if (evt.keyCode === 13) { evt.preventDefault(); send(); }
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

/// Where chat messages meet: every chat server on the same hub sends every message to its
/// clients. Clones share the hub.
#[derive(Debug, Clone)]
pub struct Hub {
    tx: broadcast::Sender<String>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    /// A new hub (it keeps the last 256 messages for slow clients).
    pub fn new() -> Hub {
        Hub {
            tx: broadcast::channel(256).0,
        }
    }

    /// Sends a message to every client of every chat server on this hub.
    pub fn publish(&self, message: impl Into<String>) {
        // No subscriber (no client connected) is fine: the message goes nowhere.
        let _ = self.tx.send(message.into());
    }

    /// Every message published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }
}

/// A WebSocket server: every text message from any client goes to every connected client as
/// `Received: <message>` (the guide's express-ws broadcast). Any path is accepted.
pub async fn serve_websocket_broadcast(addr: &str) -> std::io::Result<DemoServer> {
    serve_chat(addr, &Hub::new()).await
}

/// A WebSocket chat server on `hub`: every text message from a client is published on the hub
/// as `Received: <message>`, and everything published on the hub goes to its clients. Any
/// path is accepted. Dropping the server closes its listener and its clients' connections.
pub async fn serve_chat(addr: &str, hub: &Hub) -> std::io::Result<DemoServer> {
    let listener = TcpListener::bind(addr).await?;
    spawn_chat(listener, hub.clone())
}

fn spawn_chat(listener: TcpListener, hub: Hub) -> std::io::Result<DemoServer> {
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        // Owned here, so stopping the server (aborting this task) closes every connection.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(websocket_connection(stream, hub.clone()));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                },
                Some(_) = connections.join_next() => {}
            }
        }
    });
    Ok(DemoServer { addr, task })
}

async fn websocket_connection(stream: TcpStream, hub: Hub) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let mut rx = hub.subscribe();
    loop {
        tokio::select! {
            msg = source.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    hub.publish(format!("Received: {}", text.as_str()));
                }
                Some(Ok(Message::Binary(data))) => {
                    hub.publish(format!("Received: {}", String::from_utf8_lossy(&data)));
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

/// The names of the demo's chat servers in the `ws` backend.
pub const CHAT_SERVERS: [&str; 2] = ["chat1", "chat2"];

/// The whole demo: the page server and two chat servers sharing one [`Hub`], with the gateway
/// definition that serves them on one port. Chat servers can be stopped and started again
/// (on the same address) while the gateway runs, to watch health checks take them out and
/// bring them back on the status page.
#[derive(Debug)]
pub struct Demo {
    page: DemoServer,
    hub: Hub,
    chat_addrs: [SocketAddr; 2],
    chats: Mutex<[Option<DemoServer>; 2]>,
}

impl Demo {
    /// Starts the page server and both chat servers on ephemeral ports of 127.0.0.1.
    pub async fn start() -> std::io::Result<Demo> {
        let page = serve_page("127.0.0.1:0").await?;
        let hub = Hub::new();
        let first = serve_chat("127.0.0.1:0", &hub).await?;
        let second = serve_chat("127.0.0.1:0", &hub).await?;
        Ok(Demo {
            page,
            chat_addrs: [first.addr(), second.addr()],
            chats: Mutex::new([Some(first), Some(second)]),
            hub,
        })
    }

    /// The page server's address.
    pub fn page_addr(&self) -> SocketAddr {
        self.page.addr()
    }

    /// The chat servers' addresses (also while stopped), in [`CHAT_SERVERS`] order.
    pub fn chat_addrs(&self) -> [SocketAddr; 2] {
        self.chat_addrs
    }

    /// The hub the chat servers share.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The demo gateway, ready to build: `/ws/...` and WebSocket upgrades to the `ws` backend
    /// (`leastconn` over both chat servers, WebSocket-checked every second), everything else to
    /// the `web` backend (the page), and the status page at `/status`.
    pub fn gateway(&self, listen: &str) -> GatewayBuilder {
        let ws_check = Check::websocket("/ws/echo")
            .inter(Duration::from_secs(1))
            .rise(2)
            .fall(2);
        let mut ws = Backend::new("ws")
            .balance(Balance::LeastConn)
            .check(ws_check);
        for (name, addr) in CHAT_SERVERS.iter().zip(self.chat_addrs) {
            ws = ws.server(Server::at(addr).name(*name));
        }
        let web = Backend::new("web")
            .server(Server::at(self.page_addr()).name("page"))
            .check(Check::http("/health").expect_status(200));
        let is_websocket = "path_beg /ws/ || hdr(Upgrade) -i websocket"
            .parse()
            .unwrap_or_else(|e| unreachable!("the demo's condition parses: {e}"));
        crate::Gateway::builder()
            .listen(listen)
            .route(is_websocket, &ws)
            .default_backend(&web)
            .status_page("/status")
            .timeouts(Timeouts::default().tunnel(Duration::from_secs(3600)))
    }

    fn index(name: &str) -> Option<usize> {
        CHAT_SERVERS.iter().position(|n| *n == name)
    }

    /// Stops a chat server (by name, see [`CHAT_SERVERS`]): its listener and connections
    /// are closed when this returns. Returns `false` when there is no such server or it was
    /// already stopped.
    pub async fn stop_chat(&self, name: &str) -> bool {
        let Some(i) = Demo::index(name) else {
            return false;
        };
        let stopped = match self.chats.lock() {
            Ok(mut chats) => chats[i].take(),
            Err(_) => None,
        };
        match stopped {
            Some(mut server) => {
                server.task.abort();
                // Wait for the abort, so the address is free for `start_chat` at once.
                let _ = (&mut server.task).await;
                true
            }
            None => false,
        }
    }

    /// Starts a stopped chat server again on its old address. Returns `Ok(false)` when there
    /// is no such server or it is already running.
    pub fn start_chat(&self, name: &str) -> std::io::Result<bool> {
        let Some(i) = Demo::index(name) else {
            return Ok(false);
        };
        let Ok(mut chats) = self.chats.lock() else {
            return Ok(false);
        };
        if chats[i].is_some() {
            return Ok(false);
        }
        let listener = std::net::TcpListener::bind(self.chat_addrs[i])?;
        listener.set_nonblocking(true)?;
        chats[i] = Some(spawn_chat(
            TcpListener::from_std(listener)?,
            self.hub.clone(),
        )?);
        Ok(true)
    }

    /// Whether a chat server is running.
    pub fn chat_running(&self, name: &str) -> bool {
        match (Demo::index(name), self.chats.lock()) {
            (Some(i), Ok(chats)) => chats[i].is_some(),
            _ => false,
        }
    }

    /// Runs one demo command and says what happened: `stop chat2` (`chat2 stopped`),
    /// `start chat2` (`chat2 started`). `None` for a blank line.
    pub async fn command(&self, line: &str) -> Option<String> {
        let mut words = line.split_whitespace();
        let answer = match (words.next()?, words.next()) {
            ("stop", Some(name)) => match self.stop_chat(name).await {
                true => format!("{name} stopped"),
                false => format!("{name}: no such running server"),
            },
            ("start", Some(name)) => match self.start_chat(name) {
                Ok(true) => format!("{name} started"),
                Ok(false) => format!("{name}: no such stopped server"),
                Err(e) => format!("{name}: cannot start: {e}"),
            },
            _ => format!("unknown command {line:?} (try: stop chat2, start chat2)"),
        };
        Some(answer)
    }

    /// Runs the commands typed on stdin (see [`command`](Self::command)), printing each
    /// answer on stdout, until stdin ends. Stdin is read on its own thread, so a process
    /// that returns from `main` while this waits still exits.
    pub async fn control_stdin(&self) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        while let Some(line) = rx.recv().await {
            if let Some(answer) = self.command(&line).await {
                println!("{answer}");
            }
        }
    }
}
