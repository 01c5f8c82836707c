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

use gangway_h1::Parser;

#[path = "../benches/common/mod.rs"]
mod common;
use common::{BROWSER_GET, WEBSOCKET, bare_httparse, gangway_h1};

const BATCHES: u32 = 400;
const BATCH: u32 = 2000;

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
