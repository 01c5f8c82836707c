//! Evaluation speed: the seed-004 condition, a 1000-rule route table, and a
//! 10 000-prefix `-f` ACL.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gangway_acl::{AclSet, Condition, RequestView, RouteTable};

mod common;
use common::{
    PREFIX_HIT, PREFIX_MISS, plain_headers, prefix_expr, seed_condition, websocket_headers,
};

fn seed(c: &mut Criterion) {
    let cond = seed_condition();
    let ws = websocket_headers();
    let plain = plain_headers();
    let ws_view = RequestView::new("GET", "/chat", &ws);
    let plain_view = RequestView::new("GET", "/index.html", &plain);
    assert!(cond.eval(&ws_view));
    assert!(!cond.eval(&plain_view));
    let mut group = c.benchmark_group("seed004");
    group.bench_function("websocket_request", |b| {
        b.iter(|| cond.eval(black_box(&ws_view)))
    });
    group.bench_function("plain_request", |b| {
        b.iter(|| cond.eval(black_box(&plain_view)))
    });
    group.finish();
}

fn route_table(c: &mut Criterion) {
    let mut table = RouteTable::new();
    for i in 0..1000 {
        let cond: Condition = format!("{{ path_beg /svc{i}/ }}")
            .parse()
            .expect("rule parses");
        table.push(cond, i);
    }
    table.set_default(usize::MAX);
    let headers = plain_headers();
    let first = RequestView::new("GET", "/svc0/x", &headers);
    let last = RequestView::new("GET", "/svc999/items?id=1", &headers);
    let miss = RequestView::new("GET", "/static/app.js", &headers);
    assert_eq!(table.route(&last), Some(&999));
    assert_eq!(table.route(&miss), Some(&usize::MAX));
    let mut group = c.benchmark_group("route_table_1000");
    group.bench_function("first_rule", |b| {
        b.iter(|| table.route(black_box(&first)).copied())
    });
    group.bench_function("last_rule", |b| {
        b.iter(|| table.route(black_box(&last)).copied())
    });
    group.bench_function("default", |b| {
        b.iter(|| table.route(black_box(&miss)).copied())
    });
    group.finish();

    // A table mixing host and header rules, which are evaluated in order.
    let mut mixed = RouteTable::new();
    for i in 0..1000 {
        let cond: Condition = if i % 2 == 0 {
            format!("{{ hdr(host) -i app{i}.example.com }}")
        } else {
            format!("{{ path_beg /svc{i}/ }} {{ hdr(x-tenant) t{i} }}")
        }
        .parse()
        .expect("rule parses");
        mixed.push(cond, i);
    }
    mixed.set_default(usize::MAX);
    c.bench_function("route_table_1000_mixed/default", |b| {
        b.iter(|| mixed.route(black_box(&miss)).copied())
    });
}

fn prefix_file(c: &mut Criterion) {
    let expr = prefix_expr();
    let headers = plain_headers();
    let hit = RequestView::new("GET", PREFIX_HIT, &headers);
    let miss = RequestView::new("GET", PREFIX_MISS, &headers);
    assert!(expr.eval(&hit));
    assert!(!expr.eval(&miss));
    let mut group = c.benchmark_group("prefix_10000");
    group.bench_function("hit", |b| b.iter(|| expr.eval(black_box(&hit))));
    group.bench_function("miss", |b| b.iter(|| expr.eval(black_box(&miss))));
    group.finish();

    let hosts: String = (0..10_000).map(|i| format!("h{i}.example.net\n")).collect();
    let acls = AclSet::new().with_pattern_loader(move |_| Ok(hosts.clone()));
    let expr = acls
        .parse_expr("hdr_dom(host) -i -f hosts.lst")
        .expect("host ACL parses");
    let h = [httparse::Header {
        name: "Host",
        value: b"www.H4242.example.net:8443",
    }];
    let view = RequestView::new("GET", "/", &h);
    assert!(expr.eval(&view));
    c.bench_function("host_dom_10000/hit", |b| {
        b.iter(|| expr.eval(black_box(&view)))
    });
}

/// Single expressions over the fetches whose sample parsing is not a plain slice: query
/// parameters, header addresses and integers, a Host name with a port, a regex.
fn fetches(c: &mut Criterion) {
    let headers = [
        httparse::Header {
            name: "Host",
            value: b"api.example.com:8443",
        },
        httparse::Header {
            name: "X-Forwarded-For",
            value: b"203.0.113.9, 10.1.2.3:5555",
        },
        httparse::Header {
            name: "Content-Length",
            value: b"1234",
        },
    ];
    let view = RequestView::new(
        "GET",
        "/api/v2/items?page=3&sort=name;sid=abc123&lang=en",
        &headers,
    );
    let mut group = c.benchmark_group("fetch");
    for (name, text) in [
        ("host_str_port_stripped", "hdr(host) -i api.example.com"),
        ("url_param", "url_param(sid) abc123"),
        ("url_param_miss", "url_param(user) bob"),
        ("hdr_ip", "hdr_ip(x-forwarded-for) 10.0.0.0/8"),
        ("hdr_val", "hdr_val(content-length) gt 1000"),
        ("path_reg", "path_reg ^/api/v[0-9]+/"),
    ] {
        let expr: gangway_acl::Expr = text.parse().expect("expression parses");
        black_box(expr.eval(&view));
        group.bench_function(name, |b| b.iter(|| expr.eval(black_box(&view))));
    }
    group.finish();
}

criterion_group!(benches, seed, route_table, prefix_file, fetches);
criterion_main!(benches);
