//! Property: whatever the read-ahead, chunking, buffer size and stream capacity, each side
//! receives exactly the other side's read-ahead followed by everything it wrote, in order
//! (the reference model is plain concatenation), and the outcome counts those bytes.

#[macro_use]
mod common;

use std::time::Duration;

use gangway_tunnel::{BufferPool, CloseReason, PipePool, Tunnel, TunnelOutcome};
use proptest::prelude::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, duplex};

use common::connected_pair;

#[derive(Clone, Debug)]
struct Case {
    client_read_ahead: Vec<u8>,
    server_read_ahead: Vec<u8>,
    up: Vec<Vec<u8>>,
    down: Vec<Vec<u8>>,
    buffer_size: usize,
    capacity: usize,
}

fn chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 1..3000), 0..12)
}

fn cases() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(any::<u8>(), 0..300),
        chunks(),
        chunks(),
        1usize..5000,
        1usize..4096,
    )
        .prop_map(
            |(client_read_ahead, server_read_ahead, up, down, buffer_size, capacity)| Case {
                client_read_ahead,
                server_read_ahead,
                up,
                down,
                buffer_size,
                capacity,
            },
        )
}

/// Write every chunk, half-close, and read everything the other end sends.
async fn talk<T: AsyncRead + AsyncWrite + Unpin>(stream: T, chunks: Vec<Vec<u8>>) -> Vec<u8> {
    let (mut read, mut write) = tokio::io::split(stream);
    let writer = async move {
        for chunk in chunks {
            write.write_all(&chunk).await.unwrap();
        }
        write.shutdown().await.unwrap();
        write
    };
    let reader = async move {
        let mut got = Vec::new();
        read.read_to_end(&mut got).await.unwrap();
        got
    };
    tokio::join!(writer, reader).1
}

fn expected(read_ahead: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut all = read_ahead.to_vec();
    for chunk in chunks {
        all.extend_from_slice(chunk);
    }
    all
}

fn check(case: &Case, got_up: &[u8], got_down: &[u8], outcome: &TunnelOutcome) {
    let want_up = expected(&case.client_read_ahead, &case.up);
    let want_down = expected(&case.server_read_ahead, &case.down);
    assert!(got_up == want_up, "client-to-server bytes differ");
    assert!(got_down == want_down, "server-to-client bytes differ");
    assert_eq!(outcome.client_to_server, want_up.len() as u64);
    assert_eq!(outcome.server_to_client, want_down.len() as u64);
    assert_reason!(
        outcome,
        CloseReason::ClientClosed | CloseReason::ServerClosed
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn tunnel<C, S>(case: &Case, client: C, server: S) -> Tunnel<C, S>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    Tunnel::new(client, server)
        .client_read_ahead(case.client_read_ahead.clone())
        .server_read_ahead(case.server_read_ahead.clone())
        .buffer_pool(BufferPool::new(case.buffer_size, 2))
        .idle_timeout(Duration::from_secs(60))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn streams_deliver_read_ahead_then_everything_in_order(case in cases()) {
        runtime().block_on(async {
            let (client, client_inner) = duplex(case.capacity);
            let (server_inner, server) = duplex(case.capacity);
            let run = tokio::spawn(tunnel(&case, client_inner, server_inner).run());
            let (got_down, got_up) =
                tokio::join!(talk(client, case.up.clone()), talk(server, case.down.clone()));
            check(&case, &got_up, &got_down, &run.await.unwrap());
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn tcp_paths_deliver_read_ahead_then_everything_in_order(case in cases(), splice in any::<bool>()) {
        runtime().block_on(async {
            let (client, client_inner) = connected_pair().await;
            let (server_inner, server) = connected_pair().await;
            let tunnel = tunnel(&case, client_inner, server_inner)
                .splice(splice)
                .pipe_pool(PipePool::new(2, 64 * 1024));
            let run = tokio::spawn(tunnel.run());
            let (got_down, got_up) =
                tokio::join!(talk(client, case.up.clone()), talk(server, case.down.clone()));
            check(&case, &got_up, &got_down, &run.await.unwrap());
        });
    }
}
