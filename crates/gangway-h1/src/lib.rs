//! HTTP/1 head parsing, strict validation, framing and upgrade detection, without IO.
//!
//! ```
//! use gangway_h1::{Framing, Parser, Rewrite, Status, Upgrade, EMPTY_HEADER};
//!
//! let buf = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
//!             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!             Sec-WebSocket-Version: 13\r\n\r\n";
//! let mut headers = [EMPTY_HEADER; 64];
//! let Status::Complete(req) = Parser::new().parse_request(buf, &mut headers)? else {
//!     return Ok(()); // read more bytes and try again
//! };
//! assert_eq!(req.framing, Framing::None);
//! let Upgrade::WebSocket { key, .. } = req.upgrade else { panic!("not a WebSocket upgrade") };
//! assert_eq!(&gangway_h1::websocket_accept(key.as_bytes()), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//!
//! // Forward it with hop-by-hop fields handled and X-Forwarded-For added.
//! let mut out = Vec::with_capacity(buf.len() + 64);
//! Rewrite::new().forwarded_for([192, 0, 2, 7].into()).write_request(&req, &mut out)?;
//! assert!(out.ends_with(b"X-Forwarded-For: 192.0.2.7\r\nConnection: upgrade\r\n\r\n"));
//! # Ok::<(), gangway_h1::Error>(())
//! ```
//!
//! # What it does
//!
//! - [`Parser::parse_request`] / [`Parser::parse_response`] parse a head with `httparse`
//!   into the caller's `[Header; N]` storage, borrowing the input (no allocation), and
//!   return `Partial`, `Complete` or the first rule the head breaks as an [`Error`] whose
//!   [`ErrorKind`] names the rule and whose [`Error::status`] is what a gateway answers.
//! - Strict RFC 9112/9110 validation aimed at request smuggling: Content-Length with
//!   Transfer-Encoding, Transfer-Encoding whose final coding is not `chunked`, `chunked`
//!   twice, empty list elements, unknown codings, Transfer-Encoding in HTTP/1.0,
//!   malformed/overflowing/conflicting Content-Length, whitespace before the colon,
//!   obs-fold, bare CR, bare LF, NUL and control bytes, invalid tokens, missing or
//!   duplicate Host, bad versions, request-target form vs method.
//! - [`Framing`] for requests and responses (HEAD, 1xx, 204, 304, CONNECT 2xx) and a
//!   sans-IO [`ChunkedTracker`] that finds the end of a chunked body fed in any pieces.
//! - [`Upgrade`] classification (WebSocket per RFC 6455 4.1, h2c, CONNECT, other) and
//!   [`Upgrade::check_switch`] for the 101 response ([`SwitchExpectation`] for the same check
//!   after the request head is gone); [`websocket_accept`].
//! - Hop-by-hop handling, the keep-alive decision and head rewriting with [`Rewrite`].
//!
//! # Line endings: bare LF is rejected
//!
//! RFC 9112 2.2 lets a recipient accept a bare LF as a line terminator, and `httparse` does.
//! A gateway that accepts bare LF and forwards the head as-is hands the upstream a message
//! it may frame differently (a classic smuggling vector). This crate rejects any LF not
//! preceded by CR with [`ErrorKind::BareLf`] (answer 400), in heads and in chunked framing;
//! a bare CR is [`ErrorKind::BareCr`]. [`Rewrite`] always emits CRLF.
//!
//! # Other strictness choices
//!
//! - Empty elements in Transfer-Encoding (`,chunked`) are rejected, although RFC 9110 5.6.1
//!   asks recipients to skip them: different skipping rules upstream are a smuggling vector.
//! - Identical Content-Length values (`5, 5` or two `5` lines) are accepted as RFC 9110 8.6
//!   allows, and [`Rewrite`] forwards a single `Content-Length`.
//! - A response with both Content-Length and Transfer-Encoding is rejected (502) rather than
//!   letting Transfer-Encoding win.
//! - A request whose Upgrade lists `websocket` must be a complete, valid RFC 6455 handshake,
//!   or it is rejected (400, or 426 for a Sec-WebSocket-Version other than 13). Other
//!   Upgrade values are ignored in HTTP/1.0 and when Connection does not list `upgrade`.
//! - More than one Sec-WebSocket-Protocol line is rejected (browsers send one), so the
//!   offered list is a single [`TokenList`] and the 101 check stays allocation-free.
//!
//! This crate is part of [gangway](https://github.com/gangway-rs/gangway/tree/main/crates/gangway), which composes it into a gateway.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod chunked;
mod error;
mod framing;
mod parse;
mod rewrite;
mod syntax;
mod upgrade;

pub use chunked::ChunkedTracker;
pub use error::{Error, ErrorKind, Side};
pub use framing::{Framing, response_framing};
pub use httparse::{EMPTY_HEADER, Header, Status};
pub use parse::{Parser, Request, Response, keep_alive, parse_request, parse_response};
pub use rewrite::{ConnectionHeader, HOP_BY_HOP, Rewrite, is_connection_option, is_hop_by_hop};
pub use syntax::{TokenIter, TokenList, is_uri_scheme, is_valid_field_name, is_valid_field_value};
pub use upgrade::{
    SwitchExpectation, Upgrade, check_switch, header_list_contains, upgrade_names, websocket_accept,
};

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
