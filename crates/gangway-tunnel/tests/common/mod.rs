//! What the tunnel's test binaries share: connected loopback pairs, waiting for a tunnel's end
//! and for a stream's, random payloads, and asserting a close reason.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use gangway_tunnel::TunnelOutcome;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Generous bound for anything that should happen promptly, on a busy 2-core machine.
pub const PROMPTLY: Duration = Duration::from_secs(120);

/// Two ends of one loopback TCP connection: (connecting side, accepted side).
pub async fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (outer, inner) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (outer.unwrap(), inner.unwrap().0)
}

/// The outcome of a spawned tunnel, failing the test if it does not end promptly or panics.
pub async fn finished(task: JoinHandle<TunnelOutcome>) -> TunnelOutcome {
    tokio::time::timeout(PROMPTLY, task)
        .await
        .expect("tunnel ends promptly")
        .expect("tunnel task does not panic")
}

/// Everything up to a clean end of stream.
pub async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    tokio::time::timeout(PROMPTLY, stream.read_to_end(&mut got))
        .await
        .expect("end of stream arrives promptly")
        .expect("clean end of stream");
    got
}

/// Everything up to the end of stream or a reset, whichever comes.
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(PROMPTLY, stream.read_to_end(&mut got))
        .await
        .expect("end of stream arrives promptly");
    got
}

/// `len` bytes from a seeded generator.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes);
    bytes
}

/// Asserts that a tunnel ended for a reason matching the pattern, showing it otherwise.
#[allow(unused_macros)]
macro_rules! assert_reason {
    ($outcome:expr, $reason:pat $(, $($context:tt)+)?) => {
        assert!(
            matches!($outcome.reason, $reason),
            "{}{}",
            $outcome.reason,
            String::new() $(+ ": " + &format!($($context)+))?
        )
    };
}
