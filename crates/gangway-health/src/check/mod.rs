//! What a check sends and expects: TCP connect, HTTP request with expectations, WebSocket
//! handshake; optional PROXY header and check address override.

mod io;
mod proxy;
mod response;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use io::Probe;
pub use response::{Progress, ResponseCheck};

use crate::{Error, StatusSet};

/// Which PROXY protocol header to send before the check (HAProxy's `check-send-proxy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// A v1 text line carrying the check connection's own addresses
    /// (`PROXY TCP4 <src> <dst> <sport> <dport>\r\n`).
    V1,
    /// A v2 binary header with the `LOCAL` command, which the protocol defines for connections
    /// the proxy makes on its own behalf, such as health checks.
    V2Local,
}

/// What a check's body must look like.
#[derive(Debug, Clone)]
pub enum BodyExpect {
    /// The body contains these bytes.
    Contains(Vec<u8>),
    /// The body matches this regex (bytes regex, so non-UTF-8 bodies are fine).
    Regex(regex::bytes::Regex),
}

impl BodyExpect {
    fn matches(&self, body: &[u8]) -> bool {
        match self {
            BodyExpect::Contains(needle) => {
                needle.is_empty() || memchr::memmem::find(body, needle).is_some()
            }
            BodyExpect::Regex(re) => re.is_match(body),
        }
    }
}

impl PartialEq for BodyExpect {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (BodyExpect::Contains(a), BodyExpect::Contains(b)) => a == b,
            (BodyExpect::Regex(a), BodyExpect::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// The request part of an HTTP or WebSocket check.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    method: String,
    path: String,
    host: Option<String>,
    headers: Vec<(String, String)>,
}

impl HttpRequest {
    /// The subprotocols a WebSocket check offers: its `Sec-WebSocket-Protocol` header's value
    /// (at most one such header passes [`Check::validate`]), empty for none.
    fn ws_protocols(&self) -> &str {
        self.headers
            .iter()
            .find(|(name, _)| is_ws_protocol(name))
            .map_or("", |(_, value)| value)
    }
}

fn is_ws_protocol(name: &str) -> bool {
    name.eq_ignore_ascii_case("sec-websocket-protocol")
}

/// What a check does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CheckKind {
    /// Passes when a TCP connection is established (then closed at once).
    Tcp,
    /// Sends an HTTP/1.1 request with `Connection: close`; passes when the status is in the set
    /// and the body (if an expectation is set) matches.
    Http {
        /// The request.
        request: HttpRequest,
        /// Accepted statuses.
        expect_status: StatusSet,
        /// Optional body expectation.
        expect_body: Option<BodyExpect>,
    },
    /// Sends a WebSocket upgrade; passes on a valid `101` with the right
    /// `Sec-WebSocket-Accept`, then closes the WebSocket cleanly (close frame 1000).
    WebSocket {
        /// The upgrade request (its method is always `GET`).
        request: HttpRequest,
    },
}

/// A health check definition: what to send, what to expect, and where.
///
/// Build one with [`Check::tcp`], [`Check::http`] or [`Check::websocket`], then refine it.
/// [`validate`](Self::validate) (called by the driver) refuses definitions that would produce a
/// broken request.
///
/// ```
/// use gangway_health::{Check, StatusSet};
///
/// let check = Check::http("/health")
///     .method("HEAD")
///     .host("app.example")
///     .header("X-Probe", "gangway")
///     .expect_status("200,300-399".parse::<StatusSet>().unwrap())
///     .port(9000);
/// check.validate().unwrap();
/// let mut request = Vec::new();
/// check.write_request("127.0.0.1:8080".parse().unwrap(), None, &mut request);
/// assert!(request.starts_with(b"HEAD /health HTTP/1.1\r\nHost: app.example\r\n"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    kind: CheckKind,
    addr: Option<IpAddr>,
    port: Option<u16>,
    send_proxy: Option<ProxyHeader>,
    buffer_limit: usize,
    #[cfg(feature = "tls")]
    tls: Option<CheckTls>,
}

/// How a check speaks TLS: the connector and the server name (see [`Check::tls`]).
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct CheckTls {
    pub(crate) connector: tokio_rustls::TlsConnector,
    pub(crate) name: rustls_pki_types::ServerName<'static>,
}

#[cfg(feature = "tls")]
impl std::fmt::Debug for CheckTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckTls")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "tls")]
impl PartialEq for CheckTls {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && std::sync::Arc::ptr_eq(self.connector.config(), other.connector.config())
    }
}

/// Length of a `Sec-WebSocket-Key` (16 random bytes in base64).
pub(crate) const WS_KEY_LEN: usize = 24;

impl Check {
    /// The default size of the buffer that holds a check's response head and inspected body
    /// (HAProxy's check buffer is `tune.bufsize`, 16 KiB).
    pub const DEFAULT_BUFFER_LIMIT: usize = 16 * 1024;

    fn with_kind(kind: CheckKind) -> Self {
        Check {
            kind,
            addr: None,
            port: None,
            send_proxy: None,
            buffer_limit: Self::DEFAULT_BUFFER_LIMIT,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    fn request(path: impl Into<String>) -> HttpRequest {
        HttpRequest {
            method: "GET".to_owned(),
            path: path.into(),
            host: None,
            headers: Vec::new(),
        }
    }

    /// A TCP connect check.
    pub fn tcp() -> Self {
        Self::with_kind(CheckKind::Tcp)
    }

    /// An HTTP `GET path` check expecting a status in `200-399`.
    pub fn http(path: impl Into<String>) -> Self {
        Self::with_kind(CheckKind::Http {
            request: Self::request(path),
            expect_status: StatusSet::default(),
            expect_body: None,
        })
    }

    /// A WebSocket handshake check on `path`.
    pub fn websocket(path: impl Into<String>) -> Self {
        Self::with_kind(CheckKind::WebSocket {
            request: Self::request(path),
        })
    }

    fn request_mut(&mut self) -> Option<&mut HttpRequest> {
        match &mut self.kind {
            CheckKind::Tcp => None,
            CheckKind::Http { request, .. } | CheckKind::WebSocket { request } => Some(request),
        }
    }

    /// Sets the HTTP method (HTTP checks only; default `GET`).
    pub fn method(mut self, method: impl Into<String>) -> Self {
        if let CheckKind::Http { request, .. } = &mut self.kind {
            request.method = method.into();
        }
        self
    }

    /// Sets the `Host` header (default: the check address, `ip:port`).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        if let Some(request) = self.request_mut() {
            request.host = Some(host.into());
        }
        self
    }

    /// Adds a request header (HTTP and WebSocket checks). A WebSocket check may offer
    /// subprotocols with one `Sec-WebSocket-Protocol` header: the answer's choice must be one
    /// of them.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Some(request) = self.request_mut() {
            request.headers.push((name.into(), value.into()));
        }
        self
    }

    /// Sets the accepted statuses of an HTTP check (default `200-399`).
    pub fn expect_status(mut self, statuses: impl Into<StatusSet>) -> Self {
        if let CheckKind::Http { expect_status, .. } = &mut self.kind {
            *expect_status = statuses.into();
        }
        self
    }

    /// Requires an HTTP check's body to contain `text`.
    pub fn expect_body_contains(mut self, text: impl Into<Vec<u8>>) -> Self {
        if let CheckKind::Http { expect_body, .. } = &mut self.kind {
            *expect_body = Some(BodyExpect::Contains(text.into()));
        }
        self
    }

    /// Requires an HTTP check's body to match `regex`.
    pub fn expect_body_regex(mut self, regex: regex::bytes::Regex) -> Self {
        if let CheckKind::Http { expect_body, .. } = &mut self.kind {
            *expect_body = Some(BodyExpect::Regex(regex));
        }
        self
    }

    /// Like [`expect_body_regex`](Self::expect_body_regex), compiling `pattern`.
    pub fn try_expect_body_regex(self, pattern: &str) -> Result<Self, Error> {
        let regex = regex::bytes::Regex::new(pattern).map_err(Error::InvalidRegex)?;
        Ok(self.expect_body_regex(regex))
    }

    /// Checks this address instead of the server's (HAProxy's `addr`).
    pub fn addr(mut self, addr: IpAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// Checks this port instead of the server's (HAProxy's `port`).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sends a PROXY protocol header first (HAProxy's `check-send-proxy`).
    pub fn send_proxy(mut self, header: ProxyHeader) -> Self {
        self.send_proxy = Some(header);
        self
    }

    /// Runs the check over TLS (HAProxy's `check-ssl`): after the TCP connect (and the PROXY
    /// header, which stays in clear), a TLS handshake as `server_name` with `connector`; a
    /// failed handshake fails the check ([`CheckFailure::TlsHandshake`](crate::CheckFailure)).
    /// A TCP check then passes on a completed handshake.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(
        mut self,
        connector: tokio_rustls::TlsConnector,
        server_name: rustls_pki_types::ServerName<'static>,
    ) -> Self {
        self.tls = Some(CheckTls {
            connector,
            name: server_name,
        });
        self
    }

    /// The TLS settings, when the check speaks TLS.
    #[cfg(feature = "tls")]
    pub(crate) fn get_tls(&self) -> Option<&CheckTls> {
        self.tls.as_ref()
    }

    /// Sets the check buffer size (response head plus inspected body; at least 256 bytes).
    pub fn buffer_limit(mut self, bytes: usize) -> Self {
        self.buffer_limit = bytes.max(256);
        self
    }

    /// What the check does.
    pub fn kind(&self) -> &CheckKind {
        &self.kind
    }

    /// The PROXY header sent first, if any.
    pub fn get_send_proxy(&self) -> Option<ProxyHeader> {
        self.send_proxy
    }

    /// The check buffer size.
    pub fn get_buffer_limit(&self) -> usize {
        self.buffer_limit
    }

    /// Where the check connects for a server at `server`: its address and port unless
    /// overridden.
    pub fn target(&self, server: SocketAddr) -> SocketAddr {
        SocketAddr::new(
            self.addr.unwrap_or(server.ip()),
            self.port.unwrap_or(server.port()),
        )
    }

    /// Refuses definitions that would produce a broken request: bad method token, a path not
    /// starting with `/` (or `*`), control characters or spaces in path or Host, bad header
    /// names, CR/LF in header values, more than one `Sec-WebSocket-Protocol` header on a
    /// WebSocket check.
    pub fn validate(&self) -> Result<(), Error> {
        let request = match &self.kind {
            CheckKind::Tcp => return Ok(()),
            CheckKind::Http { request, .. } | CheckKind::WebSocket { request } => request,
        };
        let bad = |part: &'static str, value: &str| Error::InvalidRequestPart {
            part,
            value: value.to_owned(),
        };
        if request.method.is_empty() || !request.method.bytes().all(is_token) {
            return Err(bad("method", &request.method));
        }
        let path_ok = (request.path.starts_with('/') || request.path == "*")
            && request.path.bytes().all(|b| b > b' ' && b != 0x7f);
        if !path_ok {
            return Err(bad("path", &request.path));
        }
        if let Some(host) = &request.host
            && (host.is_empty() || !host.bytes().all(|b| b > b' ' && b != 0x7f))
        {
            return Err(bad("host", host));
        }
        for (name, value) in &request.headers {
            if name.is_empty() || !name.bytes().all(is_token) {
                return Err(bad("header name", name));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(bad("header value", value));
            }
        }
        // The answer's subprotocol is checked against one offered list: one header.
        let mut offers = request.headers.iter().filter(|(n, _)| is_ws_protocol(n));
        if matches!(self.kind, CheckKind::WebSocket { .. })
            && let (Some(_), Some((name, _))) = (offers.next(), offers.next())
        {
            return Err(bad("repeated header", name));
        }
        Ok(())
    }

    /// Writes the request (nothing for a TCP check) for a server at `server` into `out`.
    ///
    /// A WebSocket check needs its `Sec-WebSocket-Key`: pass the 24 base64 bytes, or `None` to
    /// write a placeholder of `A`s to overwrite later. Call [`validate`](Self::validate) first:
    /// this writes the parts as they are.
    pub fn write_request(&self, server: SocketAddr, ws_key: Option<&[u8]>, out: &mut Vec<u8>) {
        let (request, websocket) = match &self.kind {
            CheckKind::Tcp => return,
            CheckKind::Http { request, .. } => (request, false),
            CheckKind::WebSocket { request } => (request, true),
        };
        let method = if websocket { "GET" } else { &request.method };
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(request.path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        match &request.host {
            Some(host) => out.extend_from_slice(host.as_bytes()),
            None => {
                use std::io::Write;
                let _ = write!(out, "{}", self.target(server));
            }
        }
        out.extend_from_slice(b"\r\nUser-Agent: gangway-health/");
        out.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &request.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if websocket {
            out.extend_from_slice(
                b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ",
            );
            match ws_key {
                Some(key) => out.extend_from_slice(key),
                None => out.extend_from_slice(&[b'A'; WS_KEY_LEN]),
            }
            out.extend_from_slice(b"\r\n\r\n");
        } else {
            out.extend_from_slice(b"Connection: close\r\n\r\n");
        }
    }

    /// The sans-IO evaluator for this check's response (`None` for a TCP check).
    ///
    /// A WebSocket check needs the `Sec-WebSocket-Key` it sent, to validate the
    /// `Sec-WebSocket-Accept` of the answer.
    pub fn response_check(&self, ws_key: Option<&[u8; 24]>) -> Option<ResponseCheck<'_>> {
        match &self.kind {
            CheckKind::Tcp => None,
            CheckKind::Http {
                request,
                expect_status,
                expect_body,
            } => Some(ResponseCheck::http(
                &request.method,
                expect_status,
                expect_body.as_ref(),
                self.buffer_limit,
            )),
            CheckKind::WebSocket { request } => Some(ResponseCheck::websocket(
                ws_key.copied().unwrap_or([b'A'; WS_KEY_LEN]),
                request.ws_protocols(),
                self.buffer_limit,
            )),
        }
    }

    /// Wraps the check in an [`Arc`] for sharing among many servers' [`Probe`]s.
    pub fn shared(self) -> Arc<Check> {
        Arc::new(self)
    }
}

impl fmt::Display for Check {
    /// A short description for logs: `tcp`, `http GET /health`, `websocket /ws`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CheckKind::Tcp => f.write_str("tcp"),
            CheckKind::Http { request, .. } => {
                write!(f, "http {} {}", request.method, request.path)
            }
            CheckKind::WebSocket { request } => write!(f, "websocket {}", request.path),
        }
    }
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> SocketAddr {
        "10.1.2.3:8080".parse().unwrap()
    }

    #[test]
    fn requests_table() {
        let cases: Vec<(Check, &str)> = vec![
            (Check::tcp(), ""),
            (
                Check::http("/health"),
                "GET /health HTTP/1.1\r\nHost: 10.1.2.3:8080\r\nUser-Agent: gangway-health/0.1.0\r\nConnection: close\r\n\r\n",
            ),
            (
                Check::http("/h")
                    .method("OPTIONS")
                    .host("a.example")
                    .header("X-A", "1")
                    .port(9),
                "OPTIONS /h HTTP/1.1\r\nHost: a.example\r\nUser-Agent: gangway-health/0.1.0\r\nX-A: 1\r\nConnection: close\r\n\r\n",
            ),
            (
                Check::http("/").addr("127.0.0.9".parse().unwrap()),
                "GET / HTTP/1.1\r\nHost: 127.0.0.9:8080\r\nUser-Agent: gangway-health/0.1.0\r\nConnection: close\r\n\r\n",
            ),
            (
                Check::websocket("/ws").method("POST"),
                "GET /ws HTTP/1.1\r\nHost: 10.1.2.3:8080\r\nUser-Agent: gangway-health/0.1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n",
            ),
        ];
        for (check, expected) in cases {
            check.validate().unwrap();
            let mut out = Vec::new();
            let key = b"AAAAAAAAAAAAAAAAAAAAAA==";
            check.write_request(server(), Some(key), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{check}");
        }
    }

    #[test]
    fn validation_table() {
        let cases: Vec<(Check, Option<&str>)> = vec![
            (Check::http("/ok"), None),
            (Check::http("*").method("OPTIONS"), None),
            (Check::http("health"), Some("path")),
            (Check::http("/a b"), Some("path")),
            (Check::http("/").method("GE T"), Some("method")),
            (Check::http("/").method(""), Some("method")),
            (Check::http("/").host("a\r\nX: y"), Some("host")),
            (
                Check::http("/").header("Bad Name", "v"),
                Some("header name"),
            ),
            (
                Check::http("/").header("X", "v\r\nInjected: 1"),
                Some("header value"),
            ),
            (Check::websocket("/ws").header("", "v"), Some("header name")),
            (Check::tcp().header("ignored", "for tcp"), None),
        ];
        for (check, part) in cases {
            match (check.validate(), part) {
                (Ok(()), None) => {}
                (Err(Error::InvalidRequestPart { part: got, .. }), Some(want)) => {
                    assert_eq!(got, want, "{check:?}")
                }
                (other, _) => panic!("{check:?}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn target_override() {
        let s = server();
        assert_eq!(Check::tcp().target(s), s);
        assert_eq!(
            Check::tcp().port(81).target(s),
            "10.1.2.3:81".parse().unwrap()
        );
        let ip: IpAddr = "::1".parse().unwrap();
        assert_eq!(
            Check::tcp().addr(ip).port(82).target(s),
            "[::1]:82".parse().unwrap()
        );
    }
}
