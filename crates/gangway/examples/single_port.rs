//! The seed setup on one port: `/ws/...` and WebSocket upgrades go to a WebSocket backend, every
//! other request (the page, the load balancer's pings) to an HTTP backend, both health-checked.
//! The two backends are in-process demos (seed 001's page and its broadcast endpoint at
//! `/ws/echo`), so this runs on its own:
//!
//! ```text
//! cargo run --release -p gangway --example single_port             # then open the printed URL
//! cargo run --release -p gangway --example single_port -- 0.0.0.0:9000
//! ```
use std::time::Duration;

use gangway::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let page = gangway::demo::serve_page("127.0.0.1:0").await?;
    let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0").await?;
    let listen = std::env::args().nth(1);

    // The gateway: HAProxy's `use_backend ws if is_websocket` frontend and two backends.
    let ws_check = Check::websocket("/ws/echo").rise(2).fall(2);
    let ws = Backend::new("ws").balance(Balance::LeastConn);
    let ws = ws.server(chat.addr()).check(ws_check);
    let web = Backend::new("web").server(page.addr());
    let web = web.check(Check::http("/health").expect_status(200));
    let gateway = Gateway::builder()
        .listen(listen.as_deref().unwrap_or("127.0.0.1:8080"))
        .route("path_beg /ws/ || hdr(Upgrade) -i websocket".parse()?, &ws)
        .default_backend(&web)
        .timeouts(Timeouts::default().tunnel(Duration::from_secs(3600)))
        .build()?
        .start()
        .await?;
    let url = gateway.local_addr();
    println!("gangway serves http://{url}/ and ws://{url}/ws/echo; Ctrl-C stops it");
    let (page_addr, chat_addr) = (page.addr(), chat.addr());
    println!("(demo backends: page on {page_addr}, chat on {chat_addr})");
    tokio::signal::ctrl_c().await?;
    gateway.shutdown().await;
    Ok(())
}
