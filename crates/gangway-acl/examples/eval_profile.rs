//! Evaluates the seed-004 condition and a 10 000-prefix ACL in a loop, for instruction
//! counting (`valgrind --tool=callgrind --toggle-collect='*run_*'`).
//!
//! Run with `cargo run --release -p gangway-acl --example eval_profile -- <which> <n>`
//! where `<which>` is `ws`, `plain`, `prefix_hit` or `prefix_miss`.

use std::hint::black_box;

use gangway_acl::{AclSet, Condition, Expr, RequestView};

#[inline(never)]
fn run_condition(cond: &Condition, view: &RequestView<'_>, n: u64) -> u64 {
    let mut hits = 0;
    for _ in 0..n {
        hits += u64::from(cond.eval(black_box(view)));
    }
    hits
}

#[inline(never)]
fn run_expr(expr: &Expr, view: &RequestView<'_>, n: u64) -> u64 {
    let mut hits = 0;
    for _ in 0..n {
        hits += u64::from(expr.eval(black_box(view)));
    }
    hits
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "ws".to_owned());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let ws = [
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
    ];
    let plain = [
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
    ];
    let hits = match which.as_str() {
        "ws" | "plain" => {
            let acls = AclSet::parse(
                "acl is_websocket hdr(Upgrade) -i WebSocket\n\
                 acl is_websocket_server hdr_end(host) -i ws.example.com\n",
            )
            .expect("seed ACLs parse");
            let cond = acls
                .parse_condition("if is_websocket is_websocket_server")
                .expect("seed condition parses");
            let view = if which == "ws" {
                RequestView::new("GET", "/chat", &ws)
            } else {
                RequestView::new("GET", "/index.html", &plain)
            };
            run_condition(&cond, &view, n)
        }
        _ => {
            let prefixes: String = (0..10_000)
                .map(|i| format!("/api/v{}/tenant{i}/\n", i % 7))
                .collect();
            let acls = AclSet::new().with_pattern_loader(move |_| Ok(prefixes.clone()));
            let expr = acls.parse_expr("path_beg -f prefixes.lst").expect("parses");
            let target = if which == "prefix_hit" {
                "/api/v2/tenant9998/orders/17?expand=1"
            } else {
                "/api/v3/tenant99999/orders"
            };
            let view = RequestView::new("GET", target, &plain);
            run_expr(&expr, &view, n)
        }
    };
    println!("{which}: {hits}/{n}");
}
