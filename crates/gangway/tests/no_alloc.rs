//! The request path allocates nothing per request once warm: keep-alive GETs through the
//! gateway to a pooled server connection, counted by a global allocator.
// A counting global allocator needs `unsafe impl GlobalAlloc`; nothing else here is unsafe.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use gangway::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// Forwards every call to the system allocator, counting allocations.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// Reads until `buf` ends with the end of a request head, with no allocation.
async fn read_head(s: &mut TcpStream, buf: &mut [u8]) -> bool {
    let mut n = 0;
    loop {
        match s.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => return false,
            Ok(k) => n += k,
        }
        if buf[..n].ends_with(b"\r\n\r\n") {
            return true;
        }
    }
}

#[test]
fn keep_alive_requests_do_not_allocate_once_warm() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend_addr = backend.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = backend.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while read_head(&mut s, &mut buf).await {
                        if s.write_all(RESPONSE).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let web = Backend::new("web").server(backend_addr);
        let gw = Gateway::builder()
            .listen("127.0.0.1:0")
            .access_log(false)
            .default_backend(&web)
            .build()
            .unwrap()
            .start()
            .await
            .unwrap();
        let mut client = TcpStream::connect(gw.local_addr()).await.unwrap();
        let request = b"GET /x HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n";
        let mut buf = [0u8; 4096];
        let mut one = async |client: &mut TcpStream| {
            client.write_all(request).await.unwrap();
            let mut n = 0;
            while !buf[..n].ends_with(b"hello") {
                let k = client.read(&mut buf[n..]).await.unwrap();
                assert!(k > 0);
                n += k;
            }
        };
        for _ in 0..200 {
            one(&mut client).await;
        }
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        const N: usize = 1000;
        for _ in 0..N {
            one(&mut client).await;
        }
        let per_request = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / N as f64;
        println!("allocations per request (gateway, client and server together): {per_request}");
        assert!(per_request < 0.05, "{per_request} allocations per request");
        gw.shutdown().await;
    });
}
