//! Errors of server-set changes and of picks.

use std::fmt;

use crate::server::{MAX_WEIGHT, ServerId};

/// Why a change to a [`ServerSet`](crate::ServerSet) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// No server with this id is in the set (it was never added, or it was removed).
    UnknownServer(ServerId),
    /// A weight above [`MAX_WEIGHT`] was given.
    WeightOutOfRange {
        /// The server the weight was meant for, if it already had an id.
        server: Option<ServerId>,
        /// The weight that was refused.
        weight: u32,
    },
    /// The set has handed out all 2^32 - 1 server ids.
    TooManyServers,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownServer(id) => write!(f, "no server with id {id} in this set"),
            Error::WeightOutOfRange {
                server: Some(id),
                weight,
            } => write!(
                f,
                "weight {weight} for server {id} is out of range (0..={MAX_WEIGHT})"
            ),
            Error::WeightOutOfRange {
                server: None,
                weight,
            } => {
                write!(f, "weight {weight} is out of range (0..={MAX_WEIGHT})")
            }
            Error::TooManyServers => f.write_str("this set has used up all server ids"),
        }
    }
}

impl std::error::Error for Error {}

/// Why no server could be picked.
///
/// The gateway answers 503 for [`NoServerUp`](PickError::NoServerUp) and
/// [`AllExcluded`](PickError::AllExcluded), may queue on [`AllFull`](PickError::AllFull)
/// (see [`ServerSet::pick_queued`](crate::ServerSet::pick_queued)), and answers 503 after
/// [`QueueFull`](PickError::QueueFull) or [`QueueTimeout`](PickError::QueueTimeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PickError {
    /// No server may take traffic: none is up with a weight above zero (backups included),
    /// and the [`NoServerPolicy`](crate::NoServerPolicy) did not open the set to down servers.
    NoServerUp,
    /// Every usable server not excluded by the caller is at its `maxconn`.
    AllFull,
    /// Every usable server was in the caller's exclusion list (all already tried).
    AllExcluded,
    /// All servers were full and the backend queue already holds `maxqueue` waiters.
    QueueFull,
    /// All servers stayed full for the whole queue timeout.
    QueueTimeout,
}

impl PickError {
    /// True when waiting could help: every usable server was at its `maxconn`.
    pub fn is_full(self) -> bool {
        matches!(self, PickError::AllFull)
    }
}

impl fmt::Display for PickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PickError::NoServerUp => "no server is up",
            PickError::AllFull => "every usable server is at its maxconn",
            PickError::AllExcluded => "every usable server was already tried",
            PickError::QueueFull => "all servers are full and the queue is at maxqueue",
            PickError::QueueTimeout => "all servers stayed full until the queue timeout",
        })
    }
}

impl std::error::Error for PickError {}
