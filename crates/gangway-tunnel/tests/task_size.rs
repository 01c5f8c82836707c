//! An idle tunnel's resident cost is mostly its tokio task: a cell aligned to 128 bytes on
//! x86_64, holding tokio's own header and trailer around the future. The tunnel's future is kept
//! small enough for a 384-byte cell, and so is the gangway gateway's (which wraps it): these
//! tests read the size of the cell tokio allocates, through a recording global allocator, so a
//! bigger future or a change in tokio's layout fails here rather than silently costing 128 more
//! bytes in every idle tunnel.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use gangway_tunnel::Tunnel;

use common::connected_pair;

struct Recording;

/// The size of the largest 128-byte aligned allocation made on a recording thread.
static LARGEST_ALIGNED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

fn record(layout: Layout) {
    if layout.align() >= 128 && RECORDING.with(Cell::get) {
        LARGEST_ALIGNED.fetch_max(layout.size(), Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; recording touches no
// memory the allocator hands out.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout);
        // SAFETY: forwarded with the caller's layout, as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`, as the caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Recording = Recording;

/// The size of the task cell tokio allocates to spawn `future` (on a current-thread runtime,
/// on this thread).
fn cell_size<F>(future: F) -> usize
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    LARGEST_ALIGNED.store(0, Ordering::Relaxed);
    RECORDING.with(|r| r.set(true));
    let task = tokio::spawn(future);
    RECORDING.with(|r| r.set(false));
    task.abort();
    LARGEST_ALIGNED.swap(0, Ordering::Relaxed)
}

/// A future of `N + 8` bytes holding a pointer (so, like the gateway's, it has a niche).
struct Sized<const N: usize> {
    _pointer: Arc<()>,
    _bytes: [u8; N],
}

impl<const N: usize> Future for Sized<N> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn futures_up_to_280_bytes_take_a_384_byte_task() {
    runtime().block_on(async {
        let fits = cell_size(Sized::<272> {
            _pointer: Arc::new(()),
            _bytes: [0; 272],
        });
        let over = cell_size(Sized::<280> {
            _pointer: Arc::new(()),
            _bytes: [0; 280],
        });
        // The gateway's tunnel task (crates/gangway/src/tunnels.rs) relies on this bound.
        assert_eq!(fits, 384, "a 280-byte future's task cell");
        assert_eq!(over, 512, "a 288-byte future's task cell");
    });
}

#[test]
fn an_idle_tunnel_is_a_384_byte_task() {
    runtime().block_on(async {
        let (_client, tunnel_client) = connected_pair().await;
        let (tunnel_server, _server) = connected_pair().await;
        let run = Tunnel::new(tunnel_client, tunnel_server)
            .idle_timeout(Duration::from_secs(3600))
            .park_after(Duration::from_secs(1))
            .run();
        let future = size_of_val(&run);
        assert_eq!(
            cell_size(run),
            384,
            "the tunnel's task cell ({future}-byte future)"
        );
    });
}
