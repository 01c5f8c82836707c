//! gangway: serve HTTP and WebSocket traffic on one port, embedded in your Rust program.
//!
//! A [`Gateway`] reads each HTTP/1 request on a client connection, routes it with an ACL
//! [`Condition`](acl::Condition) to a [`Backend`], picks a healthy [`Server`], forwards the
//! request and its response with their framing, and turns the connection into a tunnel when a
//! server accepts an upgrade with a valid `101` (WebSocket, or another protocol the request
//! named in `Upgrade`; HTTP/2 `h2c` upgrades are not offered to servers) or answers a `CONNECT`
//! with a 2xx. Every request on a keep-alive connection is routed on its own, so an upgrade
//! after plain requests still reaches the WebSocket servers.
//!
//! ```no_run
//! use gangway::prelude::*;
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let ws = Backend::new("ws")
//!     .balance(Balance::LeastConn)
//!     .servers(["10.0.0.10:3000", "10.0.0.11:3000"])
//!     .check(Check::websocket("/ws/echo").inter(Duration::from_secs(2)).rise(2).fall(2));
//! let web = Backend::new("web")
//!     .server("10.0.0.20:8080")
//!     .check(Check::http("/health").expect_status(200));
//! Gateway::builder()
//!     .listen("0.0.0.0:80")
//!     .route("path_beg /ws || hdr(Upgrade) -i websocket".parse()?, &ws)
//!     .default_backend(&web)
//!     .timeouts(Timeouts::default().tunnel(Duration::from_secs(3600)))
//!     .build()?
//!     .run_until(async { let _ = tokio::signal::ctrl_c().await; })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! The building blocks are separate crates, re-exported here as modules: [`h1`] (HTTP/1
//! parsing and validation), [`acl`] (conditions), [`balance`] (server selection),
//! [`health`] (checks), [`tunnel`] (the post-upgrade pipe) and [`proxy_protocol`].
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod access_log;
mod backend;
mod builder;
mod checks;
mod conn;
mod deadline;
mod error;
mod gateway;
mod metrics;
mod parse;
mod pp;
mod proto;
mod rules;
mod status;
mod stream;
mod timeouts;
#[cfg(feature = "tls")]
mod tls;
mod tunnels;
mod upstream;

#[cfg(feature = "demo")]
#[cfg_attr(docsrs, doc(cfg(feature = "demo")))]
pub mod demo;

pub use backend::{
    Backend, Balance, Check, CheckExpect, CheckKind, ConnectionMode, ProxyVersion, Server,
    ServerState,
};
pub use builder::{FrontendMode, GatewayBuilder, Listener, Options, Route};
pub use error::Error;
pub use gateway::{Gateway, GatewayHandle};
pub use rules::{HeaderAction, HttpRule, Redirect, RedirectTarget, RuleAction};
pub use timeouts::{BackendTimeouts, Timeouts};
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tls::{TlsError, TlsListener, TlsServer};

/// HTTP/1 parsing, validation, framing and upgrades (the `gangway-h1` crate).
pub mod h1 {
    pub use gangway_h1::*;
}

/// ACL conditions and routing tables (the `gangway-acl` crate).
pub mod acl {
    pub use gangway_acl::*;
}

/// The post-upgrade pipe (the `gangway-tunnel` crate).
pub mod tunnel {
    pub use gangway_tunnel::*;
}

/// Server sets and selection algorithms (the `gangway-balance` crate).
pub mod balance {
    pub use gangway_balance::*;
}

/// Active and passive health checks (the `gangway-health` crate).
pub mod health {
    pub use gangway_health::*;
}

/// PROXY protocol v1/v2 (the `gangway-proxy-protocol` crate).
pub mod proxy_protocol {
    pub use gangway_proxy_protocol::*;
}

/// What most programs need: `use gangway::prelude::*;`.
pub mod prelude {
    pub use crate::acl::Condition;
    pub use crate::{
        Backend, Balance, Check, ConnectionMode, Gateway, GatewayHandle, HeaderAction, Listener,
        ProxyVersion, Redirect, Server, ServerState, Timeouts,
    };
}
