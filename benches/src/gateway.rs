//! The gangway under test: the facade configured like the HAProxy and nginx contenders.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use gangway::prelude::*;

/// Runs a gateway on a loopback port in front of the backend's two ports, prints
/// `listen=ADDR` (and `listen-tls=ADDR` for a TLS listener with the PEM file `crt`), and
/// serves until killed.
pub(crate) async fn run(http: SocketAddr, ws: SocketAddr, crt: Option<String>) -> io::Result<()> {
    // Logs only when asked (RUST_LOG=...), so the measured gateway does no logging work.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let ws = Backend::new("ws").server(ws.to_string());
    // Up to 64 idle pooled server connections, as nginx's `keepalive 64` (HAProxy keeps any
    // number): 50 busy clients must not churn server connections.
    let web = Backend::new("http")
        .server(http.to_string())
        .pool_max_idle(64);
    let condition: Condition = "path_beg /ws || hdr(Upgrade) -i websocket"
        .parse()
        .map_err(io::Error::other)?;
    let mut builder = Gateway::builder().listen("127.0.0.1:0");
    if let Some(crt) = &crt {
        let tls = gangway::TlsListener::new()
            .cert_file(crt)
            .map_err(io::Error::other)?;
        builder = builder.listener(Listener::new("127.0.0.1:0").tls(tls));
    }
    let gateway = builder
        .route(condition, &ws)
        .default_backend(&web)
        .timeouts(Timeouts::default().tunnel(Duration::from_secs(3600)))
        .maxconn(7_000)
        // Like the HAProxy and nginx contenders, which log nothing per request.
        .access_log(false)
        .build()
        .map_err(io::Error::other)?
        .start()
        .await
        .map_err(io::Error::other)?;
    println!("listen={}", gateway.local_addr());
    if crt.is_some() {
        println!("listen-tls={}", gateway.local_addrs()[1]);
    }
    std::future::pending::<()>().await;
    Ok(())
}
