//! Criterion benchmarks of `ServerSet::pick` (pick plus release of the slot) for every
//! algorithm at 10, 100 and 1000 servers, on one thread and with a second thread picking
//! from the same set at the same time; and of a pick alone at 1000 servers, its slot
//! released outside the measurement (as a connection's slot is, when it closes); and of
//! `ServerSet::pick_queued` with room on every server (pick plus release, one thread); and
//! of hash picks over a million keys (table entries out of cache).

use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use gangway_balance::{Algorithm, Server, ServerSet};

const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RoundRobin,
    Algorithm::StaticRr,
    Algorithm::LeastConn,
    Algorithm::P2C,
    Algorithm::First,
    Algorithm::Hash,
];

fn set_of(algorithm: Algorithm, n: usize) -> ServerSet {
    ServerSet::builder()
        .algorithm(algorithm)
        .servers((0..n).map(|i| {
            let addr = SocketAddr::from(([10, 5, (i >> 8) as u8, i as u8], 80));
            Server::new(addr).weight(1 + (i as u16 * 37) % 256)
        }))
        .build()
        .expect("valid servers")
}

fn keys() -> Vec<[u8; 16]> {
    (0..1024u64)
        .map(|k| {
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&k.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
            key
        })
        .collect()
}

fn pick_once(set: &ServerSet, keys: &[[u8; 16]], round: &mut usize) {
    *round = (*round + 1) & (keys.len() - 1);
    let slot = set.pick(Some(&keys[*round]), &[]).expect("pick");
    black_box(slot.addr());
}

/// Runs `measure` on a set of `n` servers of `algorithm`, half of them holding a connection
/// (so that leastconn and P2C compare real loads), with a second thread picking and
/// releasing from the same set meanwhile when `threads` is 2.
fn on_set(
    algorithm: Algorithm,
    n: usize,
    threads: usize,
    keys: &[[u8; 16]],
    measure: impl FnOnce(&ServerSet),
) {
    let set = set_of(algorithm, n);
    let held: Vec<_> = (0..n / 2)
        .map(|_| set.pick(None, &[]).expect("pick"))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let helper = (threads == 2).then(|| {
        let (set, keys, stop) = (set.clone(), keys.to_vec(), Arc::clone(&stop));
        thread::spawn(move || {
            let mut round = 7;
            while !stop.load(Ordering::Relaxed) {
                pick_once(&set, &keys, &mut round);
            }
        })
    });
    measure(&set);
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = helper {
        h.join().expect("helper thread");
    }
    drop(held);
}

fn bench_pick(c: &mut Criterion) {
    let keys = keys();
    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("pick/{threads}-thread"));
        for algorithm in ALGORITHMS {
            for n in [10usize, 100, 1000] {
                on_set(algorithm, n, threads, &keys, |set| {
                    group.bench_function(BenchmarkId::new(algorithm.to_string(), n), |b| {
                        let mut round = 0;
                        b.iter(|| pick_once(set, &keys, &mut round));
                    });
                });
            }
        }
        group.finish();
    }
}

/// A pick without its release: criterion drops the slots after each sample's timing, so
/// connections pile up during a sample (about as many per server as the sample has picks
/// per server), as long-lived WebSocket sessions do. With two threads, the second one picks
/// and releases meanwhile, as in `bench_pick`.
fn bench_pick_alone(c: &mut Criterion) {
    let keys = keys();
    let n = 1000;
    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("pick-alone/{threads}-thread"));
        for algorithm in ALGORITHMS {
            on_set(algorithm, n, threads, &keys, |set| {
                group.bench_function(BenchmarkId::new(algorithm.to_string(), n), |b| {
                    let mut round = 0;
                    b.iter_with_large_drop(|| {
                        round = (round + 1) & (keys.len() - 1);
                        set.pick(Some(&keys[round]), &[]).expect("pick")
                    });
                });
            });
        }
        group.finish();
    }
}

/// `pick_queued` with room to spare: polled once by hand (a pick that need not wait returns
/// on the first poll, without touching the runtime), its slot dropped at once.
fn bench_pick_queued(c: &mut Criterion) {
    let keys = keys();
    let n = 1000;
    let mut context = Context::from_waker(Waker::noop());
    let mut group = c.benchmark_group("pick-queued/1-thread");
    for algorithm in ALGORITHMS {
        on_set(algorithm, n, 1, &keys, |set| {
            group.bench_function(BenchmarkId::new(algorithm.to_string(), n), |b| {
                let mut round = 0;
                b.iter(|| {
                    round = (round + 1) & (keys.len() - 1);
                    let pick = set.pick_queued(Some(&keys[round]), &[], Duration::from_secs(1));
                    match std::pin::pin!(pick).poll(&mut context) {
                        Poll::Ready(slot) => black_box(slot.expect("pick").addr()),
                        Poll::Pending => panic!("a pick with room waited"),
                    };
                });
            });
        });
    }
    group.finish();
}

/// Hash picks (and releases) over 2^20 keys rather than 1024: each pick reads a table entry
/// unlikely to be in cache, as with a gateway's many clients (at 1000 servers the Maglev
/// table has 655 373 entries).
fn bench_pick_spread(c: &mut Criterion) {
    let keys: Vec<[u8; 16]> = (0..1u64 << 20)
        .map(|k| {
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&k.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
            key
        })
        .collect();
    let mut group = c.benchmark_group("pick-spread/1-thread");
    for n in [100usize, 1000] {
        on_set(Algorithm::Hash, n, 1, &keys, |set| {
            group.bench_function(BenchmarkId::new(Algorithm::Hash.to_string(), n), |b| {
                let mut round = 0;
                b.iter(|| pick_once(set, &keys, &mut round));
            });
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_pick,
    bench_pick_alone,
    bench_pick_queued,
    bench_pick_spread
);
criterion_main!(benches);
