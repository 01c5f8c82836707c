//! The per-check sans-IO work does not allocate: the state machine, request writing into a
//! reused buffer, and response evaluation (bodies with a length; chunked bodies are decoded
//! into a buffer).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use gangway_health::{
    Check, CheckFailure, CheckReport, HealthMachine, InitialState, PassivePolicy, Progress, Timing,
    TrafficOutcome,
};

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts allocations made by the current thread.
struct Counting;

#[allow(unsafe_code)]
// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn per_check_work_does_not_allocate() {
    let t0 = Instant::now();
    let timing = Timing::new(Duration::from_secs(1)).rise(2).fall(3);
    let mut machine = HealthMachine::with_seed(&timing, InitialState::FullyUp, t0, 1);
    machine.set_passive(PassivePolicy::default().error_limit(2));
    let passed = CheckReport::passed();
    let failed = CheckReport::failed(CheckFailure::UnexpectedStatus { status: 503 });
    let n = allocations_in(|| {
        for i in 0..1000u64 {
            let now = t0 + Duration::from_millis(i);
            let report = if i % 7 < 3 { &failed } else { &passed };
            std::hint::black_box(machine.on_check(report, now));
            std::hint::black_box(machine.on_traffic(TrafficOutcome::Status(502), now));
        }
    });
    assert_eq!(n, 0, "state machine");

    let check = Check::http("/health")
        .host("app.example")
        .expect_status(200)
        .expect_body_contains("ok");
    let server = "127.0.0.1:8080".parse().unwrap();
    let mut request = Vec::with_capacity(512);
    let eval = check.response_check(None).unwrap();
    let response: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
    let n = allocations_in(|| {
        for _ in 0..100 {
            request.clear();
            check.write_request(server, None, &mut request);
            assert_eq!(
                eval.evaluate(response, false),
                Progress::Done(Ok(Some(200)))
            );
        }
    });
    assert_eq!(n, 0, "http request and response");

    let ws = Check::websocket("/ws");
    let key = *b"dGhlIHNhbXBsZSBub25jZQ==";
    let eval = ws.response_check(Some(&key)).unwrap();
    let response: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let n = allocations_in(|| {
        for _ in 0..100 {
            request.clear();
            ws.write_request(server, Some(&key), &mut request);
            assert_eq!(
                eval.evaluate(response, false),
                Progress::Done(Ok(Some(101)))
            );
        }
    });
    assert_eq!(n, 0, "websocket handshake");
}
