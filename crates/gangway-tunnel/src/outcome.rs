//! How a tunnel ended: the close reason, byte counts and duration.

use std::fmt;
use std::io;
use std::time::Duration;

/// One of the two connections of a tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The connection accepted from the client (the one that sent the upgrade request).
    Client,
    /// The connection to the backend server (the one that answered `101`).
    Server,
}

impl Side {
    /// The other connection of the tunnel.
    #[must_use]
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Server => "server",
        })
    }
}

/// Why a tunnel ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum CloseReason {
    /// Both directions ended cleanly, the client having sent its FIN first.
    ClientClosed,
    /// Both directions ended cleanly, the server having sent its FIN first.
    ServerClosed,
    /// No byte moved either way for the idle timeout.
    IdleTimeout,
    /// One side had half-closed (the named side sent its FIN) and the other side stayed
    /// inactive for its half-closed timeout (`timeout server-fin` after the client's FIN,
    /// `timeout client-fin` after the server's).
    HalfClosedTimeout(Side),
    /// The tunnel reached its maximum lifetime.
    MaxLifetime,
    /// [`TunnelHandle::abort`](crate::TunnelHandle::abort) was called: both connections were
    /// closed at once, bytes in flight were dropped.
    Aborted,
    /// [`TunnelHandle::drain`](crate::TunnelHandle::drain) was called: bytes already read were
    /// delivered, then writing was shut down towards both sides.
    Drained,
    /// Reading from or writing to the named side failed (for example a reset connection).
    Error(Side, io::Error),
}

impl CloseReason {
    /// Whether the tunnel ended because of an IO error.
    #[must_use]
    pub fn is_error(&self) -> bool {
        matches!(self, CloseReason::Error(..))
    }

    /// Whether the tunnel ended because one of its timeouts expired.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            CloseReason::IdleTimeout | CloseReason::HalfClosedTimeout(_) | CloseReason::MaxLifetime
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ClientClosed => f.write_str("client closed the tunnel"),
            CloseReason::ServerClosed => f.write_str("server closed the tunnel"),
            CloseReason::IdleTimeout => f.write_str("tunnel idle timeout"),
            CloseReason::HalfClosedTimeout(side) => {
                write!(f, "half-closed timeout after the {side} sent its FIN")
            }
            CloseReason::MaxLifetime => f.write_str("tunnel reached its maximum lifetime"),
            CloseReason::Aborted => f.write_str("tunnel aborted"),
            CloseReason::Drained => f.write_str("tunnel drained"),
            CloseReason::Error(side, error) => write!(f, "IO error on the {side} side: {error}"),
        }
    }
}

/// What a finished tunnel reports.
#[derive(Debug)]
#[non_exhaustive]
pub struct TunnelOutcome {
    /// Why the tunnel ended.
    pub reason: CloseReason,
    /// Bytes written to the server, read-ahead included.
    pub client_to_server: u64,
    /// Bytes written to the client, read-ahead included.
    pub server_to_client: u64,
    /// Of the bytes above (both ways), how many moved through `splice(2)` without a copy.
    pub bytes_spliced: u64,
    /// Time from the start of [`Tunnel::run`](crate::Tunnel::run) to the end.
    pub duration: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_side() {
        let cases: [(CloseReason, &str); 5] = [
            (CloseReason::ClientClosed, "client closed the tunnel"),
            (
                CloseReason::HalfClosedTimeout(Side::Server),
                "half-closed timeout after the server sent its FIN",
            ),
            (CloseReason::IdleTimeout, "tunnel idle timeout"),
            (
                CloseReason::Error(Side::Client, io::ErrorKind::ConnectionReset.into()),
                "IO error on the client side: connection reset",
            ),
            (CloseReason::Drained, "tunnel drained"),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn classification() {
        assert!(CloseReason::MaxLifetime.is_timeout());
        assert!(!CloseReason::Aborted.is_timeout());
        assert!(CloseReason::Error(Side::Server, io::ErrorKind::BrokenPipe.into()).is_error());
        assert_eq!(Side::Client.peer(), Side::Server);
    }
}
