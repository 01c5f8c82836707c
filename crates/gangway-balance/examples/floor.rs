//! The floor for two threads picking from one set on this machine: what it costs to move one
//! cache line between the two cores, which a leastconn pick cannot avoid (every pick changes
//! the winner at the root of the shared tree, and the other thread reads it on its next pick).
//!
//! ```sh
//! cargo run --release -p gangway-balance --example floor
//! ```
//!
//! Prints three figures, each the best of five runs:
//! - `handoff`: one line passed back and forth between two threads (a store, then the other
//!   thread's load sees it), per one-way trip: the cost of one line transfer;
//! - `shared add, 2 threads`: both threads doing atomic adds on one line as fast as they can,
//!   per add of the measuring thread (cores keep the line for several adds in a row, so this
//!   is far below a transfer per add);
//! - `shared add, 1 thread`: the same add without the second thread.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// A value alone on its cache lines.
#[repr(align(128))]
struct Line(AtomicU64);

fn handoff(trips: u64) -> Duration {
    let line = Arc::new(Line(AtomicU64::new(0)));
    let other = Arc::clone(&line);
    let echo = thread::spawn(move || {
        for i in 0..trips {
            while other.0.load(Ordering::Acquire) != 2 * i + 1 {
                std::hint::spin_loop();
            }
            other.0.store(2 * i + 2, Ordering::Release);
        }
    });
    let start = Instant::now();
    for i in 0..trips {
        line.0.store(2 * i + 1, Ordering::Release);
        while line.0.load(Ordering::Acquire) != 2 * i + 2 {
            std::hint::spin_loop();
        }
    }
    let elapsed = start.elapsed();
    echo.join().expect("echo thread");
    elapsed / 2
}

fn shared_add(adds: u64, two_threads: bool) -> Duration {
    let line = Arc::new(Line(AtomicU64::new(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let helper = two_threads.then(|| {
        let (line, stop) = (Arc::clone(&line), Arc::clone(&stop));
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                line.0.fetch_add(1, Ordering::AcqRel);
            }
        })
    });
    // Let the helper start before measuring.
    thread::sleep(Duration::from_millis(5));
    let start = Instant::now();
    for _ in 0..adds {
        black_box(line.0.fetch_add(1, Ordering::AcqRel));
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    if let Some(helper) = helper {
        helper.join().expect("helper thread");
    }
    elapsed
}

fn best_ns(runs: usize, per: u64, f: impl Fn() -> Duration) -> f64 {
    (0..runs)
        .map(|_| f().as_nanos() as f64 / per as f64)
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let trips = 1_000_000;
    let adds = 20_000_000;
    println!(
        "handoff: {:.1} ns per one-way line transfer",
        best_ns(5, trips, || handoff(trips))
    );
    println!(
        "shared add, 2 threads: {:.1} ns per add",
        best_ns(5, adds, || shared_add(adds, true))
    );
    println!(
        "shared add, 1 thread: {:.1} ns per add",
        best_ns(5, adds, || shared_add(adds, false))
    );
}
