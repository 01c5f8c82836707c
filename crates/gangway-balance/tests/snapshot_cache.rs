//! Each thread keeps the snapshots it picked from last (a few sets' worth): picks must
//! still see every change at once, from any thread, whatever sets come and go.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use gangway_balance::{
    Algorithm, ConnectionSlot, PickError, RandomSource, Server, ServerSet, ServerState,
};

fn addr(i: u16) -> SocketAddr {
    SocketAddr::from(([10, 6, (i >> 8) as u8, i as u8], 80))
}

const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RoundRobin,
    Algorithm::StaticRr,
    Algorithm::LeastConn,
    Algorithm::P2C,
    Algorithm::First,
    Algorithm::Hash,
];

/// More sets than a thread's cache holds, picked from in turn: each pick comes from its
/// own set, and every release reaches its own set's counts.
#[test]
fn many_sets_picked_in_turn_stay_apart() {
    for algorithm in ALGORITHMS {
        let sets: Vec<ServerSet> = (0..20)
            .map(|i| {
                ServerSet::builder()
                    .algorithm(algorithm)
                    .server(Server::new(addr(i)))
                    .server(Server::new(addr(100 + i)))
                    .build()
                    .unwrap()
            })
            .collect();
        let mut held = Vec::new();
        for round in 0..3 {
            for (i, set) in sets.iter().enumerate() {
                let slot = set.pick(Some(&[round]), &[]).unwrap();
                let i = i as u16;
                assert!(
                    slot.addr() == addr(i) || slot.addr() == addr(100 + i),
                    "{algorithm}: set {i} picked {}",
                    slot.addr()
                );
                held.push(slot);
            }
        }
        for set in &sets {
            let total: u32 = set.ids().iter().map(|&id| set.active(id).unwrap()).sum();
            assert_eq!(total, 3, "{algorithm}");
        }
        drop(held);
        for set in &sets {
            for id in set.ids() {
                assert_eq!(set.active(id), Some(0), "{algorithm}");
            }
        }
    }
}

/// Sets made and dropped one after another (the allocator hands the same addresses out
/// again): a pick never uses a dropped set's snapshot.
#[test]
fn a_new_set_never_sees_a_dropped_one() {
    for algorithm in ALGORITHMS {
        for i in 0..64 {
            let set = ServerSet::builder()
                .algorithm(algorithm)
                .server(Server::new(addr(i)))
                .build()
                .unwrap();
            let slot = set.pick(None, &[]).unwrap();
            assert_eq!(slot.addr(), addr(i), "{algorithm}");
            drop(slot);
            drop(set);
        }
    }
}

/// A change made on another thread is seen by this thread's next pick, although this
/// thread holds the old snapshot.
#[test]
fn a_change_on_another_thread_is_seen_at_once() {
    for algorithm in ALGORITHMS {
        let set = ServerSet::builder()
            .algorithm(algorithm)
            .server(Server::new(addr(1)))
            .build()
            .unwrap();
        let a = set.ids()[0];
        assert_eq!(set.pick(None, &[]).unwrap().addr(), addr(1));
        let other = set.clone();
        let b = thread::spawn(move || {
            let b = other.add(Server::new(addr(2))).unwrap();
            other.set_state(a, ServerState::Maint).unwrap();
            b
        })
        .join()
        .unwrap();
        for _ in 0..4 {
            let slot = set.pick(None, &[]).unwrap();
            assert_eq!(slot.server_id(), b, "{algorithm}");
        }
        let other = set.clone();
        thread::spawn(move || other.set_state(b, ServerState::Down).unwrap())
            .join()
            .unwrap();
        assert_eq!(
            set.pick(None, &[]).unwrap_err(),
            PickError::NoServerUp,
            "{algorithm}"
        );
    }
}

thread_local! {
    /// A connection slot that a thread drops only as it exits, after or before its cache
    /// of snapshots is gone (the order of thread-local destructors is not specified).
    static HELD: RefCell<Vec<ConnectionSlot>> = const { RefCell::new(Vec::new()) };
}

/// Slots released while their thread exits are counted back, and leastconn's tree sees it:
/// whether the slots go before the thread's snapshot cache or after it. (Thread-local
/// destructors run in the reverse order of first use on Linux, but the test holds either
/// way.)
#[test]
fn slots_released_at_thread_exit_are_counted_back() {
    for slots_first in [false, true] {
        let set = ServerSet::builder()
            .algorithm(Algorithm::LeastConn)
            .server(Server::new(addr(1)))
            .server(Server::new(addr(2)))
            .build()
            .unwrap();
        let ids = set.ids();
        let other = set.clone();
        thread::spawn(move || {
            if slots_first {
                HELD.with_borrow(|_| ());
            }
            for _ in 0..2 {
                let slot = other.pick(None, &[]).unwrap();
                HELD.with_borrow_mut(|held| held.push(slot));
            }
        })
        .join()
        .unwrap();
        for &id in &ids {
            assert_eq!(set.active(id), Some(0), "slots first: {slots_first}");
        }
        // Both at zero again: leastconn alternates between them.
        let first = set.pick(None, &[]).unwrap();
        let second = set.pick(None, &[]).unwrap();
        assert_ne!(first.server_id(), second.server_id());
    }
}

/// A random source that tells when the set that owns it is freed.
#[derive(Debug)]
struct DropFlag(Arc<AtomicBool>);

impl RandomSource for DropFlag {
    fn next_u64(&self) -> u64 {
        7
    }
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A dropped set's snapshot, cached by a thread that picks from fewer sets than its cache
/// holds, is let go at the thread's next miss (it used to stay until the thread exited).
#[test]
fn a_dropped_sets_snapshot_is_let_go_at_the_next_miss() {
    thread::spawn(|| {
        let freed = Arc::new(AtomicBool::new(false));
        let dropped = ServerSet::builder()
            .algorithm(Algorithm::P2C)
            .random_source(DropFlag(Arc::clone(&freed)))
            .server(Server::new(addr(1)))
            .build()
            .unwrap();
        drop(dropped.pick(None, &[]).unwrap());
        drop(dropped);
        // Only this thread's cache holds the snapshot now (and through its slots, the set).
        assert!(!freed.load(Ordering::SeqCst));
        let other = ServerSet::new(Algorithm::RoundRobin);
        other.add(Server::new(addr(2))).unwrap();
        drop(other.pick(None, &[]).unwrap());
        assert!(
            freed.load(Ordering::SeqCst),
            "the dropped set is still held"
        );
    })
    .join()
    .unwrap();
}
