//! The load side: opens WebSocket tunnels through a proxy (or straight to the backend) and
//! measures what moves through them. Every measurement checks its bytes: a tunnel that loses or
//! adds a byte is an error, never a number.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::pattern::{self, CHUNK};

/// Which way the bulk of the bytes flows in a throughput run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Client to server (`/ws/sink`).
    Upload,
    /// Server to client (`/ws/source/N`).
    Download,
}

/// Opens a TCP connection to `addr` and upgrades it on `path`; returns the stream after the 101
/// and any bytes that arrived behind the response head.
pub(crate) async fn upgrade(addr: SocketAddr, path: &str) -> io::Result<(TcpStream, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: bench.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(512);
    let mut tmp = [0u8; 512];
    loop {
        let n = stream.read(&mut tmp).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed before the 101 ({} bytes read)",
                    buf.len()
                ),
            ));
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = memchr::memmem::find(&buf, b"\r\n\r\n") {
            let head = &buf[..end];
            if !head.starts_with(b"HTTP/1.1 101") {
                return Err(io::Error::other(format!(
                    "expected a 101, got {:?}",
                    String::from_utf8_lossy(&head[..head.len().min(80)])
                )));
            }
            // HAProxy lowercases header names: compare without case.
            if memchr::memmem::find(&head.to_ascii_lowercase(), b"x-backend: ws").is_none() {
                return Err(io::Error::other("upgrade reached the HTTP backend"));
            }
            let rest = buf[end + 4..].to_vec();
            return Ok((stream, rest));
        }
        if buf.len() > 16 * 1024 {
            return Err(io::Error::other("response head too large"));
        }
    }
}

/// Moves `bytes_per_conn` through each of `conns` tunnels at once in `direction`; checks every
/// byte arrived, in order and intact ([`crate::pattern`]). Returns the elapsed wall time and
/// how many bytes did not arrive (a wrong byte or an extra one is an error).
pub(crate) async fn throughput(
    addr: SocketAddr,
    conns: usize,
    bytes_per_conn: u64,
    direction: Direction,
) -> io::Result<(Duration, u64)> {
    let path = match direction {
        Direction::Upload => format!("/ws/sink/{bytes_per_conn}"),
        Direction::Download => format!("/ws/source/{bytes_per_conn}"),
    };
    let mut tunnels = Vec::with_capacity(conns);
    for _ in 0..conns {
        tunnels.push(upgrade(addr, &path).await?);
    }
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(conns);
    for (mut stream, rest) in tunnels {
        tasks.push(tokio::spawn(async move {
            match direction {
                Direction::Upload => {
                    let mut sent = 0;
                    while sent < bytes_per_conn {
                        let n = (bytes_per_conn - sent).min(CHUNK as u64) as usize;
                        stream.write_all(pattern::slice(sent, n)).await?;
                        sent += n as u64;
                    }
                    let mut answer = rest;
                    stream.read_to_end(&mut answer).await?;
                    let got = pattern::parse_sink_answer(&answer)?;
                    if got > bytes_per_conn {
                        return Err(io::Error::other(format!(
                            "sink received {got} bytes, {bytes_per_conn} were sent"
                        )));
                    }
                    Ok::<u64, io::Error>(bytes_per_conn - got)
                }
                Direction::Download => {
                    pattern::check(0, &rest)?;
                    let mut total = rest.len() as u64;
                    let mut buf = vec![0u8; CHUNK];
                    loop {
                        let n = stream.read(&mut buf).await?;
                        if n == 0 {
                            break;
                        }
                        pattern::check(total, &buf[..n])?;
                        total += n as u64;
                    }
                    if total > bytes_per_conn {
                        return Err(io::Error::other(format!(
                            "received {total} bytes, the source sent {bytes_per_conn}"
                        )));
                    }
                    Ok(bytes_per_conn - total)
                }
            }
        }));
    }
    let mut lost = 0;
    for t in tasks {
        lost += t.await.map_err(io::Error::other)??;
    }
    Ok((start.elapsed(), lost))
}

/// Sends `count` messages of `size` bytes one at a time through an echo tunnel and returns
/// each round trip's duration, sorted.
pub(crate) async fn round_trips(
    addr: SocketAddr,
    count: usize,
    size: usize,
) -> io::Result<Vec<Duration>> {
    let (mut stream, rest) = upgrade(addr, "/ws/echo").await?;
    if !rest.is_empty() {
        return Err(io::Error::other("unexpected bytes after the 101"));
    }
    let msg = vec![0x42u8; size];
    let mut back = vec![0u8; size];
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        stream.write_all(&msg).await?;
        stream.read_exact(&mut back).await?;
        samples.push(t.elapsed());
        if back != msg {
            return Err(io::Error::other("echo returned different bytes"));
        }
    }
    samples.sort_unstable();
    Ok(samples)
}

/// Opens `count` idle echo tunnels and checks each works; returns them to be held open.
pub(crate) async fn open_idle(addr: SocketAddr, count: usize) -> io::Result<Vec<TcpStream>> {
    let mut out = Vec::with_capacity(count);
    // Open in batches so no proxy's accept backlog overflows.
    for batch in (0..count).collect::<Vec<_>>().chunks(100) {
        let mut tasks = Vec::with_capacity(batch.len());
        for _ in batch {
            tasks.push(tokio::spawn(async move {
                let (mut s, _) = upgrade(addr, "/ws/echo").await?;
                s.write_all(b"ping").await?;
                let mut b = [0u8; 4];
                s.read_exact(&mut b).await?;
                if &b != b"ping" {
                    return Err(io::Error::other("echo mismatch"));
                }
                Ok::<_, io::Error>(s)
            }));
        }
        for t in tasks {
            out.push(t.await.map_err(io::Error::other)??);
        }
    }
    Ok(out)
}

/// Sends one plain GET and returns which backend answered (`X-Backend`).
pub(crate) async fn plain_get(addr: SocketAddr, path: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut resp = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut resp))
        .await
        .map_err(|_| io::Error::other("GET timed out"))??;
    let text = String::from_utf8_lossy(&resp);
    if !text.starts_with("HTTP/1.1 200") {
        return Err(io::Error::other(format!(
            "GET {path}: {}",
            text.lines().next().unwrap_or("")
        )));
    }
    Ok(text
        .lines()
        .find_map(|l| {
            l.strip_prefix("X-Backend: ")
                .or_else(|| l.strip_prefix("x-backend: "))
        })
        .unwrap_or("?")
        .trim()
        .to_owned())
}

/// Half-close through the tunnel: the client sends 1 MiB, then shuts down its writing side; the
/// server only answers (with the byte count) once it sees that FIN. A proxy that closes the whole
/// connection on the client's FIN loses the answer.
pub(crate) async fn half_close_propagates(addr: SocketAddr) -> io::Result<bool> {
    const SENT: u64 = 1 << 20;
    let (mut stream, rest) = upgrade(addr, "/ws/sink").await?;
    stream.write_all(&vec![7u8; SENT as usize]).await?;
    stream.shutdown().await?;
    let mut answer = rest;
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    Ok(matches!(read, Ok(Ok(_))) && answer.as_slice() == SENT.to_be_bytes())
}
