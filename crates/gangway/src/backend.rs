//! Backends: named sets of servers with a balance algorithm, health checks and options.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::rules::HeaderAction;
use crate::timeouts::BackendTimeouts;

/// How a backend picks a server for each request (HAProxy's `balance` keyword).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Balance {
    /// `roundrobin`: smooth weighted round robin (the default).
    #[default]
    RoundRobin,
    /// `static-rr`: weighted round robin whose weights do not change at runtime.
    StaticRoundRobin,
    /// `leastconn`: the server with the fewest active connections (weighted); best for tunnels.
    LeastConn,
    /// `first`: the first server (in declaration order) that still has a free slot.
    First,
    /// `random(draws)`: the least loaded of `draws` random servers (2 = power of two choices).
    Random {
        /// How many servers to draw and compare.
        draws: u8,
    },
    /// `source`: consistent hash of the client address (PROXY-protocol address when present).
    Source,
    /// `uri`: consistent hash of the request path (query excluded).
    Uri,
    /// `url_param(name)`: consistent hash of a query-string parameter (round robin without it).
    UrlParam(String),
    /// `hdr(name)`: consistent hash of a request header's value (round robin without it).
    Header(String),
}

/// How the gateway treats connection reuse around a backend (HAProxy's `option http-keep-alive`,
/// `option http-server-close` and `option httpclose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ConnectionMode {
    /// Keep client connections alive and reuse server connections from a per-server pool once a
    /// response was read to its end and both sides allow it (the default). Every request is still
    /// routed on its own.
    #[default]
    KeepAlive,
    /// `option http-server-close`: keep the client connection alive but close the server
    /// connection after each response.
    ServerClose,
    /// `option httpclose`: close both connections after each response.
    Close,
}

/// Which PROXY protocol header the gateway sends to a server before the request
/// (HAProxy's `send-proxy` / `send-proxy-v2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyVersion {
    /// The text format (`PROXY TCP4 ...\r\n`).
    V1,
    /// The binary format.
    V2,
}

/// A server's state: `Up` takes traffic; `Down` (health checks), `Drain` and `Maint`
/// (operator) do not. The same type as `gangway_balance::ServerState`.
pub use gangway_balance::ServerState;

/// Where a server listens: a resolved address or a `host:port` resolved when the gateway is
/// built, unless the caller already looked it up.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ServerAddr {
    Resolved(SocketAddr),
    Named(String, Option<SocketAddr>),
}

/// One server of a backend (HAProxy's `server` line).
///
/// ```
/// use gangway::Server;
/// let s = Server::new("127.0.0.1:3000").name("s1").weight(10).maxconn(100).backup();
/// assert_eq!(s.get_name(), Some("s1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    addr: ServerAddr,
    name: Option<String>,
    pub(crate) weight: u32,
    pub(crate) maxconn: Option<u32>,
    pub(crate) maxqueue: Option<u32>,
    pub(crate) backup: bool,
    pub(crate) check: bool,
    pub(crate) check_port: Option<u16>,
    pub(crate) check_addr: Option<IpAddr>,
    pub(crate) send_proxy: Option<ProxyVersion>,
    pub(crate) initial_state: ServerState,
    pub(crate) slowstart: Option<Duration>,
    pub(crate) pool_max_idle: Option<usize>,
    pub(crate) pool_purge_delay: Option<Duration>,
    pub(crate) check_override: Option<Check>,
    pub(crate) passive: Option<gangway_health::PassivePolicy>,
    pub(crate) shutdown_sessions_on_down: Option<bool>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsServer>,
}

impl Server {
    /// A server at `addr`: a socket address (`"10.0.0.1:3000"`, `"[::1]:3000"`) or a
    /// `host:port` resolved when the gateway is built (or when the server is added to a
    /// running gateway), with the system resolver: that call waits for the lookup, so in async
    /// code with host names that may resolve slowly, build in `tokio::task::spawn_blocking`.
    pub fn new(addr: impl Into<String>) -> Self {
        let text = addr.into();
        let addr = match text.parse::<SocketAddr>() {
            Ok(a) => ServerAddr::Resolved(a),
            Err(_) => ServerAddr::Named(text, None),
        };
        Server {
            addr,
            name: None,
            weight: 1,
            maxconn: None,
            maxqueue: None,
            backup: false,
            check: true,
            check_port: None,
            check_addr: None,
            send_proxy: None,
            initial_state: ServerState::Up,
            slowstart: None,
            pool_max_idle: None,
            pool_purge_delay: None,
            check_override: None,
            passive: None,
            shutdown_sessions_on_down: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// A server at an already resolved socket address.
    pub fn at(addr: SocketAddr) -> Self {
        let mut s = Server::new(String::new());
        s.addr = ServerAddr::Resolved(addr);
        s
    }

    /// For a server given as `host:port`: the address a lookup of it already found, used when
    /// the gateway is built instead of looking the name up again. The name stays the server's
    /// address as shown and its default TLS server name. No effect on a socket address.
    ///
    /// ```
    /// use gangway::Server;
    /// let s = Server::new("db.internal:5432").resolved_to("10.0.0.7:5432".parse().unwrap());
    /// assert_eq!(s.addr_text(), "db.internal:5432");
    /// ```
    #[must_use]
    pub fn resolved_to(mut self, addr: SocketAddr) -> Self {
        if let ServerAddr::Named(_, found) = &mut self.addr {
            *found = Some(addr);
        }
        self
    }

    /// Names the server (defaults to its address); names appear in logs, metrics and the handle.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The name set with [`Server::name`], if any.
    pub fn get_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Sets the weight (`weight`, default 1; 0 takes no requests from weighted algorithms).
    #[must_use]
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Sets the most concurrent connections to this server (`maxconn`); excess requests queue.
    #[must_use]
    pub fn maxconn(mut self, maxconn: u32) -> Self {
        self.maxconn = Some(maxconn);
        self
    }

    /// Sets the longest queue for this server (`maxqueue`).
    #[must_use]
    pub fn maxqueue(mut self, maxqueue: u32) -> Self {
        self.maxqueue = Some(maxqueue);
        self
    }

    /// Makes this a backup server (`backup`): used only when no regular server is up, and
    /// then only the first backup that is up (in declaration order) takes traffic, the next
    /// ones standing by, as in HAProxy without `option allbackups`
    /// ([`Backend::all_backups`] shares the traffic among every backup that is up).
    #[must_use]
    pub fn backup(mut self) -> Self {
        self.backup = true;
        self
    }

    /// Turns health checks off for this server even when the backend has a [`Check`].
    #[must_use]
    pub fn no_check(mut self) -> Self {
        self.check = false;
        self
    }

    /// Checks this server with its own [`Check`] instead of the backend's (servers of one
    /// HAProxy backend may each have their own `inter`, `rise`, `fall`, `port`, `addr`).
    #[must_use]
    pub fn check(mut self, check: Check) -> Self {
        self.check = true;
        self.check_override = Some(check);
        self
    }

    /// Watches real traffic for this server's health (HAProxy's `observe`, `on-error`,
    /// `error-limit`): connection errors, resets, timeouts and (at layer 7) 5xx answers are
    /// reported to a health-checked server's checker; with [`PassivePolicy::default`]
    /// (`observe layer7`, `on-error fail-check`, `error-limit 10`) ten in a row count as a
    /// failed check. Without this, traffic is not watched and only active checks change the
    /// server's health (as in HAProxy without `observe`).
    ///
    /// [`PassivePolicy::default`]: gangway_health::PassivePolicy
    #[must_use]
    pub fn observe(mut self, policy: gangway_health::PassivePolicy) -> Self {
        self.passive = Some(policy);
        self
    }

    /// `on-marked-down shutdown-sessions` for this server: when health checks mark it down,
    /// close its tunnels at once (`true`) or let them live on (`false`). Unset, the backend's
    /// [`shutdown_sessions_on_down`](Backend::shutdown_sessions_on_down) applies.
    ///
    /// ```
    /// use gangway::{Backend, Server};
    /// // Only s1's tunnels close when it goes down.
    /// let ws = Backend::new("ws")
    ///     .server(Server::new("10.0.0.10:3000").name("s1").shutdown_sessions_on_down(true))
    ///     .server(Server::new("10.0.0.11:3000").name("s2"));
    /// # let _ = ws;
    /// ```
    #[must_use]
    pub fn shutdown_sessions_on_down(mut self, on: bool) -> Self {
        self.shutdown_sessions_on_down = Some(on);
        self
    }

    /// Sends health checks to another port of the same host (`port`).
    #[must_use]
    pub fn check_port(mut self, port: u16) -> Self {
        self.check_port = Some(port);
        self
    }

    /// Sends health checks to another address (`addr`), on the server's port or the
    /// [`check_port`](Self::check_port): for a server whose health is reported by another
    /// host, or on another interface. Overrides the backend check's
    /// [`addr`](Check::addr).
    ///
    /// ```
    /// use gangway::{Backend, Check, Server};
    /// let web = Backend::new("web")
    ///     .server(Server::new("10.0.0.20:8080").check_addr([10, 0, 1, 20].into()).check_port(9000))
    ///     .check(Check::http("/health"));
    /// # let _ = web;
    /// ```
    #[must_use]
    pub fn check_addr(mut self, addr: IpAddr) -> Self {
        self.check_addr = Some(addr);
        self
    }

    /// Sends a PROXY protocol header before each connection's first request (`send-proxy`).
    /// Health checks carry it too, unless they go to another port or address
    /// ([`check_port`](Self::check_port), [`check_addr`](Self::check_addr), [`Check::addr`]).
    /// Connections to such a server are not pooled: each speaks for the client it was opened
    /// for, so each request opens its own.
    #[must_use]
    pub fn send_proxy(mut self, version: ProxyVersion) -> Self {
        self.send_proxy = Some(version);
        self
    }

    /// Starts the server in another state (`disabled` is [`ServerState::Maint`]).
    #[must_use]
    pub fn state(mut self, state: ServerState) -> Self {
        self.initial_state = state;
        self
    }

    /// Ramps the server's weight up over this time after it comes up (`slowstart`).
    #[must_use]
    pub fn slowstart(mut self, duration: Duration) -> Self {
        self.slowstart = Some(duration);
        self
    }

    /// Most idle connections to this server kept for reuse (HAProxy's `pool-max-conn`),
    /// overriding the backend's [`pool_max_idle`](Backend::pool_max_idle); 0 disables reuse.
    #[must_use]
    pub fn pool_max_idle(mut self, n: usize) -> Self {
        self.pool_max_idle = Some(n);
        self
    }

    /// How long an idle connection to this server is kept (HAProxy's `pool-purge-delay`),
    /// overriding the backend's [`pool_purge_delay`](Backend::pool_purge_delay).
    #[must_use]
    pub fn pool_purge_delay(mut self, delay: Duration) -> Self {
        self.pool_purge_delay = Some(delay);
        self
    }

    /// Speaks TLS to this server (HAProxy's `server ... ssl`). Health checks then run over TLS
    /// too, with the same verification, unless a [`check_port`](Self::check_port) is given
    /// (checked in clear).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[must_use]
    pub fn tls(mut self, tls: crate::tls::TlsServer) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The host part of the address as given (a name or an IP address).
    #[cfg(feature = "tls")]
    pub(crate) fn host_text(&self) -> String {
        match &self.addr {
            ServerAddr::Resolved(a) => a.ip().to_string(),
            ServerAddr::Named(n, _) => n
                .rsplit_once(':')
                .map_or(n.as_str(), |(h, _)| h)
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        }
    }

    /// The address as given (text form).
    pub fn addr_text(&self) -> String {
        match &self.addr {
            ServerAddr::Resolved(a) => a.to_string(),
            ServerAddr::Named(n, _) => n.clone(),
        }
    }

    /// Resolves the address (first result of the system resolver for a `host:port`).
    pub(crate) fn resolve(&self) -> Option<SocketAddr> {
        match &self.addr {
            ServerAddr::Resolved(a) => Some(*a),
            ServerAddr::Named(_, Some(a)) => Some(*a),
            ServerAddr::Named(n, None) => n.to_socket_addrs().ok()?.next(),
        }
    }

    /// The name to show: the explicit name or the address text.
    pub(crate) fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.addr_text())
    }
}

impl From<&str> for Server {
    fn from(addr: &str) -> Self {
        Server::new(addr)
    }
}

impl From<String> for Server {
    fn from(addr: String) -> Self {
        Server::new(addr)
    }
}

impl From<SocketAddr> for Server {
    fn from(addr: SocketAddr) -> Self {
        Server::at(addr)
    }
}

/// What a health check sends and expects (see [`Check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckKind {
    /// A TCP connect succeeds (`check` alone).
    Tcp,
    /// An HTTP request answered as expected (`option httpchk`).
    Http {
        /// Request method (default `GET`).
        method: String,
        /// Request path.
        path: String,
        /// `Host` header to send (default: the server address).
        host: Option<String>,
        /// What makes the answer a success.
        expect: CheckExpect,
    },
    /// A WebSocket handshake answered by a valid `101` with the right `Sec-WebSocket-Accept`.
    WebSocket {
        /// Request path.
        path: String,
        /// `Host` header to send (default: the server address).
        host: Option<String>,
    },
}

/// What makes an HTTP check's answer a success (HAProxy's `http-check expect`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CheckExpect {
    /// Any 2xx or 3xx status (the default).
    #[default]
    Success,
    /// Exactly this status.
    Status(u16),
    /// The body contains this text.
    BodyContains(String),
}

/// A backend's active health check: what to send, how often, and how many results flip a
/// server's state (HAProxy's `check inter 2s rise 2 fall 2`).
///
/// ```
/// use gangway::Check;
/// use std::time::Duration;
/// let c = Check::websocket("/ws/echo").inter(Duration::from_secs(2)).rise(2).fall(2);
/// assert_eq!(c.rise, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// What the check sends and expects.
    pub kind: CheckKind,
    /// `inter`: interval between checks of an up server (default 2 s).
    pub inter: Duration,
    /// `fastinter`: interval while a server is changing state (default: `inter`).
    pub fastinter: Option<Duration>,
    /// `downinter`: interval while a server is down (default: `inter`).
    pub downinter: Option<Duration>,
    /// `rise`: consecutive successes that bring a down server up (default 2).
    pub rise: u32,
    /// `fall`: consecutive failures that bring an up server down (default 3).
    pub fall: u32,
    /// `timeout check`: longest time for one check after its connect, which then gets the
    /// smaller of the backend's connect timeout and `inter`; unset, the whole check, connect
    /// included, gets `inter` (as in HAProxy).
    pub timeout: Option<Duration>,
    /// `addr`: check this address instead of the server's.
    pub addr: Option<IpAddr>,
    /// Extra request headers of HTTP and WebSocket checks (`http-check send hdr`).
    pub headers: Vec<(String, String)>,
}

impl Check {
    fn with_kind(kind: CheckKind) -> Self {
        Check {
            kind,
            inter: Duration::from_secs(2),
            fastinter: None,
            downinter: None,
            rise: 2,
            fall: 3,
            timeout: None,
            addr: None,
            headers: Vec::new(),
        }
    }

    /// A TCP connect check.
    pub fn tcp() -> Self {
        Check::with_kind(CheckKind::Tcp)
    }

    /// An HTTP `GET path` check expecting a 2xx or 3xx answer.
    pub fn http(path: impl Into<String>) -> Self {
        Check::with_kind(CheckKind::Http {
            method: "GET".into(),
            path: path.into(),
            host: None,
            expect: CheckExpect::Success,
        })
    }

    /// A WebSocket handshake check on `path`.
    pub fn websocket(path: impl Into<String>) -> Self {
        Check::with_kind(CheckKind::WebSocket {
            path: path.into(),
            host: None,
        })
    }

    /// Expects exactly this status from an HTTP check (no effect on other kinds).
    #[must_use]
    pub fn expect_status(mut self, status: u16) -> Self {
        if let CheckKind::Http { expect, .. } = &mut self.kind {
            *expect = CheckExpect::Status(status);
        }
        self
    }

    /// Expects the body of an HTTP check's answer to contain `text`.
    #[must_use]
    pub fn expect_body(mut self, text: impl Into<String>) -> Self {
        if let CheckKind::Http { expect, .. } = &mut self.kind {
            *expect = CheckExpect::BodyContains(text.into());
        }
        self
    }

    /// Uses another method for an HTTP check (e.g. `HEAD`, `OPTIONS`).
    #[must_use]
    pub fn method(mut self, m: impl Into<String>) -> Self {
        if let CheckKind::Http { method, .. } = &mut self.kind {
            *method = m.into();
        }
        self
    }

    /// Sends this `Host` header with HTTP and WebSocket checks.
    #[must_use]
    pub fn host(mut self, h: impl Into<String>) -> Self {
        match &mut self.kind {
            CheckKind::Http { host, .. } | CheckKind::WebSocket { host, .. } => {
                *host = Some(h.into())
            }
            CheckKind::Tcp => {}
        }
        self
    }

    /// Sets `inter`.
    #[must_use]
    pub fn inter(mut self, d: Duration) -> Self {
        self.inter = d;
        self
    }

    /// Sets `fastinter`.
    #[must_use]
    pub fn fastinter(mut self, d: Duration) -> Self {
        self.fastinter = Some(d);
        self
    }

    /// Sets `downinter`.
    #[must_use]
    pub fn downinter(mut self, d: Duration) -> Self {
        self.downinter = Some(d);
        self
    }

    /// Sets `rise`.
    #[must_use]
    pub fn rise(mut self, n: u32) -> Self {
        self.rise = n.max(1);
        self
    }

    /// Sets `fall`.
    #[must_use]
    pub fn fall(mut self, n: u32) -> Self {
        self.fall = n.max(1);
        self
    }

    /// Checks this address instead of the server's (`addr`).
    #[must_use]
    pub fn addr(mut self, addr: IpAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// Adds a request header to HTTP and WebSocket checks.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets `timeout check` (what it bounds: the `timeout` field).
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }
}

/// How long a pooled server connection stays idle by default (HAProxy's `pool-purge-delay`).
pub(crate) const DEFAULT_POOL_PURGE_DELAY: Duration = Duration::from_secs(5);

/// A named set of servers with a balance algorithm, health check and options
/// (HAProxy's `backend` section).
///
/// A `Backend` is a plain value: routes refer to it by name, so pass `&backend` to as many
/// rules as you like.
///
/// ```
/// use gangway::{Backend, Balance, Check};
/// let ws = Backend::new("ws")
///     .balance(Balance::LeastConn)
///     .servers(["10.0.0.10:3000", "10.0.0.11:3000"])
///     .check(Check::websocket("/ws/echo"));
/// assert_eq!(ws.name(), "ws");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub(crate) name: String,
    pub(crate) balance: Balance,
    pub(crate) servers: Vec<Server>,
    pub(crate) check: Option<Check>,
    pub(crate) mode: ConnectionMode,
    pub(crate) retries: u32,
    pub(crate) redispatch: bool,
    pub(crate) timeouts: BackendTimeouts,
    pub(crate) shutdown_sessions_on_down: bool,
    pub(crate) request_headers: Vec<HeaderAction>,
    pub(crate) response_headers: Vec<HeaderAction>,
    pub(crate) pool_max_idle: usize,
    pub(crate) pool_purge_delay: Duration,
    pub(crate) fail_open: bool,
    pub(crate) all_backups: bool,
}

impl Backend {
    /// An empty backend called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Backend {
            name: name.into(),
            balance: Balance::default(),
            servers: Vec::new(),
            check: None,
            mode: ConnectionMode::default(),
            retries: 3,
            redispatch: true,
            timeouts: BackendTimeouts::default(),
            shutdown_sessions_on_down: false,
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            pool_max_idle: 32,
            pool_purge_delay: DEFAULT_POOL_PURGE_DELAY,
            fail_open: false,
            all_backups: false,
        }
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The servers declared so far.
    pub fn get_servers(&self) -> &[Server] {
        &self.servers
    }

    /// Sets the balance algorithm.
    #[must_use]
    pub fn balance(mut self, balance: Balance) -> Self {
        self.balance = balance;
        self
    }

    /// Adds one server (an address string, a `SocketAddr`, or a configured [`Server`]).
    #[must_use]
    pub fn server(mut self, server: impl Into<Server>) -> Self {
        self.servers.push(server.into());
        self
    }

    /// Adds several servers.
    #[must_use]
    pub fn servers<S: Into<Server>>(mut self, servers: impl IntoIterator<Item = S>) -> Self {
        self.servers.extend(servers.into_iter().map(Into::into));
        self
    }

    /// Health-checks every server (except those with [`Server::no_check`]) with `check`.
    #[must_use]
    pub fn check(mut self, check: Check) -> Self {
        self.check = Some(check);
        self
    }

    /// Sets the connection reuse mode (`option http-server-close`, `option httpclose`).
    #[must_use]
    pub fn mode(mut self, mode: ConnectionMode) -> Self {
        self.mode = mode;
        self
    }

    /// `retries`: how many more connection attempts after a failed connect (default 3).
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// `option redispatch`: retry on another server rather than the same one (default on).
    #[must_use]
    pub fn redispatch(mut self, on: bool) -> Self {
        self.redispatch = on;
        self
    }

    /// Per-backend timeout overrides.
    #[must_use]
    pub fn timeouts(mut self, timeouts: BackendTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// `on-marked-down shutdown-sessions` for every server of this backend that does not set
    /// its own ([`Server::shutdown_sessions_on_down`]): close the tunnels and connections of
    /// a server as soon as health checks mark it down (default: established sessions live on).
    #[must_use]
    pub fn shutdown_sessions_on_down(mut self, on: bool) -> Self {
        self.shutdown_sessions_on_down = on;
        self
    }

    /// Adds a header action applied to every request sent to this backend
    /// (`http-request set-header/add-header/del-header` in a backend section).
    #[must_use]
    pub fn request_header(mut self, action: HeaderAction) -> Self {
        self.request_headers.push(action);
        self
    }

    /// Adds a header action applied to every response from this backend
    /// (`http-response set-header/add-header/del-header`).
    #[must_use]
    pub fn response_header(mut self, action: HeaderAction) -> Self {
        self.response_headers.push(action);
        self
    }

    /// Fail open: when no server is up, send traffic to the servers marked down (as cloud load
    /// balancers do) instead of answering 503. Servers in maintenance or drain never get any.
    #[must_use]
    pub fn fail_open(mut self, on: bool) -> Self {
        self.fail_open = on;
        self
    }

    /// `option allbackups`: when no regular server is up, every [backup](Server::backup)
    /// server that is up takes traffic, balanced as the regular ones would be (default: only
    /// the first one, the next ones standing by, as in HAProxy).
    ///
    /// ```
    /// use gangway::{Backend, Server};
    /// let web = Backend::new("web")
    ///     .server("10.0.0.20:8080")
    ///     .server(Server::new("10.0.1.20:8080").backup())
    ///     .server(Server::new("10.0.1.21:8080").backup())
    ///     .all_backups(true);
    /// # let _ = web;
    /// ```
    #[must_use]
    pub fn all_backups(mut self, on: bool) -> Self {
        self.all_backups = on;
        self
    }

    /// Most idle pooled connections kept per server (default 32; 0 disables pooling; a server
    /// may override it).
    ///
    /// A pooled connection can turn out closed by the server when the next request is sent
    /// on it. A request without a body is then sent again on a new connection if its method
    /// is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE; RFC 9110, 9.2.2); any other
    /// (a POST, say), which the server may have acted on before closing, gets a 502.
    #[must_use]
    pub fn pool_max_idle(mut self, n: usize) -> Self {
        self.pool_max_idle = n;
        self
    }

    /// How long a pooled server connection may stay idle before it is closed (HAProxy's
    /// `pool-purge-delay`, default 5 s; a server may override it). Idle connections are
    /// checked once a second, so a connection a server has closed does not linger half-closed,
    /// and one past its delay is never reused.
    ///
    /// ```
    /// use std::time::Duration;
    /// let web = gangway::Backend::new("web").pool_purge_delay(Duration::from_secs(30));
    /// # let _ = web;
    /// ```
    #[must_use]
    pub fn pool_purge_delay(mut self, delay: Duration) -> Self {
        self.pool_purge_delay = delay;
        self
    }
}
