//! A TCP forwarder built on gangway-tunnel: every accepted connection is piped to an upstream.
//!
//! ```text
//! cargo run -p gangway-tunnel --example pipe -- 127.0.0.1:8080 127.0.0.1:3000
//! ```
//!
//! Without arguments it runs a self-contained demo: an upstream that answers in upper case, the
//! forwarder in front of it, and one client that sends a line, half-closes, and reads the reply.

use std::net::SocketAddr;
use std::time::Duration;

use gangway_tunnel::{Tunnel, TunnelOutcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [listen, upstream] => {
            let listen: SocketAddr = listen.parse().map_err(invalid)?;
            let upstream: SocketAddr = upstream.parse().map_err(invalid)?;
            let listener = TcpListener::bind(listen).await?;
            println!("piping {} -> {upstream}", listener.local_addr()?);
            loop {
                let (client, peer) = listener.accept().await?;
                tokio::spawn(async move {
                    match pipe(client, upstream).await {
                        Ok(outcome) => println!("{peer}: {}", summary(&outcome)),
                        Err(error) => println!("{peer}: cannot reach {upstream}: {error}"),
                    }
                });
            }
        }
        [] => demo().await,
        _ => Err(invalid("usage: pipe [LISTEN_ADDR UPSTREAM_ADDR]")),
    }
}

/// Connect to `upstream` and pipe `client` to it until both are done.
async fn pipe(client: TcpStream, upstream: SocketAddr) -> std::io::Result<TunnelOutcome> {
    let server = TcpStream::connect(upstream).await?;
    let tunnel = Tunnel::new(client, server)
        .idle_timeout(Duration::from_secs(3600))
        .client_fin_timeout(Duration::from_secs(30))
        .server_fin_timeout(Duration::from_secs(30));
    Ok(tunnel.run().await)
}

fn summary(outcome: &TunnelOutcome) -> String {
    format!(
        "{} after {:?}: {} bytes to the server, {} to the client ({} spliced)",
        outcome.reason,
        outcome.duration,
        outcome.client_to_server,
        outcome.server_to_client,
        outcome.bytes_spliced
    )
}

fn invalid(error: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, error.to_string())
}

async fn demo() -> std::io::Result<()> {
    // Upstream: read everything, answer it in upper case, close.
    let upstream = TcpListener::bind("127.0.0.1:0").await?;
    let upstream_addr = upstream.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = upstream.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                if conn.read_to_end(&mut request).await.is_ok() {
                    let _ = conn.write_all(&request.to_ascii_uppercase()).await;
                }
            });
        }
    });

    let front = TcpListener::bind("127.0.0.1:0").await?;
    let front_addr = front.local_addr()?;
    let forwarder = tokio::spawn(async move {
        let (client, _) = front.accept().await?;
        pipe(client, upstream_addr).await
    });

    let mut client = TcpStream::connect(front_addr).await?;
    client.write_all(b"hello through the tunnel\n").await?;
    client.shutdown().await?; // half-close: the reply must still come back
    let mut reply = String::new();
    client.read_to_string(&mut reply).await?;
    print!("reply: {reply}");
    let outcome = forwarder.await.map_err(std::io::Error::other)??;
    println!("tunnel: {}", summary(&outcome));
    Ok(())
}
