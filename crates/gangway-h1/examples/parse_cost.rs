//! What parse + validate + classify costs next to a bare `httparse::Request::parse` of the
//! same bytes (the requests of `benches/parse.rs`), measured in a way a loaded machine
//! does not blur.
//!
//! - `cargo run --release -p gangway-h1 --example parse_cost` interleaves batches of both
//!   and prints the best batch of each, per request, and their ratio.
//! - `parse_cost <httparse|gangway-h1> <websocket|browser_get> <N>` parses N times with one
//!   side only: run it under `valgrind --tool=callgrind` with N and with 0 and divide the
//!   difference by N for the instructions per request.

use std::hint::black_box;
use std::time::Instant;

use gangway_h1::{EMPTY_HEADER, Parser, Status, Upgrade};

/// What Chrome sends to open a WebSocket (same bytes as the bench).
const WEBSOCKET: &[u8] = b"GET /ws/chat?room=lobby HTTP/1.1\r\n\
Host: example.com\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: https://example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

/// A browser page load (same bytes as the bench).
const BROWSER_GET: &[u8] = b"GET /articles/42?utm_source=news HTTP/1.1\r\n\
Host: www.example.com\r\n\
Connection: keep-alive\r\n\
Upgrade-Insecure-Requests: 1\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Referer: https://www.example.com/\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Cookie: session=4f1c2a9e8b7d6c5e; theme=dark\r\n\r\n";

const BATCHES: u32 = 400;
const BATCH: u32 = 2000;

#[inline(never)]
fn bare_httparse(buf: &[u8]) -> usize {
    let mut headers = [EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    black_box(req.parse(black_box(buf)).ok());
    black_box(req.headers.len())
}

#[inline(never)]
fn gangway_h1(parser: &Parser, buf: &[u8]) -> bool {
    let mut headers = [EMPTY_HEADER; 64];
    match parser.parse_request(black_box(buf), &mut headers) {
        Ok(Status::Complete(req)) => {
            black_box((req.framing, req.keep_alive, req.head_len));
            black_box(matches!(req.upgrade, Upgrade::WebSocket { .. }))
        }
        _ => false,
    }
}

/// Nanoseconds per call of one batch of `BATCH` calls.
fn batch(mut run: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..BATCH {
        run();
    }
    start.elapsed().as_nanos() as f64 / f64::from(BATCH)
}

fn main() {
    let parser = Parser::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [side, request, count] = args.as_slice() {
        let buf = if request == "websocket" {
            WEBSOCKET
        } else {
            BROWSER_GET
        };
        let count: u64 = count.parse().unwrap_or(0);
        for _ in 0..count {
            if side == "httparse" {
                black_box(bare_httparse(buf));
            } else {
                black_box(gangway_h1(&parser, buf));
            }
        }
        return;
    }
    for (name, buf) in [("websocket", WEBSOCKET), ("browser_get", BROWSER_GET)] {
        // Batches alternate, so both sides see the same machine load; the best batch of
        // each is the least disturbed one.
        let (mut bare, mut ours) = (f64::MAX, f64::MAX);
        for _ in 0..BATCHES {
            bare = bare.min(batch(|| {
                black_box(bare_httparse(buf));
            }));
            ours = ours.min(batch(|| {
                black_box(gangway_h1(&parser, buf));
            }));
        }
        println!(
            "{name} ({} B): httparse {bare:.1} ns, gangway-h1 {ours:.1} ns, ratio {:.2}",
            buf.len(),
            ours / bare
        );
    }
}
