//! Picks and releases do not allocate (a counting global allocator that counts each
//! thread's allocations apart: the test harness's main thread allocates while it registers
//! a test that may already be running, which once made this test fail).
// A global allocator can only be written with unsafe; it forwards to `System` unchanged.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;

use gangway_balance::{Algorithm, SeededRandom, Server, ServerSet};

/// Counts allocations, then lets the system allocator do them.
struct Counting;

thread_local! {
    /// Allocations made by this thread (a constant initialiser and no destructor, so
    /// reading it from the allocator does not allocate).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every call is forwarded to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Not counted while the thread-local is gone (thread exit).
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours, forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn picks_do_not_allocate() {
    let algorithms = [
        Algorithm::RoundRobin,
        Algorithm::StaticRr,
        Algorithm::LeastConn,
        Algorithm::P2C,
        Algorithm::First,
        Algorithm::Hash,
    ];
    for algorithm in algorithms {
        let set = ServerSet::builder()
            .algorithm(algorithm)
            .random_source(SeededRandom::new(5))
            .servers((0..100u16).map(|i| {
                Server::new(SocketAddr::from(([10, 3, 0, i as u8], 80)))
                    .weight(1 + i % 7)
                    .maxconn(Some(50))
            }))
            .build()
            .unwrap();
        let exclude = set.ids()[..2].to_vec();
        let keys: Vec<[u8; 8]> = (0..64u64).map(|k| k.to_le_bytes()).collect();
        // Warm up thread-local state (arc-swap's debt list).
        drop(set.pick(None, &[]).unwrap());
        let before = allocations();
        for round in 0..1000 {
            let key = &keys[round % keys.len()];
            let a = set.pick(Some(key), &[]).unwrap();
            let b = set.pick(None, &exclude).unwrap();
            drop(a);
            drop(b);
        }
        let after = allocations();
        assert_eq!(after - before, 0, "{algorithm} allocated");
    }
}
