//! Proof that the hot path does not allocate: parse + validate + classify, the 101 check,
//! the chunked tracker, and rewriting into a buffer that already has room.

// A counting global allocator needs `unsafe impl GlobalAlloc`; this test file only.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use gangway_h1::{
    ChunkedTracker, EMPTY_HEADER, Parser, Rewrite, Side, Status, SwitchExpectation, Upgrade,
    websocket_accept,
};

/// Counts allocations made by the current thread (tests run on several threads).
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const WEBSOCKET: &[u8] = b"GET /ws/chat?room=lobby HTTP/1.1\r\nHost: example.com\r\n\
Connection: Upgrade\r\nUser-Agent: Mozilla/5.0\r\nUpgrade: websocket\r\nOrigin: https://example.com\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n";

const SWITCH: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n";

#[test]
fn parse_classify_check_rewrite_do_not_allocate() {
    let parser = Parser::new();
    let mut out = Vec::with_capacity(4096);
    let n = allocations_during(|| {
        for _ in 0..100 {
            let mut headers = [EMPTY_HEADER; 64];
            let Ok(Status::Complete(req)) = parser.parse_request(WEBSOCKET, &mut headers) else {
                panic!("request rejected")
            };
            let Upgrade::WebSocket { key, .. } = req.upgrade else {
                panic!("not classified as WebSocket")
            };
            assert_eq!(websocket_accept(key.as_bytes()).len(), 28);
            let mut response_headers = [EMPTY_HEADER; 16];
            let Ok(Status::Complete(res)) =
                parser.parse_response(SWITCH, &mut response_headers, req.method)
            else {
                panic!("response rejected")
            };
            assert!(req.upgrade.check_switch(&res).is_ok());
            let expect = SwitchExpectation::of(&req.upgrade);
            assert!(expect.check(&res).is_ok());
            out.clear();
            let mut rewrite = Rewrite::new();
            rewrite
                .forwarded_for([192, 0, 2, 1].into())
                .forwarded_proto("https")
                .set(&[("X-Gateway", b"gangway")])
                .remove(&["origin"]);
            assert!(rewrite.write_request(&req, &mut out).is_ok());
            assert!(rewrite.write_response(&res, &mut out).is_ok());
        }
    });
    assert_eq!(n, 0, "the hot path allocated {n} times");
}

#[test]
fn errors_and_chunked_tracking_do_not_allocate() {
    let parser = Parser::new();
    let body = b"5;name=value\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Checksum: 1\r\n\r\nNEXT";
    let n = allocations_during(|| {
        for _ in 0..100 {
            let mut headers = [EMPTY_HEADER; 16];
            let bad = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
            let e = parser
                .parse_request(bad, &mut headers)
                .map(|_| ())
                .unwrap_err();
            assert_eq!(e.status(), 400);
            let e = parser
                .parse_request(
                    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n",
                    &mut headers,
                )
                .map(|_| ())
                .unwrap_err();
            assert!(e.response().starts_with(b"HTTP/1.1 400 "));
            let mut tracker = ChunkedTracker::new(Side::Request);
            let mut end = None;
            for (i, piece) in body.chunks(3).enumerate() {
                if let Ok(Status::Complete(n)) = tracker.feed(piece) {
                    end = Some(i * 3 + n);
                    break;
                }
            }
            assert_eq!(end, Some(body.len() - 4));
        }
    });
    assert_eq!(n, 0, "allocated {n} times");
}

#[test]
fn the_counter_sees_allocations() {
    let n = allocations_during(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(16));
    });
    assert_eq!(n, 1);
}
