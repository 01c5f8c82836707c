//! CPU cost of health checking: the sans-IO parts alone, and whole checks over loopback.
//!
//! The loopback benches run the check and a minimal server on one current-thread runtime, so
//! the wall time per iteration is the CPU time of one check on both ends (client and toy
//! server, kernel included): an upper bound of the checker's own cost.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use gangway_health::{Check, CheckReport, HealthMachine, InitialState, Probe, Timing};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn sans_io(c: &mut Criterion) {
    let mut group = c.benchmark_group("sans_io");
    let timing = Timing::new(Duration::from_secs(1));
    let t0 = Instant::now();
    let mut machine = HealthMachine::with_seed(&timing, InitialState::FullyUp, t0, 1);
    let passed = CheckReport::passed();
    group.bench_function("machine_on_check", |b| {
        b.iter(|| black_box(machine.on_check(black_box(&passed), t0)))
    });

    let check = Check::http("/health")
        .expect_status(200)
        .expect_body_contains("ok");
    let eval = check.response_check(None).expect("an http check");
    let response: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nDate: Tue, 24 Nov 2026 05:00:00 GMT\r\nConnection: close\r\n\r\nok";
    group.bench_function("http_evaluate", |b| {
        b.iter(|| black_box(eval.evaluate(black_box(response), false)))
    });

    // An answer trickling in: each read adds a byte. The old probe evaluated the whole
    // buffer on each read (`evaluate` on each prefix); it now advances (`advance`).
    let trickled = trickled_answer();
    let chunked = Check::http("/health")
        .expect_status(200)
        .expect_body_contains("ready");
    let eval = chunked.response_check(None).expect("an http check");
    group.sample_size(10);
    group.bench_function("trickled_evaluate_each_prefix", |b| {
        b.iter(|| {
            for end in 1..trickled.len() {
                black_box(eval.evaluate(black_box(&trickled[..end]), false));
            }
            eval.evaluate(&trickled, false)
        })
    });
    group.bench_function("trickled_advance", |b| {
        b.iter(|| {
            let mut reader = eval.clone();
            for end in 1..trickled.len() {
                black_box(reader.advance(black_box(&trickled[..end]), false));
            }
            reader.advance(&trickled, false)
        })
    });
    group.sample_size(100);

    let mut request = Vec::with_capacity(256);
    let server: SocketAddr = "127.0.0.1:8080".parse().expect("an address");
    group.bench_function("http_write_request", |b| {
        b.iter(|| {
            request.clear();
            check.write_request(black_box(server), None, &mut request);
            black_box(request.len())
        })
    });
    group.finish();
}

/// A 200 answer filling most of the default 16 KiB check buffer: 30 header fields, then a
/// chunked body of two-byte chunks ending in `ready`.
fn trickled_answer() -> Vec<u8> {
    let mut answer = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..30 {
        answer.extend_from_slice(format!("X-Field-{i}: {}\r\n", "v".repeat(40)).as_bytes());
    }
    answer.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    let mut body = vec![b'.'; 2000];
    body.extend_from_slice(b"ready");
    for piece in body.chunks(2) {
        answer.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        answer.extend_from_slice(piece);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"0\r\n\r\n");
    assert!(
        answer.len() < Check::DEFAULT_BUFFER_LIMIT,
        "{}",
        answer.len()
    );
    answer
}

#[derive(Clone, Copy)]
enum Answer {
    Close,
    Http,
    WebSocket,
    /// [`trickled_answer`], one byte per write.
    Trickled,
}

async fn serve(answer: Answer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                if matches!(answer, Answer::Close) {
                    return;
                }
                let mut buf = [0u8; 1024];
                let mut len = 0;
                while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf[len..]).await {
                        Ok(n) if n > 0 => len += n,
                        _ => return,
                    }
                }
                match answer {
                    Answer::Http => {
                        let _ = conn
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                            .await;
                    }
                    Answer::WebSocket => {
                        let head = String::from_utf8_lossy(&buf[..len]).into_owned();
                        let key = head
                            .lines()
                            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                            .unwrap_or_default();
                        let accept = gangway_h1::websocket_accept(key.as_bytes());
                        let mut answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ".to_vec();
                        answer.extend_from_slice(&accept);
                        answer.extend_from_slice(b"\r\n\r\n");
                        let _ = conn.write_all(&answer).await;
                        let mut frame = [0u8; 8];
                        if conn.read_exact(&mut frame).await.is_ok() {
                            let _ = conn.write_all(&[0x88, 0x02, 0x03, 0xe8]).await;
                        }
                    }
                    Answer::Trickled => {
                        let _ = conn.set_nodelay(true);
                        for byte in trickled_answer().chunks(1) {
                            if conn.write_all(byte).await.is_err() {
                                return;
                            }
                            // Let the checker read before the next byte.
                            tokio::task::yield_now().await;
                        }
                    }
                    Answer::Close => {}
                }
            });
        }
    });
    addr
}

fn loopback(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("loopback_check");
    let cases = [
        ("tcp", Check::tcp(), Answer::Close),
        (
            "http",
            Check::http("/health").expect_status(200),
            Answer::Http,
        ),
        ("websocket", Check::websocket("/ws"), Answer::WebSocket),
        (
            "http_trickled",
            Check::http("/health")
                .expect_status(200)
                .expect_body_contains("ready"),
            Answer::Trickled,
        ),
    ];
    for (name, check, answer) in cases {
        let addr = rt.block_on(serve(answer));
        let mut probe = Probe::new(check.shared(), addr);
        group.sample_size(if matches!(answer, Answer::Trickled) {
            10
        } else {
            100
        });
        group.bench_function(name, |b| {
            b.iter(|| {
                let report = rt.block_on(probe.run(Duration::from_secs(5)));
                assert!(report.is_passed(), "{name}: {:?}", report.result);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sans_io, loopback);
criterion_main!(benches);
