//! parse + validate + classify with gangway-h1 against a bare `httparse::Request::parse`
//! of the same bytes, for a browser WebSocket upgrade and a browser GET.
//!
//! `cargo bench -p gangway-h1 --bench parse -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gangway_h1::Parser;

mod common;
use common::{BROWSER_GET, WEBSOCKET, bare_httparse, gangway_h1};

fn bench_parse(c: &mut Criterion) {
    let parser = Parser::new();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1));
    for (name, buf) in [("websocket", WEBSOCKET), ("browser_get", BROWSER_GET)] {
        group.bench_function(format!("httparse/{name}/{}B", buf.len()), |b| {
            b.iter(|| bare_httparse(buf))
        });
        group.bench_function(format!("gangway-h1/{name}/{}B", buf.len()), |b| {
            b.iter(|| gangway_h1(&parser, buf))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
