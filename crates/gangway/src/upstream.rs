//! Backends at runtime: servers, picks, idle connection pools and session kill switches.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use crate::backend::{Backend, ProxyVersion, ServerState};
use crate::error::Error;
use crate::timeouts::Timeouts;

/// Why no server was picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PickFailure {
    /// No server is up (or every up server was already tried).
    NoneUp,
    /// Every server stayed at its maxconn for the whole queue timeout.
    QueueTimeout,
}

/// One server at runtime.
#[derive(Debug)]
pub(crate) struct ServerRt {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    pub(crate) send_proxy: Option<ProxyVersion>,
    pub(crate) check: bool,
    pub(crate) check_port: Option<u16>,
    backup: bool,
    maxconn: Option<u32>,
    weight: AtomicU32,
    state: AtomicU8,
    active: AtomicUsize,
    idle: Mutex<Vec<TcpStream>>,
    /// Bumped when the server is marked down with `shutdown-sessions`: sessions watching it close.
    pub(crate) kill: watch::Sender<u64>,
}

fn state_to_u8(s: ServerState) -> u8 {
    match s {
        ServerState::Up => 0,
        ServerState::Down => 1,
        ServerState::Drain => 2,
        ServerState::Maint => 3,
    }
}

fn state_from_u8(v: u8) -> ServerState {
    match v {
        0 => ServerState::Up,
        1 => ServerState::Down,
        2 => ServerState::Drain,
        _ => ServerState::Maint,
    }
}

/// A backend at runtime.
#[derive(Debug)]
pub(crate) struct BackendRt {
    pub(crate) name: String,
    pub(crate) spec: Backend,
    pub(crate) timeouts: Timeouts,
    pub(crate) servers: Vec<ServerRt>,
    cursor: AtomicUsize,
    freed: Notify,
}

/// A picked server: holds one of its connection slots until dropped.
#[derive(Debug)]
pub(crate) struct Picked<'a> {
    backend: &'a BackendRt,
    pub(crate) index: usize,
}

impl Drop for Picked<'_> {
    fn drop(&mut self) {
        self.backend.servers[self.index]
            .active
            .fetch_sub(1, Ordering::AcqRel);
        self.backend.freed.notify_one();
    }
}

impl BackendRt {
    pub(crate) fn new(spec: &Backend, base: &Timeouts) -> Result<BackendRt, Error> {
        let mut servers = Vec::new();
        for s in &spec.servers {
            let addr = s.resolve().ok_or_else(|| Error::UnresolvedServer {
                backend: spec.name.clone(),
                addr: s.addr_text(),
            })?;
            let (kill, _) = watch::channel(0);
            servers.push(ServerRt {
                name: s.display_name(),
                addr,
                send_proxy: s.send_proxy,
                check: s.check && spec.check.is_some(),
                check_port: s.check_port,
                backup: s.backup,
                maxconn: s.maxconn,
                weight: AtomicU32::new(s.weight),
                state: AtomicU8::new(state_to_u8(s.initial_state)),
                active: AtomicUsize::new(0),
                idle: Mutex::new(Vec::new()),
                kill,
            });
        }
        Ok(BackendRt {
            name: spec.name.clone(),
            spec: spec.clone(),
            timeouts: spec.timeouts.apply(base),
            servers,
            cursor: AtomicUsize::new(0),
            freed: Notify::new(),
        })
    }

    pub(crate) fn server_index(&self, name: &str) -> Option<usize> {
        self.servers.iter().position(|s| s.name == name)
    }

    pub(crate) fn state(&self, s: usize) -> ServerState {
        state_from_u8(self.servers[s].state.load(Ordering::Acquire))
    }

    pub(crate) fn active(&self, s: usize) -> usize {
        self.servers[s].active.load(Ordering::Acquire)
    }

    pub(crate) fn weight(&self, s: usize) -> u32 {
        self.servers[s].weight.load(Ordering::Acquire)
    }

    /// Whether at least one server takes traffic.
    pub(crate) fn any_up(&self) -> bool {
        (0..self.servers.len()).any(|s| self.state(s) == ServerState::Up)
    }

    pub(crate) fn set_state(&self, s: usize, state: ServerState, reason: &str) -> bool {
        let old = state_from_u8(
            self.servers[s]
                .state
                .swap(state_to_u8(state), Ordering::AcqRel),
        );
        if old != state {
            tracing::warn!(backend = %self.name, server = %self.servers[s].name, from = %old, to = %state, reason, "server state changed");
            if state != ServerState::Up {
                self.drop_idle(s);
            }
            if state == ServerState::Down && self.spec.shutdown_sessions_on_down {
                self.servers[s].kill.send_modify(|g| *g += 1);
            }
            self.freed.notify_waiters();
        }
        true
    }

    pub(crate) fn set_weight(&self, s: usize, weight: u32) -> bool {
        self.servers[s].weight.store(weight, Ordering::Release);
        true
    }

    fn usable(&self, s: usize, backup: bool, excluded: &[usize]) -> bool {
        let srv = &self.servers[s];
        srv.backup == backup
            && self.state(s) == ServerState::Up
            && self.weight(s) > 0
            && !excluded.contains(&s)
    }

    fn has_room(&self, s: usize) -> bool {
        self.servers[s]
            .maxconn
            .is_none_or(|m| self.active(s) < m as usize)
    }

    /// One pick attempt: `Ok(None)` when every usable server is full.
    fn try_pick(
        &self,
        key: Option<u64>,
        excluded: &[usize],
    ) -> Result<Option<Picked<'_>>, PickFailure> {
        let n = self.servers.len();
        for backup in [false, true] {
            let usable: usize = (0..n).filter(|&s| self.usable(s, backup, excluded)).count();
            if usable == 0 {
                continue;
            }
            let start = match key {
                Some(k) => (k % n as u64) as usize,
                None => self.cursor.fetch_add(1, Ordering::Relaxed),
            };
            let order = |i: usize| (start + i) % n;
            let candidate = match self.spec.balance {
                crate::backend::Balance::LeastConn => (0..n)
                    .filter(|&s| self.usable(s, backup, excluded) && self.has_room(s))
                    .min_by_key(|&s| {
                        (
                            self.active(s) * 1000 / self.weight(s).max(1) as usize,
                            (s + n - start % n) % n,
                        )
                    }),
                crate::backend::Balance::First => {
                    (0..n).find(|&s| self.usable(s, backup, excluded) && self.has_room(s))
                }
                _ => (0..n)
                    .map(order)
                    .find(|&s| self.usable(s, backup, excluded) && self.has_room(s)),
            };
            return Ok(candidate.and_then(|s| {
                let srv = &self.servers[s];
                let prev = srv.active.fetch_add(1, Ordering::AcqRel);
                if srv.maxconn.is_some_and(|m| prev >= m as usize) {
                    srv.active.fetch_sub(1, Ordering::AcqRel);
                    None
                } else {
                    Some(Picked {
                        backend: self,
                        index: s,
                    })
                }
            }));
        }
        Err(PickFailure::NoneUp)
    }

    /// Picks a server, waiting up to the queue timeout while all usable servers are full.
    pub(crate) async fn pick(
        &self,
        key: Option<u64>,
        excluded: &[usize],
    ) -> Result<Picked<'_>, PickFailure> {
        let deadline = tokio::time::Instant::now() + self.timeouts.queue;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(p) = self.try_pick(key, excluded)? {
                return Ok(p);
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return Err(PickFailure::QueueTimeout);
            }
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
}
