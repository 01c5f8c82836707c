//! Signals that interrupt the parker thread's wait do not push parked tunnels' deadlines back
//! (Linux only).
//!
//! A test binary of its own: it sends signals to the process's parker thread.
#![cfg(target_os = "linux")]

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gangway_tunnel::{CloseReason, Tunnel, parked_tunnels};
use tokio::signal::unix::{SignalKind, signal};

use common::{PROMPTLY, connected_pair, finished};

/// The parker thread's id: the thread named `gangway-tunnel-park` (its name as the kernel
/// keeps it is cut to 15 bytes).
fn parker_thread() -> Option<libc::pid_t> {
    std::fs::read_dir("/proc/self/task").ok()?.find_map(|task| {
        let task = task.ok()?;
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        (comm.trim_end() == "gangway-tunnel-").then(|| task.file_name().to_str()?.parse().ok())?
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_do_not_push_back_a_parked_tunnels_deadline() {
    // A handler for SIGUSR1, so that the signal interrupts the parker's `epoll_wait` instead
    // of ending the process.
    let _usr1 = signal(SignalKind::user_defined1()).unwrap();
    let (_client, tunnel_client) = connected_pair().await;
    let (tunnel_server, _server) = connected_pair().await;
    let idle = Duration::from_millis(500);
    let tunnel = Tunnel::new(tunnel_client, tunnel_server)
        .park_after(Duration::from_millis(20))
        .idle_timeout(Some(idle));
    let task = tokio::spawn(tunnel.run());
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    while parked_tunnels() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tunnel never parked"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let parker = parker_thread().expect("the parker thread is running");

    // Interrupt the parker's wait every 50 ms, far more often than the deadline's 500 ms.
    // Before the fix each interrupt restarted the wait with the whole remaining timeout, so
    // the deadline never came while the signals went on (here, for 20 s).
    let stop = Arc::new(AtomicBool::new(false));
    let signals = std::thread::spawn({
        let stop = Arc::clone(&stop);
        move || {
            for _ in 0..400 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                // SAFETY: tgkill only sends a signal to a thread of this process; SIGUSR1
                // has a handler (above), so it does not end the process.
                #[allow(unsafe_code)]
                unsafe {
                    libc::syscall(
                        libc::SYS_tgkill,
                        std::process::id() as libc::pid_t,
                        parker,
                        libc::SIGUSR1,
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    });
    let outcome = finished(task).await;
    stop.store(true, Ordering::Relaxed);
    signals.join().unwrap();
    assert_reason!(outcome, CloseReason::IdleTimeout);
    assert!(outcome.duration >= idle);
    // Generous for a busy machine, and far below the 20 s of signals.
    assert!(
        outcome.duration < Duration::from_secs(10),
        "the idle timeout fired after {:?}",
        outcome.duration
    );
}
