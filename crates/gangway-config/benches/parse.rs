//! How long loading a config takes: the seed 000 config in both syntaxes, and a large
//! generated one (100 backends of 4 servers, 100 routes).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const SEED000_CFG: &str = include_str!("../tests/fixtures/seed000.cfg");
const SEED000_TOML: &str = include_str!("../tests/fixtures/seed000.toml");

fn large_config() -> String {
    let mut text = String::from(
        "defaults\n mode http\n timeout connect 5s\n timeout client 50s\n timeout server 50s\nfrontend fe\n bind 127.0.0.1:8080\n",
    );
    for i in 0..100 {
        text.push_str(&format!(
            " acl is_{i} path_beg /svc{i}/\n use_backend be{i} if is_{i}\n"
        ));
    }
    text.push_str(" default_backend be0\n");
    for i in 0..100 {
        text.push_str(&format!(
            "backend be{i}\n balance leastconn\n option httpchk GET /health\n"
        ));
        for s in 0..4 {
            text.push_str(&format!(
                " server s{s} 10.0.{i}.{s}:8080 check inter 2s rise 2 fall 3 weight 10\n"
            ));
        }
    }
    text
}

fn parse(c: &mut Criterion) {
    c.bench_function("haproxy/seed000", |b| {
        b.iter(|| gangway_config::parse_haproxy(black_box(SEED000_CFG), "seed000.cfg").unwrap())
    });
    c.bench_function("toml/seed000", |b| {
        b.iter(|| gangway_config::parse_toml(black_box(SEED000_TOML), "seed000.toml").unwrap())
    });
    let large = large_config();
    c.bench_function("haproxy/100-backends", |b| {
        b.iter(|| gangway_config::parse_haproxy(black_box(&large), "large.cfg").unwrap())
    });
    let loaded = gangway_config::parse_haproxy(&large, "large.cfg").unwrap();
    c.bench_function("plan/100-backends", |b| {
        b.iter(|| {
            gangway_config::plan(black_box(&loaded), gangway_config::PlanOptions::default())
                .unwrap()
        })
    });
}

criterion_group!(benches, parse);
criterion_main!(benches);
