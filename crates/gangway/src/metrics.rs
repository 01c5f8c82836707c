//! Counters per frontend, listener, backend and server, rendered as Prometheus text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::gateway::{ListenerRt, Shared};
use crate::upstream::{BackendRt, ServerRt};

/// Counters of one backend or server.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    /// Responses by class: 1xx, 2xx, 3xx, 4xx, 5xx, other.
    pub(crate) responses: [AtomicU64; 6],
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) connect_errors: AtomicU64,
    pub(crate) response_errors: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) redispatches: AtomicU64,
    pub(crate) tunnels: AtomicU64,
    /// Tunnels open now.
    pub(crate) active_tunnels: AtomicU64,
}

/// The frontend's and listeners' counters (backends and servers carry their own).
#[derive(Debug)]
pub(crate) struct Metrics {
    pub(crate) frontend: Counters,
    pub(crate) denied: AtomicU64,
    pub(crate) invalid: AtomicU64,
    listener_accepted: Vec<AtomicU64>,
    /// TLS handshakes that failed or timed out, per listener.
    listener_tls_failures: Vec<AtomicU64>,
}

pub(crate) fn class(status: u16) -> usize {
    match status {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        500..=599 => 4,
        _ => 5,
    }
}

pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    pub(crate) fn new(listeners: &[ListenerRt]) -> Self {
        Metrics {
            frontend: Counters::default(),
            denied: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
            listener_accepted: listeners.iter().map(|_| AtomicU64::new(0)).collect(),
            listener_tls_failures: listeners.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(crate) fn listener_accepted(&self, i: usize) {
        add(&self.listener_accepted[i], 1);
    }

    /// Counts a TLS handshake on listener `i` that failed or timed out.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn listener_tls_failure(&self, i: usize) {
        add(&self.listener_tls_failures[i], 1);
    }

    /// Counts a response to the client (frontend, and backend/server when one answered).
    pub(crate) fn response(&self, status: u16, backend: Option<(&BackendRt, &ServerRt)>) {
        let c = class(status);
        add(&self.frontend.responses[c], 1);
        if let Some((be, srv)) = backend {
            add(&be.counters.responses[c], 1);
            add(&srv.counters.responses[c], 1);
        }
    }
}

/// A label value in the exposition format: `\`, `"` and newlines escaped.
struct Label<'a>(&'a str);

impl std::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

fn counter(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(
        out,
        "# HELP gangway_{name} {help}\n# TYPE gangway_{name} counter"
    );
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(
        out,
        "# HELP gangway_{name} {help}\n# TYPE gangway_{name} gauge"
    );
}

/// Renders every counter in the Prometheus text exposition format.
pub(crate) fn render(shared: &Shared) -> String {
    let m = &shared.metrics;
    let fe = Label(&shared.options.name);
    let mut out = String::with_capacity(4096);
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

    counter(
        &mut out,
        "listener_connections_total",
        "Connections accepted per listener.",
    );
    for (i, l) in shared.listeners.iter().enumerate() {
        let _ = writeln!(
            out,
            "gangway_listener_connections_total{{frontend=\"{fe}\",listener=\"{}\"}} {}",
            Label(&l.name),
            get(&m.listener_accepted[i])
        );
    }
    counter(
        &mut out,
        "listener_tls_handshake_failures_total",
        "TLS handshakes that failed or timed out (timeout client-hs), per listener.",
    );
    for (i, l) in shared.listeners.iter().enumerate() {
        let _ = writeln!(
            out,
            "gangway_listener_tls_handshake_failures_total{{frontend=\"{fe}\",listener=\"{}\"}} {}",
            Label(&l.name),
            get(&m.listener_tls_failures[i])
        );
    }
    gauge(
        &mut out,
        "frontend_current_connections",
        "Client connections open now.",
    );
    let _ = writeln!(
        out,
        "gangway_frontend_current_connections{{frontend=\"{fe}\"}} {}",
        shared.active.load(Ordering::Relaxed)
    );
    counter(&mut out, "frontend_requests_total", "Requests received.");
    let _ = writeln!(
        out,
        "gangway_frontend_requests_total{{frontend=\"{fe}\"}} {}",
        get(&m.frontend.requests)
    );
    counter(
        &mut out,
        "frontend_requests_denied_total",
        "Requests denied by rules.",
    );
    let _ = writeln!(
        out,
        "gangway_frontend_requests_denied_total{{frontend=\"{fe}\"}} {}",
        get(&m.denied)
    );
    counter(
        &mut out,
        "frontend_requests_invalid_total",
        "Requests rejected as malformed or timed out.",
    );
    let _ = writeln!(
        out,
        "gangway_frontend_requests_invalid_total{{frontend=\"{fe}\"}} {}",
        get(&m.invalid)
    );
    counter(
        &mut out,
        "frontend_responses_total",
        "Responses sent to clients by status class.",
    );
    for (c, name) in CLASSES.iter().enumerate() {
        let _ = writeln!(
            out,
            "gangway_frontend_responses_total{{frontend=\"{fe}\",code=\"{name}\"}} {}",
            get(&m.frontend.responses[c])
        );
    }

    let per = |out: &mut String, name: &str, help: &str, f: &dyn Fn(&Counters) -> u64| {
        counter(out, &format!("backend_{name}"), help);
        for be in &shared.backends {
            let _ = writeln!(
                out,
                "gangway_backend_{name}{{backend=\"{}\"}} {}",
                Label(&be.name),
                f(&be.counters)
            );
        }
        counter(out, &format!("server_{name}"), help);
        for be in &shared.backends {
            for srv in be.servers().iter() {
                let _ = writeln!(
                    out,
                    "gangway_server_{name}{{backend=\"{}\",server=\"{}\"}} {}",
                    Label(&be.name),
                    Label(&srv.name),
                    f(&srv.counters)
                );
            }
        }
    };
    per(&mut out, "requests_total", "Requests sent.", &|c| {
        get(&c.requests)
    });
    per(
        &mut out,
        "bytes_in_total",
        "Bytes received from clients and sent on.",
        &|c| get(&c.bytes_in),
    );
    per(
        &mut out,
        "bytes_out_total",
        "Bytes received from servers and sent on.",
        &|c| get(&c.bytes_out),
    );
    per(
        &mut out,
        "connect_errors_total",
        "Failed connection attempts.",
        &|c| get(&c.connect_errors),
    );
    per(
        &mut out,
        "response_errors_total",
        "Invalid, missing or timed-out responses.",
        &|c| get(&c.response_errors),
    );
    per(&mut out, "retries_total", "Connection retries.", &|c| {
        get(&c.retries)
    });
    per(
        &mut out,
        "redispatches_total",
        "Retries sent to another server.",
        &|c| get(&c.redispatches),
    );
    per(
        &mut out,
        "tunnels_total",
        "Upgraded connections (WebSocket tunnels).",
        &|c| get(&c.tunnels),
    );
    counter(
        &mut out,
        "backend_responses_total",
        "Responses by status class.",
    );
    for be in &shared.backends {
        for (c, name) in CLASSES.iter().enumerate() {
            let _ = writeln!(
                out,
                "gangway_backend_responses_total{{backend=\"{}\",code=\"{name}\"}} {}",
                Label(&be.name),
                get(&be.counters.responses[c])
            );
        }
    }
    gauge(&mut out, "server_up", "1 when the server takes traffic.");
    for be in &shared.backends {
        for srv in be.servers().iter() {
            let up = u8::from(be.state(srv) == crate::backend::ServerState::Up);
            let _ = writeln!(
                out,
                "gangway_server_up{{backend=\"{}\",server=\"{}\"}} {up}",
                Label(&be.name),
                Label(&srv.name)
            );
        }
    }
    gauge(&mut out, "server_current_tunnels", "Tunnels open now.");
    for be in &shared.backends {
        for srv in be.servers().iter() {
            let _ = writeln!(
                out,
                "gangway_server_current_tunnels{{backend=\"{}\",server=\"{}\"}} {}",
                Label(&be.name),
                Label(&srv.name),
                get(&srv.counters.active_tunnels)
            );
        }
    }
    gauge(
        &mut out,
        "tunnels_parked",
        "Idle tunnels parked outside the IO reactor now, in this whole process.",
    );
    let _ = writeln!(
        out,
        "gangway_tunnels_parked {}",
        gangway_tunnel::parked_tunnels()
    );
    gauge(
        &mut out,
        "server_current_connections",
        "Connections to the server in use now.",
    );
    for be in &shared.backends {
        for srv in be.servers().iter() {
            let _ = writeln!(
                out,
                "gangway_server_current_connections{{backend=\"{}\",server=\"{}\"}} {}",
                Label(&be.name),
                Label(&srv.name),
                be.active(srv)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let cases = [
            ("web", "web"),
            ("a\"b", "a\\\"b"),
            ("a\\b", "a\\\\b"),
            ("a\nb", "a\\nb"),
        ];
        for (raw, want) in cases {
            assert_eq!(Label(raw).to_string(), want);
        }
    }
}
