//! One client connection: read each request head, route it, exchange it with a server,
//! forward bodies by their framing, switch to a tunnel after a valid 101, keep alive.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::access_log::{AccessLog, Termination};
use crate::backend::ConnectionMode;
use crate::deadline::LazyTimer;
use crate::gateway::{Admission, Phase, Shared};
use crate::metrics::add;
use crate::parse::{self, ChunkedTracker};
use crate::proto::{
    BodyFraming, Parsed, RequestHead, ResponseHead, error_body, header, is_hop_by_hop,
    named_by_connection, put_header, write_simple_response,
};
use crate::rules::{HeaderAction, RuleAction};
use crate::stream::Stream;
use crate::tunnels::GatewayTunnel;
use crate::upstream::{BackendRt, PickFailure, ServerRt};

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Room made for a read while a head is expected (heads are small; bodies get `READ_CHUNK`).
const HEAD_CHUNK: usize = 4 * 1024;
/// How long connections get to finish once a shutdown's grace period is over.
const CLOSING_DRAIN: Duration = crate::tunnels::CLOSING_DRAIN;
/// Header lines parsed per head.
const MAX_HEADERS: usize = 128;
/// A lingering close (see [`Conn::close_lingering`]) reads for at most this long...
const LINGER_TIME: Duration = Duration::from_secs(5);
/// ...and at most this many bytes.
const LINGER_BYTES: usize = 16 << 20;
/// Header lines of the table tried first (most heads have fewer; filling a table costs).
const FEW_HEADERS: usize = 32;

/// Serves one accepted client connection until it closes.
pub(crate) async fn serve(
    admission: Admission,
    listener: usize,
    client: TcpStream,
    peer: SocketAddr,
) {
    let shared = admission.shared.clone();
    let mut closing = shared.phase.subscribe();
    let span = tracing::debug_span!("conn", %peer, listener = %shared.listeners[listener].name);
    let _ = client.set_nodelay(true);
    // Over TLS, a PROXY header comes before the handshake and is read with it.
    #[cfg(feature = "tls")]
    let (client, proxied) = match &shared.listeners[listener].tls {
        Some(config) => {
            let accepted = crate::tls::accept(&shared, listener, client, config)
                .instrument(span.clone())
                .await;
            match accepted {
                Some(accepted) => accepted,
                None => return,
            }
        }
        None => (Stream::Tcp(client), crate::pp::Proxied::default()),
    };
    #[cfg(not(feature = "tls"))]
    let (client, proxied) = (Stream::Tcp(client), crate::pp::Proxied::default());
    let phase = shared.phase.subscribe();
    let mut phase_gate = shared.phase.subscribe();
    if *phase_gate.borrow() != Phase::Running {
        // A shutdown began before this connection looked: that counts as a change.
        phase_gate.mark_changed();
    }
    // Built in a block, so that the task keeps one copy of the connection (in `run`), not a
    // second one in a local of this function.
    let run = {
        let mut conn = Conn {
            listener,
            client,
            peer,
            src: peer,
            src_text: IpText::new(peer.ip()),
            dst: None,
            // Buffers are taken when the first bytes arrive (see `read_client`).
            cbuf: BytesMut::new(),
            sbuf: BytesMut::new(),
            req_out: Vec::new(),
            res_out: Vec::new(),
            head_request: false,
            body_unread: false,
            req_rules: Vec::new(),
            res_rules: Vec::new(),
            excluded: Vec::new(),
            key: Vec::new(),
            timer: LazyTimer::default(),
            log: AccessLog::default(),
            phase,
            phase_gate: phase_gate.clone(),
            shared,
            admission,
        };
        conn.proxied(proxied);
        conn.run().instrument(span)
    };
    // Past the grace period of a shutdown, tunnels drain; a moment later whatever is still
    // running is dropped (its sockets close).
    let deadline = async {
        let closed = std::pin::pin!(crate::gateway::reached(&mut closing, Phase::Closing));
        PhaseGated::new(&phase_gate, closed).await;
        tokio::time::sleep(CLOSING_DRAIN).await;
    };
    tokio::select! {
        _ = run => {}
        _ = deadline => {}
    }
}

/// What the head of one request asks for, owned so the client buffer can move on.
#[derive(Debug, Clone, Copy)]
struct RequestMeta {
    head_len: usize,
    framing: BodyFraming,
    keep_alive: bool,
    version_minor: u8,
    is_head: bool,
    is_connect: bool,
    /// GET, HEAD, OPTIONS, TRACE, PUT or DELETE (RFC 9110, 9.2.2): may be sent again when a
    /// reused server connection turns out closed before any answer.
    idempotent: bool,
    switch: gangway_h1::SwitchExpectation,
}

/// When a request body's upload ended (set once), for the wait for the response head:
/// `timeout server` counts from then (a server reading a long upload is not idle). While the
/// body is still going up, its own timeouts (client and server side) end it if it stalls.
type UploadEnd = std::sync::OnceLock<Instant>;

/// What to do with a parsed request.
enum Plan {
    Partial,
    Invalid(u16),
    /// The gateway answers itself (deny, redirect, monitor, stats); `res_out` holds the answer.
    Answer {
        meta: RequestMeta,
        status: u16,
        /// Where the answer's head ends in `res_out`.
        head_len: usize,
    },
    /// Forward to a backend; `req_out` holds the rewritten head.
    Forward {
        meta: RequestMeta,
        backend: usize,
        hashed: bool,
    },
    /// The status page's event stream; `res_out` holds its head.
    Events {
        meta: RequestMeta,
    },
    /// No route and no default backend.
    NoBackend {
        meta: RequestMeta,
    },
}

/// How one exchange with a server ended.
enum Exchange {
    /// The response went out whole (`reusable`: the server connection may go back to the pool).
    Done {
        status: u16,
        reusable: bool,
        client_close: bool,
    },
    /// A valid 101: switch to a tunnel.
    Switch,
    /// Failed before any final response reached the client: answer this status.
    Fail {
        status: u16,
        term: Termination,
        server_fault: bool,
    },
    /// A reused pooled connection turned out closed before answering: retry on a fresh one.
    Stale,
    /// Failed after the response head went out (or the client went away): just close.
    Abort {
        status: u16,
        term: Termination,
        server_fault: bool,
    },
}

struct Conn {
    shared: Arc<Shared>,
    listener: usize,
    client: Stream,
    peer: SocketAddr,
    src: SocketAddr,
    src_text: IpText,
    /// The address the client connected to, when a PROXY header told it (for
    /// `X-Forwarded-Port` and the PROXY header sent to servers; else the listener's).
    dst: Option<SocketAddr>,
    cbuf: BytesMut,
    sbuf: BytesMut,
    req_out: Vec<u8>,
    res_out: Vec<u8>,
    /// The request being answered is a HEAD (its answers carry no body).
    head_request: bool,
    /// The request being answered has a body not yet read to its end: an error answer
    /// then closes lingering (see [`Conn::close_lingering`]).
    body_unread: bool,
    req_rules: Vec<usize>,
    res_rules: Vec<usize>,
    excluded: Vec<gangway_balance::ServerId>,
    key: Vec<u8>,
    /// The timeout of whichever read the connection waits on (one timer, moved lazily).
    timer: LazyTimer,
    log: AccessLog,
    phase: watch::Receiver<Phase>,
    /// Tells whether the phase changed at all, for [`PhaseGated`].
    phase_gate: watch::Receiver<Phase>,
    /// Handed to the tunnel when the connection becomes one.
    admission: Admission,
}

enum ReadErr {
    Closed,
    Timeout,
    Shutdown,
}

/// What follows a forwarded request.
enum Next {
    KeepAlive,
    Close,
    Tunnel {
        server: Stream,
        backend: usize,
        srv: Arc<ServerRt>,
        slot: gangway_balance::ConnectionSlot,
    },
}

impl Conn {
    // Not `async fn`s: one taking `self` by value keeps a second copy of it (640 bytes) in its
    // future, while an `async move` block uses the moved-in `self` in place.
    #[allow(clippy::manual_async_fn)]
    fn run(mut self) -> impl Future<Output = ()> {
        async move {
            let shared = self.shared.clone();
            // Over TLS the PROXY header came before the handshake (read by `tls::accept`).
            if self.shared.listeners[self.listener].accept_proxy
                && !self.client.is_tls()
                && !self.read_proxy_header().await
            {
                return;
            }
            if shared.options.mode == crate::builder::FrontendMode::Tcp {
                self.serve_tcp(&shared).await;
                return;
            }
            let mut first = true;
            loop {
                let start = Instant::now();
                self.log.reset(start);
                self.head_request = false;
                self.body_unread = false;
                if self.cbuf.is_empty() {
                    let idle = if first {
                        self.shared.timeouts.http_request
                    } else {
                        self.shared.timeouts.http_keep_alive
                    };
                    match self.read_client(idle, true).await {
                        Ok(_) => {}
                        Err(ReadErr::Timeout) if first => {
                            self.answer_error(408, Termination::ClientTimeoutRequest)
                                .await;
                            return;
                        }
                        Err(_) => return,
                    }
                }
                let head_start = if first { start } else { Instant::now() };
                first = false;
                self.log.start = head_start;
                let deadline =
                    crate::deadline::deadline_from(head_start, self.shared.timeouts.http_request);
                let plan = loop {
                    let plan = self.plan();
                    if !matches!(plan, Plan::Partial) {
                        break plan;
                    }
                    if self.cbuf.len() >= self.shared.options.max_head_size {
                        break Plan::Invalid(431);
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    match self.read_client(left, false).await {
                        Ok(_) => {}
                        Err(ReadErr::Timeout) => {
                            self.answer_error(408, Termination::ClientTimeoutRequest)
                                .await;
                            return;
                        }
                        Err(_) => {
                            // A client that gives up mid-head gets nothing (it is gone).
                            return;
                        }
                    }
                };
                if self.shared.options.access_log {
                    self.log.t_request = Some(head_start.elapsed());
                }
                let keep_going = match plan {
                    Plan::Partial => false,
                    Plan::Invalid(status) => {
                        add(&self.shared.metrics.invalid, 1);
                        self.answer_error(status, Termination::ProxyRequest).await;
                        false
                    }
                    Plan::Answer {
                        meta,
                        status,
                        mut head_len,
                    } => {
                        self.cbuf.advance(meta.head_len);
                        add(&self.shared.metrics.frontend.requests, 1);
                        // An answered request's body (if any) is never read: close after answering.
                        // Denials close too, as HAProxy does after an error answer.
                        let close = !meta.keep_alive
                            || meta.framing != BodyFraming::None
                            || status >= 400
                            || self.draining();
                        if close {
                            head_len = self.mark_close(head_len);
                        }
                        if meta.is_head {
                            // The head the same GET would get, without its body (monitor, stats,
                            // status page, deny, redirect and error pages alike).
                            self.res_out.truncate(head_len);
                        }
                        let ok = self.write_client_out().await;
                        self.shared.metrics.response(status, None);
                        self.log.status = status;
                        self.log.bytes_out = self.res_out.len() as u64;
                        self.log.term = Termination::Normal;
                        self.emit_log();
                        if close
                            && ok
                            && (meta.framing != BodyFraming::None || !self.cbuf.is_empty())
                        {
                            self.close_lingering().await;
                            return;
                        }
                        ok && !close
                    }
                    Plan::Events { meta } => {
                        self.cbuf.advance(meta.head_len);
                        add(&self.shared.metrics.frontend.requests, 1);
                        self.shared.metrics.response(200, None);
                        (self.log.status, self.log.term) = (200, Termination::Normal);
                        self.emit_log();
                        if self.write_client_out().await && !meta.is_head {
                            let (client, phase) = (&mut self.client, &mut self.phase);
                            crate::status::stream_events(&shared, client, phase).await;
                        }
                        return;
                    }
                    Plan::NoBackend { meta } => {
                        self.cbuf.advance(meta.head_len);
                        add(&self.shared.metrics.frontend.requests, 1);
                        self.answer_error(503, Termination::ProxyConnect).await;
                        false
                    }
                    Plan::Forward {
                        meta,
                        backend,
                        hashed,
                    } => {
                        self.cbuf.advance(meta.head_len);
                        add(&self.shared.metrics.frontend.requests, 1);
                        let span = tracing::debug_span!("request", backend = %shared.backends[backend].name);
                        match self
                            .forward(&shared, meta, backend, hashed)
                            .instrument(span)
                            .await
                        {
                            Next::KeepAlive => true,
                            Next::Close => false,
                            Next::Tunnel {
                                server,
                                backend,
                                srv,
                                slot,
                            } => {
                                self.start_tunnel(server, backend, srv, slot);
                                return;
                            }
                        }
                    }
                };
                if !keep_going || self.draining() {
                    self.client
                        .close_within(self.shared.timeouts.client_fin)
                        .await;
                    return;
                }
            }
        }
    }

    /// `mode tcp`: pipes the whole connection to a server.
    #[allow(clippy::manual_async_fn)]
    fn serve_tcp(mut self, shared: &Shared) -> impl Future<Output = ()> {
        async move {
            self.log.reset(Instant::now());
            let mut view = crate::acl::RequestView::new("", "", &[]).with_src(self.src);
            // Over TLS, `ssl_fc` and `ssl_fc_sni` can route whole connections too.
            if let Some(sni) = self.client.tls_sni() {
                view = view.with_ssl(true);
                if let Some(sni) = sni {
                    view = view.with_sni(sni);
                }
            }
            let Some(backend) = shared.route(&view) else {
                self.log.term = Termination::ProxyConnect;
                self.emit_log();
                return;
            };
            let be = &shared.backends[backend];
            self.log.backend = Some(be.log_name.clone());
            add(&be.counters.requests, 1);
            self.key.clear();
            let hashed = be.spec.balance == crate::backend::Balance::Source;
            match self.src.ip() {
                IpAddr::V4(a) => self.key.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => self.key.extend_from_slice(&a.octets()),
            }
            self.excluded.clear();
            let mut attempts = be.spec.retries;
            match self
                .connect_server(shared, backend, hashed, false, None, &mut attempts)
                .await
            {
                Ok((srv, slot, server, _)) => {
                    add(&srv.counters.requests, 1);
                    add(&be.counters.tunnels, 1);
                    add(&srv.counters.tunnels, 1);
                    self.emit_log();
                    self.start_tunnel(server, backend, srv, slot);
                }
                Err(term) => {
                    self.log.term = term;
                    self.emit_log();
                }
            }
        }
    }

    /// Now, when access logging is on (the timings exist only for the log line).
    fn log_clock(&self) -> Option<Instant> {
        self.shared.options.access_log.then(Instant::now)
    }

    fn draining(&self) -> bool {
        *self.phase.borrow() != Phase::Running
    }

    /// Reads more client bytes within `limit`; while idle between requests a shutdown closes.
    /// Between requests the connection's buffers go back to this thread's spares, and a set is
    /// taken again once the client has sent something: an idle connection holds no buffer.
    async fn read_client(&mut self, limit: Duration, idle: bool) -> Result<usize, ReadErr> {
        if idle && self.cbuf.is_empty() {
            self.release_buffers();
        }
        let (client, cbuf, sbuf) = (&mut self.client, &mut self.cbuf, &mut self.sbuf);
        let (req_out, res_out) = (&mut self.req_out, &mut self.res_out);
        let read = self.timer.within(limit, async move {
            let client = match client {
                Stream::Tcp(tcp) => tcp,
                #[allow(unreachable_patterns)]
                tls => {
                    // TLS may hold decrypted bytes already: no readiness wait on the socket.
                    take_buffers(cbuf, sbuf, req_out, res_out);
                    return tls.read_buf(cbuf).await;
                }
            };
            loop {
                client.readable().await?;
                take_buffers(cbuf, sbuf, req_out, res_out);
                // One poll of `read_buf` rather than `try_read_buf`: a read that leaves room in
                // the buffer clears the socket's readiness, so the next request's wait does not
                // start with a read that can only find nothing (one system call per request).
                let read = std::pin::pin!(client.read_buf(cbuf));
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                if let std::task::Poll::Ready(result) = read.poll(&mut cx) {
                    return result;
                }
                // Nothing after all (readiness cleared): an idle connection keeps no buffer.
                if cbuf.is_empty() && cbuf.capacity() > 0 {
                    let set = ConnBuffers {
                        cbuf: std::mem::take(cbuf),
                        sbuf: std::mem::take(sbuf),
                        req_out: std::mem::take(req_out),
                        res_out: std::mem::take(res_out),
                    };
                    set.spare();
                }
            }
        });
        let result = if idle {
            // No wait of its own on the phase (registering one with the watch channel and
            // removing it again costs two locks per request): `serve`'s wait for the closing
            // phase, registered once per connection, wakes this task on every phase change,
            // and this only looks (one atomic load until the phase first changes).
            let gate = &self.phase_gate;
            let draining = std::future::poll_fn(|_| {
                if gate.has_changed().unwrap_or(true) && *gate.borrow() >= Phase::Draining {
                    std::task::Poll::Ready(())
                } else {
                    std::task::Poll::Pending
                }
            });
            tokio::select! {
                r = read => r,
                _ = draining => return Err(ReadErr::Shutdown),
            }
        } else {
            read.await
        };
        match result {
            Err(_) => Err(ReadErr::Timeout),
            Ok(Ok(0)) | Ok(Err(_)) => Err(ReadErr::Closed),
            Ok(Ok(n)) => Ok(n),
        }
    }

    /// Takes the client's address (and the port it connected to) from a PROXY header.
    fn proxied(&mut self, proxied: crate::pp::Proxied) {
        if let Some(src) = proxied.source {
            self.src = src;
            self.src_text = IpText::new(src.ip());
        }
        self.dst = proxied.destination;
    }

    async fn read_proxy_header(&mut self) -> bool {
        let deadline =
            crate::deadline::deadline_from(Instant::now(), self.shared.timeouts.http_request);
        loop {
            match crate::pp::decode(&self.cbuf) {
                Ok(Some((proxied, len))) => {
                    self.proxied(proxied);
                    self.cbuf.advance(len);
                    return true;
                }
                Ok(None) => {}
                Err(()) => {
                    tracing::debug!("invalid PROXY protocol header: closing");
                    return false;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.read_client(left, false).await.is_err() {
                return false;
            }
        }
    }

    /// Parses the buffered head and decides what to do, writing the head to send.
    fn plan(&mut self) -> Plan {
        let shared = &*self.shared;
        let mut few = [httparse::EMPTY_HEADER; FEW_HEADERS];
        let mut storage;
        let mut switch = gangway_h1::SwitchExpectation::default();
        let parsed = match parse::parse_request(&shared.parser, &self.cbuf, &mut few, &mut switch) {
            // Too many fields for the small table (or too large a head): the full one decides.
            Err(431) => {
                storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
                parse::parse_request(&shared.parser, &self.cbuf, &mut storage, &mut switch)
            }
            parsed => parsed,
        };
        let mut head = match parsed {
            Ok(Parsed::Partial) => return Plan::Partial,
            Err(status) => return Plan::Invalid(status),
            Ok(Parsed::Complete(h)) => h,
        };
        // An HTTP/2 upgrade (`h2c`, or `h2` anywhere in Upgrade) is not offered to servers, as
        // HAProxy's mux_h1 removes it: after a 101 the client's HTTP/2 requests would pass in a
        // tunnel, past every rule and route. It goes on as a plain request (any 101 is a 502).
        if head.upgrade
            && head.method != "CONNECT"
            && (gangway_h1::upgrade_names(head.headers, "h2c")
                || gangway_h1::upgrade_names(head.headers, "h2"))
        {
            head.upgrade = false;
            switch = gangway_h1::SwitchExpectation::default();
        }
        let meta = RequestMeta {
            head_len: head.head_len,
            framing: head.framing,
            keep_alive: head.keep_alive,
            version_minor: head.version_minor,
            // Methods are case-sensitive (RFC 9110, 9.1), as gangway-h1 reads them: `connect`
            // or `head` is some other method, framed and routed like any.
            is_head: head.method == "HEAD",
            is_connect: head.method == "CONNECT",
            idempotent: matches!(
                head.method,
                "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
            ),
            switch,
        };
        self.head_request = meta.is_head;
        self.body_unread = meta.framing != BodyFraming::None;
        if shared.options.access_log {
            self.log
                .set_request(head.method, head.target, head.version_minor);
        }
        let mut view = crate::acl::RequestView::new(head.method, head.target, head.headers)
            .with_version_minor(head.version_minor)
            .with_src(self.src);
        if let Some(sni) = self.client.tls_sni() {
            view = view.with_ssl(true);
            if let Some(sni) = sni {
                view = view.with_sni(sni);
            }
        }
        // The gateway's own URIs are matched on the path (and query) as in origin form, also
        // for an absolute-form target (`GET http://host/status`), as HAProxy does.
        // (`*` and authority-form targets name no path.)
        let target = view.path_and_query().unwrap_or("");
        let path = target.split_once('?').map_or(target, |(p, _)| p);

        // The monitor URI first (as in HAProxy: a load balancer's probe is answered before
        // any rule); it never touches a backend.
        if shared
            .monitor_uri
            .as_ref()
            .is_some_and(|uri| uri.matches(path, target))
        {
            let up = shared
                .monitor_backends
                .iter()
                .all(|&b| shared.backends[b].any_up());
            let status = if up { 200 } else { 503 };
            self.res_out.clear();
            let body = if up { "OK\n" } else { "Service Unavailable\n" };
            // HAProxy: "Code 200 is emitted in response to requests matching a monitor-uri".
            let head_len = write_answer(&mut self.res_out, shared, status, &[], body, false);
            self.log.backend = Some(Arc::from("<MONITOR>"));
            return Plan::Answer {
                meta,
                status,
                head_len,
            };
        }
        self.req_rules.clear();
        self.res_rules.clear();
        for (i, rule) in shared.rules.iter().enumerate() {
            if !rule.condition.as_ref().is_none_or(|c| c.eval(&view)) {
                continue;
            }
            match &rule.action {
                RuleAction::Deny { status } => {
                    add(&shared.metrics.denied, 1);
                    self.res_out.clear();
                    let body = error_body(*status);
                    let head_len =
                        write_answer(&mut self.res_out, shared, *status, &[], body, false);
                    self.log.backend = Some(Arc::from("<DENY>"));
                    return Plan::Answer {
                        meta,
                        status: *status,
                        head_len,
                    };
                }
                RuleAction::Redirect(r) => {
                    let host =
                        header(head.headers, "host").and_then(|h| std::str::from_utf8(h).ok());
                    let Some(location) = r.location_for(host, view.path_and_query()) else {
                        return Plan::Invalid(400);
                    };
                    self.res_out.clear();
                    let head_len = write_simple_response(
                        &mut self.res_out,
                        r.status,
                        &[("Location", &location)],
                        "",
                        false,
                    );
                    self.log.backend = Some(Arc::from("<REDIRECT>"));
                    return Plan::Answer {
                        meta,
                        status: r.status,
                        head_len,
                    };
                }
                RuleAction::RequestHeader(_) => self.req_rules.push(i),
                RuleAction::ResponseHeader(_) => self.res_rules.push(i),
            }
        }

        // The gateway's own pages after the rules, so that `http-request deny` (or a
        // redirect) protects them, as HAProxy runs its rules before its stats page.
        if shared
            .stats_uri
            .as_ref()
            .is_some_and(|uri| uri.matches(path, target))
        {
            let text = crate::metrics::render(shared);
            self.res_out.clear();
            let head_len = write_simple_response(
                &mut self.res_out,
                200,
                &[("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                &text,
                false,
            );
            self.log.backend = Some(Arc::from("<STATS>"));
            return Plan::Answer {
                meta,
                status: 200,
                head_len,
            };
        }
        match crate::status::respond(shared, path, target, &mut self.res_out) {
            Some(crate::status::Answer::Done { head_len }) => {
                return Plan::Answer {
                    meta,
                    status: 200,
                    head_len,
                };
            }
            Some(crate::status::Answer::Stream) => return Plan::Events { meta },
            None => {}
        }

        let Some(backend) = shared.route(&view) else {
            return Plan::NoBackend { meta };
        };
        let be = &shared.backends[backend];
        self.log.backend = Some(be.log_name.clone());
        let hashed = hash_key(&be.spec.balance, &head, self.src.ip(), &mut self.key);
        let listener = &shared.listeners[self.listener];
        let actions = || {
            self.req_rules
                .iter()
                .filter_map(|&i| match &shared.rules[i].action {
                    RuleAction::RequestHeader(a) => Some(a),
                    _ => None,
                })
                .chain(be.spec.request_headers.iter())
        };
        write_request_head(
            &mut self.req_out,
            &head,
            &RewriteCtx {
                client_ip: self.src.ip(),
                client_ip_text: self.src_text.as_bytes(),
                proto: &listener.forwarded_proto,
                port: self
                    .dst
                    .map(|d| d.port())
                    .unwrap_or_else(|| listener.port.load(std::sync::atomic::Ordering::Relaxed)),
                forward_for: shared.options.forward_for
                    && !shared
                        .options
                        .forward_for_except
                        .is_some_and(|(net, bits)| in_network(self.src.ip(), net, bits)),
                forward_for_header: &shared.options.forward_for_header,
                forward_for_if_none: shared.options.forward_for_if_none,
                forwarded_proto: shared.options.forwarded_proto,
                forwarded: shared.options.forwarded,
                mode: be.spec.mode,
            },
            actions,
        );
        Plan::Forward {
            meta,
            backend,
            hashed,
        }
    }

    /// Picks a server (unless `current` holds one) and connects to it, reusing a pooled
    /// connection when `pooled_ok`, with `retries` and `redispatch` on connect failures.
    /// `Err` carries the termination state of a request that gets a 503.
    async fn connect_server(
        &mut self,
        shared: &Shared,
        backend: usize,
        hashed: bool,
        pooled_ok: bool,
        current: Option<(Arc<ServerRt>, gangway_balance::ConnectionSlot)>,
        attempts_left: &mut u32,
    ) -> Result<(Arc<ServerRt>, gangway_balance::ConnectionSlot, Stream, bool), Termination> {
        let be = &shared.backends[backend];
        let (mut srv, mut slot) = match current {
            Some(p) => p,
            None => {
                let queue_start = self.log_clock();
                let key = hashed.then_some(self.key.as_slice());
                let picked = be.pick(key, &self.excluded).await;
                self.log.t_queue = queue_start.map(|t| t.elapsed());
                match picked {
                    Ok(p) => p,
                    Err(PickFailure::QueueTimeout) => return Err(Termination::ServerQueue),
                    Err(PickFailure::NoneUp) => return Err(Termination::ProxyConnect),
                }
            }
        };
        let connect_start = self.log_clock();
        loop {
            self.log.server = Some(srv.log_name.clone());
            let pooled = if pooled_ok { srv.take_idle() } else { None };
            let reused = pooled.is_some();
            let server = match pooled {
                Some(c) => Ok(c),
                None => self.connect(be, &srv).await,
            };
            match server {
                Ok(c) => {
                    self.log.t_connect = connect_start.map(|t| t.elapsed());
                    return Ok((srv, slot, c, reused));
                }
                Err(outcome) => {
                    add(&srv.counters.connect_errors, 1);
                    add(&be.counters.connect_errors, 1);
                    crate::checks::observe(&srv, outcome);
                    if *attempts_left == 0 {
                        self.log.t_connect = connect_start.map(|t| t.elapsed());
                        return Err(Termination::ServerConnect);
                    }
                    *attempts_left -= 1;
                    add(&be.counters.retries, 1);
                    add(&srv.counters.retries, 1);
                    if be.spec.redispatch {
                        self.excluded.push(srv.id);
                        drop(slot);
                        let key = hashed.then_some(self.key.as_slice());
                        let picked = match be.pick(key, &self.excluded).await {
                            Ok(p) => {
                                add(&be.counters.redispatches, 1);
                                Ok(p)
                            }
                            // Every server was tried once: start over rather than give up.
                            Err(PickFailure::NoneUp) => {
                                self.excluded.clear();
                                be.pick(key, &self.excluded).await
                            }
                            Err(e) => Err(e),
                        };
                        match picked {
                            Ok(p) => (srv, slot) = p,
                            Err(_) => return Err(Termination::ServerConnect),
                        }
                    } else {
                        // Same server again after a short pause (HAProxy waits up to a second).
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
    }

    /// Forwards one request to a backend and its response back.
    async fn forward(
        &mut self,
        shared: &Shared,
        meta: RequestMeta,
        backend: usize,
        hashed: bool,
    ) -> Next {
        let be = &shared.backends[backend];
        add(&be.counters.requests, 1);
        self.excluded.clear();
        let mut attempts_left = be.spec.retries;
        let mut current = None;
        let mut fresh_only = false;
        loop {
            let pooled_ok = !fresh_only && be.spec.mode == ConnectionMode::KeepAlive;
            let (srv, slot, mut server, reused) = match self
                .connect_server(
                    shared,
                    backend,
                    hashed,
                    pooled_ok,
                    current.take(),
                    &mut attempts_left,
                )
                .await
            {
                Ok(c) => c,
                Err(term) => {
                    self.answer_error(503, term).await;
                    return Next::Close;
                }
            };
            add(&srv.counters.requests, 1);
            let response_start = self.log_clock();
            let outcome = self.exchange(&mut server, be, &srv, meta, reused).await;
            match outcome {
                Exchange::Stale => {
                    fresh_only = true;
                    current = Some((srv, slot));
                    continue;
                }
                Exchange::Done {
                    status,
                    reusable,
                    client_close,
                } => {
                    self.finish_log(status, Termination::Normal, response_start);
                    shared.metrics.response(status, Some((be, &srv)));
                    if reusable {
                        be.put_idle(&srv, server);
                    }
                    if status >= 500 {
                        // Layer-7 observation: the passive policy decides whether it counts.
                        let outcome = gangway_health::TrafficOutcome::Status(status);
                        crate::checks::observe(&srv, outcome);
                    } else {
                        crate::checks::observe_success(&srv);
                    }
                    drop(slot);
                    return if client_close {
                        Next::Close
                    } else {
                        Next::KeepAlive
                    };
                }
                Exchange::Switch => {
                    self.finish_log(101, Termination::Normal, response_start);
                    shared.metrics.response(101, Some((be, &srv)));
                    add(&be.counters.tunnels, 1);
                    add(&srv.counters.tunnels, 1);
                    crate::checks::observe_success(&srv);
                    return Next::Tunnel {
                        server,
                        backend,
                        srv,
                        slot,
                    };
                }
                Exchange::Fail {
                    status,
                    term,
                    server_fault,
                } => {
                    if server_fault {
                        add(&be.counters.response_errors, 1);
                        add(&srv.counters.response_errors, 1);
                        let outcome = if status == 504 {
                            gangway_health::TrafficOutcome::ResponseTimeout
                        } else {
                            gangway_health::TrafficOutcome::Reset
                        };
                        crate::checks::observe(&srv, outcome);
                    }
                    drop(server);
                    drop(slot);
                    shared.metrics.response(status, Some((be, &srv)));
                    self.log.t_response = response_start.map(|t| t.elapsed());
                    self.answer_error_counted(status, term).await;
                    return Next::Close;
                }
                Exchange::Abort {
                    status,
                    term,
                    server_fault,
                } => {
                    if server_fault {
                        add(&be.counters.response_errors, 1);
                        add(&srv.counters.response_errors, 1);
                    }
                    self.finish_log(status, term, response_start);
                    if status != 0 {
                        shared.metrics.response(status, Some((be, &srv)));
                    }
                    return Next::Close;
                }
            }
        }
    }

    fn finish_log(&mut self, status: u16, term: Termination, response_start: Option<Instant>) {
        if self.log.t_response.is_none() {
            self.log.t_response = response_start.map(|t| t.elapsed());
        }
        self.log.status = status;
        self.log.term = term;
        self.emit_log();
    }

    /// Opens a connection to a server (with the PROXY header it asks for, and its TLS
    /// handshake): `timeout connect` bounds all of it.
    async fn connect(
        &mut self,
        be: &BackendRt,
        srv: &ServerRt,
    ) -> Result<Stream, gangway_health::TrafficOutcome> {
        let deadline =
            crate::deadline::deadline_from(tokio::time::Instant::now(), be.connect_timeout());
        let stream = match tokio::time::timeout_at(deadline, TcpStream::connect(srv.addr)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::debug!(backend = %be.name, server = %srv.name, error = %e, "connect failed");
                return Err(gangway_health::TrafficOutcome::ConnectRefused);
            }
            Err(_) => {
                tracing::debug!(backend = %be.name, server = %srv.name, "connect timed out");
                return Err(gangway_health::TrafficOutcome::ConnectTimeout);
            }
        };
        let _ = stream.set_nodelay(true);
        let mut stream = stream;
        if let Some(version) = srv.send_proxy {
            // The address the client connected to: from its own PROXY header when it came
            // with one (as HAProxy passes it on), else this listener's.
            let dst = match self.dst {
                Some(dst) => dst,
                None => self.client.tcp_mut().local_addr().unwrap_or(self.peer),
            };
            let mut header = Vec::with_capacity(64);
            crate::pp::encode(version, self.src, dst, &mut header);
            match tokio::time::timeout_at(deadline, stream.write_all(&header)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(gangway_health::TrafficOutcome::Reset),
                Err(_) => return Err(gangway_health::TrafficOutcome::ConnectTimeout),
            }
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &srv.tls {
            return crate::tls::connect(tls, stream, deadline)
                .await
                .inspect_err(|_| {
                    tracing::debug!(backend = %be.name, server = %srv.name, "TLS handshake with the server failed");
                });
        }
        Ok(Stream::Tcp(stream))
    }

    /// Sends the request (head and body) and brings the response back.
    async fn exchange(
        &mut self,
        server: &mut Stream,
        be: &BackendRt,
        srv: &ServerRt,
        meta: RequestMeta,
        reused: bool,
    ) -> Exchange {
        let t = &be.timeouts;
        let shared = &*self.shared;
        match write_all_within(server, &self.req_out, t.server).await {
            Ok(()) => {}
            _ if reused && meta.framing == BodyFraming::None => return Exchange::Stale,
            _ => {
                return Exchange::Fail {
                    status: 502,
                    term: Termination::ServerHeaders,
                    server_fault: true,
                };
            }
        }
        self.sbuf.clear();
        let (mut cr, mut cw) = self.client.split();
        let (mut sr, mut sw) = server.split();
        let upload = async {
            if meta.framing == BodyFraming::None {
                return Ok(0);
            }
            let mut no_head = Vec::new();
            pump_body(
                &mut cr,
                &mut self.cbuf,
                &mut sw,
                &mut no_head,
                meta.framing,
                gangway_h1::Side::Request,
                shared.timeouts.client,
                t.server,
            )
            .await
        };
        let res_rules = &self.res_rules;
        let actions = || {
            res_rules
                .iter()
                .filter_map(|&i| match &shared.rules[i].action {
                    RuleAction::ResponseHeader(a) => Some(a),
                    _ => None,
                })
                .chain(be.spec.response_headers.iter())
        };
        let client_wants_close = !meta.keep_alive || be.spec.mode == ConnectionMode::Close;
        let upload_end = (meta.framing != BodyFraming::None).then(UploadEnd::new);
        let final_head = std::sync::atomic::AtomicBool::new(false);
        let download = download(
            &mut sr,
            &mut self.sbuf,
            &mut cw,
            &mut self.res_out,
            meta,
            t.server,
            upload_end.as_ref(),
            &final_head,
            &mut self.timer,
            shared.timeouts.client,
            client_wants_close,
            &self.phase,
            actions,
        );
        tokio::pin!(upload, download);
        let mut upload_done: Option<Result<u64, PumpError>> = None;
        let down = loop {
            tokio::select! {
                r = &mut upload, if upload_done.is_none() => {
                    if matches!(r, Err(PumpError::SrcInvalid))
                        && !final_head.load(std::sync::atomic::Ordering::Relaxed)
                    {
                        // A malformed chunked body, before any final answer: a 400 (RFC 9112
                        // 7.1), as HAProxy answers it; the server connection is dropped.
                        return Exchange::Fail {
                            status: 400,
                            term: Termination::ClientAbortData,
                            server_fault: false,
                        };
                    }
                    if let Err(e) = &r
                        && e.is_source_side()
                    {
                        // The client went away or stalled mid-body: nothing more to do.
                        let term = if matches!(e, PumpError::SrcTimeout) {
                            Termination::ClientTimeoutData
                        } else {
                            Termination::ClientAbortData
                        };
                        return Exchange::Abort { status: 0, term, server_fault: false };
                    }
                    if let Some(end) = &upload_end {
                        let _ = end.set(Instant::now());
                    }
                    upload_done = Some(r);
                }
                d = &mut download => break d,
            }
        };
        if let Some(Ok(n)) = &upload_done {
            add(&be.counters.bytes_in, *n);
            add(&srv.counters.bytes_in, *n);
        }
        // A request without a body is complete even when the response won the select race
        // before the (empty) upload future was polled.
        let upload_complete =
            meta.framing == BodyFraming::None || matches!(upload_done, Some(Ok(_)));
        self.body_unread = !upload_complete;
        match down {
            Down::Complete {
                status,
                body_bytes,
                server_keep_alive,
                client_close,
            } => {
                add(&be.counters.bytes_out, body_bytes);
                add(&srv.counters.bytes_out, body_bytes);
                self.log.bytes_out = body_bytes;
                let reusable = server_keep_alive
                    && upload_complete
                    && be.spec.mode == ConnectionMode::KeepAlive;
                Exchange::Done {
                    status,
                    reusable,
                    client_close: client_close || !upload_complete,
                }
            }
            Down::Switch => {
                if upload_complete {
                    Exchange::Switch
                } else {
                    Exchange::Abort {
                        status: 101,
                        term: Termination::ClientAbortData,
                        server_fault: false,
                    }
                }
            }
            Down::NoResponse { timeout, empty } => {
                // A reused connection the server had closed: the request never reached it,
                // or it did and the server closed without answering. Only a request that may
                // be repeated is sent again (RFC 9110, 9.2.2); the others get a 502.
                if empty
                    && !timeout
                    && reused
                    && meta.framing == BodyFraming::None
                    && meta.idempotent
                {
                    Exchange::Stale
                } else if timeout {
                    Exchange::Fail {
                        status: 504,
                        term: Termination::ServerTimeoutHeaders,
                        server_fault: true,
                    }
                } else {
                    Exchange::Fail {
                        status: 502,
                        term: Termination::ServerHeaders,
                        server_fault: true,
                    }
                }
            }
            Down::Invalid => Exchange::Fail {
                status: 502,
                term: Termination::ProxyHeaders,
                server_fault: true,
            },
            Down::Aborted {
                status,
                term,
                server_fault,
            } => Exchange::Abort {
                status,
                term,
                server_fault,
            },
        }
    }

    /// Turns the connection into a tunnel: every per-connection buffer is released and the
    /// tunnel runs as a new task holding only what it needs (the connection's task ends);
    /// kills and shutdowns reach it through its backend's set of tunnels.
    fn start_tunnel(
        self,
        server: Stream,
        backend: usize,
        srv: Arc<ServerRt>,
        slot: gangway_balance::ConnectionSlot,
    ) {
        let Conn {
            client,
            cbuf,
            sbuf,
            req_out,
            res_out,
            shared,
            admission,
            ..
        } = self;
        // Read-ahead bytes are copied out so the buffers go back to the spares now.
        let client_ahead = bytes::Bytes::copy_from_slice(&cbuf);
        let server_ahead = bytes::Bytes::copy_from_slice(&sbuf);
        if cbuf.capacity() > 0 {
            ConnBuffers {
                cbuf,
                sbuf,
                req_out,
                res_out,
            }
            .spare();
        }
        let be = &shared.backends[backend];
        let t = &be.timeouts;
        let config = {
            let mut config = gangway_tunnel::TunnelConfig::default();
            config
                .idle_timeout(t.tunnel)
                .client_fin_timeout(shared.timeouts.client_fin)
                .server_fin_timeout(t.server_fin)
                .park_after(shared.timeouts.tunnel_park);
            config
        };
        // TCP to TCP keeps the tunnel's zero-copy path; anything with TLS copies.
        drop(shared);
        let ends = (admission, backend, srv, slot);
        match (client.into_tcp(), server.into_tcp()) {
            (Ok(client), Ok(server)) => {
                spawn_tunnel(client, server, client_ahead, server_ahead, config, ends);
            }
            (client, server) => spawn_tunnel(
                client.map_or_else(|s| s, Stream::Tcp),
                server.map_or_else(|s| s, Stream::Tcp),
                client_ahead,
                server_ahead,
                config,
                ends,
            ),
        }
    }

    /// Gives the (empty) buffers to this thread's spares.
    fn release_buffers(&mut self) {
        if self.cbuf.capacity() == 0 {
            return;
        }
        ConnBuffers {
            cbuf: std::mem::take(&mut self.cbuf),
            sbuf: std::mem::take(&mut self.sbuf),
            req_out: std::mem::take(&mut self.req_out),
            res_out: std::mem::take(&mut self.res_out),
        }
        .spare();
    }

    /// Writes `res_out` to the client within the client timeout.
    async fn write_client_out(&mut self) -> bool {
        write_all_within(&mut self.client, &self.res_out, self.shared.timeouts.client)
            .await
            .is_ok()
    }

    /// Answers a gateway-generated error, logs it and counts it (connection closes afterwards).
    async fn answer_error(&mut self, status: u16, term: Termination) {
        self.shared.metrics.response(status, None);
        self.answer_error_counted(status, term).await;
    }

    async fn answer_error_counted(&mut self, status: u16, term: Termination) {
        self.res_out.clear();
        let extra: &[(&str, &str)] = if status == 426 {
            &[("Sec-WebSocket-Version", "13")]
        } else {
            &[]
        };
        let body = error_body(status);
        let head_len = write_answer(&mut self.res_out, &self.shared, status, extra, body, true);
        if self.head_request {
            // RFC 9110 9.3.2: no content in an answer to HEAD.
            self.res_out.truncate(head_len);
        }
        let _ = self.write_client_out().await;
        self.log.status = status;
        self.log.term = term;
        self.log.bytes_out = self.res_out.len() as u64;
        if status >= 500 {
            tracing::warn!(status, backend = ?self.log.backend, server = ?self.log.server, termination = %term.code(), client = %self.src, "gateway answered an error");
        }
        self.emit_log();
        // Linger only while request bytes may still come: a head cut short or refused, a
        // body not read to its end, pipelined requests. A client too slow to send its head
        // (408) has nothing worth waiting for, and one whose request was read entirely is
        // closed at once (holding its connection for the linger time would let a backend
        // outage's 503s use up the gateway's connections).
        if status != 408 && (self.body_unread || !self.cbuf.is_empty()) {
            self.close_lingering().await;
        } else {
            self.client
                .close_within(self.shared.timeouts.client_fin)
                .await;
        }
    }

    /// Closes the client connection after an answer that may leave request bytes unread (a
    /// body, pipelined requests, an oversized head): our FIN first, then what the client still
    /// sends is read and dropped until it closes, for [`LINGER_TIME`] and [`LINGER_BYTES`] at
    /// most (nginx's lingering close). Closing with unread bytes would reset the connection,
    /// and the reset can destroy the answer before the client reads it.
    async fn close_lingering(&mut self) {
        self.client
            .close_within(self.shared.timeouts.client_fin)
            .await;
        let deadline = Instant::now() + LINGER_TIME;
        let (client, cbuf, gate) = (&mut self.client, &mut self.cbuf, &self.phase_gate);
        // A shutdown does not wait for it (woken as in `read_client`).
        let mut draining = std::pin::pin!(std::future::poll_fn(|_| {
            if gate.has_changed().unwrap_or(true) && *gate.borrow() >= Phase::Draining {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        }));
        let mut drained = 0;
        while drained < LINGER_BYTES {
            cbuf.clear();
            cbuf.reserve(READ_CHUNK);
            let read = tokio::time::timeout_at(deadline, client.read_buf(cbuf));
            tokio::select! {
                r = read => match r {
                    Ok(Ok(n)) if n > 0 => drained += n,
                    _ => break,
                },
                _ = &mut draining => break,
            }
        }
        cbuf.clear();
    }

    /// Makes the answer in `res_out`, whose head ends at `head_len`, close the connection;
    /// returns where its head ends now.
    fn mark_close(&mut self, head_len: usize) -> usize {
        const CLOSE: &[u8] = b"Connection: close\r\n";
        // The field goes before the blank line that ends the head (CRLF or a bare LF).
        let head = &self.res_out[..head_len.min(self.res_out.len())];
        let blank_line = if head.ends_with(b"\n\r\n") {
            head.len() - 2
        } else if head.ends_with(b"\n\n") {
            head.len() - 1
        } else {
            return head_len;
        };
        self.res_out
            .splice(blank_line..blank_line, CLOSE.iter().copied());
        head_len + CLOSE.len()
    }

    fn emit_log(&mut self) {
        if self.shared.options.access_log {
            let listener = &self.shared.listeners[self.listener];
            self.log
                .emit(self.src, &self.shared.options.name, &listener.name);
        }
    }
}

/// Starts a tunnel task between `client` and `server`: the tunnel's future as is (its state
/// held once) with what its end releases.
fn spawn_tunnel<C, S>(
    client: C,
    server: S,
    client_ahead: bytes::Bytes,
    server_ahead: bytes::Bytes,
    config: gangway_tunnel::TunnelConfig,
    (admission, backend, srv, slot): (
        Admission,
        usize,
        Arc<ServerRt>,
        gangway_balance::ConnectionSlot,
    ),
) where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut tunnel = gangway_tunnel::Tunnel::new(client, server)
        .client_read_ahead(client_ahead)
        .server_read_ahead(server_ahead)
        .config(config);
    let handle = tunnel.handle();
    let task = GatewayTunnel::new(tunnel.run(), handle, admission, backend, srv, slot);
    // Detached: the task ends with the tunnel.
    drop(tokio::spawn(task));
}

/// A wait for a gateway phase that is cheap to poll again while the phase has not changed.
///
/// The first poll registers the task's waker with the watch channel; the connection's task is
/// woken for every read and write, and those later polls only load `gate`'s version (one
/// atomic) instead of polling the watch's notification (a lock) again. A change wakes the
/// registered waker, which is this task's: `select!` and `Instrumented` pass it through.
struct PhaseGated<'a, F> {
    gate: &'a watch::Receiver<Phase>,
    wait: std::pin::Pin<&'a mut F>,
    polled: bool,
}

impl<'a, F: std::future::Future> PhaseGated<'a, F> {
    fn new(gate: &'a watch::Receiver<Phase>, wait: std::pin::Pin<&'a mut F>) -> Self {
        PhaseGated {
            gate,
            wait,
            polled: false,
        }
    }
}

impl<F: std::future::Future> std::future::Future for PhaseGated<'_, F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        // A closed channel counts as a change: the wait itself then decides.
        if self.polled && !self.gate.has_changed().unwrap_or(true) {
            return std::task::Poll::Pending;
        }
        self.polled = true;
        self.wait.as_mut().poll(cx)
    }
}

/// Makes sure the connection holds a buffer set (taken from this thread's spares) with room
/// for a head in `cbuf`.
fn take_buffers(
    cbuf: &mut BytesMut,
    sbuf: &mut BytesMut,
    req_out: &mut Vec<u8>,
    res_out: &mut Vec<u8>,
) {
    if cbuf.capacity() == 0 {
        let set = SPARE.with(|spare| spare.borrow_mut().pop());
        let set = set.unwrap_or_else(ConnBuffers::new);
        (*cbuf, *sbuf, *req_out, *res_out) = (set.cbuf, set.sbuf, set.req_out, set.res_out);
    }
    cbuf.reserve(HEAD_CHUNK);
}

/// Spare connection buffer sets kept per worker thread, at most.
const SPARE_MAX: usize = 64;

thread_local! {
    /// Buffers of this thread's connections that wait for their next request.
    static SPARE: std::cell::RefCell<Vec<ConnBuffers>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The buffers a connection uses while it has a request in hand.
struct ConnBuffers {
    cbuf: BytesMut,
    sbuf: BytesMut,
    req_out: Vec<u8>,
    res_out: Vec<u8>,
}

impl ConnBuffers {
    fn new() -> ConnBuffers {
        ConnBuffers {
            cbuf: BytesMut::with_capacity(HEAD_CHUNK),
            sbuf: BytesMut::new(),
            req_out: Vec::with_capacity(1024),
            res_out: Vec::with_capacity(1024),
        }
    }

    /// Keeps the set for another connection on this thread (or frees it past `SPARE_MAX`).
    fn spare(mut self) {
        self.cbuf.clear();
        // Moves the (empty) cursor back to the start of the allocation, without allocating.
        self.cbuf.reserve(HEAD_CHUNK);
        self.sbuf.clear();
        self.req_out.clear();
        self.res_out.clear();
        SPARE.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < SPARE_MAX {
                spare.push(self);
            }
        });
    }
}

/// A client address as text, formatted once per connection rather than per request.
#[derive(Clone, Copy)]
struct IpText {
    buf: [u8; 48],
    len: u8,
}

impl IpText {
    fn new(ip: IpAddr) -> IpText {
        use std::io::Write as _;
        let mut buf = [0u8; 48];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        let _ = write!(cursor, "{ip}");
        let len = cursor.position() as u8;
        IpText { buf, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

/// Writes the balance key of a request into `key` for hashing algorithms; `false` when the
/// backend does not hash or the request has no such key (then the pick is round robin).
fn hash_key(
    balance: &crate::backend::Balance,
    head: &RequestHead<'_, '_>,
    src: IpAddr,
    key: &mut Vec<u8>,
) -> bool {
    use crate::backend::Balance;
    key.clear();
    let bytes: Option<&[u8]> = match balance {
        Balance::Source => {
            match src {
                IpAddr::V4(a) => key.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => key.extend_from_slice(&a.octets()),
            }
            return true;
        }
        Balance::Uri => Some(
            head.target
                .split_once('?')
                .map_or(head.target, |(p, _)| p)
                .as_bytes(),
        ),
        Balance::UrlParam(name) => head.target.split_once('?').and_then(|(_, q)| {
            q.split('&').find_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k == name).then_some(v.as_bytes())
            })
        }),
        Balance::Header(name) => header(head.headers, name),
        _ => None,
    };
    match bytes {
        Some(b) => {
            key.extend_from_slice(b);
            true
        }
        None => false,
    }
}

/// Whether `ip` is inside `net/bits` (IPv4-mapped IPv6 addresses count as IPv4).
fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = u32::from(bits.min(32));
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = u32::from(bits.min(128));
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

struct RewriteCtx<'a> {
    client_ip: IpAddr,
    /// `client_ip` as text, formatted once per connection.
    client_ip_text: &'a [u8],
    proto: &'a str,
    /// The listener's port (`X-Forwarded-Port`, written with `X-Forwarded-Proto`).
    port: u16,
    forward_for: bool,
    forward_for_header: &'a str,
    forward_for_if_none: bool,
    forwarded_proto: bool,
    forwarded: bool,
    mode: ConnectionMode,
}

/// Writes the request head sent to the server: hop-by-hop headers out, forwarding headers
/// and header actions in, `Connection` set for the server side.
fn write_request_head<'r, I>(
    out: &mut Vec<u8>,
    head: &RequestHead<'_, '_>,
    ctx: &RewriteCtx<'_>,
    actions: impl Fn() -> I,
) where
    I: Iterator<Item = &'r HeaderAction>,
{
    use std::io::Write as _;
    out.clear();
    out.extend_from_slice(head.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.");
    out.push(b'0' + head.version_minor.min(9));
    out.extend_from_slice(b"\r\n");
    let removed =
        |name: &str| actions().any(|a| a.removes_existing() && a.name().eq_ignore_ascii_case(name));
    let is_xff = |name: &str| name.eq_ignore_ascii_case(ctx.forward_for_header);
    // Identical repeated Content-Length lines (the parser refuses differing ones) go once.
    let mut length_sent = false;
    for h in head.headers {
        let name = h.name;
        // HTTP2-Settings belongs to an h2c upgrade, never offered to servers (see `plan`).
        if is_hop_by_hop(name)
            || named_by_connection(head.headers, name)
            || name.eq_ignore_ascii_case("http2-settings")
            || removed(name)
        {
            continue;
        }
        if name.eq_ignore_ascii_case("content-length") {
            // One line with the length the parser read (`5, 5` becomes `5`).
            if !length_sent {
                let length = match head.framing {
                    BodyFraming::Length(n) => n,
                    _ => 0,
                };
                let _ = write!(out, "Content-Length: {length}\r\n");
                length_sent = true;
            }
            continue;
        }
        // Earlier X-Forwarded-For lines are merged into the one line written below.
        if ctx.forward_for && is_xff(name) {
            continue;
        }
        if ctx.forwarded_proto
            && (name.eq_ignore_ascii_case("x-forwarded-proto")
                || name.eq_ignore_ascii_case("x-forwarded-port"))
        {
            continue;
        }
        put_header(out, name, h.value);
    }
    // The forwarding header comes after the rules, as in HAProxy: a rule that deletes or sets
    // it drops the client's lines (so do `Connection` tokens naming it), the rules' own values
    // follow them, and the client address goes last (`if-none`: only when nothing is left).
    if ctx.forward_for {
        let client_lines = !removed(ctx.forward_for_header)
            && !named_by_connection(head.headers, ctx.forward_for_header);
        let client_values = head
            .headers
            .iter()
            .filter(|h| client_lines && is_xff(h.name))
            .map(|h| h.value.trim_ascii());
        let rule_values = actions()
            .filter_map(|a| a.added())
            .filter(|(n, _)| is_xff(n))
            .map(|(_, v)| v.as_bytes().trim_ascii());
        let mut seen = false;
        for value in client_values.chain(rule_values).filter(|v| !v.is_empty()) {
            if seen {
                out.extend_from_slice(b", ");
            } else {
                out.extend_from_slice(ctx.forward_for_header.as_bytes());
                out.extend_from_slice(b": ");
            }
            out.extend_from_slice(value);
            seen = true;
        }
        if !(seen && ctx.forward_for_if_none) {
            if seen {
                out.extend_from_slice(b", ");
            } else {
                out.extend_from_slice(ctx.forward_for_header.as_bytes());
                out.extend_from_slice(b": ");
            }
            out.extend_from_slice(ctx.client_ip_text);
        }
        out.extend_from_slice(b"\r\n");
    }
    // A rule that sets or deletes one of these headers has the last word on it.
    if ctx.forwarded_proto && !removed("x-forwarded-proto") {
        out.extend_from_slice(b"X-Forwarded-Proto: ");
        out.extend_from_slice(ctx.proto.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if ctx.forwarded_proto && !removed("x-forwarded-port") {
        let _ = write!(out, "X-Forwarded-Port: {}\r\n", ctx.port);
    }
    if ctx.forwarded {
        match ctx.client_ip {
            IpAddr::V4(ip) => {
                let _ = write!(out, "Forwarded: for={ip};proto={}\r\n", ctx.proto);
            }
            IpAddr::V6(ip) => {
                let _ = write!(out, "Forwarded: for=\"[{ip}]\";proto={}\r\n", ctx.proto);
            }
        }
    }
    for a in actions() {
        if let Some((n, v)) = a.added()
            && !(ctx.forward_for && is_xff(n))
        {
            put_header(out, n, v.as_bytes());
        }
    }
    if head.upgrade && head.method != "CONNECT" {
        out.extend_from_slice(b"Connection: Upgrade\r\n");
        if let Some(u) = header(head.headers, "upgrade") {
            put_header(out, "Upgrade", u);
        }
    } else {
        match ctx.mode {
            ConnectionMode::KeepAlive if head.version_minor == 0 => {
                out.extend_from_slice(b"Connection: keep-alive\r\n")
            }
            ConnectionMode::KeepAlive => {}
            _ => out.extend_from_slice(b"Connection: close\r\n"),
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes the response head sent to the client.
fn write_response_head<'r, I>(
    out: &mut Vec<u8>,
    head: &ResponseHead<'_, '_>,
    reason: &str,
    client_minor: u8,
    close: bool,
    actions: impl Fn() -> I,
) where
    I: Iterator<Item = &'r HeaderAction>,
{
    out.clear();
    let switching = head.status == 101;
    out.extend_from_slice(b"HTTP/1.1 ");
    put_status(out, head.status);
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    let removed =
        |name: &str| actions().any(|a| a.removes_existing() && a.name().eq_ignore_ascii_case(name));
    for h in head.headers {
        let name = h.name;
        let keep_for_switch = switching
            && (name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("upgrade"));
        if !keep_for_switch && (is_hop_by_hop(name) || named_by_connection(head.headers, name)) {
            continue;
        }
        if removed(name) {
            continue;
        }
        put_header(out, name, h.value);
    }
    for a in actions() {
        if let Some((n, v)) = a.added() {
            put_header(out, n, v.as_bytes());
        }
    }
    if !switching && head.status >= 200 {
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if client_minor == 0 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes a status code's digits (a parsed status always has three).
fn put_status(out: &mut Vec<u8>, status: u16) {
    if (100..1000).contains(&status) {
        let digits = [
            b'0' + (status / 100) as u8,
            b'0' + (status / 10 % 10) as u8,
            b'0' + (status % 10) as u8,
        ];
        out.extend_from_slice(&digits);
    } else {
        use std::io::Write as _;
        let _ = write!(out, "{status}");
    }
}

/// How the download side ended.
enum Down {
    Complete {
        status: u16,
        body_bytes: u64,
        server_keep_alive: bool,
        client_close: bool,
    },
    Switch,
    NoResponse {
        timeout: bool,
        empty: bool,
    },
    Invalid,
    Aborted {
        status: u16,
        term: Termination,
        server_fault: bool,
    },
}

/// Reads response heads (forwarding 1xx), then the final head and body, to the client;
/// `final_head` is set once the final head may have gone out.
#[allow(clippy::too_many_arguments)]
async fn download<'r, R, W, I>(
    sr: &mut R,
    sbuf: &mut BytesMut,
    cw: &mut W,
    out: &mut Vec<u8>,
    meta: RequestMeta,
    server_timeout: Duration,
    upload: Option<&UploadEnd>,
    final_head: &std::sync::atomic::AtomicBool,
    timer: &mut LazyTimer,
    client_timeout: Duration,
    client_wants_close: bool,
    phase: &watch::Receiver<Phase>,
    actions: impl Fn() -> I,
) -> Down
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
    I: Iterator<Item = &'r HeaderAction>,
{
    let method = if meta.is_head {
        "HEAD"
    } else if meta.is_connect {
        "CONNECT"
    } else {
        "GET"
    };
    let mut received_any = false;
    let mut parser = gangway_h1::Parser::new();
    parser.max_head_len(64 * 1024);
    loop {
        // Read until one full response head is buffered.
        let parsed = loop {
            // The header tables end with this block: they are not kept across the read below
            // (the future stays small and cheap to move).
            {
                let mut few = [httparse::EMPTY_HEADER; FEW_HEADERS];
                let mut storage;
                let parsed =
                    match parse::parse_response(&parser, sbuf, &mut few, method, &meta.switch) {
                        // Too many fields for the small table, or invalid: the full one decides.
                        Err(()) => {
                            storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
                            parse::parse_response(&parser, sbuf, &mut storage, method, &meta.switch)
                        }
                        parsed => parsed,
                    };
                match parsed {
                    Ok(Parsed::Complete(h)) => {
                        let reason = h.reason;
                        let interim = (100..200).contains(&h.status) && h.status != 101;
                        // gangway-h1's rules: a 101 only to an upgrade (not CONNECT), naming it.
                        let switch_ok = h.switch_ok;
                        if h.status == 101 && !switch_ok {
                            return Down::Invalid;
                        }
                        // A shutdown that started meanwhile closes the client after this response.
                        let client_close = client_wants_close
                            || h.framing == BodyFraming::Close
                            || *phase.borrow() != Phase::Running;
                        if interim {
                            // Interim answers lose their hop-by-hop fields like any head, and
                            // get no http-response rules (HAProxy runs them on the final
                            // response only); none go to HTTP/1.0 clients.
                            out.clear();
                            if meta.version_minor >= 1 {
                                let no_actions = std::iter::empty::<&HeaderAction>;
                                write_response_head(
                                    out,
                                    &h,
                                    reason,
                                    meta.version_minor,
                                    false,
                                    no_actions,
                                );
                            }
                        } else {
                            write_response_head(
                                out,
                                &h,
                                reason,
                                meta.version_minor,
                                client_close,
                                &actions,
                            );
                        }
                        // A 204 that announces a body breaks RFC 9110 (8.6, 6.1): a server
                        // that sends the body anyway would have it read as the next response
                        // on a pooled connection, so this one is not pooled. Answers to HEAD
                        // and 304s may announce the length or coding a GET would get
                        // (9.3.2, 15.4.5; nginx and Apache do): they are pooled.
                        let announced = h.status == 204 && announces_body(h.headers);
                        let reusable = h.keep_alive && !announced;
                        break (h.status, h.head_len, h.framing, reusable, client_close);
                    }
                    Ok(Parsed::Partial) => {
                        if sbuf.len() > 64 * 1024 {
                            return Down::Invalid;
                        }
                    }
                    Err(()) => return Down::Invalid,
                }
            }
            sbuf.reserve(HEAD_CHUNK);
            let mut wait = server_timeout;
            let read = loop {
                match timer.within(wait, sr.read_buf(sbuf)).await {
                    Ok(read) => break Some(read),
                    Err(_) => match upload.map(UploadEnd::get) {
                        None => break None,
                        Some(None) => wait = server_timeout,
                        Some(Some(&at)) => {
                            wait = crate::deadline::deadline_from(at, server_timeout)
                                .saturating_duration_since(Instant::now());
                            if wait.is_zero() {
                                break None;
                            }
                        }
                    },
                }
            };
            match read {
                None => {
                    return Down::NoResponse {
                        timeout: true,
                        empty: !received_any,
                    };
                }
                Some(Ok(0)) | Some(Err(_)) => {
                    return Down::NoResponse {
                        timeout: false,
                        empty: !received_any && sbuf.is_empty(),
                    };
                }
                Some(Ok(_)) => received_any = true,
            }
        };
        let (status, head_len, framing, server_keep_alive, client_close) = parsed;
        sbuf.advance(head_len);
        let switch = status == 101 || (meta.is_connect && (200..300).contains(&status));
        if switch || status >= 200 {
            // From here the client may have its answer's head: no gateway answer after it.
            final_head.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        // A final head goes out with the body bytes already buffered, in one write.
        if (switch || (100..200).contains(&status)) && !out.is_empty() {
            // Flushed: over TLS an interim answer (100 Continue) must not wait in a buffer.
            let write = async {
                cw.write_all(out).await?;
                cw.flush().await
            };
            match tokio::time::timeout(client_timeout, write).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    return Down::Aborted {
                        status,
                        term: Termination::ClientAbortHeaders,
                        server_fault: false,
                    };
                }
                Err(_) => {
                    return Down::Aborted {
                        status,
                        term: Termination::ClientTimeoutData,
                        server_fault: false,
                    };
                }
            }
        }
        if switch {
            let _ = cw.flush().await;
            return Down::Switch;
        }
        if (100..200).contains(&status) {
            continue;
        }
        let result = pump_body(
            sr,
            sbuf,
            cw,
            out,
            framing,
            gangway_h1::Side::Response,
            server_timeout,
            client_timeout,
        )
        .await;
        return match result {
            Ok(n) => Down::Complete {
                status,
                body_bytes: n,
                server_keep_alive: server_keep_alive && sbuf.is_empty(),
                client_close,
            },
            Err(PumpError::SrcTimeout) => Down::Aborted {
                status,
                term: Termination::ServerTimeoutData,
                server_fault: true,
            },
            Err(PumpError::SrcClosed) | Err(PumpError::SrcInvalid) => Down::Aborted {
                status,
                term: Termination::ServerAbortData,
                server_fault: true,
            },
            Err(PumpError::Dst) => Down::Aborted {
                status,
                term: Termination::ClientAbortData,
                server_fault: false,
            },
            Err(PumpError::DstHead { timeout }) => Down::Aborted {
                status,
                term: if timeout {
                    Termination::ClientTimeoutData
                } else {
                    Termination::ClientAbortHeaders
                },
                server_fault: false,
            },
        };
    }
}

/// Whether a head announces a body: `Transfer-Encoding`, or a `Content-Length` other than 0.
fn announces_body(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            || (h.name.eq_ignore_ascii_case("content-length")
                && h.value.iter().any(|b| matches!(b, b'1'..=b'9')))
    })
}

/// Why moving a body stopped early.
#[derive(Debug)]
enum PumpError {
    SrcClosed,
    SrcTimeout,
    SrcInvalid,
    Dst,
    /// Writing the message head that precedes the body failed (or timed out).
    DstHead {
        timeout: bool,
    },
}

impl PumpError {
    fn is_source_side(&self) -> bool {
        !matches!(self, PumpError::Dst | PumpError::DstHead { .. })
    }
}

/// Body bytes already buffered that go out in the same write as the head before them.
const COALESCE_MAX: usize = 16 * 1024;

/// Writes `head` (when not empty) to `dst` within `limit`, then empties it.
async fn write_head<W>(dst: &mut W, head: &mut Vec<u8>, limit: Duration) -> Result<(), PumpError>
where
    W: AsyncWrite + Unpin,
{
    if head.is_empty() {
        return Ok(());
    }
    let result = write_all_within(dst, head, limit).await;
    head.clear();
    result.map_err(|timeout| PumpError::DstHead { timeout })
}

/// Writes all of `bytes` to `dst` within `limit`; `Err(true)` when the time ran out, `Err(false)`
/// on an IO error. A write the socket takes whole at once (the usual case) sets no timer.
async fn write_all_within<W>(dst: &mut W, bytes: &[u8], limit: Duration) -> Result<(), bool>
where
    W: AsyncWrite + Unpin,
{
    use std::task::{Context, Poll, Waker};
    // One try without a waker first: a pending write is simply tried again below, where the
    // task's waker replaces the no-op one.
    let written = {
        let mut cx = Context::from_waker(Waker::noop());
        match std::pin::Pin::new(&mut *dst).poll_write(&mut cx, bytes) {
            // TLS takes bytes it cannot send yet (a full socket) into its own buffer: flushing
            // pushes them out (for TCP it does nothing).
            Poll::Ready(Ok(n)) if n == bytes.len() => {
                match std::pin::Pin::new(&mut *dst).poll_flush(&mut cx) {
                    Poll::Ready(Ok(())) => return Ok(()),
                    Poll::Ready(Err(_)) => return Err(false),
                    Poll::Pending => n,
                }
            }
            Poll::Ready(Ok(0)) => return Err(false),
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(_)) => return Err(false),
            Poll::Pending => 0,
        }
    };
    let rest = async {
        dst.write_all(&bytes[written..]).await?;
        dst.flush().await
    };
    match tokio::time::timeout(limit, rest).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(false),
        Err(_) => Err(true),
    }
}

/// Moves one body from `src` to `dst` by its framing, starting with the bytes in `buf`; bytes
/// past the body's end stay in `buf` (the next pipelined message). A non-empty `head` (the
/// message head) is written first, together with the body bytes already buffered when they
/// are few (one write instead of two). Returns the body length.
#[allow(clippy::too_many_arguments)]
async fn pump_body<R, W>(
    src: &mut R,
    buf: &mut BytesMut,
    dst: &mut W,
    head: &mut Vec<u8>,
    framing: BodyFraming,
    side: gangway_h1::Side,
    read_timeout: Duration,
    write_timeout: Duration,
) -> Result<u64, PumpError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut total = 0u64;
    let mut chunked = ChunkedTracker::new(side);
    let mut remaining = match framing {
        BodyFraming::None => {
            write_head(dst, head, write_timeout).await?;
            return Ok(0);
        }
        BodyFraming::Length(n) => n,
        _ => u64::MAX,
    };
    loop {
        if !buf.is_empty() {
            let (take, done) = match framing {
                BodyFraming::Length(_) => {
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    remaining -= take as u64;
                    (take, remaining == 0)
                }
                BodyFraming::Chunked => match chunked.feed(buf) {
                    Ok(fed) => fed,
                    Err(()) => {
                        // The head still goes out first, as when it was written on its own.
                        write_head(dst, head, write_timeout).await?;
                        return Err(PumpError::SrcInvalid);
                    }
                },
                _ => (buf.len(), false),
            };
            if !head.is_empty() && take <= COALESCE_MAX {
                head.extend_from_slice(&buf[..take]);
                write_head(dst, head, write_timeout).await?;
                buf.advance(take);
                total += take as u64;
            } else if take > 0 {
                write_head(dst, head, write_timeout).await?;
                if write_all_within(dst, &buf[..take], write_timeout)
                    .await
                    .is_err()
                {
                    return Err(PumpError::Dst);
                }
                buf.advance(take);
                total += take as u64;
            }
            if done {
                let _ = dst.flush().await;
                return Ok(total);
            }
        }
        // The head does not wait for body bytes still to come.
        write_head(dst, head, write_timeout).await?;
        buf.reserve(READ_CHUNK);
        match tokio::time::timeout(read_timeout, src.read_buf(buf)).await {
            Err(_) => return Err(PumpError::SrcTimeout),
            // A TLS peer that closes without close_notify: for a body that ends at the close,
            // that is its end (as HAProxy and most clients take it), not an abort.
            Ok(Err(e))
                if framing == BodyFraming::Close
                    && e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                let _ = dst.flush().await;
                return Ok(total);
            }
            Ok(Err(_)) => return Err(PumpError::SrcClosed),
            Ok(Ok(0)) => {
                return if framing == BodyFraming::Close {
                    let _ = dst.flush().await;
                    Ok(total)
                } else {
                    Err(PumpError::SrcClosed)
                };
            }
            Ok(Ok(_)) => {}
        }
    }
}

/// Writes the gateway's own answer with `status`: the configured `errorfile` for it if
/// there is one, else a simple response with `body` (and `extra` headers). Returns where
/// its head ends in `out`.
fn write_answer(
    out: &mut Vec<u8>,
    shared: &Shared,
    status: u16,
    extra: &[(&str, &str)],
    body: &str,
    close: bool,
) -> usize {
    match shared.error_files.iter().find(|f| f.status == status) {
        Some(page) => {
            out.extend_from_slice(&page.response);
            out.len() - page.response.len() + page.head_len
        }
        None => write_simple_response(out, status, extra, body, close),
    }
}

#[cfg(test)]
mod size {
    fn returned<A, B, C, D, R>(_: fn(A, B, C, D) -> R) -> usize {
        size_of::<R>()
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    fn a_connection_task_holds_one_copy_of_its_connection() {
        // Every open connection's task holds this future. It was 5648 bytes (debug build)
        // when `run` and `serve_tcp` were `async fn`s taking `self` by value (each kept a
        // second copy of the 640-byte `Conn`) and `serve` kept a third in a local.
        let size = returned(super::serve);
        assert!(size <= 4608, "the connection's future is {size} bytes");
    }
}
