//! Tunnels over real loopback sockets, on each transfer path: `splice(2)` (TCP to TCP on Linux),
//! readiness-based copying (TCP to TCP, splice off), generic copying (streams that are not
//! `TcpStream`), and TCP with splice that parks its sockets outside tokio's reactor whenever it
//! is idle at all (Linux).

#[macro_use]
mod common;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use gangway_tunnel::{
    BufferPool, CloseReason, PipePool, Side, Tunnel, TunnelHandle, TunnelOutcome,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use common::{PROMPTLY, connected_pair, finished, random_bytes, read_to_end, read_until_closed};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Splice,
    TcpCopy,
    StreamCopy,
    /// Splice, and parks as soon as the tunnel is idle (`park_after(0)`).
    Parked,
}

const PATHS: [Path; 4] = [Path::Splice, Path::TcpCopy, Path::StreamCopy, Path::Parked];

/// The paths for tests under tokio's paused clock, which parking does not support (see
/// `TunnelConfig::park_after`); the others do not park within these tests.
const PAUSED_PATHS: [Path; 3] = [Path::Splice, Path::TcpCopy, Path::StreamCopy];

/// A stream the tunnel cannot recognise as a `TcpStream`: forces the generic copying path.
#[derive(Debug)]
struct Opaque(TcpStream);

impl AsyncRead for Opaque {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Opaque {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Options of one test tunnel.
struct Setup {
    path: Path,
    client_read_ahead: &'static [u8],
    server_read_ahead: &'static [u8],
    idle: Option<Duration>,
    client_fin: Option<Duration>,
    server_fin: Option<Duration>,
    lifetime: Option<Duration>,
    buffers: BufferPool,
    pipes: PipePool,
}

impl Setup {
    fn new(path: Path) -> Setup {
        Setup {
            path,
            client_read_ahead: b"",
            server_read_ahead: b"",
            idle: None,
            client_fin: None,
            server_fin: None,
            lifetime: None,
            buffers: BufferPool::new(16 * 1024, 16),
            pipes: PipePool::new(16, 64 * 1024),
        }
    }
}

/// The two outer ends (what the client and the server programs hold) and the running tunnel.
struct Running {
    client: TcpStream,
    server: TcpStream,
    handle: TunnelHandle,
    task: JoinHandle<TunnelOutcome>,
}

fn configure<C, S>(tunnel: Tunnel<C, S>, setup: &Setup) -> Tunnel<C, S>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    tunnel
        .client_read_ahead(setup.client_read_ahead)
        .server_read_ahead(setup.server_read_ahead)
        .idle_timeout(setup.idle)
        .client_fin_timeout(setup.client_fin)
        .server_fin_timeout(setup.server_fin)
        .max_lifetime(setup.lifetime)
        .splice(matches!(setup.path, Path::Splice | Path::Parked))
        .park_after((setup.path == Path::Parked).then_some(Duration::ZERO))
        .buffer_pool(setup.buffers.clone())
        .pipe_pool(setup.pipes.clone())
}

async fn start(setup: &Setup) -> Running {
    let (client, tunnel_client) = connected_pair().await;
    let (tunnel_server, server) = connected_pair().await;
    let (handle, task) = match setup.path {
        Path::Splice | Path::TcpCopy | Path::Parked => {
            let mut tunnel = configure(Tunnel::new(tunnel_client, tunnel_server), setup);
            (tunnel.handle(), tokio::spawn(tunnel.run()))
        }
        Path::StreamCopy => {
            let tunnel = Tunnel::new(Opaque(tunnel_client), Opaque(tunnel_server));
            let mut tunnel = configure(tunnel, setup);
            (tunnel.handle(), tokio::spawn(tunnel.run()))
        }
    };
    Running {
        client,
        server,
        handle,
        task,
    }
}

/// Write `out` then half-close, while reading everything the peer sends.
async fn exchange(stream: TcpStream, out: Vec<u8>) -> Vec<u8> {
    let (mut read, mut write) = stream.into_split();
    let writer = async move {
        write.write_all(&out).await.unwrap();
        write.shutdown().await.unwrap();
        write
    };
    let reader = async move {
        let mut got = Vec::new();
        read.read_to_end(&mut got).await.unwrap();
        got
    };
    let (_write, got) = tokio::join!(writer, reader);
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_random_data_both_ways_at_once_is_byte_exact() {
    for path in PATHS {
        let setup = Setup::new(path);
        let run = start(&setup).await;
        let up = random_bytes(6 * 1024 * 1024 + 17, 1);
        let down = random_bytes(5 * 1024 * 1024 + 3, 2);
        let (got_down, got_up) = tokio::time::timeout(PROMPTLY, async {
            tokio::join!(
                tokio::spawn(exchange(run.client, up.clone())),
                tokio::spawn(exchange(run.server, down.clone())),
            )
        })
        .await
        .expect("transfer ends promptly");
        let (got_down, got_up) = (got_down.unwrap(), got_up.unwrap());
        assert!(got_up == up, "{path:?}: client-to-server bytes differ");
        assert!(got_down == down, "{path:?}: server-to-client bytes differ");
        let outcome = finished(run.task).await;
        assert_reason!(
            outcome,
            CloseReason::ClientClosed | CloseReason::ServerClosed,
            "{path:?}"
        );
        assert_eq!(outcome.client_to_server, up.len() as u64, "{path:?}");
        assert_eq!(outcome.server_to_client, down.len() as u64, "{path:?}");
        if matches!(path, Path::Splice | Path::Parked) && cfg!(target_os = "linux") {
            assert!(outcome.bytes_spliced > 0, "splice path used splice");
        } else {
            assert_eq!(outcome.bytes_spliced, 0, "{path:?}");
        }
        assert_eq!(setup.buffers.lent(), 0, "{path:?}: buffers returned");
        assert_eq!(setup.pipes.lent(), 0, "{path:?}: pipes returned");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splice_falls_back_to_copying_when_the_pipe_pool_is_empty() {
    for (max_pipes, spliced) in [(0, false), (1, true)] {
        let mut setup = Setup::new(Path::Splice);
        setup.pipes = PipePool::new(max_pipes, 64 * 1024);
        let run = start(&setup).await;
        let up = random_bytes(2 * 1024 * 1024, 3);
        let down = random_bytes(2 * 1024 * 1024, 4);
        let (got_down, got_up) = tokio::join!(
            tokio::spawn(exchange(run.client, up.clone())),
            tokio::spawn(exchange(run.server, down.clone())),
        );
        assert!(got_up.unwrap() == up, "{max_pipes} pipes: up bytes differ");
        assert!(
            got_down.unwrap() == down,
            "{max_pipes} pipes: down bytes differ"
        );
        let outcome = finished(run.task).await;
        assert_eq!(
            outcome.client_to_server + outcome.server_to_client,
            4 * 1024 * 1024
        );
        if cfg!(target_os = "linux") {
            assert_eq!(outcome.bytes_spliced > 0, spliced, "{max_pipes} pipes");
        }
        assert!(setup.pipes.open() <= max_pipes);
        assert_eq!(setup.pipes.lent(), 0);
    }
}

#[tokio::test]
async fn read_ahead_bytes_are_delivered_first() {
    for path in PATHS {
        let mut setup = Setup::new(path);
        setup.client_read_ahead = b"\x81\x05hello";
        setup.server_read_ahead = b"\x81\x07welcome";
        let mut run = start(&setup).await;
        run.client.write_all(b" and more").await.unwrap();
        run.server.write_all(b" back").await.unwrap();
        let mut up = [0u8; 16];
        run.server.read_exact(&mut up).await.unwrap();
        assert_eq!(&up, b"\x81\x05hello and more", "{path:?}");
        let mut down = [0u8; 14];
        run.client.read_exact(&mut down).await.unwrap();
        assert_eq!(&down, b"\x81\x07welcome back", "{path:?}");
        drop(run.client);
        drop(run.server);
        let outcome = finished(run.task).await;
        assert_eq!(
            (outcome.client_to_server, outcome.server_to_client),
            (16, 14),
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn client_half_close_still_gets_the_reply() {
    for path in PATHS {
        let mut run = start(&Setup::new(path)).await;
        run.client.write_all(b"last message").await.unwrap();
        run.client.shutdown().await.unwrap();
        // The server sees the message, then the end of stream (the FIN was passed on).
        assert_eq!(
            read_to_end(&mut run.server).await,
            b"last message",
            "{path:?}"
        );
        // The other direction still flows.
        run.server.write_all(b"the reply").await.unwrap();
        run.server.shutdown().await.unwrap();
        assert_eq!(read_to_end(&mut run.client).await, b"the reply", "{path:?}");
        let outcome = finished(run.task).await;
        assert_reason!(outcome, CloseReason::ClientClosed, "{path:?}");
        assert_eq!(
            (outcome.client_to_server, outcome.server_to_client),
            (12, 9)
        );
    }
}

#[tokio::test]
async fn server_half_close_still_takes_client_bytes() {
    for path in PATHS {
        let mut run = start(&Setup::new(path)).await;
        run.server.write_all(b"goodbye").await.unwrap();
        run.server.shutdown().await.unwrap();
        assert_eq!(read_to_end(&mut run.client).await, b"goodbye", "{path:?}");
        run.client.write_all(b"ack").await.unwrap();
        run.client.shutdown().await.unwrap();
        assert_eq!(read_to_end(&mut run.server).await, b"ack", "{path:?}");
        let outcome = finished(run.task).await;
        assert_reason!(outcome, CloseReason::ServerClosed, "{path:?}");
        assert_eq!((outcome.client_to_server, outcome.server_to_client), (3, 7));
    }
}

/// Close `stream` with a TCP reset instead of a FIN.
fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
}

/// The far end of a tunnel that ended on an error sees its connection end (reset or FIN).
async fn sees_the_end(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(PROMPTLY, stream.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "connection ends promptly");
}

#[tokio::test]
async fn reset_on_either_side_ends_with_an_error_on_that_side() {
    for path in PATHS {
        for reset_side in [Side::Client, Side::Server] {
            let setup = Setup::new(path);
            let mut run = start(&setup).await;
            // Make sure the tunnel is up and moving before the reset.
            run.client.write_all(b"ping").await.unwrap();
            let mut ping = [0u8; 4];
            run.server.read_exact(&mut ping).await.unwrap();
            let mut survivor = match reset_side {
                Side::Client => {
                    reset(run.client);
                    run.server
                }
                Side::Server => {
                    reset(run.server);
                    run.client
                }
            };
            let outcome = finished(run.task).await;
            match &outcome.reason {
                CloseReason::Error(side, _) => assert_eq!(*side, reset_side, "{path:?}"),
                other => panic!("{path:?}, reset {reset_side}: ended with {other}"),
            }
            sees_the_end(&mut survivor).await;
            assert_eq!(setup.buffers.lent() + setup.pipes.lent(), 0, "{path:?}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_is_reset_by_any_byte() {
    for path in PAUSED_PATHS {
        let mut setup = Setup::new(path);
        setup.idle = Some(Duration::from_secs(30));
        let mut run = start(&setup).await;
        let started = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(20)).await;
        run.server.write_all(b"x").await.unwrap();
        let mut x = [0u8; 1];
        run.client.read_exact(&mut x).await.unwrap();
        let outcome = finished(run.task).await;
        assert_reason!(outcome, CloseReason::IdleTimeout, "{path:?}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(50),
            "{path:?}: the byte at 20 s pushed the timeout to 50 s, ended at {waited:?}"
        );
        sees_the_end(&mut run.client).await;
        sees_the_end(&mut run.server).await;
    }
}

#[tokio::test(start_paused = true)]
async fn half_closed_timeout_and_max_lifetime() {
    for path in PAUSED_PATHS {
        // As in HAProxy: after the client's FIN the server side is half-closed and `server-fin`
        // applies; after the server's, `client-fin`. The other one does not.
        for (fin_side, client_fin, server_fin) in
            [(Side::Client, None, Some(5)), (Side::Server, Some(5), None)]
        {
            let mut setup = Setup::new(path);
            setup.idle = Some(Duration::from_secs(3600));
            setup.client_fin = client_fin.map(Duration::from_secs);
            setup.server_fin = server_fin.map(Duration::from_secs);
            let mut run = start(&setup).await;
            match fin_side {
                Side::Client => run.client.shutdown().await.unwrap(),
                Side::Server => run.server.shutdown().await.unwrap(),
            }
            let outcome = finished(run.task).await;
            assert!(
                matches!(outcome.reason, CloseReason::HalfClosedTimeout(side) if side == fin_side),
                "{path:?}, FIN from the {fin_side}: {}",
                outcome.reason
            );
            assert!(outcome.duration < Duration::from_secs(3600));

            // The timeout of the side that sent the FIN is not the one that applies.
            let mut setup = Setup::new(path);
            setup.idle = Some(Duration::from_secs(60));
            setup.client_fin = server_fin.map(Duration::from_secs);
            setup.server_fin = client_fin.map(Duration::from_secs);
            let mut run = start(&setup).await;
            match fin_side {
                Side::Client => run.client.shutdown().await.unwrap(),
                Side::Server => run.server.shutdown().await.unwrap(),
            }
            let outcome = finished(run.task).await;
            assert_reason!(
                outcome,
                CloseReason::IdleTimeout,
                "{path:?}, FIN from the {fin_side}"
            );
        }

        let mut setup = Setup::new(path);
        setup.idle = Some(Duration::from_secs(30));
        setup.lifetime = Some(Duration::from_secs(100));
        let mut run = start(&setup).await;
        let outcome = loop {
            // Busy every 10 s: the idle timeout never fires, the lifetime does.
            tokio::time::sleep(Duration::from_secs(10)).await;
            let mut tick = [0u8; 4];
            let ticked = match run.client.write_all(b"tick").await {
                Ok(()) => run.server.read_exact(&mut tick).await.is_ok(),
                Err(_) => false,
            };
            if !ticked || run.task.is_finished() {
                break finished(run.task).await;
            }
        };
        assert_reason!(outcome, CloseReason::MaxLifetime, "{path:?}");
        assert!(outcome.duration >= Duration::from_secs(100));
    }
}

/// A side that half-closes long after its last byte still gets the other side's late reply:
/// the half-closed timeout counts from the FIN, not from the last byte (parked or not).
#[tokio::test]
async fn half_closed_timeout_counts_from_the_fin() {
    // Quiet longer than the half-closed timeout before the FIN; the reply comes well within
    // it after the FIN.
    const QUIET: Duration = Duration::from_millis(1000);
    const HALF_CLOSED: Duration = Duration::from_millis(600);
    const THINK: Duration = Duration::from_millis(100);
    let mut runs = Vec::new();
    for path in PATHS {
        for fin_side in [Side::Client, Side::Server] {
            runs.push(tokio::spawn(async move {
                let mut setup = Setup::new(path);
                // Both, so the test does not depend on which one applies to which side.
                setup.client_fin = Some(HALF_CLOSED);
                setup.server_fin = Some(HALF_CLOSED);
                let run = start(&setup).await;
                let (mut closer, mut other) = match fin_side {
                    Side::Client => (run.client, run.server),
                    Side::Server => (run.server, run.client),
                };
                closer.write_all(b"request").await.unwrap();
                let mut request = [0u8; 7];
                other.read_exact(&mut request).await.unwrap();
                tokio::time::sleep(QUIET).await;
                closer.shutdown().await.unwrap();
                assert_eq!(read_to_end(&mut other).await, b"", "{path:?}, {fin_side}");
                tokio::time::sleep(THINK).await;
                // (On a tunnel already closed these fail: the assertion below tells.)
                let _ = other.write_all(b"late reply").await;
                let _ = other.shutdown().await;
                let got = read_until_closed(&mut closer).await;
                assert_eq!(got, b"late reply", "{path:?}, FIN from the {fin_side}");
                let outcome = finished(run.task).await;
                match fin_side {
                    Side::Client => assert_reason!(outcome, CloseReason::ClientClosed, "{path:?}"),
                    Side::Server => assert_reason!(outcome, CloseReason::ServerClosed, "{path:?}"),
                }
            }));
        }
    }
    for run in runs {
        run.await.unwrap();
    }
}

#[tokio::test]
async fn abort_from_another_task_closes_both_sides() {
    for path in PATHS {
        let mut run = start(&Setup::new(path)).await;
        run.client.write_all(b"hello").await.unwrap();
        let mut hello = [0u8; 5];
        run.server.read_exact(&mut hello).await.unwrap();
        let handle = run.handle.clone();
        tokio::spawn(async move { handle.abort() }).await.unwrap();
        let outcome = finished(run.task).await;
        assert_reason!(outcome, CloseReason::Aborted, "{path:?}");
        assert!(run.handle.is_finished());
        assert_eq!(read_to_end(&mut run.client).await, b"");
        assert_eq!(read_to_end(&mut run.server).await, b"");
    }
}

#[tokio::test]
async fn drain_delivers_what_was_read_then_ends_both_directions() {
    for path in PATHS {
        let mut setup = Setup::new(path);
        setup.server_read_ahead = b"buffered before the drain";
        let mut run = start(&setup).await;
        run.client.write_all(b"in flight").await.unwrap();
        let mut got = [0u8; 9];
        run.server.read_exact(&mut got).await.unwrap();
        run.handle.drain();
        let outcome = finished(run.task).await;
        assert_reason!(outcome, CloseReason::Drained, "{path:?}");
        assert_eq!(
            read_to_end(&mut run.client).await,
            b"buffered before the drain",
            "{path:?}"
        );
        assert_eq!(read_to_end(&mut run.server).await, b"", "{path:?}");
    }
}

#[tokio::test]
async fn an_idle_tunnel_holds_no_buffer_and_no_pipe() {
    for path in PATHS {
        let setup = Setup::new(path);
        let mut run = start(&setup).await;
        let payload = random_bytes(512 * 1024, 5);
        let mut echoed = vec![0u8; payload.len()];
        let (wrote, read) = tokio::join!(
            run.client.write_all(&payload),
            run.server.read_exact(&mut echoed)
        );
        wrote.unwrap();
        read.unwrap();
        assert!(echoed == payload);
        // The tunnel gives its buffer or pipe back as soon as the source would block.
        let deadline = tokio::time::Instant::now() + PROMPTLY;
        while setup.buffers.lent() + setup.pipes.lent() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path:?}: still holds a buffer"
            );
            tokio::task::yield_now().await;
        }
        assert!(!run.task.is_finished());
        run.handle.abort();
        finished(run.task).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_task_mid_transfer_returns_every_loan() {
    for path in PATHS {
        let setup = Setup::new(path);
        let run = start(&setup).await;
        let (mut client, mut server) = (run.client, run.server);
        // Keep bytes moving: the client writes while nobody reads at the server, so the
        // tunnel holds a full buffer or pipe it cannot deliver.
        let writer = tokio::spawn(async move {
            let chunk = vec![7u8; 64 * 1024];
            while client.write_all(&chunk).await.is_ok() {}
        });
        let deadline = tokio::time::Instant::now() + PROMPTLY;
        while setup.buffers.lent() + setup.pipes.lent() == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path:?}: never borrowed"
            );
            tokio::task::yield_now().await;
        }
        run.task.abort();
        assert!(run.task.await.unwrap_err().is_cancelled());
        assert_eq!(setup.buffers.lent(), 0, "{path:?}: buffer returned");
        assert_eq!(setup.pipes.lent(), 0, "{path:?}: pipe returned or closed");
        sees_the_end(&mut server).await;
        writer.abort();
    }
}

/// Waits until the tunnel behind `handle` reports finished, failing the test if it does not
/// promptly.
async fn reports_finished(handle: &TunnelHandle, what: &str) {
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    while !handle.is_finished() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: never reports finished"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_cancelled_tunnel_reports_finished_with_its_sockets_closed() {
    for path in PATHS {
        let mut run = start(&Setup::new(path)).await;
        run.client.write_all(b"up").await.unwrap();
        let mut up = [0u8; 2];
        run.server.read_exact(&mut up).await.unwrap();
        assert!(!run.handle.is_finished());
        // The task is cancelled (its future dropped), not told through the handle.
        run.task.abort();
        reports_finished(&run.handle, &format!("{path:?}, task cancelled")).await;
        assert!(run.task.await.unwrap_err().is_cancelled());
        assert_eq!(read_to_end(&mut run.client).await, b"", "{path:?}");
        assert_eq!(read_to_end(&mut run.server).await, b"", "{path:?}");
    }
    // A tunnel future dropped before its first poll: finished at once, sockets closed.
    let (mut client, tunnel_client) = connected_pair().await;
    let (tunnel_server, mut server) = connected_pair().await;
    let mut tunnel = Tunnel::new(tunnel_client, tunnel_server);
    let handle = tunnel.handle();
    drop(tunnel.run());
    assert!(handle.is_finished());
    assert_eq!(read_to_end(&mut client).await, b"");
    assert_eq!(read_to_end(&mut server).await, b"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_after_a_stalled_drain_ends_the_tunnel() {
    // A shutdown drains every tunnel, then aborts those still open after a moment: a tunnel
    // whose drain is stuck (its client reads nothing) must still end on the abort. The bytes
    // read ahead from the server are more than every socket buffer on the way can hold.
    let ahead: &'static [u8] = Box::leak(vec![7u8; 64 << 20].into_boxed_slice());
    for path in PATHS {
        let mut setup = Setup::new(path);
        setup.server_read_ahead = ahead;
        let mut run = start(&setup).await;
        run.handle.drain();
        // The drain has been seen: the server got its FIN (the client-to-server direction
        // had nothing to deliver).
        assert_eq!(read_to_end(&mut run.server).await, b"", "{path:?}");
        assert!(!run.handle.is_finished(), "{path:?}: the drain is stuck");
        run.handle.abort();
        reports_finished(&run.handle, &format!("{path:?}, aborted while draining")).await;
        let outcome = finished(run.task).await;
        assert_reason!(outcome, CloseReason::Aborted, "{path:?}");
        assert!(outcome.server_to_client < ahead.len() as u64, "{path:?}");
        assert_eq!(setup.buffers.lent() + setup.pipes.lent(), 0, "{path:?}");
    }
}

#[tokio::test]
async fn buffered_streams_are_flushed_when_the_source_goes_quiet() {
    // A stream that keeps writes until flushed (like a TLS stream): the tunnel must flush it
    // once it has nothing more to read, or the message would sit in the buffer.
    let (mut client, tunnel_client) = connected_pair().await;
    let (tunnel_server, mut server) = connected_pair().await;
    let buffered = tokio::io::BufWriter::with_capacity(64 * 1024, tunnel_server);
    let mut tunnel = Tunnel::new(tunnel_client, buffered);
    let handle = tunnel.handle();
    let task = tokio::spawn(tunnel.run());
    client.write_all(b"one message").await.unwrap();
    let mut got = [0u8; 11];
    tokio::time::timeout(PROMPTLY, server.read_exact(&mut got))
        .await
        .expect("the message is flushed promptly")
        .unwrap();
    assert_eq!(&got, b"one message");
    handle.abort();
    assert!(matches!(finished(task).await.reason, CloseReason::Aborted));
}

/// Polls `future` to completion on this thread, outside any tokio runtime's context.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[test]
fn default_settings_need_no_time_driver() {
    // Without timeouts or parking a tunnel arms no timer: a runtime with IO only will do.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (mut client, tunnel_client) = connected_pair().await;
        let (tunnel_server, mut server) = connected_pair().await;
        let task = tokio::spawn(Tunnel::new(tunnel_client, tunnel_server).run());
        let bulk = random_bytes(1 << 20, 5);
        let mut got = vec![0u8; bulk.len()];
        let (sent, read) = tokio::join!(client.write_all(&bulk), server.read_exact(&mut got));
        sent.unwrap();
        read.unwrap();
        assert!(got == bulk);
        drop((client, server));
        let outcome = task.await.expect("the tunnel task does not panic");
        assert_eq!(outcome.client_to_server, bulk.len() as u64);
    });
}

#[test]
fn a_tunnel_polled_outside_a_runtime_context_does_not_park() {
    // The streams belong to a runtime whose workers drive their IO; the tunnel itself is polled
    // by a plain thread. It must neither park (it could not go back) nor panic, whether it
    // would park at once (nothing read ahead) or only after delivering its read-ahead.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for ahead in [&b""[..], &b"read ahead "[..]] {
        let ((mut client, tunnel_client), (tunnel_server, mut server)) =
            runtime.block_on(async { (connected_pair().await, connected_pair().await) });
        let bulk = random_bytes(1 << 20, 6);
        let sent = bulk.clone();
        let peers = runtime.spawn(async move {
            let mut got = vec![0u8; ahead.len() + sent.len()];
            let (write, read) = tokio::join!(client.write_all(&sent), server.read_exact(&mut got));
            write.unwrap();
            read.unwrap();
            assert!(got[..ahead.len()] == *ahead && got[ahead.len()..] == sent[..]);
            drop((client, server));
        });
        // Not zero: a park deadline still ahead would need a timer.
        let tunnel = Tunnel::new(tunnel_client, tunnel_server)
            .client_read_ahead(ahead)
            .park_after(Duration::from_millis(1));
        let outcome = block_on(tunnel.run());
        assert_reason!(
            outcome,
            CloseReason::ClientClosed | CloseReason::ServerClosed
        );
        assert_eq!(outcome.client_to_server, (ahead.len() + bulk.len()) as u64);
        runtime.block_on(peers).unwrap();
    }
}
