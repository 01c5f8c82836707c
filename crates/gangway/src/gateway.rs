//! The [`Gateway`], its runtime state and the [`GatewayHandle`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};

use crate::acl::Condition;
use crate::backend::Server;
use crate::backend::ServerState;
use crate::builder::{GatewayBuilder, Options};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::rules::{HttpRule, RuleAction};
use crate::timeouts::Timeouts;
use crate::upstream::{BackendRt, ServerRt};

/// Where a gateway is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Accepting and serving.
    Running,
    /// Not accepting; idle connections close, in-flight requests and tunnels finish.
    Draining,
    /// The grace period is over: everything still open is closed.
    Closing,
}

/// One listener at runtime.
#[derive(Debug)]
pub(crate) struct ListenerRt {
    pub(crate) name: String,
    pub(crate) accept_proxy: bool,
    pub(crate) forwarded_proto: String,
    /// The port the listener is bound to (known once started), for `X-Forwarded-Port`.
    pub(crate) port: AtomicU16,
    pub(crate) slots: Option<Arc<Semaphore>>,
    /// Terminates TLS on accepted connections.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
}

/// Everything a connection task reads; shared by all of them.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) options: Options,
    pub(crate) timeouts: Timeouts,
    pub(crate) listeners: Vec<ListenerRt>,
    pub(crate) backends: Vec<BackendRt>,
    pub(crate) routes: Vec<(Condition, usize)>,
    pub(crate) default_backend: Option<usize>,
    pub(crate) rules: Vec<HttpRule>,
    pub(crate) monitor_backends: Vec<usize>,
    pub(crate) phase: watch::Sender<Phase>,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) active: AtomicUsize,
    pub(crate) idle_notify: Notify,
    pub(crate) metrics: Metrics,
    pub(crate) parser: gangway_h1::Parser,
    /// `monitor-uri`, `stats uri` and the status page's base (no trailing `/`).
    pub(crate) monitor_uri: Option<crate::status::OwnUri>,
    pub(crate) stats_uri: Option<crate::status::OwnUri>,
    pub(crate) status_page: Option<crate::status::OwnUri>,
    /// The `errorfile` answers, with their heads' lengths worked out once.
    pub(crate) error_files: Vec<crate::proto::ErrorFile>,
    pub(crate) check_log: crate::status::CheckLog,
}

impl Shared {
    pub(crate) fn backend_index(&self, name: &str) -> Option<usize> {
        self.backends.iter().position(|b| b.name == name)
    }

    /// The backend of the first route whose condition `view` meets, else the default one.
    pub(crate) fn route(&self, view: &crate::acl::RequestView<'_>) -> Option<usize> {
        self.routes
            .iter()
            .find(|(c, _)| c.eval(view))
            .map(|(_, b)| *b)
            .or(self.default_backend)
    }
}

/// What an accepted connection holds until it ends (or the tunnel it became does): its count
/// as active for graceful shutdown (the last one out wakes the waiter) and its `maxconn` slots,
/// the gateway's and its listener's (if that listener has a limit), given back in that order.
///
/// Every idle tunnel keeps one, so it is two words: the slots are permits taken from the
/// semaphores in [`Shared`] and forgotten, and given back to them by index.
#[derive(Debug)]
pub(crate) struct Admission {
    pub(crate) shared: Arc<Shared>,
    /// The listener whose slot it holds, if that listener has a `maxconn`.
    listener: Option<u32>,
}

impl Admission {
    /// Admits a connection that holds a gateway slot and, when `listener` has a limit, one of
    /// that listener's (both taken with `forget`).
    fn new(shared: Arc<Shared>, listener: Option<u32>) -> Self {
        shared.active.fetch_add(1, Ordering::AcqRel);
        Admission { shared, listener }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let shared = &self.shared;
        if shared.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            shared.idle_notify.notify_waiters();
        }
        shared.slots.add_permits(1);
        if let Some(listener) = self.listener
            && let Some(slots) = shared
                .listeners
                .get(listener as usize)
                .and_then(|l| l.slots.as_ref())
        {
            slots.add_permits(1);
        }
    }
}

/// A gateway definition, checked and resolved, ready to start.
///
/// Build one with [`Gateway::builder`], then [`Gateway::start`] it (and keep the
/// [`GatewayHandle`]) or [`Gateway::run_until`] a shutdown signal.
#[derive(Debug)]
pub struct Gateway {
    shared: Arc<Shared>,
    bind_addrs: Vec<SocketAddr>,
}

impl Gateway {
    /// A new, empty builder.
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    pub(crate) fn from_builder(b: GatewayBuilder) -> Result<Gateway, Error> {
        if let Some(name) = b.conflict {
            return Err(Error::ConflictingBackend(name));
        }
        if b.listeners.is_empty() {
            return Err(Error::NoListener);
        }
        if b.options.max_head_size < 256 {
            return Err(Error::InvalidOption(
                "max_head_size must be at least 256 bytes".into(),
            ));
        }
        // Header names and values the gateway writes itself: a CR or LF in one would add a
        // line to every request sent to the servers.
        let forward_for = &b.options.forward_for_header;
        if crate::rules::written_by_gateway(forward_for) || forward_for.eq_ignore_ascii_case("host")
        {
            return Err(Error::InvalidOption(format!(
                "forward_for_header (option forwardfor header) {forward_for:?} names a header \
                 the gateway writes from the message's framing, connection or host"
            )));
        }
        if !gangway_h1::is_valid_field_name(forward_for.as_bytes()) {
            return Err(Error::InvalidOption(format!(
                "forward_for_header (option forwardfor header) {forward_for:?} is not an HTTP \
                 header name (an RFC 9110 token)"
            )));
        }
        for l in &b.listeners {
            if let Some(proto) = &l.forwarded_proto
                && !gangway_h1::is_uri_scheme(proto.as_bytes())
            {
                return Err(Error::InvalidOption(format!(
                    "listener {}: forwarded_proto {proto:?} (the X-Forwarded-Proto value) is \
                     not a URI scheme (a letter, then letters, digits, '+', '-' or '.')",
                    l.name.as_deref().unwrap_or(&l.addr)
                )));
            }
        }
        for rule in &b.rules {
            match &rule.action {
                RuleAction::RequestHeader(a) | RuleAction::ResponseHeader(a) => a.validate()?,
                RuleAction::Redirect(r) => r.validate()?,
                RuleAction::Deny { .. } => {}
            }
        }
        for spec in &b.backends {
            for action in spec.request_headers.iter().chain(&spec.response_headers) {
                action.validate()?;
            }
        }
        let mut bind_addrs = Vec::new();
        let mut listeners = Vec::new();
        for l in &b.listeners {
            let addr = l.socket_addr()?;
            bind_addrs.push(addr);
            listeners.push(ListenerRt {
                name: l.name.clone().unwrap_or_else(|| l.addr.clone()),
                accept_proxy: l.accept_proxy,
                forwarded_proto: l
                    .forwarded_proto
                    .clone()
                    .unwrap_or_else(|| if l.is_tls() { "https" } else { "http" }.into()),
                port: AtomicU16::new(addr.port()),
                slots: l.maxconn.map(|n| Arc::new(Semaphore::new(n.max(1)))),
                #[cfg(feature = "tls")]
                tls: match &l.tls {
                    Some(t) => Some(t.server_config().map_err(Error::Tls)?),
                    None => None,
                },
            });
        }
        let mut backends = Vec::new();
        for spec in &b.backends {
            backends.push(BackendRt::new(spec, &b.timeouts)?);
        }
        let index = |name: &str| backends.iter().position(|x: &BackendRt| x.name == name);
        let routes = b
            .routes
            .iter()
            .filter_map(|r| index(&r.backend).map(|i| (r.condition.clone(), i)))
            .collect();
        let default_backend = b.default_backend.as_deref().and_then(index);
        let monitor_backends = b
            .options
            .monitor_backends
            .iter()
            .filter_map(|n| index(n))
            .collect();
        let metrics = Metrics::new(&listeners);
        let (phase, _) = watch::channel(Phase::Running);
        let mut parser = gangway_h1::Parser::new();
        parser.max_head_len(b.options.max_head_size);
        let error_files = b
            .options
            .error_files
            .iter()
            .map(|(status, page)| crate::proto::ErrorFile::new(*status, page.clone()))
            .collect();
        let own_uri = |uri: &Option<String>| uri.as_deref().map(crate::status::OwnUri::new);
        let shared = Shared {
            monitor_uri: own_uri(&b.options.monitor_uri),
            stats_uri: own_uri(&b.options.stats_uri),
            status_page: b
                .options
                .status_page
                .as_deref()
                .map(|base| crate::status::OwnUri::new(base.trim_end_matches('/'))),
            error_files,
            slots: Arc::new(Semaphore::new(b.options.maxconn.max(1))),
            options: b.options,
            timeouts: b.timeouts,
            listeners,
            backends,
            routes,
            default_backend,
            rules: b.rules,
            monitor_backends,
            phase,
            active: AtomicUsize::new(0),
            idle_notify: Notify::new(),
            metrics,
            parser,
            check_log: Default::default(),
        };
        Ok(Gateway {
            shared: Arc::new(shared),
            bind_addrs,
        })
    }

    /// Binds every listener, starts health checks and accept loops, and returns a handle.
    /// Needs a tokio runtime.
    pub async fn start(self) -> Result<GatewayHandle, Error> {
        let mut bound = Vec::new();
        for &addr in &self.bind_addrs {
            let l = bind(addr).map_err(|source| Error::Bind { addr, source })?;
            bound.push(l);
        }
        let mut local_addrs = Vec::new();
        let mut tasks = Vec::new();
        for (i, l) in bound.into_iter().enumerate() {
            let local = l.local_addr().map_err(|source| Error::Bind {
                addr: self.bind_addrs[i],
                source,
            })?;
            self.shared.listeners[i]
                .port
                .store(local.port(), Ordering::Relaxed);
            local_addrs.push(local);
            tasks.push(tokio::spawn(accept_loop(self.shared.clone(), i, l)));
        }
        crate::checks::start(&self.shared);
        crate::status::start(&self.shared);
        tasks.push(tokio::spawn(purge_idle_connections(Arc::downgrade(
            &self.shared,
        ))));
        tracing::info!(frontend = %self.shared.options.name, addrs = ?local_addrs, "gateway listening");
        Ok(GatewayHandle {
            shared: self.shared,
            local_addrs: local_addrs.into(),
            tasks: Arc::new(std::sync::Mutex::new(tasks)),
        })
    }

    /// Starts the gateway, serves until `signal` completes, then shuts down gracefully.
    ///
    /// ```no_run
    /// # async fn f(gateway: gangway::Gateway) -> Result<(), gangway::Error> {
    /// gateway.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await
    /// # }
    /// ```
    pub async fn run_until<F: Future>(self, signal: F) -> Result<(), Error> {
        let handle = self.start().await?;
        signal.await;
        handle.shutdown().await;
        Ok(())
    }

    /// Starts the gateway and serves until Ctrl-C, then shuts down gracefully.
    pub async fn run(self) -> Result<(), Error> {
        self.run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// Completes once the gateway's phase is `at` or later.
pub(crate) async fn reached(phase: &mut watch::Receiver<Phase>, at: Phase) {
    // The guard `wait_for` returns is dropped at once: it must not live across an await.
    let _ = phase.wait_for(|p| *p >= at).await;
}

async fn accept_loop(shared: Arc<Shared>, index: usize, listener: TcpListener) {
    let mut phase = shared.phase.subscribe();
    loop {
        // Take the connection slots first: at maxconn we stop accepting (clients wait in the
        // kernel's backlog) rather than accepting and failing.
        let listener_slot = match &shared.listeners[index].slots {
            Some(sem) => tokio::select! {
                p = sem.acquire() => match p { Ok(p) => Some(p), Err(_) => return },
                _ = reached(&mut phase, Phase::Draining) => return,
            },
            None => None,
        };
        let global_slot = tokio::select! {
            p = shared.slots.acquire() => match p { Ok(p) => p, Err(_) => return },
            _ = reached(&mut phase, Phase::Draining) => return,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    // Out of file descriptors and the like: back off a little.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = reached(&mut phase, Phase::Draining) => return,
        };
        // From here the admission gives the slots back.
        global_slot.forget();
        let listener_slot = listener_slot.and_then(|slot| {
            let index = u32::try_from(index).ok()?;
            slot.forget();
            Some(index)
        });
        let admission = Admission::new(shared.clone(), listener_slot);
        shared.metrics.listener_accepted(index);
        tokio::spawn(crate::conn::serve(admission, index, stream, peer));
    }
}

/// Closes pooled server connections that have been idle longer than their
/// `pool-purge-delay` or that their server has closed, once a second. (A connection past its
/// delay is never reused in between: taking one checks its age.)
async fn purge_idle_connections(shared: std::sync::Weak<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        for be in &shared.backends {
            be.servers().iter().for_each(|srv| srv.purge_idle());
        }
    }
}

/// A running gateway: its bound addresses, runtime server changes, metrics and shutdown.
///
/// Cloning gives another handle to the same gateway.
#[derive(Debug, Clone)]
pub struct GatewayHandle {
    shared: Arc<Shared>,
    local_addrs: Arc<[SocketAddr]>,
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl GatewayHandle {
    /// The addresses the listeners are bound to, in declaration order (with real ports when
    /// port 0 was asked for).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The first listener's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addrs[0]
    }

    /// Whether the listener at `index` (of [`local_addrs`](Self::local_addrs)) terminates TLS.
    pub fn is_tls(&self, index: usize) -> bool {
        #[cfg(feature = "tls")]
        return self
            .shared
            .listeners
            .get(index)
            .is_some_and(|l| l.tls.is_some());
        #[cfg(not(feature = "tls"))]
        {
            let _ = index;
            false
        }
    }

    /// Client connections open now.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::Acquire)
    }

    /// Changes a server's state (`set server backend/server state ready|drain|maint`).
    /// Returns `false` when no such backend or server exists.
    ///
    /// Health checks go on while a server is in drain or maintenance. Moving a checked server
    /// to [`ServerState::Up`] (`ready`) follows its checks' current verdict: if they fail, the
    /// server becomes [`ServerState::Down`] and stays out of rotation until they pass.
    pub fn set_server_state(&self, backend: &str, server: &str, state: ServerState) -> bool {
        self.with_server(backend, server, |b, s| match (state, &s.checker) {
            (ServerState::Up, Some(checker)) => {
                crate::checks::set_ready(b, s, checker, "set at runtime")
            }
            _ => b.set_state(s, state, "set at runtime"),
        })
    }

    /// Changes a server's weight. Returns `false` when no such backend or server exists.
    pub fn set_server_weight(&self, backend: &str, server: &str, weight: u32) -> bool {
        self.with_server(backend, server, |b, s| b.set_weight(s, weight))
    }

    /// A server's current state, if the backend and server exist.
    pub fn server_state(&self, backend: &str, server: &str) -> Option<ServerState> {
        let b = &self.shared.backends[self.shared.backend_index(backend)?];
        let s = b.find(server)?;
        Some(b.state(&s))
    }

    /// The names of a backend's servers now, in order.
    pub fn server_names(&self, backend: &str) -> Option<Vec<String>> {
        let b = &self.shared.backends[self.shared.backend_index(backend)?];
        Some(b.servers().iter().map(|s| s.name.clone()).collect())
    }

    /// Adds a server to a running backend (`add server`); its health checks start at once
    /// when the backend has a [`Check`](crate::Check) or the server its own. A `host:port`
    /// server is resolved here, blocking the calling thread for the lookup (see
    /// [`Server::new`](crate::Server::new)). The server takes requests once it is fully set
    /// up (a slow start ramps from then); if its checker or TLS setup fails, it is not added.
    pub fn add_server(&self, backend: &str, server: impl Into<Server>) -> Result<(), Error> {
        let Some(bi) = self.shared.backend_index(backend) else {
            return Err(Error::InvalidOption(format!(
                "no backend named {backend:?}"
            )));
        };
        let srv = self.shared.backends[bi].add(&server.into())?;
        crate::checks::start_server(&self.shared, bi, &srv);
        Ok(())
    }

    /// Removes a server from a running backend (`del server`): it takes no new requests,
    /// while requests and tunnels already on it finish. Returns `false` when it does not exist.
    pub fn remove_server(&self, backend: &str, server: &str) -> bool {
        match self.shared.backend_index(backend) {
            Some(bi) => self.shared.backends[bi].remove(server),
            None => false,
        }
    }

    fn with_server(
        &self,
        backend: &str,
        server: &str,
        f: impl FnOnce(&BackendRt, &ServerRt) -> bool,
    ) -> bool {
        let Some(bi) = self.shared.backend_index(backend) else {
            return false;
        };
        let b = &self.shared.backends[bi];
        match b.find(server) {
            Some(s) => f(b, &s),
            None => false,
        }
    }

    /// Every counter as Prometheus text exposition (what the stats URI serves).
    pub fn metrics_text(&self) -> String {
        crate::metrics::render(&self.shared)
    }

    /// Starts a graceful shutdown without waiting: listeners stop accepting, idle keep-alive
    /// connections close, in-flight requests and tunnels may finish within the grace period.
    pub fn begin_shutdown(&self) {
        self.shared.phase.send_if_modified(|p| {
            if *p == Phase::Running {
                *p = Phase::Draining;
                true
            } else {
                false
            }
        });
    }

    /// Shuts down gracefully and waits: stop accepting, let in-flight requests and tunnels
    /// finish for up to the grace period, then close what is left and return.
    ///
    /// The grace period counts from this call. To stop several gateways within one grace
    /// period, run their `shutdown`s concurrently (spawn each, or join them), not one after
    /// another.
    pub async fn shutdown(&self) {
        self.begin_shutdown();
        let grace = self.shared.options.grace;
        if tokio::time::timeout(grace, self.wait_idle()).await.is_err() {
            tracing::info!(
                open = self.active_connections(),
                "grace period over: closing what is left"
            );
            self.shared.phase.send_replace(Phase::Closing);
            // Tunnels drain (bytes already read delivered, then a FIN both ways) and whatever
            // is still open a moment later is aborted. Connection tasks watch the phase and
            // close within one scheduling round.
            let backends = &self.shared.backends;
            backends.iter().for_each(|be| be.tunnels.drain_all());
            let drain = crate::tunnels::CLOSING_DRAIN;
            let _ = tokio::time::timeout(drain, self.wait_idle()).await;
            backends.iter().for_each(|be| be.tunnels.abort_all());
            let _ = tokio::time::timeout(Duration::from_secs(5), self.wait_idle()).await;
        }
        crate::checks::stop(&self.shared);
        let tasks: Vec<_> = match self.tasks.lock() {
            Ok(mut t) => t.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for t in tasks {
            t.abort();
        }
        tracing::info!(frontend = %self.shared.options.name, "gateway stopped");
    }

    async fn wait_idle(&self) {
        loop {
            let notified = self.shared.idle_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.active.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}
