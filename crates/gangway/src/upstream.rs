//! Backends at runtime: the balance server set, per-server pools, counters, checkers and
//! session kill switches. Servers can be added and removed while the gateway runs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::stream::Stream;
use arc_swap::ArcSwap;
use gangway_balance::{Algorithm, ConnectionSlot, NoServerPolicy, PickError, ServerId, ServerSet};
use gangway_health::{Health, HealthChecker};
use tokio::task::JoinHandle;

use crate::backend::{Backend, Balance, ProxyVersion, Server, ServerState};
use crate::error::Error;
use crate::metrics::Counters;
use crate::timeouts::Timeouts;

/// Why no server was picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PickFailure {
    /// No server is up (or every up server was already tried).
    NoneUp,
    /// Every server stayed at its maxconn for the whole queue timeout (or the queue was full).
    QueueTimeout,
}

/// One server at runtime (what the balance set does not hold).
#[derive(Debug)]
pub(crate) struct ServerRt {
    pub(crate) id: ServerId,
    pub(crate) name: String,
    pub(crate) log_name: Arc<str>,
    pub(crate) addr: SocketAddr,
    pub(crate) send_proxy: Option<ProxyVersion>,
    /// TLS to the server, when it speaks it.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsConnector>,
    /// Idle pooled connections with when each became idle, oldest first.
    idle: Mutex<Vec<(Stream, Instant)>>,
    /// Most idle connections kept (`pool-max-conn`).
    pool_max_idle: usize,
    /// How long a pooled connection may stay idle (`pool-purge-delay`).
    pool_purge_delay: Duration,
    /// Set after a traffic error was reported to passive health, so the next success is too.
    failing: AtomicBool,
    /// Whether traffic errors are reported to the checker (the server has `observe`).
    pub(crate) observed: bool,
    /// Whether its tunnels close when health checks mark it down
    /// (`on-marked-down shutdown-sessions`).
    shutdown_sessions_on_down: bool,
    pub(crate) counters: Counters,
    pub(crate) checker: Option<HealthChecker<Arc<str>>>,
    /// The server's key with its checker: `backend/server`, as the checker's logs name it.
    pub(crate) check_key: Arc<str>,
    /// The task applying the checker's verdicts.
    pub(crate) health_task: Mutex<Option<JoinHandle<()>>>,
}

impl ServerRt {
    /// The newest idle pooled connection that still looks open and has not been idle longer
    /// than its `pool-purge-delay`.
    pub(crate) fn take_idle(&self) -> Option<Stream> {
        let mut idle = self.idle.lock().ok()?;
        while let Some((mut stream, since)) = idle.pop() {
            if since.elapsed() > self.pool_purge_delay {
                // Every connection below this one has been idle longer still.
                idle.clear();
                return None;
            }
            if stream.is_idle_open() {
                return Some(stream);
            }
        }
        None
    }

    /// Closes the idle connections that have been idle longer than `max_idle` or that the
    /// server has closed (or written to).
    pub(crate) fn purge_idle(&self) {
        if let Ok(mut idle) = self.idle.lock()
            && !idle.is_empty()
        {
            let max_idle = self.pool_purge_delay;
            idle.retain_mut(|(stream, since)| since.elapsed() <= max_idle && stream.is_idle_open());
        }
    }

    fn drop_idle(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    /// Marks the server as failing in traffic.
    pub(crate) fn mark_failing(&self) {
        self.failing.store(true, Ordering::Release);
    }

    /// Whether the server was failing in traffic (then clears the mark).
    pub(crate) fn clear_failing(&self) -> bool {
        self.failing.swap(false, Ordering::AcqRel)
    }

    /// Stops its health checks.
    pub(crate) fn stop_checks(&self) {
        if let Some(c) = &self.checker {
            c.stop();
        }
        if let Ok(mut t) = self.health_task.lock()
            && let Some(t) = t.take()
        {
            t.abort();
        }
    }
}

/// A backend at runtime.
#[derive(Debug)]
pub(crate) struct BackendRt {
    pub(crate) name: String,
    pub(crate) log_name: Arc<str>,
    pub(crate) spec: Backend,
    pub(crate) timeouts: Timeouts,
    pub(crate) set: ServerSet,
    servers: ArcSwap<Vec<Arc<ServerRt>>>,
    pub(crate) counters: Counters,
    /// The backend's open tunnels: a kill (`shutdown-sessions`) or a shutdown reaches them.
    pub(crate) tunnels: crate::tunnels::TunnelSet,
    /// Serializes runtime additions and removals.
    changes: Mutex<()>,
}

fn algorithm(b: &Balance) -> Algorithm {
    match b {
        Balance::RoundRobin => Algorithm::RoundRobin,
        Balance::StaticRoundRobin => Algorithm::StaticRr,
        Balance::LeastConn => Algorithm::LeastConn,
        Balance::First => Algorithm::First,
        Balance::Random { draws } => Algorithm::Random { draws: *draws },
        Balance::Source | Balance::Uri | Balance::UrlParam(_) | Balance::Header(_) => {
            Algorithm::Hash
        }
    }
}

fn weight(w: u32) -> u16 {
    u16::try_from(w)
        .unwrap_or(u16::MAX)
        .min(gangway_balance::MAX_WEIGHT)
}

impl BackendRt {
    pub(crate) fn new(spec: &Backend, base: &Timeouts) -> Result<BackendRt, Error> {
        let policy = if spec.fail_open {
            NoServerPolicy::FailOpen
        } else {
            NoServerPolicy::Fail
        };
        let set = ServerSet::builder()
            .algorithm(algorithm(&spec.balance))
            .no_server_policy(policy)
            .all_backups(spec.all_backups)
            .build()
            .map_err(|e| Error::InvalidOption(format!("backend {:?}: {e}", spec.name)))?;
        let be = BackendRt {
            name: spec.name.clone(),
            log_name: spec.name.as_str().into(),
            spec: spec.clone(),
            timeouts: spec.timeouts.apply(base),
            set,
            servers: ArcSwap::from_pointee(Vec::new()),
            counters: Counters::default(),
            tunnels: crate::tunnels::TunnelSet::default(),
            changes: Mutex::new(()),
        };
        let mut servers = Vec::new();
        for s in &spec.servers {
            if servers
                .iter()
                .any(|x: &Arc<ServerRt>| x.name == s.display_name())
            {
                return Err(Error::InvalidOption(format!(
                    "backend {:?}: two servers are named {:?}",
                    spec.name,
                    s.display_name()
                )));
            }
            servers.push(be.make_server(s, s.initial_state)?);
        }
        be.servers.store(Arc::new(servers));
        Ok(be)
    }

    /// Resolves a server, builds its checker (not started) and TLS client, then adds it to
    /// the balance set in `state`: last, so that a server whose checker or TLS setup fails
    /// is not left in the set, taking picks that find no server to connect to.
    fn make_server(&self, s: &Server, state: ServerState) -> Result<Arc<ServerRt>, Error> {
        let addr = s.resolve().ok_or_else(|| Error::UnresolvedServer {
            backend: self.name.clone(),
            addr: s.addr_text(),
        })?;
        let name = s.display_name();
        let check_key: Arc<str> = format!("{}/{name}", self.name).into();
        let checker = crate::checks::build(
            &self.spec,
            s,
            addr,
            &name,
            self.timeouts.connect,
            &check_key,
        )?;
        #[cfg(feature = "tls")]
        let tls = match &s.tls {
            Some(t) => Some(t.connector(&s.host_text()).map_err(|e| {
                Error::InvalidOption(format!("backend {:?}, server {name:?}: {e}", self.name))
            })?),
            None => None,
        };
        let server = gangway_balance::Server::new(addr)
            .name(name.as_str())
            .weight(weight(s.weight))
            .state(state)
            .backup(s.backup)
            .maxconn(s.maxconn)
            .maxqueue(s.maxqueue)
            .slow_start(s.slowstart);
        let id = self
            .set
            .add(server)
            .map_err(|e| Error::InvalidOption(format!("backend {:?}: {e}", self.name)))?;
        Ok(Arc::new(ServerRt {
            id,
            log_name: name.as_str().into(),
            name,
            addr,
            send_proxy: s.send_proxy,
            #[cfg(feature = "tls")]
            tls,
            idle: Mutex::new(Vec::new()),
            pool_max_idle: s.pool_max_idle.unwrap_or(self.spec.pool_max_idle),
            pool_purge_delay: s.pool_purge_delay.unwrap_or(self.spec.pool_purge_delay),
            failing: AtomicBool::new(false),
            observed: s.passive.is_some(),
            shutdown_sessions_on_down: s
                .shutdown_sessions_on_down
                .unwrap_or(self.spec.shutdown_sessions_on_down),
            counters: Counters::default(),
            checker,
            check_key,
            health_task: Mutex::new(None),
        }))
    }

    /// The servers now (a snapshot).
    pub(crate) fn servers(&self) -> arc_swap::Guard<Arc<Vec<Arc<ServerRt>>>> {
        self.servers.load()
    }

    pub(crate) fn find(&self, name: &str) -> Option<Arc<ServerRt>> {
        self.servers.load().iter().find(|s| s.name == name).cloned()
    }

    /// The server with id `id`: a binary search, as servers are kept in id order (the set
    /// hands out ids in increasing order, servers are appended as added, and removals keep
    /// the order). Every request that picks a server asks.
    pub(crate) fn by_id(&self, id: ServerId) -> Option<Arc<ServerRt>> {
        let servers = self.servers.load();
        debug_assert!(servers.is_sorted_by_key(|s| s.id));
        let i = servers.binary_search_by_key(&id, |s| s.id).ok()?;
        Some(Arc::clone(&servers[i]))
    }

    /// Adds a server while running (its checks start when `start` is given the gateway).
    pub(crate) fn add(&self, s: &Server) -> Result<Arc<ServerRt>, Error> {
        let _guard = self.changes.lock();
        if self.find(&s.display_name()).is_some() {
            return Err(Error::InvalidOption(format!(
                "backend {:?} already has a server named {:?}",
                self.name,
                s.display_name()
            )));
        }
        // In maintenance until the gateway knows it: a pick in between would find no server
        // to connect to.
        let srv = self.make_server(s, ServerState::Maint)?;
        let mut next = Vec::clone(&self.servers.load());
        next.push(srv.clone());
        self.servers.store(Arc::new(next));
        // Unless someone changed its state meanwhile (an operator, once it was findable).
        let _ = self.set.update(|b| match b.state(srv.id) {
            Ok(ServerState::Maint) => b.set_state(srv.id, s.initial_state),
            other => other,
        });
        Ok(srv)
    }

    /// Removes a server: no new requests; requests and tunnels already on it finish.
    pub(crate) fn remove(&self, name: &str) -> bool {
        let _guard = self.changes.lock();
        let Some(srv) = self.find(name) else {
            return false;
        };
        let _ = self.set.remove(srv.id);
        let next: Vec<_> = self
            .servers
            .load()
            .iter()
            .filter(|s| s.id != srv.id)
            .cloned()
            .collect();
        self.servers.store(Arc::new(next));
        srv.stop_checks();
        srv.drop_idle();
        true
    }

    pub(crate) fn state(&self, srv: &ServerRt) -> ServerState {
        self.set
            .server(srv.id)
            .map_or(ServerState::Maint, |i| i.server.get_state())
    }

    pub(crate) fn active(&self, srv: &ServerRt) -> u32 {
        self.set.server(srv.id).map_or(0, |i| i.active)
    }

    /// Whether at least one server takes traffic.
    pub(crate) fn any_up(&self) -> bool {
        self.servers()
            .iter()
            .any(|s| self.state(s) == ServerState::Up)
    }

    /// Sets a server's state; going down drops its idle connections and, with
    /// `shutdown-sessions`, closes its open sessions.
    pub(crate) fn set_state(&self, srv: &ServerRt, state: ServerState, reason: &str) -> bool {
        let Ok(old) = self.set.set_state(srv.id, state) else {
            return false;
        };
        self.state_changed(srv, old, state, reason);
        true
    }

    /// Applies a health verdict to a server (see [`gangway_health::apply_health`]: one step,
    /// so an operator's drain or maintenance set meanwhile is kept). Returns `false` when the
    /// server is gone.
    pub(crate) fn apply_health(&self, srv: &ServerRt, health: Health, reason: &str) -> bool {
        let now = std::time::Instant::now();
        let Some((old, new)) = gangway_health::apply_health(&self.set, srv.id, health, now) else {
            return false;
        };
        self.state_changed(srv, old, new, reason);
        true
    }

    /// Logs a state change and acts on it (see [`set_state`](Self::set_state)).
    fn state_changed(&self, srv: &ServerRt, old: ServerState, state: ServerState, reason: &str) {
        if old != state {
            tracing::warn!(backend = %self.name, server = %srv.name, from = %old, to = %state, reason, "server state changed");
            if state != ServerState::Up {
                srv.drop_idle();
            }
            if state == ServerState::Down && srv.shutdown_sessions_on_down {
                self.tunnels.abort_server(srv);
            }
        }
    }

    pub(crate) fn set_weight(&self, srv: &ServerRt, w: u32) -> bool {
        self.set.set_weight(srv.id, weight(w)).is_ok()
    }

    /// Picks a server (not one of `excluded`), waiting up to the queue timeout while all
    /// usable servers are full.
    pub(crate) async fn pick(
        &self,
        key: Option<&[u8]>,
        excluded: &[ServerId],
    ) -> Result<(Arc<ServerRt>, ConnectionSlot), PickFailure> {
        // A server removed at runtime may still come with a slot: picked just before it left
        // the set, or handed to this caller while it waited in the queue (the queue is served
        // when a slot is freed, the caller's task runs later). Its slot is let go and the pick
        // made again, from the servers there are now.
        for _ in 0..3 {
            match self
                .set
                .pick_queued(key, excluded, self.timeouts.queue)
                .await
            {
                Ok(slot) => {
                    if let Some(srv) = self.by_id(slot.server_id()) {
                        return Ok((srv, slot));
                    }
                }
                Err(PickError::QueueFull | PickError::QueueTimeout) => {
                    return Err(PickFailure::QueueTimeout);
                }
                Err(_) => return Err(PickFailure::NoneUp),
            }
        }
        Err(PickFailure::NoneUp)
    }

    /// Returns a connection to the server's idle pool (dropped when the pool is full).
    ///
    /// A connection that began with a PROXY header speaks for the client it was opened for:
    /// it is never pooled, or the next client would be taken for that one (HAProxy reuses such
    /// a connection only for a client with the same PROXY header; never reusing it is the
    /// simpler safe rule).
    pub(crate) fn put_idle(&self, srv: &ServerRt, stream: Stream) {
        if srv.pool_max_idle == 0 || srv.send_proxy.is_some() || self.state(srv) != ServerState::Up
        {
            return;
        }
        if let Ok(mut idle) = srv.idle.lock()
            && idle.len() < srv.pool_max_idle
        {
            idle.push((stream, Instant::now()));
        }
    }

    /// How long to wait for a connection to a server.
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.timeouts.connect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One poll of `future`, in the current runtime.
    fn poll_once<F: Future + Unpin>(future: &mut F) -> std::task::Poll<F::Output> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::pin::Pin::new(future).poll(&mut cx)
    }

    #[tokio::test]
    async fn a_waiter_handed_a_slot_on_a_server_removed_since_picks_again() {
        let spec = Backend::new("b")
            .server(Server::new("127.0.0.1:1").name("a").maxconn(1).no_check())
            .server(Server::new("127.0.0.1:2").name("b").maxconn(1).no_check());
        let timeouts = Timeouts::default().queue(Duration::from_secs(600));
        let be = BackendRt::new(&spec, &timeouts).unwrap();
        let (first, first_slot) = be.pick(None, &[]).await.ok().unwrap();
        let (_, second_slot) = be.pick(None, &[]).await.ok().unwrap();
        // Both servers full: the next caller waits in the queue.
        let mut waiter = Box::pin(be.pick(None, &[]));
        assert!(poll_once(&mut waiter).is_pending());
        // The first server's slot is freed and handed to the waiter; the server is removed
        // before the waiter's task runs; then the other server has room.
        drop(first_slot);
        assert!(be.remove(&first.name));
        drop(second_slot);
        match poll_once(&mut waiter) {
            std::task::Poll::Ready(Ok((srv, _))) => assert_ne!(srv.name, first.name),
            std::task::Poll::Ready(Err(_)) => panic!("the waiter got no server"),
            std::task::Poll::Pending => panic!("the waiter still waits with a server free"),
        }
    }
}
