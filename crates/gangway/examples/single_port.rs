//! The seed setup on one port: `/ws/...` and WebSocket upgrades go to a WebSocket backend, every
//! other request (the page, the load balancer's pings) to an HTTP backend, all health-checked,
//! with the live status page at `/status`. The backends are the in-process demo
//! ([`gangway::demo::Demo`]): seed 001's page, and two chat servers behind `leastconn` that
//! share every message, so browsers on either server see each other's messages.
//!
//! ```text
//! cargo run --release -p gangway-gateway --example single_port             # then open the printed URLs
//! cargo run --release -p gangway-gateway --example single_port -- 0.0.0.0:9000
//! ```
//!
//! Type `stop chat2` (then `start chat2`) on its stdin to watch the status page mark the server
//! down (and up). Here the chat servers share messages through an in-process channel; servers
//! on separate machines would share them through Redis pub/sub or another message bus.
use std::time::Duration;

use gangway::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let demo = gangway::demo::Demo::start().await?;
    let [chat1, chat2] = demo.chat_addrs();
    let listen = std::env::args().nth(1);

    // The gateway: HAProxy's `use_backend ws if is_websocket` frontend and two backends.
    let ws_check = Check::websocket("/ws/echo")
        .inter(Duration::from_secs(1))
        .rise(2)
        .fall(2);
    let ws = Backend::new("ws")
        .balance(Balance::LeastConn)
        .check(ws_check);
    let ws = ws
        .server(Server::at(chat1).name("chat1"))
        .server(Server::at(chat2).name("chat2"));
    let web = Backend::new("web").server(Server::at(demo.page_addr()).name("page"));
    let web = web.check(Check::http("/health").expect_status(200));
    let gateway = Gateway::builder()
        .listen(listen.as_deref().unwrap_or("127.0.0.1:8080"))
        .route("path_beg /ws/ || hdr(Upgrade) -i websocket".parse()?, &ws)
        .default_backend(&web)
        .status_page("/status")
        .timeouts(Timeouts::default().tunnel(Duration::from_secs(3600)))
        .build()?
        .start()
        .await?;
    let url = gateway.local_addr();
    println!("gangway serves http://{url}/ (ws://{url}/ws/echo) and http://{url}/status");
    println!("stdin commands: stop chat2, start chat2; Ctrl-C stops the gateway");

    // Without a stdin (it ends at once), keep serving until Ctrl-C.
    let control = async {
        demo.control_stdin().await;
        std::future::pending::<()>().await
    };
    tokio::select! { r = tokio::signal::ctrl_c() => r?, () = control => {} }
    gateway.shutdown().await;
    Ok(())
}
