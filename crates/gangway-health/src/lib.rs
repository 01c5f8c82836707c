//! Active and passive health checking for gangway backends, HAProxy-style.
//!
//! A server's health is a sans-IO state machine: check results and `now` go in, state
//! changes come out, so it can be driven (and tested) without sockets or sleeping:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use gangway_health::{CheckFailure, CheckReport, Health, HealthMachine, InitialState, Timing};
//!
//! // `check inter 2s rise 2 fall 2`, no spread so the times below are exact.
//! let timing = Timing::new(Duration::from_secs(2)).rise(2).fall(2).spread(0);
//! let t0 = Instant::now();
//! let mut server = HealthMachine::with_seed(&timing, InitialState::FullyUp, t0, 1);
//! let refused = CheckReport::failed(CheckFailure::ConnectRefused);
//!
//! assert!(server.on_check(&refused, t0).is_none()); // one failure: still up
//! let down = server.on_check(&refused, t0 + Duration::from_secs(2)).unwrap();
//! assert_eq!((down.from, down.to, down.consecutive), (Health::Up, Health::Down, 2));
//! ```
//!
//! - **Checks** ([`Check`]): TCP connect; HTTP/1.1 with method, path, Host and headers,
//!   expecting a status list such as `200,300-399` and optionally a body substring or regex;
//!   a WebSocket handshake expecting a valid `101` with the right `Sec-WebSocket-Accept`, then
//!   a clean close. Optionally a PROXY protocol header first; optionally another address or
//!   port than the traffic port.
//! - **Timing** ([`Timing`]): `inter`, `fastinter`, `downinter`, `rise`, `fall`, a check timeout
//!   and a random spread.
//! - **State** ([`HealthMachine`]): a sans-IO machine per server, results and `now` in, state
//!   and next-check time out, with an explicit [`InitialState`] so the first event is always
//!   delivered.
//! - **Driver** ([`HealthChecker`]): tokio tasks checking a whole set of servers, publishing
//!   [`HealthEvent`]s (per-server `watch`, `broadcast`, `Stream`, hooks), `tracing` logs and
//!   per-server [`Counters`]. With the `balance` feature (on by default) it applies states to a
//!   `gangway_balance::ServerSet`. With the `tls` feature, `Check::tls` runs a check over TLS.
//! - **Passive health** ([`PassivePolicy`]): traffic outcomes reported by the gateway,
//!   `on-error fastinter|fail-check|sudden-death|mark-down` after `error-limit` errors.
//!
//! This crate is part of [gangway](https://github.com/gangway-rs/gangway/tree/main/crates/gangway), which re-exports it as
//! `gangway::health`.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "balance")]
mod balance;
mod check;
mod driver;
mod error;
mod machine;
mod passive;
mod status;
mod timing;

#[cfg(feature = "balance")]
#[cfg_attr(docsrs, doc(cfg(feature = "balance")))]
pub use balance::{apply_event, apply_health, state_after};
pub use check::{
    BodyExpect, Check, CheckKind, HttpRequest, Probe, Progress, ProxyHeader, ResponseCheck,
};
pub use driver::{HealthChecker, HealthCheckerBuilder, HealthEvent, ServerKey};
pub use error::{CheckFailure, Error};
pub use machine::{CheckReport, Counters, Health, HealthMachine, Phase, Reason, Transition};
pub use passive::{Observe, OnError, PassivePolicy, TrafficOutcome};
pub use status::StatusSet;
pub use timing::{InitialState, Timing};
