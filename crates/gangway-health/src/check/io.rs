//! Running a check over a real TCP connection (tokio).

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::check::proxy::write_proxy_header;
use crate::check::response::{close_frame, find_close_frame};
use crate::check::{CheckKind, WS_KEY_LEN};
use crate::{Check, CheckFailure, CheckReport, Progress};

/// How long a passed WebSocket check waits for the server's close frame (or end of stream)
/// after sending its own, within the check deadline: the verdict is already in, so the
/// server's slowness here must not hold the check (its slot and duration) until `inter`.
const WS_CLOSE_WAIT: Duration = Duration::from_millis(100);

/// The answer buffer's first size: most answers fit.
const ANSWER_ROOM: usize = 4096;

/// The end of the room to read into past an answer's first `filled` bytes (fewer than
/// `limit`). Zeroed room grows by doubling (and stays for the next checks): a trickled
/// answer costs linear time, a small one a small buffer.
fn answer_room(answer: &mut Vec<u8>, filled: usize, limit: usize) -> usize {
    if filled >= answer.len() {
        let room = (2 * filled).max(ANSWER_ROOM).min(limit);
        answer.resize(room, 0);
    }
    answer.len().min(limit)
}

/// `at + wait`, or a day past `at` for a wait too long for an `Instant` (a timeout an
/// embedder set to "never"), instead of a panic.
fn after(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait)
        .unwrap_or_else(|| at + Duration::from_secs(86_400))
}

/// One server's prepared check: the request written once, a reusable response buffer.
///
/// ```no_run
/// # async fn demo() {
/// use std::time::Duration;
/// use gangway_health::{Check, Probe};
///
/// let mut probe = Probe::new(Check::http("/health").shared(), "127.0.0.1:8080".parse().unwrap());
/// let report = probe.run(Duration::from_secs(2)).await;
/// println!("{:?} in {:?}", report.result, report.duration);
/// # }
/// ```
#[derive(Debug)]
pub struct Probe {
    check: Arc<Check>,
    target: SocketAddr,
    request: Vec<u8>,
    /// Where the `Sec-WebSocket-Key` placeholder sits in `request`.
    ws_key_at: Option<usize>,
    buf: Vec<u8>,
    /// The answer being read: zeroed room, grown as answers need it, up to the check buffer
    /// limit.
    answer: Vec<u8>,
    /// When the current check's verdict was reached, if before its cleanup (WebSocket close).
    decided: Option<Instant>,
}

impl Probe {
    /// Prepares `check` for the server at `server` (the check may target another address or
    /// port, see [`Check::target`]).
    pub fn new(check: Arc<Check>, server: SocketAddr) -> Self {
        let mut request = Vec::new();
        check.write_request(server, None, &mut request);
        let ws_key_at = match check.kind() {
            CheckKind::WebSocket { .. } => Some(request.len() - 4 - WS_KEY_LEN),
            _ => None,
        };
        Probe {
            target: check.target(server),
            check,
            request,
            ws_key_at,
            buf: Vec::new(),
            answer: Vec::new(),
            decided: None,
        }
    }

    /// Where the check connects.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// The check.
    pub fn check(&self) -> &Arc<Check> {
        &self.check
    }

    /// Runs the check once; the whole check (connect included) is bounded by `timeout`.
    pub async fn run(&mut self, timeout: Duration) -> CheckReport {
        self.run_split(None, timeout).await
    }

    /// Runs the check once with the connect bounded on its own (HAProxy with `timeout check`):
    /// with `connect_timeout`, the connect gets that long and the rest of the check `timeout`
    /// from the moment the connection is established; without it, as [`run`](Self::run).
    pub async fn run_split(
        &mut self,
        connect_timeout: Option<Duration>,
        timeout: Duration,
    ) -> CheckReport {
        let started = Instant::now();
        self.decided = None;
        let result = match connect_timeout {
            Some(connect) => self.run_until(after(started, connect), Some(timeout)).await,
            None => self.run_until(after(started, timeout), None).await,
        };
        // The duration is the check's, up to its verdict, not the WebSocket close after it.
        let done = self.decided.take().unwrap_or_else(Instant::now);
        CheckReport {
            result,
            duration: done.saturating_duration_since(started),
        }
    }

    /// Connects by `connect_deadline`; the rest of the check ends by the same deadline, or
    /// `after_connect` after the connection is established.
    async fn run_until(
        &mut self,
        connect_deadline: Instant,
        after_connect: Option<Duration>,
    ) -> Result<Option<u16>, CheckFailure> {
        let mut stream = match timeout_at(connect_deadline, TcpStream::connect(self.target)).await {
            Err(_) => return Err(CheckFailure::ConnectTimeout),
            Ok(Err(err)) => return Err(CheckFailure::from_connect(&err)),
            Ok(Ok(stream)) => stream,
        };
        let deadline = after_connect.map_or(connect_deadline, |t| after(Instant::now(), t));
        // Probes are tiny: send them at once.
        let _ = stream.set_nodelay(true);
        let ws_key = self.ws_key_at.map(|at| self.new_ws_key(at));

        self.buf.clear();
        if let Some(kind) = self.check.get_send_proxy() {
            match (stream.local_addr(), stream.peer_addr()) {
                (Ok(local), Ok(peer)) => write_proxy_header(kind, local, peer, &mut self.buf),
                (Err(err), _) | (_, Err(err)) => return Err(CheckFailure::from_io(&err)),
            }
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = self.check.get_tls().cloned() {
            // The PROXY header goes in clear, before the handshake.
            if !self.buf.is_empty() {
                match timeout_at(deadline, stream.write_all(&self.buf)).await {
                    Err(_) => return Err(CheckFailure::ResponseTimeout { received: 0 }),
                    Ok(Err(err)) => return Err(CheckFailure::from_io(&err)),
                    Ok(Ok(())) => self.buf.clear(),
                }
            }
            let mut stream =
                match timeout_at(deadline, tls.connector.connect(tls.name, stream)).await {
                    Err(_) => return Err(CheckFailure::TlsHandshakeTimeout),
                    Ok(Err(_)) => return Err(CheckFailure::TlsHandshake),
                    Ok(Ok(stream)) => stream,
                };
            if self.check.response_check(ws_key.as_ref()).is_none() {
                // A TCP check over TLS passes on a completed handshake.
                let _ = timeout_at(deadline, stream.shutdown()).await;
                return Ok(None);
            }
            self.buf.extend_from_slice(&self.request);
            return self.exchange(&mut stream, deadline, ws_key.as_ref()).await;
        }
        self.buf.extend_from_slice(&self.request);
        if self.check.response_check(ws_key.as_ref()).is_none() {
            if !self.buf.is_empty() {
                match timeout_at(deadline, stream.write_all(&self.buf)).await {
                    Err(_) => return Err(CheckFailure::ResponseTimeout { received: 0 }),
                    Ok(Err(err)) => return Err(CheckFailure::from_io(&err)),
                    Ok(Ok(())) => {}
                }
                // A reset could discard the PROXY header before the server reads it.
                let _ = timeout_at(deadline, stream.shutdown()).await;
            } else {
                // A TCP check passes on connect; close with a reset so that thousands of
                // checks leave no TIME_WAIT sockets behind (as HAProxy does).
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            }
            return Ok(None);
        }
        self.exchange(&mut stream, deadline, ws_key.as_ref()).await
    }

    /// Sends the request in `buf` and judges the answer (an HTTP or WebSocket check).
    async fn exchange<S>(
        &mut self,
        stream: &mut S,
        deadline: Instant,
        ws_key: Option<&[u8; WS_KEY_LEN]>,
    ) -> Result<Option<u16>, CheckFailure>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if !self.buf.is_empty() {
            let write = async {
                stream.write_all(&self.buf).await?;
                stream.flush().await
            };
            match timeout_at(deadline, write).await {
                Err(_) => return Err(CheckFailure::ResponseTimeout { received: 0 }),
                Ok(Err(err)) => return Err(CheckFailure::from_io(&err)),
                Ok(Ok(())) => {}
            }
        }
        let Some(mut eval) = self.check.response_check(ws_key) else {
            return Ok(None);
        };

        let limit = eval.limit();
        let mut filled = 0;
        let verdict = loop {
            let mut eof = false;
            if filled < limit {
                let room = answer_room(&mut self.answer, filled, limit);
                let read = timeout_at(deadline, stream.read(&mut self.answer[filled..room])).await;
                match read {
                    Err(_) => return Err(CheckFailure::ResponseTimeout { received: filled }),
                    // A TLS server closing without close_notify, as many do after an answer:
                    // its end of stream (a cut answer still fails as closed early).
                    Ok(Err(err)) if err.kind() == std::io::ErrorKind::UnexpectedEof => eof = true,
                    Ok(Err(err)) => return Err(CheckFailure::from_io(&err)),
                    Ok(Ok(n)) => {
                        filled += n;
                        eof = n == 0;
                    }
                }
            }
            match eval.advance(&self.answer[..filled], eof) {
                // A closed stream or a full buffer always decides; never spin on either.
                Progress::NeedMore if eof => {
                    break Err(CheckFailure::ClosedEarly { received: filled });
                }
                Progress::NeedMore if filled >= limit => {
                    break Err(CheckFailure::ResponseTooLarge { limit });
                }
                Progress::NeedMore => continue,
                Progress::Done(verdict) => break verdict,
            }
        };
        if verdict.is_ok() && self.ws_key_at.is_some() {
            // The frames that came with the head start where the check found its end.
            let frames_at = eval.head_end().unwrap_or(filled);
            let now = Instant::now();
            self.decided = Some(now);
            let deadline = deadline.min(after(now, WS_CLOSE_WAIT));
            self.close_websocket(stream, frames_at..filled, deadline)
                .await;
        }
        verdict
    }

    /// Writes a fresh random key into the request and returns it.
    fn new_ws_key(&mut self, at: usize) -> [u8; WS_KEY_LEN] {
        use base64::Engine;
        let nonce: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
        let mut key = [0u8; WS_KEY_LEN];
        // 16 bytes always encode to 24 base64 characters.
        let _ = base64::engine::general_purpose::STANDARD.encode_slice(nonce, &mut key);
        self.request[at..at + WS_KEY_LEN].copy_from_slice(&key);
        key
    }

    /// Closes an accepted WebSocket cleanly: close frame 1000, then wait (until `deadline`,
    /// at most [`WS_CLOSE_WAIT`] away) for the server's close frame or its end of stream. The
    /// check already passed, so nothing here can fail it. The frames that came with the answer
    /// are in `answer[frames]`.
    async fn close_websocket<S>(&mut self, stream: &mut S, frames: Range<usize>, deadline: Instant)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // They move to the front; the rest of the buffer is room.
        let mut filled = frames.len();
        self.answer.copy_within(frames, 0);
        let mask: [u8; 4] = fastrand::u32(..).to_ne_bytes();
        if timeout_at(deadline, stream.write_all(&close_frame(mask)))
            .await
            .is_err()
        {
            return;
        }
        // The frames may fill the buffer up to the check buffer limit, as the answer may: a
        // socket dropped with unread data sends a reset instead of an orderly close.
        let limit = self.check.get_buffer_limit();
        let mut next_frame = 0;
        while !find_close_frame(&self.answer[..filled], &mut next_frame) && filled < limit {
            let room = answer_room(&mut self.answer, filled, limit);
            match timeout_at(deadline, stream.read(&mut self.answer[filled..room])).await {
                Ok(Ok(n)) if n > 0 => filled += n,
                _ => break,
            }
        }
        let _ = timeout_at(deadline, stream.shutdown()).await;
    }
}
