//! Once a tunnel is running and the pools are warm, moving bytes and going idle again allocates
//! nothing: buffers and pipes come from the pools, timers are re-armed in place.
//!
//! A counting global allocator counts allocations made on the test's own thread while a flag is
//! set; the tunnel runs on a current-thread runtime on that same thread.

#[macro_use]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use gangway_tunnel::{BufferPool, PipePool, Tunnel};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use common::connected_pair;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches no memory
// the allocator hands out.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's layout, as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` was allocated by `System` with `layout`, as the caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Hides the `TcpStream` type so the tunnel takes its generic copying path.
struct Opaque(TcpStream);

impl AsyncRead for Opaque {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Opaque {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Ping-pong `rounds` chunks each way through the tunnel, idling in between.
async fn exchange(client: &mut TcpStream, server: &mut TcpStream, rounds: usize) {
    let out = [0x5au8; 16 * 1024];
    let mut got = [0u8; 16 * 1024];
    for _ in 0..rounds {
        client.write_all(&out).await.unwrap();
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(got, out);
        server.write_all(&out).await.unwrap();
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, out);
        // Let the tunnel see its sources would block and give its buffers back.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    }
}

#[test]
fn moving_bytes_and_idling_allocate_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for path in ["splice", "tcp copy", "stream copy"] {
            let (mut client, tunnel_client) = connected_pair().await;
            let (tunnel_server, mut server) = connected_pair().await;
            let buffers = BufferPool::new(16 * 1024, 8);
            let pipes = PipePool::new(8, 64 * 1024);
            let handle;
            let task = if path == "stream copy" {
                let mut tunnel = Tunnel::new(Opaque(tunnel_client), Opaque(tunnel_server))
                    .idle_timeout(Duration::from_secs(600))
                    .buffer_pool(buffers.clone());
                handle = tunnel.handle();
                tokio::spawn(tunnel.run())
            } else {
                let mut tunnel = Tunnel::new(tunnel_client, tunnel_server)
                    .idle_timeout(Duration::from_secs(600))
                    .splice(path == "splice")
                    .buffer_pool(buffers.clone())
                    .pipe_pool(pipes.clone());
                handle = tunnel.handle();
                tokio::spawn(tunnel.run())
            };
            // Warm up: the pools fill, the timer is created, the scheduler's queues grow.
            exchange(&mut client, &mut server, 8).await;

            COUNTING.with(|c| c.set(true));
            exchange(&mut client, &mut server, 64).await;
            COUNTING.with(|c| c.set(false));
            let allocations = ALLOCATIONS.swap(0, Ordering::Relaxed);
            assert_eq!(allocations, 0, "{path}: allocations while moving bytes");
            assert_eq!(
                buffers.lent() + pipes.lent(),
                0,
                "{path}: holds a loan while idle"
            );

            handle.abort();
            task.await.unwrap();
        }
    });
}
