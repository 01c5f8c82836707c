//! The [`GatewayBuilder`]: listeners, backends, rules and options.

use std::net::SocketAddr;
use std::time::Duration;

use crate::acl::Condition;
use crate::backend::Backend;
use crate::error::Error;
use crate::gateway::Gateway;
use crate::rules::{HeaderAction, HttpRule, Redirect, RuleAction};
use crate::timeouts::Timeouts;

/// One listening address with its own options (HAProxy's `bind` line).
///
/// ```
/// use gangway::Listener;
/// let l = Listener::new("127.0.0.1:8443").accept_proxy().maxconn(1000).forwarded_proto("https");
/// assert!(l.is_accept_proxy());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub(crate) addr: String,
    pub(crate) name: Option<String>,
    pub(crate) accept_proxy: bool,
    pub(crate) maxconn: Option<usize>,
    pub(crate) forwarded_proto: Option<String>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsListener>,
}

impl Listener {
    /// A listener on `addr`: `ip:port`, `[v6]:port`, `:port` or `*:port` (all IPv4 addresses).
    /// Port 0 picks a free port; read it back with `GatewayHandle::local_addrs`.
    pub fn new(addr: impl Into<String>) -> Self {
        Listener {
            addr: addr.into(),
            name: None,
            accept_proxy: false,
            maxconn: None,
            forwarded_proto: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Names the listener in logs and metrics (default: its address).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Expects a PROXY protocol (v1 or v2) header at the start of every connection
    /// (`accept-proxy`); connections without one are closed.
    #[must_use]
    pub fn accept_proxy(mut self) -> Self {
        self.accept_proxy = true;
        self
    }

    /// Whether [`Listener::accept_proxy`] is set.
    pub fn is_accept_proxy(&self) -> bool {
        self.accept_proxy
    }

    /// Most concurrent connections on this listener; further clients wait in the kernel's
    /// accept queue (never refused by the gateway).
    #[must_use]
    pub fn maxconn(mut self, n: usize) -> Self {
        self.maxconn = Some(n);
        self
    }

    /// The `X-Forwarded-Proto` value for requests on this listener (default `http`, or `https`
    /// on a TLS listener, feature `tls`); set `https` behind a load balancer that terminates
    /// TLS and speaks PROXY protocol to us. `X-Forwarded-Port` goes along with it: the
    /// port the client connected to (the PROXY header's destination port on an
    /// [`accept_proxy`](Self::accept_proxy) listener, else the listener's). The value must be
    /// a URI scheme (a letter, then letters, digits, `+`, `-` or `.`); building the gateway
    /// fails otherwise.
    #[must_use]
    pub fn forwarded_proto(mut self, proto: impl Into<String>) -> Self {
        self.forwarded_proto = Some(proto.into());
        self
    }

    /// Terminates TLS on this listener with these certificates (HAProxy's `bind ... ssl crt
    /// FILE`). A PROXY header, when expected, comes before the TLS handshake.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[must_use]
    pub fn tls(mut self, tls: crate::tls::TlsListener) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Whether the listener terminates TLS.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Parses the address text.
    pub(crate) fn socket_addr(&self) -> Result<SocketAddr, Error> {
        let text = self.addr.trim();
        let fixed;
        let text = if let Some(port) = text.strip_prefix("*:") {
            fixed = format!("0.0.0.0:{port}");
            &fixed
        } else if let Some(port) = text.strip_prefix(':') {
            fixed = format!("0.0.0.0:{port}");
            &fixed
        } else {
            text
        };
        text.parse()
            .map_err(|_| Error::InvalidListenAddress(self.addr.clone()))
    }
}

/// What a gateway's listeners speak (HAProxy's `mode` of a frontend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FrontendMode {
    /// `mode http`: every request is parsed, routed and forwarded on its own (the default).
    #[default]
    Http,
    /// `mode tcp`: each connection is piped whole to a server of the backend chosen by the
    /// routes (only `src`-based conditions can match: there is no request) or the default
    /// backend, with `timeout tunnel` as its idle timeout.
    Tcp,
}

/// Gateway-wide options that are not timeouts, rules or backends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The frontend's name in logs and metrics (default `gangway`).
    pub name: String,
    /// HTTP (default) or TCP.
    pub mode: FrontendMode,
    /// Global `maxconn`: most concurrent client connections over all listeners (default 10 000).
    pub maxconn: usize,
    /// `option forwardfor`: append the client address to `X-Forwarded-For` (default on).
    pub forward_for: bool,
    /// The header `option forwardfor header <name>` writes (default `X-Forwarded-For`): an
    /// HTTP header name (an RFC 9110 token), else building the gateway fails.
    pub forward_for_header: String,
    /// `option forwardfor if-none`: leave the header alone when the request already has one.
    pub forward_for_if_none: bool,
    /// `option forwardfor except <net>`: skip clients in this network (address, prefix bits).
    pub forward_for_except: Option<(std::net::IpAddr, u8)>,
    /// `errorfile <status> <file>`: complete raw HTTP responses sent instead of the built-in
    /// answer for these statuses (400, 403, 408, 500, 502, 503, 504, ...).
    pub error_files: Vec<(u16, Vec<u8>)>,
    /// Set `X-Forwarded-Proto` (default on).
    pub forwarded_proto: bool,
    /// Append an RFC 7239 `Forwarded: for=...;proto=...` header (default off).
    pub forwarded: bool,
    /// `monitor-uri`: a path answered 200 by the gateway itself, for an upstream load balancer.
    pub monitor_uri: Option<String>,
    /// Backends whose having no server up turns the monitor answer into 503 (`monitor fail`).
    pub monitor_backends: Vec<String>,
    /// `stats uri`: a path answered with Prometheus text metrics.
    pub stats_uri: Option<String>,
    /// The status page's path (off by default): a live HTML page at the path, with the same
    /// data as JSON at `<path>/json`, as server-sent events at `<path>/events` and the
    /// Prometheus text at `<path>/metrics`.
    pub status_page: Option<String>,
    /// Emit one access-log line per request at target `gangway::access` (default on).
    pub access_log: bool,
    /// Largest request head in bytes; a larger request gets 431 (default 16 KiB). Response heads
    /// from servers may be up to 64 KiB whatever this says (they carry cookies and policies).
    pub max_head_size: usize,
    /// How long tunnels and in-flight requests may run after a graceful shutdown starts
    /// before they are closed (default 10 s).
    pub grace: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: "gangway".into(),
            mode: FrontendMode::Http,
            maxconn: 10_000,
            forward_for: true,
            forward_for_header: "X-Forwarded-For".into(),
            forward_for_if_none: false,
            forward_for_except: None,
            error_files: Vec::new(),
            forwarded_proto: true,
            forwarded: false,
            monitor_uri: None,
            monitor_backends: Vec::new(),
            stats_uri: None,
            status_page: None,
            access_log: true,
            max_head_size: 16 * 1024,
            grace: Duration::from_secs(10),
        }
    }
}

/// A routing rule: requests matching `condition` go to `backend` (`use_backend ... if ...`).
#[derive(Debug, Clone)]
pub struct Route {
    /// The condition.
    pub condition: Condition,
    /// The backend's name.
    pub backend: String,
}

/// Builds a [`Gateway`]. Get one with [`Gateway::builder`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use gangway::prelude::*;
/// let ws = Backend::new("ws").server("127.0.0.1:3000").check(Check::websocket("/ws/echo"));
/// let web = Backend::new("web").server("127.0.0.1:8080").check(Check::http("/health"));
/// Gateway::builder()
///     .listen("127.0.0.1:8000")
///     .route("path_beg /ws || hdr(Upgrade) -i websocket".parse()?, &ws)
///     .default_backend(&web)
///     .build()?
///     .run_until(tokio::signal::ctrl_c())
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct GatewayBuilder {
    pub(crate) listeners: Vec<Listener>,
    pub(crate) backends: Vec<Backend>,
    pub(crate) routes: Vec<Route>,
    pub(crate) default_backend: Option<String>,
    pub(crate) rules: Vec<HttpRule>,
    pub(crate) timeouts: Timeouts,
    pub(crate) options: Options,
    pub(crate) conflict: Option<String>,
}

impl GatewayBuilder {
    /// Registers a backend (routes do this for you); the same name twice must be the same value.
    #[must_use]
    pub fn backend(mut self, backend: &Backend) -> Self {
        self.add_backend(backend);
        self
    }

    fn add_backend(&mut self, backend: &Backend) -> String {
        match self.backends.iter().find(|b| b.name == backend.name) {
            Some(existing) if existing != backend => {
                self.conflict.get_or_insert_with(|| backend.name.clone());
            }
            Some(_) => {}
            None => self.backends.push(backend.clone()),
        }
        backend.name.clone()
    }

    /// Listens on `addr` (`ip:port`, `[v6]:port`, `:port`, `*:port`) with default options.
    #[must_use]
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listeners.push(Listener::new(addr));
        self
    }

    /// Adds a listener with its own options.
    #[must_use]
    pub fn listener(mut self, listener: Listener) -> Self {
        self.listeners.push(listener);
        self
    }

    /// Sends requests matching `condition` to `backend` (`use_backend backend if condition`).
    /// Routes are tried in order; the first whose condition holds wins.
    #[must_use]
    pub fn route(mut self, condition: Condition, backend: &Backend) -> Self {
        let name = self.add_backend(backend);
        self.routes.push(Route {
            condition,
            backend: name,
        });
        self
    }

    /// Sends requests no route matched to `backend` (without one they get 503).
    #[must_use]
    pub fn default_backend(mut self, backend: &Backend) -> Self {
        self.default_backend = Some(self.add_backend(backend));
        self
    }

    /// Adds a rule (deny, redirect, header action) run in order before routing.
    #[must_use]
    pub fn rule(mut self, rule: HttpRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// `http-request deny deny_status <status> if <condition>`.
    #[must_use]
    pub fn deny(self, condition: Condition, status: u16) -> Self {
        self.rule(HttpRule {
            condition: Some(condition),
            action: RuleAction::Deny { status },
        })
    }

    /// `redirect ... [if <condition>]`.
    #[must_use]
    pub fn redirect(self, condition: Option<Condition>, redirect: Redirect) -> Self {
        self.rule(HttpRule {
            condition,
            action: RuleAction::Redirect(redirect),
        })
    }

    /// `http-request set-header/add-header/del-header ... [if <condition>]`.
    #[must_use]
    pub fn request_header(self, condition: Option<Condition>, action: HeaderAction) -> Self {
        self.rule(HttpRule {
            condition,
            action: RuleAction::RequestHeader(action),
        })
    }

    /// `http-response set-header/add-header/del-header ... [if <condition>]` (the condition is
    /// evaluated on the request).
    #[must_use]
    pub fn response_header(self, condition: Option<Condition>, action: HeaderAction) -> Self {
        self.rule(HttpRule {
            condition,
            action: RuleAction::ResponseHeader(action),
        })
    }

    /// Sets every timeout at once.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Sets every non-timeout option at once.
    #[must_use]
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The frontend's name in logs and metrics.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.options.name = name.into();
        self
    }

    /// `mode http` (default) or `mode tcp`.
    #[must_use]
    pub fn mode(mut self, mode: FrontendMode) -> Self {
        self.options.mode = mode;
        self
    }

    /// Global `maxconn`.
    #[must_use]
    pub fn maxconn(mut self, n: usize) -> Self {
        self.options.maxconn = n;
        self
    }

    /// `option forwardfor` on or off.
    #[must_use]
    pub fn forward_for(mut self, on: bool) -> Self {
        self.options.forward_for = on;
        self
    }

    /// `errorfile <status>`: send this complete raw HTTP response (head and body) instead of the
    /// built-in answer for `status`. It should carry `Connection: close` or a correct length.
    #[must_use]
    pub fn error_file(mut self, status: u16, response: impl Into<Vec<u8>>) -> Self {
        self.options.error_files.retain(|(s, _)| *s != status);
        self.options.error_files.push((status, response.into()));
        self
    }

    /// RFC 7239 `Forwarded` header on or off.
    #[must_use]
    pub fn forwarded(mut self, on: bool) -> Self {
        self.options.forwarded = on;
        self
    }

    /// `monitor-uri <path>`: answered 200 by the gateway itself.
    #[must_use]
    pub fn monitor_uri(mut self, path: impl Into<String>) -> Self {
        self.options.monitor_uri = Some(path.into());
        self
    }

    /// `monitor fail if { nbsrv(backend) lt 1 }`: the monitor URI answers 503 while `backend`
    /// has no server up.
    #[must_use]
    pub fn monitor_fail_if_down(mut self, backend: &Backend) -> Self {
        let name = self.add_backend(backend);
        self.options.monitor_backends.push(name);
        self
    }

    /// `stats uri <path>`: Prometheus text metrics at this path.
    #[must_use]
    pub fn stats_uri(mut self, path: impl Into<String>) -> Self {
        self.options.stats_uri = Some(path.into());
        self
    }

    /// Serves the live status page at `path` (e.g. `/status`): per backend and server the
    /// state, last check, weight, connections, tunnels, bytes and counts, refreshed every
    /// second; the same data as JSON at `<path>/json`, pushed as server-sent events at
    /// `<path>/events`, and Prometheus text at `<path>/metrics`. Off by default.
    #[must_use]
    pub fn status_page(mut self, path: impl Into<String>) -> Self {
        self.options.status_page = Some(path.into());
        self
    }

    /// Access log on or off.
    #[must_use]
    pub fn access_log(mut self, on: bool) -> Self {
        self.options.access_log = on;
        self
    }

    /// How long in-flight work may run after a graceful shutdown starts.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.options.grace = grace;
        self
    }

    /// Checks the definition and resolves addresses. Nothing is bound until
    /// [`Gateway::start`] or [`Gateway::run_until`].
    ///
    /// Servers given as `host:port` are resolved here with the system resolver, which blocks
    /// the calling thread until it answers (the CLI builds on a blocking thread for this
    /// reason); servers given as socket addresses need no lookup.
    pub fn build(self) -> Result<Gateway, Error> {
        Gateway::from_builder(self)
    }
}
