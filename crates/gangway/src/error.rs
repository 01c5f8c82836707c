//! The facade's error type.

use std::fmt;
use std::net::SocketAddr;

/// Why a gateway could not be built or started.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The builder has no listener.
    NoListener,
    /// A listener address is not a valid `ip:port` (or `:port`, `*:port`).
    InvalidListenAddress(String),
    /// A route, rule or monitor names a backend that was given twice with different contents.
    ConflictingBackend(String),
    /// A server address could not be resolved.
    UnresolvedServer {
        /// The backend holding the server.
        backend: String,
        /// The address as given.
        addr: String,
    },
    /// Binding a listener failed.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another option value is invalid (the message says which and why).
    InvalidOption(String),
    /// A TLS listener's certificates could not be used.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    Tls(crate::tls::TlsError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoListener => f.write_str("the gateway has no listener: call .listen(addr)"),
            Error::InvalidListenAddress(a) => {
                write!(f, "listener address {a:?} is not ip:port, :port or *:port")
            }
            Error::ConflictingBackend(n) => {
                write!(
                    f,
                    "backend {n:?} is given twice with different servers or options"
                )
            }
            Error::UnresolvedServer { backend, addr } => {
                write!(
                    f,
                    "server address {addr:?} in backend {backend:?} does not resolve"
                )
            }
            Error::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Error::InvalidOption(m) => write!(f, "invalid option: {m}"),
            #[cfg(feature = "tls")]
            Error::Tls(e) => write!(f, "TLS: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } => Some(source),
            #[cfg(feature = "tls")]
            Error::Tls(e) => Some(e),
            _ => None,
        }
    }
}
