//! PROXY protocol version 1 and 2: decode and encode, sans-IO, plus a small tokio helper.
//!
//! A TCP load balancer in front of a gateway (HAProxy `send-proxy`, AWS NLB/ELB, ...)
//! prepends a PROXY protocol header to each connection so the real client address survives.
//! [`decode`] reads that header from the first bytes of a connection, detecting the version:
//!
//! ```
//! use gangway_proxy_protocol::{decode, Status};
//!
//! let bytes = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n\r\n";
//! match decode(bytes)? {
//!     Status::Complete((header, len)) => {
//!         assert_eq!(header.source(), Some("192.0.2.1:56324".parse().unwrap()));
//!         assert_eq!(&bytes[len..], b"GET / HTTP/1.1\r\n\r\n"); // for the HTTP parser
//!     }
//!     Status::Partial => { /* read more bytes and call decode again */ }
//! }
//! # Ok::<(), gangway_proxy_protocol::Error>(())
//! ```
//!
//! - [`decode`], [`decode_v1`], [`decode_v2`]: zero-copy, allocation-free, `Partial` until the
//!   whole header is in, one [`Error`] variant per malformed case. Version 2 TLVs are validated
//!   (CRC32C verified) and then iterated as [`Tlv`]s from [`Header::tlvs`].
//! - [`encode_v1`], [`encode_v2`], [`V2Encoder`] (with TLVs), [`Header::encode`] (relay).
//! - With the `tokio` feature (default): `HeaderReader` reads exactly one header from a
//!   stream within a timeout (3 s by default), leaving the bytes after it for the HTTP parser:
//!   on a `TcpStream` it peeks, so they stay in the socket; on any other stream it hands back
//!   what it read past a v1 line.
//! - [`fuzzing`]: entry points for fuzz targets that check invariants on arbitrary input.
//!
//! Part of [gangway](https://github.com/gangway-rs/gangway).

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
pub mod fuzzing;
mod header;
mod tlv;
mod v1;
mod v2;

#[cfg(feature = "tokio")]
mod io;

pub use error::{EncodeError, Endpoint, Error, V1Field};
pub use header::{
    Addresses, Command, Family, Header, OwnedHeader, Transport, UnixAddress, Version,
};
pub use tlv::{
    CLIENT_CERT_CONN, CLIENT_CERT_SESS, CLIENT_SSL, Ssl, SslTlv, SslTlvIter, Tlv, TlvIter, Tlvs,
    UNIQUE_ID_MAX_LEN, kind,
};
pub use v1::{V1_MAX_LEN, decode_v1, encode_v1};
pub use v2::{SIGNATURE, V2_FIXED_LEN, V2_MAX_LEN, V2Encoder, decode_v2, encode_v2};

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use io::{DEFAULT_TIMEOUT, HeaderReader, ReadError, ReceivedHeader};

/// The outcome of a decode that did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// The bytes so far are a valid beginning of a header; more are needed.
    Partial,
    /// A whole header.
    Complete(T),
}

impl<T> Status<T> {
    /// Whether this is `Complete`.
    pub const fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// Whether this is `Partial`.
    pub const fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }

    /// The complete value, or `None` if partial.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }
}

/// Decode the PROXY protocol header (v1 or v2, detected from the first byte) at the start of
/// `buf`. On success returns the header and its length: the bytes after it belong to the
/// proxied connection.
///
/// Returns `Ok(Status::Partial)` for an empty buffer or a valid but incomplete header; any byte
/// that cannot start or continue a header is an [`Error`] at once.
pub fn decode(buf: &[u8]) -> Result<Status<(Header<'_>, usize)>, Error> {
    match buf.first() {
        None => Ok(Status::Partial),
        Some(b'P') => decode_v1(buf),
        Some(b'\r') => decode_v2(buf),
        Some(&byte) => Err(Error::NotProxyProtocol { byte }),
    }
}

/// The most bytes the header starting at `buf` can still span: the exact total for a v2
/// header whose fixed part is in, otherwise an upper bound. Used by the IO helpers so they
/// never read past the header.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) fn header_len_bound(buf: &[u8]) -> usize {
    match buf.first() {
        Some(b'\r') => v2::v2_total_len(buf).unwrap_or(V2_FIXED_LEN),
        // Version not known yet: 16 bytes never run past a v2 header.
        None => V2_FIXED_LEN,
        _ => V1_MAX_LEN,
    }
}

// Compile and run the README's examples as doctests.
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
