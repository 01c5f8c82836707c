//! Evaluates the seed-004 condition and a 10 000-prefix ACL in a loop, for instruction
//! counting (`valgrind --tool=callgrind --toggle-collect='*run_*'`).
//!
//! Run with `cargo run --release -p gangway-acl --example eval_profile -- <which> <n>`
//! where `<which>` is `ws`, `plain`, `prefix_hit` or `prefix_miss`.

use std::hint::black_box;

use gangway_acl::{Condition, Expr, RequestView};

#[path = "../benches/common/mod.rs"]
mod common;
use common::{
    PREFIX_HIT, PREFIX_MISS, plain_headers, prefix_expr, seed_condition, websocket_headers,
};

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
    let (ws, plain) = (websocket_headers(), plain_headers());
    let hits = match which.as_str() {
        "ws" | "plain" => {
            let cond = seed_condition();
            let view = if which == "ws" {
                RequestView::new("GET", "/chat", &ws)
            } else {
                RequestView::new("GET", "/index.html", &plain)
            };
            run_condition(&cond, &view, n)
        }
        _ => {
            let expr = prefix_expr();
            let target = if which == "prefix_hit" {
                PREFIX_HIT
            } else {
                PREFIX_MISS
            };
            let view = RequestView::new("GET", target, &plain);
            run_expr(&expr, &view, n)
        }
    };
    println!("{which}: {hits}/{n}");
}
