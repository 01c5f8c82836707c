//! The crate's errors: why a check failed ([`CheckFailure`]) and why a configuration was refused
//! ([`Error`]).

use std::fmt;
use std::io;

/// Why one health check failed. Cheap to clone: it travels in events and counters.
///
/// The `Display` text follows HAProxy's check status wording (layer 4 / layer 7) so logs read
/// the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckFailure {
    /// Nothing listens on the check address: the connection was refused.
    ConnectRefused,
    /// The TCP connection was not established within the check timeout.
    ConnectTimeout,
    /// Connecting failed for another reason (no route, address unavailable...).
    Connect(io::ErrorKind),
    /// Connected, but the server did not answer completely within the check timeout.
    ResponseTimeout {
        /// Bytes of the response received before the timeout.
        received: usize,
    },
    /// The server reset the connection.
    Reset,
    /// Reading or writing failed for another reason.
    Io(io::ErrorKind),
    /// The server closed the connection before the response was complete.
    ClosedEarly {
        /// Bytes of the response received before the close.
        received: usize,
    },
    /// The response head is not valid HTTP/1.x.
    InvalidResponse {
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The response head or the body to inspect exceeded the check buffer.
    ResponseTooLarge {
        /// The buffer size in bytes.
        limit: usize,
    },
    /// The status code is not one the check expects.
    UnexpectedStatus {
        /// The status received.
        status: u16,
    },
    /// The body does not contain the expected text or does not match the expected regex.
    BodyMismatch,
    /// A WebSocket check did not get a valid `101 Switching Protocols`.
    BadUpgrade {
        /// What was wrong with the answer.
        reason: &'static str,
    },
    /// The TLS handshake of a check over TLS failed (HAProxy's layer 6).
    TlsHandshake,
    /// The TLS handshake of a check over TLS did not complete within the check timeout
    /// (HAProxy's `L6TOUT`).
    TlsHandshakeTimeout,
}

impl CheckFailure {
    /// Classifies a connect error.
    pub(crate) fn from_connect(err: &io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::ConnectionRefused => CheckFailure::ConnectRefused,
            io::ErrorKind::TimedOut => CheckFailure::ConnectTimeout,
            kind => CheckFailure::Connect(kind),
        }
    }

    /// Classifies a read or write error on an established connection.
    pub(crate) fn from_io(err: &io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => CheckFailure::Reset,
            kind => CheckFailure::Io(kind),
        }
    }

    /// `true` for failures at the connection level (HAProxy's layer 4), `false` for failures of
    /// the answer itself (layer 7).
    pub fn is_layer4(&self) -> bool {
        matches!(
            self,
            CheckFailure::ConnectRefused
                | CheckFailure::ConnectTimeout
                | CheckFailure::Connect(_)
                | CheckFailure::Reset
                | CheckFailure::Io(_)
                | CheckFailure::TlsHandshake
                | CheckFailure::TlsHandshakeTimeout
        )
    }
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckFailure::ConnectRefused => {
                f.write_str("layer 4 connection problem: connection refused")
            }
            CheckFailure::ConnectTimeout => {
                f.write_str("layer 4 timeout: connect did not complete within the check timeout")
            }
            CheckFailure::Connect(kind) => write!(f, "layer 4 connection problem: {kind}"),
            CheckFailure::ResponseTimeout { received } => write!(
                f,
                "layer 7 timeout: no complete response within the check timeout ({received} bytes received)"
            ),
            CheckFailure::Reset => {
                f.write_str("layer 4 connection problem: connection reset by the server")
            }
            CheckFailure::Io(kind) => write!(f, "layer 4 connection problem: {kind}"),
            CheckFailure::ClosedEarly { received } => write!(
                f,
                "layer 7 response error: server closed the connection after {received} bytes, before a complete response"
            ),
            CheckFailure::InvalidResponse { reason } => {
                write!(f, "layer 7 invalid response: {reason}")
            }
            CheckFailure::ResponseTooLarge { limit } => {
                write!(
                    f,
                    "layer 7 invalid response: larger than the {limit}-byte check buffer"
                )
            }
            CheckFailure::UnexpectedStatus { status } => {
                write!(
                    f,
                    "layer 7 wrong status: {status} is not an expected status"
                )
            }
            CheckFailure::BodyMismatch => {
                f.write_str("layer 7 wrong content: the body does not match the expectation")
            }
            CheckFailure::BadUpgrade { reason } => {
                write!(f, "layer 7 WebSocket handshake failed: {reason}")
            }
            CheckFailure::TlsHandshake => {
                f.write_str("layer 6 invalid response: TLS handshake failed")
            }
            CheckFailure::TlsHandshakeTimeout => f.write_str(
                "layer 6 timeout: the TLS handshake did not complete within the check timeout",
            ),
        }
    }
}

impl std::error::Error for CheckFailure {}

/// A check or policy definition that cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A status list such as `200,300-399` could not be parsed.
    InvalidStatusList {
        /// The text given.
        input: String,
        /// Byte offset of the offending item in `input`.
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// A body regex does not compile.
    InvalidRegex(regex::Error),
    /// A header name or value, method, path or Host would break the request head
    /// (empty, or containing CR, LF, or a character not allowed there).
    InvalidRequestPart {
        /// Which part: `"method"`, `"path"`, `"host"`, `"header name"`, `"header value"` or
        /// `"repeated header"` (the value is its name).
        part: &'static str,
        /// The offending text.
        value: String,
    },
    /// An `on-error` mode other than `fastinter`, `fail-check`, `sudden-death`, `mark-down`.
    UnknownOnError(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidStatusList {
                input,
                offset,
                reason,
            } => write!(
                f,
                "invalid status list {input:?} at byte {offset}: {reason}"
            ),
            Error::InvalidRegex(err) => write!(f, "invalid body regex: {err}"),
            Error::InvalidRequestPart { part, value } => {
                write!(f, "invalid check request {part} {value:?}")
            }
            Error::UnknownOnError(mode) => write!(
                f,
                "unknown on-error mode {mode:?} (expected fastinter, fail-check, sudden-death or mark-down)"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::InvalidRegex(err) => Some(err),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_and_where() {
        let cases: Vec<(Box<dyn std::error::Error>, &str)> = vec![
            (
                Box::new(CheckFailure::ConnectRefused),
                "layer 4 connection problem: connection refused",
            ),
            (
                Box::new(CheckFailure::TlsHandshakeTimeout),
                "layer 6 timeout: the TLS handshake",
            ),
            (
                Box::new(CheckFailure::ResponseTimeout { received: 12 }),
                "(12 bytes received)",
            ),
            (
                Box::new(CheckFailure::ClosedEarly { received: 3 }),
                "after 3 bytes",
            ),
            (
                Box::new(CheckFailure::UnexpectedStatus { status: 503 }),
                "503 is not an expected status",
            ),
            (
                Box::new(CheckFailure::ResponseTooLarge { limit: 256 }),
                "256-byte check buffer",
            ),
            (
                Box::new(CheckFailure::BadUpgrade {
                    reason: "Sec-WebSocket-Accept missing or wrong",
                }),
                "WebSocket handshake failed: Sec-WebSocket-Accept missing or wrong",
            ),
            (
                Box::new(Error::InvalidStatusList {
                    input: "200,x".into(),
                    offset: 4,
                    reason: "not a number",
                }),
                "invalid status list \"200,x\" at byte 4: not a number",
            ),
            (
                Box::new(Error::InvalidRequestPart {
                    part: "header value",
                    value: "a\r\nb".into(),
                }),
                "invalid check request header value \"a\\r\\nb\"",
            ),
        ];
        for (err, needle) in cases {
            assert!(err.to_string().contains(needle), "{needle:?} in {err}");
        }
        let err = crate::Check::http("/")
            .try_expect_body_regex("(")
            .unwrap_err();
        assert!(err.to_string().starts_with("invalid body regex: "), "{err}");
        assert!(std::error::Error::source(&err).is_some());
        assert!(CheckFailure::Reset.is_layer4());
        assert!(!CheckFailure::BodyMismatch.is_layer4());
    }
}
