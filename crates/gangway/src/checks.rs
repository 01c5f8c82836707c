//! Active health checks (gangway-health) and passive observation, applied to server states.

use std::sync::Arc;

use gangway_health::{Health, HealthChecker, InitialState, Timing, TrafficOutcome};

use crate::backend::{CheckExpect, CheckKind, ProxyVersion, ServerState};
use crate::error::Error;
use crate::gateway::Shared;
use crate::upstream::BackendRt;

/// One checker per checked server: `[backend][server]`.
pub(crate) type Checkers = Vec<Vec<Option<HealthChecker<()>>>>;

/// Builds the checkers of every checked server (nothing runs until [`start`]).
pub(crate) fn build(backends: &[BackendRt]) -> Result<Checkers, Error> {
    let mut all = Vec::new();
    for be in backends {
        let mut per = Vec::new();
        for srv in &be.servers {
            let spec = &be.spec.servers[per.len()];
            let Some(check) = spec
                .check_override
                .as_ref()
                .or(be.spec.check.as_ref())
                .filter(|_| srv.check)
            else {
                per.push(None);
                continue;
            };
            let mut c = match &check.kind {
                CheckKind::Tcp => gangway_health::Check::tcp(),
                CheckKind::Http {
                    method,
                    path,
                    host,
                    expect,
                } => {
                    let mut c = gangway_health::Check::http(path.as_str()).method(method.as_str());
                    if let Some(h) = host {
                        c = c.host(h.as_str());
                    }
                    match expect {
                        CheckExpect::Success => c,
                        CheckExpect::Status(s) => c.expect_status(*s),
                        CheckExpect::BodyContains(t) => c.expect_body_contains(t.as_bytes()),
                    }
                }
                CheckKind::WebSocket { path, host } => {
                    let mut c = gangway_health::Check::websocket(path.as_str());
                    if let Some(h) = host {
                        c = c.host(h.as_str());
                    }
                    c
                }
            };
            if let Some(port) = srv.check_port {
                c = c.port(port);
            }
            if let Some(addr) = check.addr {
                c = c.addr(addr);
            }
            if !matches!(check.kind, CheckKind::Tcp) {
                for (n, v) in &check.headers {
                    c = c.header(n.as_str(), v.as_str());
                }
            }
            if let Some(v) = srv.send_proxy {
                c = c.send_proxy(match v {
                    ProxyVersion::V1 => gangway_health::ProxyHeader::V1,
                    ProxyVersion::V2 => gangway_health::ProxyHeader::V2Local,
                });
            }
            let mut timing = Timing::new(check.inter).rise(check.rise).fall(check.fall);
            if let Some(d) = check.fastinter {
                timing = timing.fastinter(d);
            }
            if let Some(d) = check.downinter {
                timing = timing.downinter(d);
            }
            if let Some(d) = check.timeout {
                timing = timing.timeout(d);
            }
            let initial = match be.state(per.len()) {
                ServerState::Down => InitialState::Down,
                _ => InitialState::Up,
            };
            let checker = HealthChecker::builder(c)
                .timing(timing)
                .passive(spec.passive.clone().unwrap_or_default())
                .initial_state(initial)
                .server((), srv.addr)
                .build()
                .map_err(|e| {
                    Error::InvalidOption(format!("check of {}/{}: {e}", be.name, srv.name))
                })?;
            per.push(Some(checker));
        }
        all.push(per);
    }
    Ok(all)
}

/// The running health-check tasks of a gateway.
#[derive(Debug, Default)]
pub(crate) struct HealthTasks {
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl HealthTasks {
    /// Stops every check and the tasks applying their results.
    pub(crate) fn stop(&self, shared: &Shared) {
        for per in &shared.checkers {
            for checker in per.iter().flatten() {
                checker.stop();
            }
        }
        if let Ok(mut tasks) = self.tasks.lock() {
            for t in tasks.drain(..) {
                t.abort();
            }
        }
    }
}

/// Starts every checker and a task per checked server applying its state changes.
pub(crate) fn start(shared: &Arc<Shared>) -> HealthTasks {
    let tasks = HealthTasks::default();
    for (b, per) in shared.checkers.iter().enumerate() {
        for (s, checker) in per.iter().enumerate() {
            let Some(checker) = checker else { continue };
            let mut events = checker.subscribe();
            let weak = Arc::downgrade(shared);
            let task = tokio::spawn(async move {
                loop {
                    let event = match events.recv().await {
                        Ok(e) => e,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => return,
                    };
                    let Some(shared) = weak.upgrade() else { return };
                    apply(&shared.backends[b], s, event.to, &event.reason.to_string());
                }
            });
            checker.start();
            if let Ok(mut t) = tasks.tasks.lock() {
                t.push(task);
            }
        }
    }
    tasks
}

/// Applies a health verdict: checks move servers between up and down, never out of an
/// operator's drain or maintenance.
fn apply(be: &BackendRt, s: usize, health: Health, reason: &str) {
    let current = be.state(s);
    let target = match health {
        Health::Up => ServerState::Up,
        Health::Down => ServerState::Down,
        Health::Unknown => return,
    };
    if matches!(current, ServerState::Up | ServerState::Down) && current != target {
        be.set_state(s, target, reason);
    }
}

/// Reports a failed connection or response from server `s` of backend `b` (passive health).
pub(crate) fn observe(shared: &Shared, b: usize, s: usize, outcome: TrafficOutcome) {
    let be = &shared.backends[b];
    be.servers[s]
        .failing
        .store(true, std::sync::atomic::Ordering::Release);
    if let Some(checker) = &shared.checkers[b][s]
        && let Some(health) = checker.report(&(), outcome)
    {
        apply(be, s, health, "traffic errors");
    }
}

/// Reports a good exchange, only after failures (so the usual request costs nothing).
pub(crate) fn observe_success(shared: &Shared, b: usize, s: usize) {
    let be = &shared.backends[b];
    if be.clear_failing(s)
        && let Some(checker) = &shared.checkers[b][s]
    {
        let _ = checker.report(&(), TrafficOutcome::Success);
    }
}
