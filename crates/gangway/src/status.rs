//! The status page (HAProxy's stats page): per backend and server the state, the last check,
//! weights, connections, tunnels, bytes and counts, answered by the gateway itself as HTML,
//! JSON, server-sent events (pushed every second) and Prometheus text.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gangway_balance::ServerId;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::watch;

use crate::backend::{Balance, CheckKind};
use crate::gateway::{Phase, Shared};
use crate::proto::write_simple_response;

/// The page itself: plain HTML, CSS and JS, no build step.
const PAGE_HTML: &str = include_str!("status/page.html");
/// How often an events stream pushes a snapshot.
const PUSH_EVERY: Duration = Duration::from_secs(1);
/// How often check counters are sampled to date the last check.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// The page, told its base (which the browser cannot work out from its address when the
/// base has a query).
fn page(base: &str) -> String {
    let mut escaped = String::with_capacity(base.len());
    for c in base.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    PAGE_HTML.replacen("data-base=\"\"", &format!("data-base=\"{escaped}\""), 1)
}

/// What a status request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// `res_out` holds the whole response, its head `head_len` bytes.
    Done { head_len: usize },
    /// `res_out` holds the head of an event stream; [`stream_events`] sends the rest.
    Stream,
}

/// A URI the gateway answers itself (monitor URI, stats URI, status page), with what a
/// request is compared with worked out once, at build.
#[derive(Debug)]
pub(crate) struct OwnUri {
    uri: Box<str>,
    /// The URI has a query: it is compared with the request's whole target, not only its path
    /// (HAProxy's default stats URI is `/haproxy?stats`).
    has_query: bool,
}

impl OwnUri {
    pub(crate) fn new(uri: &str) -> OwnUri {
        OwnUri {
            uri: uri.into(),
            has_query: uri.contains('?'),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.uri
    }

    /// What of a request's `target` (its `path`, or all of it) this URI is compared with.
    pub(crate) fn subject<'a>(&self, path: &'a str, target: &'a str) -> &'a str {
        if self.has_query { target } else { path }
    }

    /// Whether a request for `path` (`target` with its query) asks for this URI.
    pub(crate) fn matches(&self, path: &str, target: &str) -> bool {
        *self.uri == *self.subject(path, target)
    }
}

/// Answers a request for `path` (`target` with its query) when it is the status page or
/// one of its siblings (`/json`, `/events`, `/metrics`), writing the response (or the event
/// stream's head) into `out`.
pub(crate) fn respond(
    shared: &Shared,
    path: &str,
    target: &str,
    out: &mut Vec<u8>,
) -> Option<Answer> {
    let own = shared.status_page.as_ref()?;
    let base = own.as_str();
    let rest = own.subject(path, target).strip_prefix(base)?;
    out.clear();
    let (ctype, body) = match rest {
        "" | "/" => ("text/html; charset=utf-8", page(base)),
        // HAProxy's stats URI is a prefix of the whole URI: `/haproxy?stats;csv` and
        // `/haproxy?stats&x` are its page too (the page here, in HTML).
        more if own.has_query && more.starts_with([';', '&']) => {
            ("text/html; charset=utf-8", page(base))
        }
        "/json" => ("application/json", render_json(shared)),
        "/metrics" => (
            "text/plain; version=0.0.4; charset=utf-8",
            crate::metrics::render(shared),
        ),
        "/events" => {
            out.extend_from_slice(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                  Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
            );
            return Some(Answer::Stream);
        }
        _ => return None,
    };
    // A HEAD gets only the head: the caller cuts every answer it writes itself.
    let head_len = write_simple_response(out, 200, &[("Content-Type", ctype)], &body, false);
    Some(Answer::Done { head_len })
}

/// Pushes a JSON snapshot every second until the client goes away or the gateway starts
/// shutting down (an open status page never holds up a graceful shutdown).
pub(crate) async fn stream_events<S>(
    shared: &Shared,
    client: &mut S,
    phase: &mut watch::Receiver<Phase>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // Browsers reconnect a second after the stream ends (e.g. across a gateway restart).
    let mut event = String::from("retry: 1000\n\n");
    let mut tick = tokio::time::interval(PUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut scratch = [0u8; 512];
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = crate::gateway::reached(phase, Phase::Draining) => break,
            n = client.read(&mut scratch) => match n {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
        }
        event.push_str("event: status\ndata: ");
        event.push_str(&render_json(shared));
        event.push_str("\n\n");
        let write = tokio::time::timeout(shared.timeouts.client, async {
            client.write_all(event.as_bytes()).await?;
            client.flush().await
        });
        if !matches!(write.await, Ok(Ok(()))) {
            return;
        }
        event.clear();
    }
    // Bounded: over TLS, a client that stopped reading would hold the close forever.
    let _ = tokio::time::timeout(shared.timeouts.client_fin, client.shutdown()).await;
}

/// The outcome of a server's latest active check, with the time it was seen.
#[derive(Debug, Clone)]
struct LastCheck {
    passed: bool,
    at: SystemTime,
    detail: String,
}

/// Check counters as last sampled, and the latest check they revealed.
#[derive(Debug, Clone, Default)]
struct Seen {
    passed: u64,
    failed: u64,
    last: Option<LastCheck>,
}

/// Dates every server's last active check: the health crate counts checks, this notices
/// when the counts move (within [`SAMPLE_EVERY`]).
#[derive(Debug, Default)]
pub(crate) struct CheckLog {
    seen: Mutex<HashMap<(usize, ServerId), Seen>>,
}

impl CheckLog {
    fn sample(&self, shared: &Shared) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        let now = SystemTime::now();
        for (b, be) in shared.backends.iter().enumerate() {
            for srv in be.servers().iter() {
                let Some(counters) = srv
                    .checker
                    .as_ref()
                    .and_then(|c| c.counters(&srv.check_key))
                else {
                    continue;
                };
                let entry = seen.entry((b, srv.id)).or_default();
                let passed = counters.checks_passed > entry.passed;
                let failed = counters.checks_failed > entry.failed;
                if passed || failed {
                    // Both moved within one sample: the server's state tells which came last.
                    let passed = if passed && failed {
                        be.state(srv) == crate::ServerState::Up
                    } else {
                        passed
                    };
                    let detail = match (&counters.last_failure, passed) {
                        (Some(f), false) => f.to_string(),
                        _ => counters.last_check_duration.map_or_else(
                            || "passed".into(),
                            |d| format!("passed in {} ms", d.as_millis()),
                        ),
                    };
                    entry.last = Some(LastCheck {
                        passed,
                        at: now,
                        detail,
                    });
                    entry.passed = counters.checks_passed;
                    entry.failed = counters.checks_failed;
                }
            }
        }
    }

    fn last(&self, backend: usize, id: ServerId) -> Option<LastCheck> {
        self.seen.lock().ok()?.get(&(backend, id))?.last.clone()
    }
}

/// Starts sampling check counters when the status page is on; stops when the gateway
/// starts shutting down.
pub(crate) fn start(shared: &Arc<Shared>) {
    if shared.status_page.is_none() {
        return;
    }
    let weak = Arc::downgrade(shared);
    let mut phase = shared.phase.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = crate::gateway::reached(&mut phase, Phase::Draining) => return,
            }
            let Some(shared) = weak.upgrade() else { return };
            shared.check_log.sample(&shared);
        }
    });
}

fn unix_ms(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// A JSON string literal.
struct Json<'a>(&'a str);

impl std::fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                // `<` too, so the text is safe inside an HTML page as well.
                c if (c as u32) < 0x20 || c == '<' => write!(f, "\\u{:04x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

fn balance_name(b: &Balance) -> String {
    match b {
        Balance::RoundRobin => "roundrobin".into(),
        Balance::StaticRoundRobin => "static-rr".into(),
        Balance::LeastConn => "leastconn".into(),
        Balance::First => "first".into(),
        Balance::Random { draws } => format!("random({draws})"),
        Balance::Source => "source".into(),
        Balance::Uri => "uri".into(),
        Balance::UrlParam(p) => format!("url_param({p})"),
        Balance::Header(h) => format!("hdr({h})"),
    }
}

fn check_name(kind: &CheckKind) -> String {
    match kind {
        CheckKind::Tcp => "tcp".into(),
        CheckKind::Http { method, path, .. } => format!("http {method} {path}"),
        CheckKind::WebSocket { path, .. } => format!("websocket {path}"),
    }
}

/// Renders the whole status as one JSON object.
pub(crate) fn render_json(shared: &Shared) -> String {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let now = SystemTime::now();
    let m = &shared.metrics;
    let mut out = String::with_capacity(2048);
    let _ = write!(
        out,
        "{{\"frontend\":{},\"now\":{},\"connections\":{},\"requests\":{},\"denied\":{},\"invalid\":{},\"backends\":[",
        Json(&shared.options.name),
        unix_ms(now),
        shared.active.load(Ordering::Relaxed),
        get(&m.frontend.requests),
        get(&m.denied),
        get(&m.invalid),
    );
    for (b, be) in shared.backends.iter().enumerate() {
        if b > 0 {
            out.push(',');
        }
        let c = &be.counters;
        let check = be.spec.check.as_ref().map(|c| check_name(&c.kind));
        let _ = write!(
            out,
            "{{\"name\":{},\"balance\":{},\"check\":{},\"up\":{},\"requests\":{},\"errors\":{},\"responses_5xx\":{},\"bytes_in\":{},\"bytes_out\":{},\"tunnels_active\":{},\"tunnels_total\":{},\"servers\":[",
            Json(&be.name),
            Json(&balance_name(&be.spec.balance)),
            check
                .as_deref()
                .map_or_else(|| "null".into(), |c| Json(c).to_string()),
            be.servers()
                .iter()
                .filter(|s| be.state(s) == crate::ServerState::Up)
                .count(),
            get(&c.requests),
            get(&c.connect_errors) + get(&c.response_errors),
            get(&c.responses[4]),
            get(&c.bytes_in),
            get(&c.bytes_out),
            get(&c.active_tunnels),
            get(&c.tunnels),
        );
        for (i, srv) in be.servers().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let info = be.set.server(srv.id);
            let (weight, effective, total) = info.as_ref().map_or((0, 0, 0), |i| {
                (i.server.get_weight(), i.effective_weight, i.total_picks)
            });
            let c = &srv.counters;
            let _ = write!(
                out,
                "{{\"name\":{},\"addr\":{},\"state\":{},\"weight\":{weight},\"effective_weight\":{effective},\"active\":{},\"total\":{total},\"tunnels_active\":{},\"tunnels_total\":{},\"bytes_in\":{},\"bytes_out\":{},\"requests\":{},\"errors\":{},\"responses_5xx\":{},\"checked\":{},\"last_check\":",
                Json(&srv.name),
                Json(&srv.addr.to_string()),
                Json(be.state(srv).as_str()),
                be.active(srv),
                get(&c.active_tunnels),
                get(&c.tunnels),
                get(&c.bytes_in),
                get(&c.bytes_out),
                get(&c.requests),
                get(&c.connect_errors) + get(&c.response_errors),
                get(&c.responses[4]),
                srv.checker.is_some(),
            );
            match shared.check_log.last(b, srv.id) {
                Some(last) => {
                    let _ = write!(
                        out,
                        "{{\"result\":{},\"detail\":{},\"at\":{},\"age_ms\":{}}}}}",
                        Json(if last.passed { "passed" } else { "failed" }),
                        Json(&last.detail),
                        unix_ms(last.at),
                        now.duration_since(last.at).map_or(0, |d| d.as_millis()),
                    );
                }
                None => out.push_str("null}"),
            }
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_uris_match_the_path_or_with_a_query_the_target() {
        // (configured URI, request path, request target, match)
        let cases = [
            ("/healthz", "/healthz", "/healthz?x=1", true),
            ("/healthz", "/healthz/", "/healthz/", false),
            ("/haproxy?stats", "/haproxy", "/haproxy?stats", true),
            ("/haproxy?stats", "/haproxy", "/haproxy", false),
            ("/haproxy?stats", "/haproxy", "/haproxy?stats&x", false),
        ];
        for (uri, path, target, want) in cases {
            assert_eq!(
                OwnUri::new(uri).matches(path, target),
                want,
                "{uri} {target}"
            );
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let cases = [
            ("web", "\"web\""),
            ("a\"b", "\"a\\\"b\""),
            ("a\\b", "\"a\\\\b\""),
            ("a\nb\tc", "\"a\\nb\\tc\""),
            ("\u{1}", "\"\\u0001\""),
            ("</script>", "\"\\u003c/script>\""),
            ("é", "\"é\""),
        ];
        for (raw, want) in cases {
            assert_eq!(Json(raw).to_string(), want, "{raw:?}");
        }
    }
}
