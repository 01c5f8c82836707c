//! The pipe a gateway becomes after a WebSocket `101 Switching Protocols`: bytes move both ways
//! between the client and the server connection until both are done.
//!
//! ```
//! use std::time::Duration;
//! use gangway_tunnel::{CloseReason, Tunnel};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tokio::net::{TcpListener, TcpStream};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! // An upstream that answers whatever it reads in upper case, then closes.
//! let upstream = TcpListener::bind("127.0.0.1:0").await?;
//! let upstream_addr = upstream.local_addr()?;
//! tokio::spawn(async move {
//!     let (mut conn, _) = upstream.accept().await?;
//!     let mut text = Vec::new();
//!     conn.read_to_end(&mut text).await?; // until the client's FIN comes through the tunnel
//!     conn.write_all(&text.to_ascii_uppercase()).await
//! });
//!
//! // The gateway side: after the 101, pipe the client connection to the server connection.
//! let front = TcpListener::bind("127.0.0.1:0").await?;
//! let mut client = TcpStream::connect(front.local_addr()?).await?;
//! let (accepted, _) = front.accept().await?;
//! let server = TcpStream::connect(upstream_addr).await?;
//! let mut tunnel = Tunnel::new(accepted, server)
//!     // Bytes the head parser read past the end of the request head go to the server first.
//!     .client_read_ahead(b"hello ".to_vec())
//!     .idle_timeout(Duration::from_secs(3600)); // `timeout tunnel 1h`
//! let handle = tunnel.handle(); // abort() or drain() it from another task
//! let running = tokio::spawn(tunnel.run());
//!
//! client.write_all(b"tunnel").await?;
//! client.shutdown().await?; // half-close: the reply still comes back
//! let mut reply = String::new();
//! client.read_to_string(&mut reply).await?;
//! assert_eq!(reply, "HELLO TUNNEL");
//!
//! let outcome = running.await?;
//! assert!(matches!(outcome.reason, CloseReason::ClientClosed));
//! assert_eq!((outcome.client_to_server, outcome.server_to_client), (12, 12));
//! # drop(handle);
//! # Ok(())
//! # }
//! ```
//!
//! What it does:
//! - Copies both directions concurrently in one task, each starting with the bytes already read
//!   past the head on its side (the *read-ahead*).
//! - Half-close: a FIN from one side shuts down writing towards the other side while the
//!   opposite direction keeps flowing until it ends too; an optional timeout bounds the
//!   half-closed state, counted from the FIN (HAProxy's `timeout server-fin` after the
//!   client's FIN, `timeout client-fin` after the server's).
//! - Idle timeout (reset by any byte either way), optional maximum lifetime, and a
//!   [`TunnelOutcome`] with the [`CloseReason`], byte counts each way and duration.
//! - A cloneable [`TunnelHandle`] to abort or drain the tunnel from another task.
//! - Zero-copy on Linux: when both streams are [`tokio::net::TcpStream`]s, bulk bytes move with
//!   `splice(2)` through a pipe taken from a capped shared [`PipePool`] (a burst starts by
//!   copying, and switches to `splice` once a read fills a whole buffer); with no pipe left, or
//!   where `splice` is unsupported, it copies through a user-space buffer instead.
//! - An idle tunnel holds no buffer and no pipe: it waits for readiness first and takes a pooled
//!   [`BufferPool`] buffer or pipe only while bytes are moving.
//! - Optional parking ([`TunnelConfig::park_after`], off by default; the gangway gateway turns
//!   it on at 1 s): an idle TCP tunnel on Linux gives its sockets' registrations with tokio
//!   (about 960 bytes) and its timer back and waits in one epoll set and deadline heap shared by
//!   all parked tunnels. A few bytes after a pause are moved while parked; bulk data, a FIN or a
//!   busier tunnel take the sockets back to tokio. A parked idle tunnel costs about 0.9–1.0 KiB
//!   in all (its task, its handle, a slot in the parker), against about 1.9 KiB unparked.
//!
//! This crate is part of [gangway](https://github.com/gangway-rs/gangway/tree/main/crates/gangway); it depends on no other gangway crate.
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod flow;
mod handle;
mod outcome;
#[cfg(target_os = "linux")]
mod park;
mod pool;
#[cfg(target_os = "linux")]
mod sys;
mod tunnel;

pub use handle::TunnelHandle;
pub use outcome::{CloseReason, Side, TunnelOutcome};
pub use pool::{BufferPool, PipePool};
pub use tunnel::{Tunnel, TunnelConfig};

/// How many tunnels of this process are parked right now: idle, with their sockets out of
/// tokio's reactor (see [`TunnelConfig::park_after`]). Always 0 off Linux.
///
/// ```
/// // No tunnel has run in this process yet.
/// assert_eq!(gangway_tunnel::parked_tunnels(), 0);
/// ```
#[must_use]
pub fn parked_tunnels() -> usize {
    #[cfg(target_os = "linux")]
    return park::count();
    #[cfg(not(target_os = "linux"))]
    0
}
