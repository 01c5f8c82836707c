//! Evaluation speed: the seed-004 condition, a 1000-rule route table, and a
//! 10 000-prefix `-f` ACL.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gangway_acl::{AclSet, Condition, RequestView, RouteTable};

fn websocket_headers() -> Vec<httparse::Header<'static>> {
    vec![
        httparse::Header {
            name: "Host",
            value: b"ws.example.com",
        },
        httparse::Header {
            name: "User-Agent",
            value: b"Mozilla/5.0 (X11; Linux x86_64)",
        },
        httparse::Header {
            name: "Accept",
            value: b"*/*",
        },
        httparse::Header {
            name: "Connection",
            value: b"Upgrade",
        },
        httparse::Header {
            name: "Upgrade",
            value: b"websocket",
        },
        httparse::Header {
            name: "Sec-WebSocket-Key",
            value: b"dGhlIHNhbXBsZSBub25jZQ==",
        },
        httparse::Header {
            name: "Sec-WebSocket-Version",
            value: b"13",
        },
    ]
}

fn plain_headers() -> Vec<httparse::Header<'static>> {
    vec![
        httparse::Header {
            name: "Host",
            value: b"www.example.com",
        },
        httparse::Header {
            name: "User-Agent",
            value: b"curl/8.5.0",
        },
        httparse::Header {
            name: "Accept",
            value: b"*/*",
        },
    ]
}

fn seed_condition(c: &mut Criterion) {
    let acls = AclSet::parse(
        "acl is_websocket hdr(Upgrade) -i WebSocket\n\
         acl is_websocket_server hdr_end(host) -i ws.example.com\n",
    )
    .expect("seed ACLs parse");
    let cond = acls
        .parse_condition("if is_websocket is_websocket_server")
        .expect("seed condition parses");
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
    let prefixes: String = (0..10_000)
        .map(|i| format!("/api/v{}/tenant{i}/\n", i % 7))
        .collect();
    let acls = AclSet::new().with_pattern_loader(move |_| Ok(prefixes.clone()));
    let expr = acls
        .parse_expr("path_beg -f prefixes.lst")
        .expect("prefix ACL parses");
    let headers = plain_headers();
    let hit = RequestView::new("GET", "/api/v2/tenant9998/orders/17?expand=1", &headers);
    let miss = RequestView::new("GET", "/api/v3/tenant99999/orders", &headers);
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

criterion_group!(benches, seed_condition, route_table, prefix_file);
criterion_main!(benches);
