//! Idle TCP tunnels park outside tokio's reactor, and every event still reaches them: bytes
//! either way, half-close, reset, abort, drain, timeouts, and a cancelled task (Linux only).
//!
//! One test in its own binary: it counts the process's parked tunnels.
#![cfg(target_os = "linux")]

#[macro_use]
mod common;

use std::time::Duration;

use gangway_tunnel::{CloseReason, Side, Tunnel, TunnelHandle, TunnelOutcome, parked_tunnels};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use common::{PROMPTLY, connected_pair, finished, read_until_closed};

struct Run {
    client: TcpStream,
    server: TcpStream,
    handle: TunnelHandle,
    task: JoinHandle<TunnelOutcome>,
}

async fn start(park_after: Duration, idle: Option<Duration>) -> Run {
    let (client, tunnel_client) = connected_pair().await;
    let (tunnel_server, server) = connected_pair().await;
    let mut tunnel = Tunnel::new(tunnel_client, tunnel_server)
        .park_after(park_after)
        .idle_timeout(idle);
    let handle = tunnel.handle();
    let task = tokio::spawn(tunnel.run());
    Run {
        client,
        server,
        handle,
        task,
    }
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn ping_pong(run: &mut Run, round: usize) {
    let up = format!("ping {round}");
    run.client.write_all(up.as_bytes()).await.unwrap();
    let mut got = vec![0u8; up.len()];
    run.server.read_exact(&mut got).await.unwrap();
    assert_eq!(got, up.as_bytes());
    let down = format!("pong {round}");
    run.server.write_all(down.as_bytes()).await.unwrap();
    let mut got = vec![0u8; down.len()];
    run.client.read_exact(&mut got).await.unwrap();
    assert_eq!(got, down.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tunnels_park_and_every_event_still_reaches_them() {
    const N: usize = 8;
    let park = Duration::from_millis(100);
    let mut runs = Vec::new();
    for _ in 0..N {
        runs.push(start(park, None).await);
    }
    eventually("every idle tunnel parks", || parked_tunnels() == N).await;

    // A few bytes after a pause are moved while parked: the tunnels never leave the parker
    // (one that did would take `park` to come back).
    for round in 0..3 {
        for run in &mut runs {
            ping_pong(run, round).await;
        }
        assert_eq!(parked_tunnels(), N, "round {round} was served parked");
        tokio::time::sleep(park).await;
    }

    // Bulk data takes a tunnel back to tokio (splice and all); idle again, it parks again.
    let bulk: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
    let run = &mut runs[N - 1];
    let (sent, got) = tokio::join!(run.client.write_all(&bulk), async {
        let mut got = vec![0u8; bulk.len()];
        run.server.read_exact(&mut got).await.map(|_| got)
    });
    sent.unwrap();
    assert!(got.unwrap() == bulk, "bulk bytes arrive intact");
    eventually("the busy tunnel parks again", || parked_tunnels() == N).await;

    let mut runs = runs.into_iter();
    let mut next = || runs.next().unwrap();

    // Half-close while parked: the server sees the FIN and its reply still comes back.
    let mut half = next();
    half.client.shutdown().await.unwrap();
    assert!(read_until_closed(&mut half.server).await.is_empty());
    half.server.write_all(b"reply after FIN").await.unwrap();
    drop(half.server);
    assert_eq!(
        read_until_closed(&mut half.client).await,
        b"reply after FIN"
    );
    let outcome = finished(half.task).await;
    assert_reason!(outcome, CloseReason::ClientClosed);
    assert_eq!(
        (outcome.client_to_server, outcome.server_to_client),
        (3 * 6, 3 * 6 + 15)
    );
    assert_eq!(
        outcome.bytes_spliced, 0,
        "a few bytes are copied, not spliced"
    );

    // A reset while parked ends the tunnel with an error on that side.
    let mut reset = next();
    socket2::SockRef::from(&reset.client)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(reset.client);
    let outcome = finished(reset.task).await;
    assert_reason!(outcome, CloseReason::Error(Side::Client, _));
    read_until_closed(&mut reset.server).await;

    // Abort and drain reach a parked tunnel from another task.
    let mut aborted = next();
    aborted.handle.abort();
    let outcome = finished(aborted.task).await;
    assert_reason!(outcome, CloseReason::Aborted);
    assert!(read_until_closed(&mut aborted.client).await.is_empty());
    assert!(read_until_closed(&mut aborted.server).await.is_empty());

    let mut drained = next();
    drained.handle.drain();
    let outcome = finished(drained.task).await;
    assert_reason!(outcome, CloseReason::Drained);
    assert!(read_until_closed(&mut drained.client).await.is_empty());
    assert!(read_until_closed(&mut drained.server).await.is_empty());

    // Cancelling a parked tunnel's task closes both sockets and frees its slot.
    let mut cancelled = next();
    cancelled.task.abort();
    assert!(read_until_closed(&mut cancelled.client).await.is_empty());
    assert!(read_until_closed(&mut cancelled.server).await.is_empty());

    // The idle timeout fires while parked.
    let mut timed = start(Duration::from_millis(20), Some(Duration::from_millis(600))).await;
    let outcome = finished(timed.task).await;
    assert_reason!(outcome, CloseReason::IdleTimeout);
    assert!(outcome.duration >= Duration::from_millis(600));
    assert!(read_until_closed(&mut timed.client).await.is_empty());
    assert!(read_until_closed(&mut timed.server).await.is_empty());

    // Bytes moved while parked push the idle timeout back.
    let mut pushed = start(Duration::from_millis(20), Some(Duration::from_millis(800))).await;
    let started = tokio::time::Instant::now();
    eventually("it parks", || parked_tunnels() > N - 5).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The tunnel started before `started` and moves the bytes after `activity`.
    let activity = started.elapsed();
    ping_pong(&mut pushed, 0).await;
    let outcome = finished(pushed.task).await;
    assert_reason!(outcome, CloseReason::IdleTimeout);
    assert!(
        outcome.duration >= activity + Duration::from_millis(800),
        "ended {:?} after start, bytes moved at {activity:?}",
        outcome.duration
    );

    // The rest still carry bytes, then end cleanly; nothing stays parked.
    let rest: Vec<Run> = runs.collect();
    assert_eq!(rest.len(), N - 5);
    for mut run in rest {
        ping_pong(&mut run, 9).await;
        drop(run.client);
        read_until_closed(&mut run.server).await;
        drop(run.server);
        let outcome = finished(run.task).await;
        assert_reason!(outcome, CloseReason::ClientClosed);
    }
    eventually("no tunnel stays parked", || parked_tunnels() == 0).await;
}
