//! Backend server sets and the load-balancing algorithms that pick among them, for gangway
//! and any other proxy: no sockets, no locks on the pick path.
//!
//! A [`ServerSet`] holds a backend's servers (address, weight 0-256, state, `maxconn`,
//! `maxqueue`, backup flag, slow start, counters) and one [`Algorithm`]: smooth weighted
//! round robin, `static-rr`, weighted leastconn, `random(n)` / P2C, `first`, or consistent
//! (Maglev) hashing on a caller-given key. A pick returns a [`ConnectionSlot`] that counts
//! the connection as active until dropped.
//!
//! ```
//! use gangway_balance::{Algorithm, PickError, Server, ServerSet, ServerState};
//!
//! let set = ServerSet::new(Algorithm::RoundRobin);
//! let s1 = set.add(Server::new("10.0.0.20:8080".parse()?).weight(2))?;
//! let s2 = set.add(Server::new("10.0.0.21:8080".parse()?))?;
//!
//! // Smooth weighted round robin: s1 twice as often as s2, interleaved.
//! let order: Vec<_> = (0..3).map(|_| set.pick(None, &[]).map(|c| c.server_id())).collect::<Result<_, _>>()?;
//! assert_eq!(order, [s1, s2, s1]);
//!
//! // A retry excludes the server already tried.
//! let conn = set.pick(None, &[s1])?;
//! assert_eq!(conn.server_id(), s2);
//! println!("connect to {}", conn.addr());
//!
//! // Health checks mark servers down; with none left, the gateway answers 503.
//! set.set_state(s1, ServerState::Down)?;
//! set.set_state(s2, ServerState::Down)?;
//! assert_eq!(set.pick(None, &[]).unwrap_err(), PickError::NoServerUp);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Design
//!
//! Changes (add, remove, weight, state, maxconn) are made under a writer lock, which
//! rebuilds what the algorithm needs (a precomputed round-robin cycle, a leastconn
//! winner tree, an alias table, a Maglev table) and publishes it as an immutable snapshot
//! with [`arc_swap`]. Picks load the snapshot and touch only atomics: O(1) for round
//! robin, hashing and `random(n)`, O(log n) for leastconn (to record the new load). The
//! per-server counters are shared by all snapshots, so active connection counts survive
//! changes.
//!
//! This crate is part of [gangway](https://github.com/gangway-rs/gangway/tree/main/crates/gangway), which re-exports it
//! as `gangway::balance`.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod algorithm;
mod error;
mod hash;
mod leastconn;
mod pick;
mod queue;
mod random;
mod schedule;
mod server;
mod set;

pub use algorithm::{Algorithm, NoServerPolicy, ParseAlgorithmError};
pub use error::{Error, PickError};
pub use hash::key_hash;
pub use pick::ConnectionSlot;
pub use random::{RandomSource, SeededRandom, ThreadRandom};
pub use server::{MAX_WEIGHT, ParseStateError, Server, ServerId, ServerInfo, ServerState};
pub use set::{Batch, Rotation, ServerSet, ServerSetBuilder};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
