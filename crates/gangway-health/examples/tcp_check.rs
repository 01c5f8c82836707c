//! TCP health checks with gangway-health.
//!
//! `cargo run -p gangway-health --example tcp_check -- 127.0.0.1:8080 127.0.0.1:8081` checks
//! those servers every second and prints each state change until Ctrl-C.
//!
//! Without arguments it checks a listener of its own, closes it, and exits once the server has
//! gone `UNKNOWN -> UP -> DOWN`.

use std::net::SocketAddr;
use std::time::Duration;

use gangway_health::{Check, Health, HealthChecker, Timing};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "gangway_health=info".into()),
        )
        .init();

    let addrs: Vec<SocketAddr> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    if !addrs.is_empty() {
        let checker = HealthChecker::builder(Check::tcp())
            .timing(Timing::new(Duration::from_secs(1)).rise(2).fall(2))
            .servers(addrs.iter().map(|a| (a.to_string(), *a)))
            .build()?;
        let mut events = checker.subscribe();
        checker.start();
        loop {
            tokio::select! {
                event = events.recv() => {
                    let e = event?;
                    println!("{}: {} -> {} ({})", e.server, e.from, e.to, e.reason);
                }
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        }
    }

    // Demo: a listener of our own, checked every 200 ms with `rise 2 fall 2`.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let accept = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            drop(conn);
        }
    });
    let checker = HealthChecker::builder(Check::tcp())
        .timing(Timing::new(Duration::from_millis(200)).rise(2).fall(2))
        .server("demo", addr)
        .build()?;
    let mut events = checker.subscribe();
    checker.start();
    loop {
        let e = events.recv().await?;
        println!(
            "{} at {}: {} -> {} ({})",
            e.server, e.addr, e.from, e.to, e.reason
        );
        match e.to {
            Health::Up => {
                println!("closing the listener...");
                accept.abort();
            }
            Health::Down => break,
            Health::Unknown => {}
        }
    }
    let counters = checker.counters(&"demo").unwrap_or_default();
    println!(
        "{} checks, {} passed, {} failed",
        counters.checks, counters.checks_passed, counters.checks_failed
    );
    Ok(())
}
