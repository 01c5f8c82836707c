//! Backends at runtime: the balance server set, idle connection pools and session kill switches.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gangway_balance::{Algorithm, ConnectionSlot, NoServerPolicy, PickError, ServerId, ServerSet};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::backend::{Backend, Balance, ProxyVersion, ServerState};
use crate::error::Error;
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
    pub(crate) log_name: std::sync::Arc<str>,
    pub(crate) addr: SocketAddr,
    pub(crate) send_proxy: Option<ProxyVersion>,
    pub(crate) check: bool,
    pub(crate) check_port: Option<u16>,
    idle: Mutex<Vec<TcpStream>>,
    /// Set after a traffic error was reported to passive health, so the next success is too.
    pub(crate) failing: AtomicBool,
    /// Bumped when the server is marked down with `shutdown-sessions`: sessions watching it close.
    pub(crate) kill: watch::Sender<u64>,
}

/// A backend at runtime.
#[derive(Debug)]
pub(crate) struct BackendRt {
    pub(crate) name: String,
    pub(crate) log_name: std::sync::Arc<str>,
    pub(crate) spec: Backend,
    pub(crate) timeouts: Timeouts,
    pub(crate) set: ServerSet,
    pub(crate) servers: Vec<ServerRt>,
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
            .build()
            .map_err(|e| Error::InvalidOption(format!("backend {:?}: {e}", spec.name)))?;
        let mut servers = Vec::new();
        for s in &spec.servers {
            let addr = s.resolve().ok_or_else(|| Error::UnresolvedServer {
                backend: spec.name.clone(),
                addr: s.addr_text(),
            })?;
            let name = s.display_name();
            let server = gangway_balance::Server::new(addr)
                .name(name.as_str())
                .weight(
                    u16::try_from(s.weight)
                        .unwrap_or(u16::MAX)
                        .min(gangway_balance::MAX_WEIGHT),
                )
                .state(s.initial_state)
                .backup(s.backup)
                .maxconn(s.maxconn)
                .maxqueue(s.maxqueue)
                .slow_start(s.slowstart);
            let id = set
                .add(server)
                .map_err(|e| Error::InvalidOption(format!("backend {:?}: {e}", spec.name)))?;
            let (kill, _) = watch::channel(0);
            servers.push(ServerRt {
                id,
                log_name: name.as_str().into(),
                name,
                addr,
                send_proxy: s.send_proxy,
                check: s.check && (spec.check.is_some() || s.check_override.is_some()),
                check_port: s.check_port,
                idle: Mutex::new(Vec::new()),
                failing: AtomicBool::new(false),
                kill,
            });
        }
        Ok(BackendRt {
            name: spec.name.clone(),
            log_name: spec.name.as_str().into(),
            spec: spec.clone(),
            timeouts: spec.timeouts.apply(base),
            set,
            servers,
        })
    }

    pub(crate) fn server_index(&self, name: &str) -> Option<usize> {
        self.servers.iter().position(|s| s.name == name)
    }

    fn index_of(&self, id: ServerId) -> Option<usize> {
        self.servers.iter().position(|s| s.id == id)
    }

    pub(crate) fn state(&self, s: usize) -> ServerState {
        self.set
            .server(self.servers[s].id)
            .map_or(ServerState::Maint, |i| i.server.get_state())
    }

    pub(crate) fn active(&self, s: usize) -> u32 {
        self.set.server(self.servers[s].id).map_or(0, |i| i.active)
    }

    /// Whether at least one server takes traffic.
    pub(crate) fn any_up(&self) -> bool {
        (0..self.servers.len()).any(|s| self.state(s) == ServerState::Up)
    }

    /// Sets a server's state; going down drops its idle connections and, with
    /// `shutdown-sessions`, closes its open sessions.
    pub(crate) fn set_state(&self, s: usize, state: ServerState, reason: &str) -> bool {
        let Ok(old) = self.set.set_state(self.servers[s].id, state) else {
            return false;
        };
        if old != state {
            tracing::warn!(backend = %self.name, server = %self.servers[s].name, from = %old, to = %state, reason, "server state changed");
            if state != ServerState::Up {
                self.drop_idle(s);
            }
            if state == ServerState::Down && self.spec.shutdown_sessions_on_down {
                self.servers[s].kill.send_modify(|g| *g += 1);
            }
        }
        true
    }

    pub(crate) fn set_weight(&self, s: usize, weight: u32) -> bool {
        let w = u16::try_from(weight)
            .unwrap_or(u16::MAX)
            .min(gangway_balance::MAX_WEIGHT);
        self.set.set_weight(self.servers[s].id, w).is_ok()
    }

    /// Picks a server (not one of `excluded`), waiting up to the queue timeout while all
    /// usable servers are full. Returns the server index and its connection slot.
    pub(crate) async fn pick(
        &self,
        key: Option<&[u8]>,
        excluded: &[ServerId],
    ) -> Result<(usize, ConnectionSlot), PickFailure> {
        match self
            .set
            .pick_queued(key, excluded, self.timeouts.queue)
            .await
        {
            Ok(slot) => match self.index_of(slot.server_id()) {
                Some(i) => Ok((i, slot)),
                None => Err(PickFailure::NoneUp),
            },
            Err(PickError::QueueFull | PickError::QueueTimeout) => Err(PickFailure::QueueTimeout),
            Err(_) => Err(PickFailure::NoneUp),
        }
    }

    /// An idle pooled connection to server `s` that still looks open.
    pub(crate) fn take_idle(&self, s: usize) -> Option<TcpStream> {
        let mut idle = self.servers[s].idle.lock().ok()?;
        while let Some(stream) = idle.pop() {
            let mut probe = [0u8; 1];
            // An idle connection must have nothing to read: data or EOF means it is unusable.
            if let Err(e) = stream.try_read(&mut probe)
                && e.kind() == std::io::ErrorKind::WouldBlock
            {
                return Some(stream);
            }
        }
        None
    }

    /// Returns a connection to server `s`'s idle pool (dropped when the pool is full).
    pub(crate) fn put_idle(&self, s: usize, stream: TcpStream) {
        if self.spec.pool_max_idle == 0 || self.state(s) != ServerState::Up {
            return;
        }
        if let Ok(mut idle) = self.servers[s].idle.lock()
            && idle.len() < self.spec.pool_max_idle
        {
            idle.push(stream);
        }
    }

    fn drop_idle(&self, s: usize) {
        if let Ok(mut idle) = self.servers[s].idle.lock() {
            idle.clear();
        }
    }

    /// How long to wait for a connection to a server.
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.timeouts.connect
    }

    /// Whether the server was failing in traffic (then clears the mark).
    pub(crate) fn clear_failing(&self, s: usize) -> bool {
        self.servers[s].failing.swap(false, Ordering::AcqRel)
    }
}
