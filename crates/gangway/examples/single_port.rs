//! The seed setup on one port: `/ws` and WebSocket upgrades go to a WebSocket backend, every
//! other request to an HTTP backend, both health-checked. The two backends are in-process demos
//! (seed 001's page and its broadcast endpoint at `/ws/echo`), so this runs on its own:
//!
//! ```text
//! cargo run --release -p gangway --example single_port      # then open the printed URL
//! ```
use std::time::Duration;

use gangway::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let page = gangway::demo::serve_page("127.0.0.1:0").await?;
    let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0").await?;
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());

    // The gateway itself: 14 lines.
    let ws = Backend::new("websocket_servers")
        .balance(Balance::LeastConn)
        .server(Server::at(chat.addr()).name("ws1"))
        .check(
            Check::websocket("/ws/echo")
                .inter(Duration::from_secs(2))
                .rise(2)
                .fall(2),
        );
    let web = Backend::new("http_servers")
        .server(Server::at(page.addr()).name("www1"))
        .check(Check::http("/health").expect_status(200));
    let gateway = Gateway::builder()
        .listen(listen)
        .route("path_beg /ws/ || hdr(Upgrade) -i websocket".parse()?, &ws)
        .default_backend(&web)
        .timeouts(Timeouts::default().tunnel(Duration::from_secs(3600)))
        .build()?
        .start()
        .await?;
    println!(
        "gangway is serving http://{}/ (WebSocket at ws://{}/ws/echo); Ctrl-C stops it",
        gateway.local_addr(),
        gateway.local_addr()
    );
    tokio::signal::ctrl_c().await?;
    gateway.shutdown().await;
    Ok(())
}
