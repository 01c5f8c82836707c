//! The HAProxy ACL language (and ALB-style rule conditions) compiled to fast,
//! allocation-free matchers over a borrowed HTTP/1 request.
//!
//! ```
//! use gangway_acl::{AclSet, RequestView, RouteTable};
//!
//! // The seed configuration's routing, as HAProxy writes it.
//! let mut acls = AclSet::new();
//! acls.add_line("acl is_websocket hdr(Upgrade) -i WebSocket")?;
//! acls.add_line("acl is_websocket_server hdr_end(host) -i ws.example.com")?;
//! let table = RouteTable::new()
//!     .with_route(acls.parse_condition("if is_websocket is_websocket_server")?, "ws")
//!     .with_route("{ path_beg /ws } || METH_OPTIONS".parse()?, "ws")
//!     .with_default("www");
//!
//! // A request head as `httparse` / `gangway-h1` leave it: nothing is copied.
//! let headers = [
//!     httparse::Header { name: "Host", value: b"ws.example.com:80" },
//!     httparse::Header { name: "Upgrade", value: b"websocket" },
//! ];
//! let request = RequestView::new("GET", "/chat", &headers);
//! assert_eq!(table.route(&request), Some(&"ws"));
//! assert_eq!(table.route(&RequestView::new("GET", "/", &[])), Some(&"www"));
//! # Ok::<(), gangway_acl::Error>(())
//! ```
//!
//! # The language
//!
//! * **Expressions**: `<fetch> [-i] [-m <method>] [-f <file>] [-n] [--] [<pattern> ...]`,
//!   true when any sample matches any pattern. Fetches: `path`, `url`, `query`,
//!   `method`, `req.ver`, `hdr(<name>[,<occ>])` / `req.hdr`, `req.fhdr`, `hdr_cnt` /
//!   `req.hdr_cnt`, `req.fhdr_cnt`, `src`, `src_port`, `url_param(<name>[,<delim>])` /
//!   `urlp`, `req.cook(<name>)` / `cook`, `req.cook_cnt`, `ssl_fc`, `ssl_fc_sni`,
//!   `always_true`, `always_false`, and the derived forms `path_*`, `url_*`, `hdr_*`,
//!   `urlp_*`, `cook_*` with `beg`, `end`, `sub`, `dir`, `dom`, `reg`, `len` (plus
//!   `hdr_val`, `hdr_ip`, `urlp_val`, `cook_val`).
//! * **Methods** ([`MatchMethod`]): `str`, `beg`, `end`, `sub`, `dir`, `dom`, `reg`,
//!   `found`, `len`, `int` (with `eq`/`ge`/`gt`/`le`/`lt` and `a:b` ranges), `ip`
//!   (IPv4/IPv6 with masks), `bool`.
//! * **Conditions** ([`Condition`]): ACL names (several `acl` lines with one name are
//!   ORed), predefined ACLs (`TRUE`, `FALSE`, `HTTP`, `HTTP_1.0`, `HTTP_1.1`,
//!   `METH_GET`, `LOCALHOST`, ...), `{ <expression> }`, implicit and, `or` / `||`, `!`,
//!   leading `if` / `unless`.
//! * **ALB rules** ([`AlbRule`]): `path-pattern`, `host-header`, `http-header`,
//!   `http-request-method`, `query-string`, `source-ip`, compiled to the same form.
//!
//! Differences from HAProxy worth knowing: matching a Host header with `str`, `end` or
//! `dom` ignores a `:port` suffix when the pattern names no port
//! (`hdr_end(host) -i example.com` matches `example.com:8080`; `example.com:8443`
//! compares with the whole value, as in HAProxy); a condition may contain inline expressions without braces
//! (each runs to the next `or` / `||`); regular expressions use the Rust `regex`
//! syntax rather than PCRE, matched byte-wise as PCRE does (no Unicode mode).
//!
//! Part of [gangway](https://github.com/gangway-rs/gangway) (facade crate `gangway`).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod alb;
mod condition;
mod error;
mod expr;
mod fetch;
mod lexer;
mod pattern;
mod route;
mod view;

pub use alb::{AlbCondition, AlbRule, QueryPair};
pub use condition::{AclSet, Condition, predefined_acl_names};
pub use error::{Error, Position};
pub use expr::{Expr, ExprBuilder};
pub use fetch::Fetch;
pub use pattern::MatchMethod;
pub use route::{Route, RouteMatch, RouteTable};
pub use view::RequestView;
