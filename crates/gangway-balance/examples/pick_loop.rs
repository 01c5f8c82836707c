//! Runs the benchmark's pick-plus-release loop a given number of times, for instruction
//! and cache-miss counts under callgrind, which stay comparable on a busy machine where
//! wall-clock benchmarks drift:
//!
//! ```sh
//! cargo build --release -p gangway-balance --example pick_loop
//! valgrind --tool=callgrind --cache-sim=yes target/release/examples/pick_loop leastconn 1000 100000
//! ```
//!
//! Arguments: algorithm (as in configs, default `leastconn`), number of servers (default
//! 1000), number of picks (default 100000). With `--baseline` it builds the set and holds
//! the connections but does not pick, so the difference of two runs is the cost of the
//! picks alone. With `--two-threads` a second thread picks from the same set for as long
//! as the first does; the total number of picks is printed last (`picks=N`), so CPU time
//! divided by it is the cost of a pick while two threads pick concurrently.

use std::error::Error;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use gangway_balance::{Algorithm, Server, ServerSet};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let baseline = args.iter().any(|a| a == "--baseline");
    let two_threads = args.iter().any(|a| a == "--two-threads");
    args.retain(|a| !a.starts_with("--"));
    let algorithm: Algorithm = args.first().map_or("leastconn", String::as_str).parse()?;
    let n: usize = args.get(1).map_or(Ok(1000), |s| s.parse())?;
    let picks: usize = args.get(2).map_or(Ok(100_000), |s| s.parse())?;

    // The same set as `benches/pick.rs`: weights 1-256, half the servers holding a
    // connection, 1024 hashing keys.
    let set = ServerSet::builder()
        .algorithm(algorithm)
        .servers((0..n).map(|i| {
            let addr = SocketAddr::from(([10, 5, (i >> 8) as u8, i as u8], 80));
            Server::new(addr).weight(1 + (i as u16 * 37) % 256)
        }))
        .build()?;
    let held: Vec<_> = (0..n / 2)
        .map(|_| set.pick(None, &[]))
        .collect::<Result<_, _>>()?;
    let keys: Vec<[u8; 16]> = (0..1024u64)
        .map(|k| {
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&k.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
            key
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let helper = (two_threads && !baseline).then(|| {
        let (set, keys, stop) = (set.clone(), keys.clone(), Arc::clone(&stop));
        thread::spawn(move || {
            let mut done = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let slot = set.pick(Some(&keys[(done + 7) & 1023]), &[]).expect("pick");
                black_box(slot.addr());
                done += 1;
            }
            done
        })
    });
    let mut total = 0;
    if !baseline {
        for round in 0..picks {
            let slot = set.pick(Some(&keys[round & 1023]), &[])?;
            black_box(slot.addr());
        }
        total = picks;
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(helper) = helper {
        total += helper.join().expect("helper thread");
    }
    println!("{algorithm} n={n} picks={total}");
    drop(held);
    Ok(())
}
