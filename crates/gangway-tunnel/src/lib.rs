//! The pipe a gateway becomes after a WebSocket `101 Switching Protocols`: bytes move both ways
//! between the client and the server connection until both are done.
//!
//! ```no_run
//! use std::time::Duration;
//! use gangway_tunnel::{CloseReason, Tunnel};
//! use tokio::net::{TcpListener, TcpStream};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let (client, _) = listener.accept().await?;
//! let server = TcpStream::connect("127.0.0.1:3000").await?;
//! let mut tunnel = Tunnel::new(client, server)
//!     // Bytes the head parser read past the end of the request head go to the server first.
//!     .client_read_ahead(b"\x81\x05hello".to_vec())
//!     .idle_timeout(Duration::from_secs(3600));
//! let handle = tunnel.handle(); // abort() or drain() it from another task
//! let outcome = tunnel.run().await;
//! if let CloseReason::Error(side, error) = &outcome.reason {
//!     eprintln!("{side} failed: {error}");
//! }
//! println!(
//!     "{}: {} bytes up, {} bytes down in {:?}",
//!     outcome.reason, outcome.client_to_server, outcome.server_to_client, outcome.duration
//! );
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
//!   half-closed state (HAProxy's `timeout client-fin` / `server-fin`).
//! - Idle timeout (reset by any byte either way), optional maximum lifetime, and a
//!   [`TunnelOutcome`] with the [`CloseReason`], byte counts each way and duration.
//! - A cloneable [`TunnelHandle`] to abort or drain the tunnel from another task.
//! - Zero-copy on Linux: when both streams are [`tokio::net::TcpStream`]s, bulk bytes move with
//!   `splice(2)` through a pipe taken from a capped shared [`PipePool`] (a burst starts by
//!   copying, and switches to `splice` once a read fills a whole buffer); with no pipe left, or
//!   where `splice` is unsupported, it copies through a user-space buffer instead.
//! - An idle tunnel holds no buffer and no pipe: it waits for readiness first and takes a pooled
//!   [`BufferPool`] buffer or pipe only while bytes are moving.
//!
//! This crate is part of [gangway](https://docs.rs/gangway); it depends on no other gangway crate.
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod flow;
mod handle;
mod outcome;
mod pool;
#[cfg(target_os = "linux")]
mod sys;
mod tunnel;

pub use handle::TunnelHandle;
pub use outcome::{CloseReason, Side, TunnelOutcome};
pub use pool::{BufferPool, PipePool};
pub use tunnel::{Tunnel, TunnelConfig};
