//! Active health checks (gangway-health) and passive observation, applied to server states.

use std::net::SocketAddr;
use std::sync::Arc;

use gangway_health::{Health, HealthChecker, InitialState, Timing, TrafficOutcome};

use crate::backend::{Backend, CheckExpect, CheckKind, ProxyVersion, Server, ServerState};
use crate::error::Error;
use crate::gateway::Shared;
use crate::upstream::{BackendRt, ServerRt};

/// Builds the checker of one server, if it is checked (nothing runs until [`start_server`]).
pub(crate) fn build(
    backend: &Backend,
    server: &Server,
    addr: SocketAddr,
    name: &str,
    connect_timeout: std::time::Duration,
    key: &Arc<str>,
) -> Result<Option<HealthChecker<Arc<str>>>, Error> {
    let Some(check) = server
        .check_override
        .as_ref()
        .or(backend.check.as_ref())
        .filter(|_| server.check)
    else {
        return Ok(None);
    };
    let kind = &check.kind;
    let mut c = match kind {
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
    if let Some(port) = server.check_port {
        c = c.port(port);
    }
    // A TLS server is checked over TLS on its own port (HAProxy's `ssl` implies `check-ssl`);
    // a separate `check_port` is checked in clear.
    #[cfg(feature = "tls")]
    if let Some(tls) = server.tls.as_ref().filter(|_| server.check_port.is_none()) {
        let connector = tls
            .connector(&server.host_text())
            .map_err(|e| Error::InvalidOption(format!("check of {}/{name}: {e}", backend.name)))?;
        c = c.tls(connector.connector, connector.name);
    }
    let check_addr = server.check_addr.or(check.addr);
    if let Some(addr) = check_addr {
        c = c.addr(addr);
    }
    if !matches!(kind, CheckKind::Tcp) {
        for (n, v) in &check.headers {
            c = c.header(n.as_str(), v.as_str());
        }
    }
    // As in HAProxy, the PROXY header goes only on checks to the server's own address and
    // port: a check to another `port` or `addr` is sent without it.
    let own_endpoint = server.check_port.is_none() && check_addr.is_none();
    if let Some(v) = server.send_proxy.filter(|_| own_endpoint) {
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
    // As in HAProxy: without `timeout check` the whole check gets `inter`; with it, the
    // connect gets `min(timeout connect, inter)` and the rest of the check `timeout check`.
    if let Some(d) = check.timeout {
        timing = timing
            .timeout(d)
            .connect_timeout(connect_timeout.min(check.inter));
    }
    // Servers start up (HAProxy's default), one failed check away from down.
    let initial = match server.initial_state {
        ServerState::Down => InitialState::Down,
        _ => InitialState::Up,
    };
    let checker = HealthChecker::builder(c)
        .timing(timing)
        .passive(server.passive.clone().unwrap_or_default())
        .initial_state(initial)
        .server(Arc::clone(key), addr)
        .build()
        .map_err(|e| Error::InvalidOption(format!("check of {}/{name}: {e}", backend.name)))?;
    Ok(Some(checker))
}

/// Starts every server's checks.
pub(crate) fn start(shared: &Arc<Shared>) {
    for (b, be) in shared.backends.iter().enumerate() {
        for srv in be.servers().iter() {
            start_server(shared, b, srv);
        }
    }
}

/// Starts one server's checker and a task applying its state changes.
///
/// That task is the only place health verdicts (from checks and from traffic) reach the
/// server set: the checker publishes them in order with its machine locked, so applying them
/// anywhere else could let an older verdict land after a newer one and leave the server stuck.
pub(crate) fn start_server(shared: &Arc<Shared>, b: usize, srv: &Arc<ServerRt>) {
    let Some(checker) = &srv.checker else { return };
    let mut events = checker.subscribe();
    let weak = Arc::downgrade(shared);
    let id = srv.id;
    let task = tokio::spawn(async move {
        loop {
            let event = events.recv().await;
            let Some(shared) = weak.upgrade() else { return };
            let be = &shared.backends[b];
            let Some(srv) = be.by_id(id) else { return };
            match event {
                Ok(e) => {
                    be.apply_health(&srv, e.to, &e.reason.to_string());
                }
                // Some verdicts were missed: catch up with the machine's state now.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if let Some(health) = srv.checker.as_ref().and_then(|c| c.state(&srv.check_key))
                    {
                        be.apply_health(&srv, health, "missed health events");
                    }
                }
                Err(_) => return,
            }
        }
    });
    checker.start();
    if let Ok(mut t) = srv.health_task.lock() {
        *t = Some(task);
    }
}

/// Stops every check.
pub(crate) fn stop(shared: &Shared) {
    for be in &shared.backends {
        for srv in be.servers().iter() {
            srv.stop_checks();
        }
    }
}

/// Puts a checked server back in service as its checks allow: up, or down (out of rotation
/// until its checks pass) when the checker's verdict is down. Returns `false` when the server
/// is gone.
pub(crate) fn set_ready(
    be: &BackendRt,
    srv: &ServerRt,
    checker: &HealthChecker<Arc<str>>,
    reason: &str,
) -> bool {
    let target = match checker.state(&srv.check_key) {
        Some(Health::Down) => ServerState::Down,
        _ => ServerState::Up,
    };
    if !be.set_state(srv, target, reason) {
        return false;
    }
    // A verdict published meanwhile may have been ignored by the event task (the server was
    // still in maintenance): follow it, in one step that leaves an operator's maintenance or
    // drain set since then alone.
    if let Some(health) = checker.state(&srv.check_key) {
        be.apply_health(srv, health, reason);
    }
    true
}

/// Reports a failed connection or response (passive health). Traffic is watched only on
/// servers with [`Server::observe`], as in HAProxy. The backend is not changed here: a
/// resulting state change reaches it through the server's event task.
pub(crate) fn observe(srv: &ServerRt, outcome: TrafficOutcome) {
    if !srv.observed {
        return;
    }
    srv.mark_failing();
    if let Some(checker) = &srv.checker {
        // A state change is published by the checker and applied by the server's event task
        // (see `start_server`), in order with the checks' verdicts.
        let _ = checker.report(&srv.check_key, outcome);
    }
}

/// Reports a good exchange, only after failures (so the usual request costs nothing).
pub(crate) fn observe_success(srv: &ServerRt) {
    if srv.clear_failing()
        && let Some(checker) = &srv.checker
    {
        let _ = checker.report(&srv.check_key, TrafficOutcome::Success);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use gangway_health::{OnError, PassivePolicy};

    use super::*;
    use crate::backend::Check;
    use crate::timeouts::Timeouts;

    #[tokio::test]
    async fn traffic_verdicts_reach_the_server_set_only_through_events() {
        // Applying a verdict outside the ordered event stream could land after a newer one
        // (a passing check's Up) and leave the server down for good.
        let spec = Backend::new("web")
            .server(
                Server::at("127.0.0.1:9".parse().unwrap())
                    .name("s1")
                    .observe(
                        PassivePolicy::default()
                            .error_limit(1)
                            .on_error(OnError::MarkDown),
                    ),
            )
            .check(Check::tcp().inter(Duration::from_secs(3600)));
        let be = BackendRt::new(&spec, &Timeouts::default()).unwrap();
        let srv = be.find("s1").unwrap();
        let checker = srv.checker.as_ref().unwrap();
        let mut events = checker.subscribe();
        observe(&srv, TrafficOutcome::ConnectRefused);
        assert_eq!(checker.state(&srv.check_key), Some(Health::Down));
        assert_eq!(be.state(&srv), ServerState::Up, "not applied out of order");
        let event = events.try_recv().unwrap();
        assert_eq!(event.to, Health::Down);
        be.apply_health(&srv, event.to, &event.reason.to_string());
        assert_eq!(be.state(&srv), ServerState::Down);
    }

    #[test]
    fn verdicts_never_override_maintenance_set_meanwhile() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let spec = Backend::new("web")
            .server(Server::at("127.0.0.1:9".parse().unwrap()).name("s1"))
            .check(Check::tcp());
        for trial in 0..200 {
            let be = Arc::new(BackendRt::new(&spec, &Timeouts::default()).unwrap());
            let srv = be.find("s1").unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let rounds = Arc::new(AtomicUsize::new(0));
            let applier = {
                let (be, srv) = (Arc::clone(&be), Arc::clone(&srv));
                let (stop, rounds) = (Arc::clone(&stop), Arc::clone(&rounds));
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        be.apply_health(&srv, Health::Down, "test");
                        be.apply_health(&srv, Health::Up, "test");
                        rounds.fetch_add(1, Ordering::Relaxed);
                    }
                })
            };
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while rounds.load(Ordering::Relaxed) < 3 + trial % 7 {
                assert!(std::time::Instant::now() < deadline, "the applier runs");
                std::hint::spin_loop();
            }
            be.set_state(&srv, ServerState::Maint, "operator");
            stop.store(true, Ordering::Relaxed);
            applier.join().unwrap();
            assert_eq!(be.state(&srv), ServerState::Maint, "trial {trial}");
        }
    }
}
