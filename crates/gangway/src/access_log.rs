//! One HAProxy `httplog`-like line per request, emitted as a `tracing` event at target
//! `gangway::access`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// How a request's session ended, as HAProxy's two-letter termination state
/// (who ended it: `C`lient, `S`erver, `P`roxy, `c`/`s` timeouts; in which phase:
/// `R`equest, `Q`ueue, `C`onnect, `H`eaders, `D`ata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Termination {
    #[default]
    Normal,
    ClientTimeoutRequest,
    ClientAbortHeaders,
    ClientAbortData,
    ClientTimeoutData,
    ProxyRequest,
    ProxyConnect,
    ProxyHeaders,
    ServerQueue,
    ServerConnect,
    ServerHeaders,
    ServerTimeoutHeaders,
    ServerAbortData,
    ServerTimeoutData,
}

impl Termination {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Termination::Normal => "--",
            Termination::ClientTimeoutRequest => "cR",
            Termination::ClientAbortHeaders => "CH",
            Termination::ClientAbortData => "CD",
            Termination::ClientTimeoutData => "cD",
            Termination::ProxyRequest => "PR",
            Termination::ProxyConnect => "PC",
            Termination::ProxyHeaders => "PH",
            Termination::ServerQueue => "sQ",
            Termination::ServerConnect => "SC",
            Termination::ServerHeaders => "SH",
            Termination::ServerTimeoutHeaders => "sH",
            Termination::ServerAbortData => "SD",
            Termination::ServerTimeoutData => "sD",
        }
    }
}

/// The fields of one access-log line, reused from request to request.
#[derive(Debug)]
pub(crate) struct AccessLog {
    pub(crate) start: Instant,
    pub(crate) request_line: String,
    pub(crate) backend: Option<Arc<str>>,
    pub(crate) server: Option<Arc<str>>,
    pub(crate) t_request: Option<Duration>,
    pub(crate) t_queue: Option<Duration>,
    pub(crate) t_connect: Option<Duration>,
    pub(crate) t_response: Option<Duration>,
    pub(crate) status: u16,
    pub(crate) bytes_out: u64,
    pub(crate) term: Termination,
    line: String,
}

impl Default for AccessLog {
    fn default() -> Self {
        AccessLog {
            start: Instant::now(),
            request_line: String::new(),
            backend: None,
            server: None,
            t_request: None,
            t_queue: None,
            t_connect: None,
            t_response: None,
            status: 0,
            bytes_out: 0,
            term: Termination::Normal,
            line: String::new(),
        }
    }
}

fn ms(d: Option<Duration>) -> i64 {
    d.map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl AccessLog {
    pub(crate) fn reset(&mut self, start: Instant) {
        self.start = start;
        self.request_line.clear();
        self.backend = None;
        self.server = None;
        self.t_request = None;
        self.t_queue = None;
        self.t_connect = None;
        self.t_response = None;
        self.status = 0;
        self.bytes_out = 0;
        self.term = Termination::Normal;
    }

    pub(crate) fn set_request(&mut self, method: &str, target: &str, minor: u8) {
        self.request_line.clear();
        let _ = write!(self.request_line, "{method} {target} HTTP/1.{minor}");
    }

    /// Formats the line: `client frontend/listener backend/server Tq/Tw/Tc/Tr/Tt status bytes
    /// term "request"` (timings in milliseconds, -1 for a phase not reached).
    pub(crate) fn format(&mut self, client: SocketAddr, frontend: &str, listener: &str) -> &str {
        self.line.clear();
        let total = ms(Some(self.start.elapsed()));
        let _ = write!(
            self.line,
            "{client} {frontend}/{listener} {}/{} {}/{}/{}/{}/{total} {} {} {} \"{}\"",
            self.backend.as_deref().unwrap_or("<NOSRV>"),
            self.server.as_deref().unwrap_or("<NOSRV>"),
            ms(self.t_request),
            ms(self.t_queue),
            ms(self.t_connect),
            ms(self.t_response),
            self.status,
            self.bytes_out,
            self.term.code(),
            self.request_line.escape_debug(),
        );
        &self.line
    }

    /// Emits the line as an `info` event at target `gangway::access`.
    pub(crate) fn emit(&mut self, client: SocketAddr, frontend: &str, listener: &str) {
        // Formatting costs time per request: skip it when nobody listens.
        if !tracing::enabled!(target: "gangway::access", tracing::Level::INFO) {
            return;
        }
        let line = self.format(client, frontend, listener);
        tracing::info!(target: "gangway::access", "{}", line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn line_has_haproxy_fields() {
        let mut log = AccessLog::default();
        log.reset(Instant::now());
        log.set_request("GET", "/a?b", 1);
        log.backend = Some(Arc::from("web"));
        log.server = Some(Arc::from("s1"));
        log.t_request = Some(Duration::from_millis(2));
        log.t_queue = Some(Duration::ZERO);
        log.t_connect = Some(Duration::from_millis(1));
        log.t_response = Some(Duration::from_millis(7));
        log.status = 200;
        log.bytes_out = 42;
        tokio::time::advance(Duration::from_millis(12)).await;
        let line = log
            .format("192.0.2.1:5000".parse().unwrap(), "fe", "l1")
            .to_owned();
        assert_eq!(
            line,
            "192.0.2.1:5000 fe/l1 web/s1 2/0/1/7/12 200 42 -- \"GET /a?b HTTP/1.1\""
        );
        log.reset(Instant::now());
        log.term = Termination::ClientTimeoutRequest;
        log.status = 408;
        let line = log
            .format("192.0.2.1:5000".parse().unwrap(), "fe", "l1")
            .to_owned();
        assert_eq!(
            line,
            "192.0.2.1:5000 fe/l1 <NOSRV>/<NOSRV> -1/-1/-1/-1/0 408 0 cR \"\""
        );
    }
}
