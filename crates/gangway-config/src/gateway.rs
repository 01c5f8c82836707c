//! Turns a loaded [`Config`] into [`gangway::GatewayBuilder`]s, one per frontend.
//!
//! Everything the facade cannot do as the config says is reported here, with the line and
//! keyword: an error when ignoring it would change what traffic does, a warning when it only
//! changes logging, error pages or passive health.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use gangway::acl::{AclSet, Condition};
use gangway::{
    BackendTimeouts, Check, ConnectionMode, FrontendMode, GatewayBuilder, HeaderAction, HttpRule,
    Listener, Redirect, RuleAction, ServerState, Timeouts,
};

use crate::Loaded;
use crate::acl::{NbsrvTest, anonymous_acl, nbsrv_test};
use crate::error::{Diagnostic, Error, Findings};
use crate::model::{self, *};

/// What [`plan`] makes of a config: one builder per frontend, ready to `build()`.
#[derive(Debug)]
pub struct Plan {
    /// The frontends, in file order.
    pub frontends: Vec<PlannedFrontend>,
    /// Things in the config the gateway accepts but does not act on.
    pub warnings: Vec<Diagnostic>,
}

/// One frontend as a gateway definition.
#[derive(Debug)]
pub struct PlannedFrontend {
    /// The frontend's name.
    pub name: String,
    /// The gateway: its listeners, routes, rules, backends, timeouts and options.
    pub builder: GatewayBuilder,
}

/// Switches for the parts of a gateway the config does not describe.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Emit one access-log line per request (target `gangway::access`).
    pub access_log: bool,
}

/// Converts a loaded config into gateway builders, one per frontend.
///
/// ```
/// let text = "frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s1 127.0.0.1:9000 check\n";
/// let loaded = gangway_config::parse_haproxy(text, "example.cfg")?;
/// let plan = gangway_config::plan(&loaded, gangway_config::PlanOptions::default())?;
/// let gateway = plan.frontends.into_iter().next().unwrap().builder.build();
/// assert!(gateway.is_ok());
/// # Ok::<(), gangway_config::Error>(())
/// ```
pub fn plan(loaded: &Loaded, options: PlanOptions) -> Result<Plan, Error> {
    let planned = || {
        loaded
            .config
            .frontends
            .iter()
            .filter(|frontend| !frontend.bind.is_empty())
    };
    // Ports of explicit IPv4 wildcard binds (`bind :80`, `bind 0.0.0.0:80`), in any frontend.
    let ipv4_wildcards = planned()
        .flat_map(|frontend| &frontend.bind)
        .filter(|bind| bind.is_ipv4_wildcard())
        .map(|bind| bind.address.port)
        .collect();
    let mut planner = Planner {
        config: &loaded.config,
        nbsrv_names: Vec::new(),
        found: Findings::new(&loaded.file),
        ipv4_wildcards,
        bound: HashMap::new(),
        lookups: HashMap::new(),
        check_addrs: HashMap::new(),
    };
    let frontends = planned()
        .map(|frontend| PlannedFrontend {
            name: frontend.name.clone(),
            builder: planner.frontend(frontend, options),
        })
        .collect();
    let Findings {
        mut errors,
        warnings,
        ..
    } = planner.found;
    if errors.is_empty() {
        Ok(Plan {
            frontends,
            warnings,
        })
    } else {
        errors.sort_by_key(|d| d.line.unwrap_or(usize::MAX));
        Err(Error::Invalid { errors, warnings })
    }
}

struct Planner<'a> {
    config: &'a Config,
    /// Names of the current frontend's `nbsrv()` ACLs.
    nbsrv_names: Vec<String>,
    found: Findings<'a>,
    /// Ports some `bind` listens on with the IPv4 wildcard: an IPv6 wildcard on the same port
    /// leaves IPv4 clients to that bind instead of adding its own IPv4 listener.
    ipv4_wildcards: HashSet<u16>,
    /// Every address listened on so far and the line of its `bind`.
    bound: HashMap<SocketAddr, SourceLine>,
    /// Servers' addresses looked up so far: the first address found, or why none was: a name is looked up once per plan, however many frontends use its backend.
    lookups: HashMap<String, Result<SocketAddr, String>>,
    /// Check addresses (`addr`) looked up so far, likewise.
    check_addrs: HashMap<String, Option<IpAddr>>,
}

impl Bind {
    /// Whether this is `bind :PORT` / `*:PORT` / `0.0.0.0:PORT` with a port other than 0.
    fn is_ipv4_wildcard(&self) -> bool {
        self.address.port != 0
            && match &self.address.host {
                None => true,
                Some(host) => host.parse::<IpAddr>() == Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            }
    }
}

impl Planner<'_> {
    fn acls(&mut self, acls: &[Acl]) -> AclSet {
        let mut set = AclSet::new();
        for acl in acls {
            // Validation already reported bad lines; skip them here.
            if let Ok(expr) = set.parse_expr(&acl.expr) {
                let _ = set.add(&acl.name, expr);
            }
        }
        set
    }

    fn condition(
        &mut self,
        acls: &AclSet,
        condition: &RuleCondition,
        line: SourceLine,
        keyword: &str,
    ) -> Option<Condition> {
        if condition.is_always() {
            return None;
        }
        let text = condition.to_string();
        let nbsrv_names: Vec<&str> = self.nbsrv_names.iter().map(String::as_str).collect();
        let words: Vec<&str> = text.split_whitespace().collect();
        if text.contains("nbsrv(")
            || words
                .iter()
                .any(|w| nbsrv_names.contains(&w.trim_start_matches('!')))
        {
            self.found.error(
                line,
                keyword,
                "'nbsrv()' can only be used in 'monitor fail' (routing sees only the request)",
            );
            return Some(Condition::never());
        }
        match acls.parse_condition(&text) {
            Ok(condition) => Some(condition),
            Err(error) => {
                self.found.error(line, keyword, error.to_string());
                Some(Condition::never())
            }
        }
    }

    fn frontend(&mut self, frontend: &Frontend, options: PlanOptions) -> GatewayBuilder {
        let mut builder = gangway::Gateway::builder();
        self.nbsrv_names = nbsrv_acls(&frontend.acl).into_keys().collect();
        let tcp = frontend.effective_mode() == Mode::Tcp;
        let mut gateway_options = gangway::Options::default();
        gateway_options.name = frontend.name.clone();
        if tcp {
            gateway_options.mode = FrontendMode::Tcp;
        }
        if let Some(maxconn) = frontend.maxconn.or(self.config.global.maxconn) {
            gateway_options.maxconn = maxconn.max(1) as usize;
        }
        if let Some(grace) = self.config.global.hard_stop_after {
            gateway_options.grace = grace;
        }
        gateway_options.access_log = options.access_log;
        // HAProxy adds no X-Forwarded-Proto unless told to; neither do we, except in front of
        // TLS: a frontend with an `ssl` bind sets X-Forwarded-Proto (https or http, per
        // listener) and X-Forwarded-Port, as load balancers terminating TLS do.
        gateway_options.forwarded_proto = frontend.bind.iter().any(|b| b.ssl);
        gateway_options.forward_for = false;
        if !tcp {
            gateway_options
                .monitor_uri
                .clone_from(&frontend.monitor_uri);
            // HAProxy's stats page: the live status page at PATH, its JSON, events and
            // Prometheus text at PATH/json, PATH/events and PATH/metrics.
            gateway_options.status_page.clone_from(&frontend.stats_uri);
        }
        let mut forwardfor = vec![(
            frontend.lines.of("option forwardfor", frontend.line),
            frontend.option.forwardfor.as_ref(),
        )];

        // Listeners.
        for bind in &frontend.bind {
            if !bind.ssl && (!bind.crt.is_empty() || bind.strict_sni) {
                self.found
                    .error(bind.line, "bind", "'crt' and 'strict-sni' need 'ssl'");
            }
            let tls = if bind.ssl {
                self.tls_listener(bind)
            } else {
                None
            };
            if bind.ssl && tls.is_none() {
                continue;
            }
            match bind.address.resolve() {
                Ok(addrs) if !addrs.is_empty() => {
                    // HAProxy binds the first address a name resolves to.
                    let addr = addrs[0];
                    let mut addrs = vec![addr];
                    // `:::PORT` takes IPv4 clients too unless `v6only` (the gateway's IPv6
                    // sockets are v6-only, so add the IPv4 wildcard on the same port), unless
                    // a `bind :PORT` already takes them (as HAProxy accepts).
                    let dual = addr.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED);
                    if dual
                        && !bind.v6only
                        && addr.port() != 0
                        && !self.ipv4_wildcards.contains(&addr.port())
                    {
                        addrs.push(SocketAddr::from(([0, 0, 0, 0], addr.port())));
                    }
                    for addr in addrs {
                        if addr.port() != 0 {
                            if let Some(first) = self.bound.get(&addr) {
                                let at = first.0.map_or(String::new(), |n| format!(" at line {n}"));
                                self.found.error(
                                    bind.line,
                                    "bind",
                                    format!("{addr} is already listened on (bind{at})"),
                                );
                                continue;
                            }
                            // A wildcard and a specific address of one family on one port
                            // cannot both listen (the sockets use SO_REUSEADDR, not
                            // SO_REUSEPORT): `run` would fail where `check` passed.
                            let overlap = self.bound.iter().find(|(other, _)| {
                                other.port() == addr.port()
                                    && other.is_ipv4() == addr.is_ipv4()
                                    && other.ip().is_unspecified() != addr.ip().is_unspecified()
                            });
                            if let Some((other, first)) = overlap {
                                let at = first.0.map_or(String::new(), |n| format!(" at line {n}"));
                                self.found.error(
                                    bind.line,
                                    "bind",
                                    format!("{addr} overlaps {other}, already listened on (bind{at}): a wildcard and a specific address cannot share a port; bind one of them"),
                                );
                                continue;
                            }
                            self.bound.insert(addr, bind.line);
                        }
                        let mut listener = Listener::new(addr.to_string());
                        if let Some(name) = &bind.name {
                            listener = listener.name(name);
                        }
                        if bind.accept_proxy {
                            listener = listener.accept_proxy();
                        }
                        #[cfg(feature = "tls")]
                        if let Some(tls) = &tls {
                            listener = listener.tls(tls.clone());
                        }
                        builder = builder.listener(listener);
                    }
                }
                Ok(_) => self.found.error(
                    bind.line,
                    "bind",
                    format!("'{}' resolves to no address", bind.address),
                ),
                Err(error) => self.found.error(
                    bind.line,
                    "bind",
                    format!("cannot resolve '{}': {error}", bind.address),
                ),
            }
        }

        // Backends this frontend uses, each converted once.
        let mut used: Vec<&str> = frontend
            .use_backend
            .iter()
            .map(|rule| rule.backend.as_str())
            .collect();
        used.extend(frontend.default_backend.as_deref());
        let mut seen = HashSet::new();
        let mut backends = Vec::new();
        for name in used {
            if !seen.insert(name) {
                continue;
            }
            let Some(backend) = self.config.backend(name) else {
                continue;
            };
            forwardfor.push((
                backend.lines.of("option forwardfor", backend.line),
                backend.option.forwardfor.as_ref(),
            ));
            if tcp && backend.effective_mode() == Mode::Http {
                self.found.warn(
                    backend.line,
                    "mode",
                    format!("backend '{}' is in HTTP mode but frontend '{}' is TCP: the gateway pipes the connection without HTTP processing", backend.name, frontend.name),
                );
            }
            backends.push((name, self.backend(frontend, backend)));
        }
        // `monitor fail if { nbsrv(B) lt 1 }`: backends whose having no server up fails the monitor URI.
        let nbsrv = nbsrv_acls(&frontend.acl);
        let mut monitored = Vec::new();
        for rule in &frontend.monitor_fail {
            match monitored_backends(&rule.if_true, &rule.unless, &nbsrv) {
                Some(names) => monitored.extend(names),
                None => self.found.error(
                    rule.line,
                    "monitor",
                    "the gateway supports 'monitor fail if A || B ...' where each ACL is 'nbsrv(BACKEND) lt 1' (or 'unless' one 'nbsrv(BACKEND) gt 0')",
                ),
            }
        }
        for name in &monitored {
            if seen.insert(name.as_str())
                && let Some(backend) = self.config.backend(name)
            {
                backends.push((backend.name.as_str(), self.backend(frontend, backend)));
            }
        }
        let find = |name: &str| backends.iter().find(|(n, _)| *n == name).map(|(_, b)| b);

        // forwardfor from the frontend or any backend it uses, as HAProxy ORs them.
        let mut forward_set: Option<&ForwardFor> = None;
        for (line, forward) in forwardfor {
            let Some(forward) = forward else { continue };
            if !gangway_h1::is_valid_field_name(forward.header.as_bytes()) {
                // A CR LF in it would add a line to every request to the servers.
                let message = format!(
                    "header {:?} is not an HTTP header name (an RFC 9110 token)",
                    forward.header
                );
                self.found.error(line, "option forwardfor", message);
                continue;
            }
            let header = forward.header.as_str();
            if crate::validate::is_written_by_gateway(header) || header.eq_ignore_ascii_case("host")
            {
                // The gateway refuses it when built, without a line.
                let message = format!(
                    "header '{header}' is one the gateway writes itself (Content-Length, Transfer-Encoding, Connection, Upgrade, Host): give another name"
                );
                self.found.error(line, "option forwardfor", message);
                continue;
            }
            match forward_set {
                None => {
                    forward_set = Some(forward);
                    gateway_options.forward_for = true;
                    gateway_options.forward_for_header.clone_from(&forward.header);
                    gateway_options.forward_for_if_none = forward.if_none;
                    if let Some(except) = &forward.except {
                        match parse_network(except) {
                            Some(network) => gateway_options.forward_for_except = Some(network),
                            None => self.found.error(line, "option forwardfor", format!("'except {except}' is not an address or ADDR/LEN network")),
                        }
                    }
                }
                Some(first) if first != forward => self.found.warn(
                    line,
                    "option forwardfor",
                    "differs from an earlier 'option forwardfor' of this frontend; the gateway applies the first to every backend",
                ),
                Some(_) => {}
            }
        }

        // Rules, routes and the default backend.
        let acls = self.acls(&frontend.acl);
        if tcp
            && frontend
                .use_backend
                .iter()
                .any(|r| !r.condition().is_always())
        {
            self.found.warn(
                frontend.line,
                "use_backend",
                format!("frontend '{}' is in TCP mode: there is no request to look at, so only 'src' (and, on 'ssl' binds, 'ssl_fc' and 'ssl_fc_sni') conditions can match", frontend.name),
            );
        }
        let http_rules: &[HttpRequestRule] = if tcp { &[] } else { &frontend.http_request };
        let http_responses: &[HttpResponseRule] = if tcp { &[] } else { &frontend.http_response };
        for rule in http_rules {
            let condition = self.condition(&acls, &rule.condition, rule.line, "http-request");
            let action = match &rule.action {
                HttpRequestAction::Redirect {
                    kind,
                    to,
                    code,
                    drop_query,
                    append_slash,
                } => {
                    if *append_slash {
                        self.found.error(
                            rule.line,
                            "http-request",
                            "'append-slash' is not supported by the gateway",
                        );
                    }
                    let mut redirect = match kind {
                        RedirectKind::Location => Redirect::location(to.clone()),
                        RedirectKind::Prefix => Redirect::prefix(to.clone()),
                        RedirectKind::Scheme => Redirect::scheme(to.clone()),
                    };
                    redirect = redirect.code(code.unwrap_or(302));
                    if *drop_query {
                        redirect = redirect.drop_query();
                    }
                    RuleAction::Redirect(redirect)
                }
                HttpRequestAction::Deny { status } => RuleAction::Deny {
                    status: status.unwrap_or(403),
                },
                HttpRequestAction::AddHeader { name, value } => {
                    RuleAction::RequestHeader(HeaderAction::add(name, value))
                }
                HttpRequestAction::SetHeader { name, value } => {
                    RuleAction::RequestHeader(HeaderAction::set(name, value))
                }
                HttpRequestAction::DelHeader { name } => {
                    RuleAction::RequestHeader(HeaderAction::delete(name))
                }
            };
            builder = builder.rule(HttpRule { condition, action });
        }
        for rule in http_responses {
            let condition = self.condition(&acls, &rule.condition, rule.line, "http-response");
            builder = builder.rule(HttpRule {
                condition,
                action: RuleAction::ResponseHeader(header_action(&rule.action)),
            });
        }
        for rule in &frontend.use_backend {
            let condition = self
                .condition(&acls, &rule.condition(), rule.line, "use_backend")
                .unwrap_or_else(Condition::always);
            if let Some(backend) = find(&rule.backend) {
                builder = builder.route(condition, backend);
            }
        }
        if let Some(backend) = frontend.default_backend.as_deref().and_then(find) {
            builder = builder.default_backend(backend);
        }
        // Error files: the frontend's, then those of the backends it uses (gateway-wide).
        let mut error_files: std::collections::BTreeMap<u16, std::path::PathBuf> =
            std::collections::BTreeMap::new();
        let sources = std::iter::once((frontend.line, &frontend.errorfile)).chain(
            backends
                .iter()
                .filter_map(|(name, _)| self.config.backend(name))
                .map(|b| (b.line, &b.errorfile)),
        );
        let sources: Vec<_> = sources.collect();
        for (line, files) in sources {
            for (status, path) in files {
                match error_files.get(status) {
                    Some(first) if first != path => self.found.warn(
                        line,
                        "errorfile",
                        format!("errorfile {status}: the gateway serves one file per status for the whole frontend ('{}')", first.display()),
                    ),
                    Some(_) => {}
                    None => {
                        error_files.insert(*status, path.clone());
                    }
                }
            }
        }
        for (status, path) in &error_files {
            match read_error_file(path) {
                Ok(bytes) => gateway_options.error_files.push((*status, bytes)),
                Err(error) => self.found.error(
                    frontend.line,
                    "errorfile",
                    format!("cannot read '{}': {error}", path.display()),
                ),
            }
        }

        // Options first: `monitor_fail_if_down` records into them.
        builder = builder
            .timeouts(timeouts(&frontend.timeout))
            .options(gateway_options);
        for name in &monitored {
            if let Some(backend) = find(name) {
                builder = builder.monitor_fail_if_down(backend);
            }
        }
        builder
    }

    fn backend(&mut self, frontend: &Frontend, backend: &model::Backend) -> gangway::Backend {
        let line = backend.line;
        let balance = match backend.effective_balance() {
            Balance::Roundrobin => gangway::Balance::RoundRobin,
            Balance::StaticRr => gangway::Balance::StaticRoundRobin,
            Balance::Leastconn => gangway::Balance::LeastConn,
            Balance::First => gangway::Balance::First,
            Balance::Source => gangway::Balance::Source,
            Balance::Uri { len, depth, whole } => {
                if len.is_some() || depth.is_some() || whole {
                    self.found.error(backend.lines.of("balance", line), "balance", "'uri' with len, depth or whole is not supported: the gateway hashes the path");
                }
                gangway::Balance::Uri
            }
            Balance::UrlParam { name } => gangway::Balance::UrlParam(name),
            Balance::Hdr {
                name,
                use_domain_only,
            } => {
                if use_domain_only {
                    self.found.error(
                        backend.lines.of("balance", line),
                        "balance",
                        "'hdr(...) use_domain_only' is not supported",
                    );
                }
                gangway::Balance::Header(name)
            }
            Balance::Random { draws } => gangway::Balance::Random {
                draws: u8::try_from(draws).unwrap_or(u8::MAX),
            },
        };
        if backend.hash_type == Some(HashType::MapBased)
            && backend.balance.as_ref().is_some_and(is_hash)
        {
            self.found.warn(
                backend.lines.of("hash-type", line),
                "hash-type",
                "the gateway always uses consistent hashing",
            );
        }
        let mut out = gangway::Backend::new(&backend.name)
            .balance(balance)
            .retries(backend.effective_retries())
            .redispatch(backend.option.redispatch == Some(true))
            .all_backups(backend.option.allbackups == Some(true))
            .mode(connection_mode(
                frontend.option.http_connection,
                backend.option.http_connection,
            ));

        let mut overrides = BackendTimeouts::default();
        overrides.server = backend.timeout.server.map(unbounded_if_zero);
        overrides.connect = backend.timeout.connect.map(unbounded_if_zero);
        overrides.tunnel = set_unless_zero(backend.timeout.tunnel);
        overrides.queue = backend.timeout.queue;
        overrides.server_fin = set_unless_zero(backend.timeout.server_fin);
        out = out.timeouts(overrides);

        // One check per backend in the gateway: its timing (`inter`, `fastinter`,
        // `downinter`, `rise`, `fall`) is taken from the first checked server; `port` and
        // `addr` are set per server below.
        let checked: Vec<&model::Server> = backend
            .server
            .iter()
            .filter(|s| s.options.checks())
            .collect();
        if let Some(first) = checked.first() {
            let check = self.check(backend, first);
            let timing = |s: &model::Server| {
                let o = &s.options;
                (o.inter, o.fastinter, o.downinter, o.rise, o.fall)
            };
            if checked.iter().any(|s| timing(s) != timing(first)) {
                self.found.warn(line, "server", format!("backend '{}': servers have different check timing (inter, fastinter, downinter, rise, fall); the gateway uses those of '{}' for all", backend.name, first.name));
            }
            out = out.check(check);
        }
        for server in &backend.server {
            // Building would refuse it too, but without the line.
            let unresolved = self
                .lookups
                .entry(server.address.to_string())
                .or_insert_with(|| match server.address.resolve() {
                    Ok(addrs) => addrs
                        .first()
                        .copied()
                        .ok_or_else(|| "resolves to no address".to_owned()),
                    Err(error) => Err(format!("does not resolve ({error})")),
                });
            let found = match unresolved {
                Ok(found) => *found,
                Err(why) => {
                    let message = format!("server '{}': '{}' {why}", server.name, server.address);
                    self.found.error(server.line, "server", message);
                    continue;
                }
            };
            let options = &server.options;
            // Built with the address found here: the name is not looked up again.
            let mut converted = gangway::Server::new(server.address.to_string())
                .resolved_to(found)
                .name(&server.name)
                .weight(options.effective_weight());
            if let Some(maxconn) = options.maxconn.filter(|n| *n > 0) {
                converted = converted.maxconn(maxconn);
            }
            if let Some(maxqueue) = options.maxqueue.filter(|n| *n > 0) {
                converted = converted.maxqueue(maxqueue);
            }
            if options.backup == Some(true) {
                converted = converted.backup();
            }
            if !options.checks() {
                converted = converted.no_check();
            } else if let Some(port) = options.port {
                converted = converted.check_port(port);
            }
            match options.send_proxy {
                Some(ProxyVersion::V1) => {
                    converted = converted.send_proxy(gangway::ProxyVersion::V1);
                }
                Some(ProxyVersion::V2) => {
                    converted = converted.send_proxy(gangway::ProxyVersion::V2);
                }
                Some(ProxyVersion::Off) | None => {}
            }
            if options.disabled == Some(true) {
                converted = converted.state(ServerState::Maint);
            }
            if let Some(slowstart) = options.slowstart {
                converted = converted.slowstart(slowstart);
            }
            if let Some(n) = options.pool_max_conn {
                converted = converted.pool_max_idle(usize::try_from(n).unwrap_or(usize::MAX));
            }
            if let Some(delay) = options.pool_purge_delay {
                converted = converted.pool_purge_delay(delay);
            }
            if let Some(addr) = &options.addr {
                let ip = *self
                    .check_addrs
                    .entry(addr.clone())
                    .or_insert_with(|| resolve_ip(addr));
                match ip {
                    Some(ip) => converted = converted.check_addr(ip),
                    None => {
                        self.found.error(
                            server.line,
                            "server",
                            format!("server '{}': 'addr {addr}' does not resolve", server.name),
                        );
                        continue;
                    }
                }
            }
            if options.ssl == Some(true) {
                #[cfg(feature = "tls")]
                match self.tls_server(server) {
                    Some(tls) => converted = converted.tls(tls),
                    None => continue,
                }
                #[cfg(not(feature = "tls"))]
                {
                    self.found.error(server.line, "server", NO_TLS);
                    continue;
                }
            } else if options.verify.is_some() || options.ca_file.is_some() || options.sni.is_some()
            {
                self.found.warn(
                    server.line,
                    "server",
                    format!(
                        "server '{}': 'verify', 'ca-file' and 'sni' have no effect without 'ssl'",
                        server.name
                    ),
                );
            }
            if let Some(observe) = options.observe {
                converted = converted.observe(passive_policy(observe, options));
            } else if options.on_error.is_some() || options.error_limit.is_some() {
                // As in HAProxy: traffic is only watched with `observe`.
                self.found.warn(server.line, "server", format!("server '{}': 'on-error' and 'error-limit' have no effect without 'observe layer4|layer7'", server.name));
            }
            if options.shutdown_sessions_on_down == Some(true) {
                converted = converted.shutdown_sessions_on_down(true);
            }
            out = out.server(converted);
        }
        for rule in &backend.http_request {
            match (&rule.action, rule.condition.is_always()) {
                (HttpRequestAction::AddHeader { name, value }, true) => out = out.request_header(HeaderAction::add(name, value)),
                (HttpRequestAction::SetHeader { name, value }, true) => out = out.request_header(HeaderAction::set(name, value)),
                (HttpRequestAction::DelHeader { name }, true) => out = out.request_header(HeaderAction::delete(name)),
                _ => self.found.error(rule.line, "http-request", "in a backend the gateway supports only unconditional add-header, set-header and del-header (put the rule in the frontend)"),
            }
        }
        for rule in &backend.http_response {
            if rule.condition.is_always() {
                out = out.response_header(header_action(&rule.action));
            } else {
                self.found.error(rule.line, "http-response", "in a backend the gateway supports only unconditional header rules (put the rule in the frontend)");
            }
        }
        out
    }

    fn check(&mut self, backend: &model::Backend, server: &model::Server) -> Check {
        let options = &server.options;
        let mut check = match &backend.option.httpchk {
            None => Check::tcp(),
            Some(chk) => {
                // `option httpchk GET /x HTTP/1.1\r\nHost:\ example.com` (and `http-check send
                // hdr NAME VALUE`) carry headers after the version.
                let mut check = Check::http(chk.uri.clone()).method(chk.method.clone());
                let version = chk.version.split("\r\n").next().unwrap_or_default();
                if !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
                    self.found.warn(
                        backend.lines.of("option httpchk", backend.line),
                        "option httpchk",
                        format!("version '{version}' is ignored: the gateway's checks are HTTP/1.1 requests"),
                    );
                }
                for header in chk.version.split("\r\n").skip(1) {
                    let Some((name, value)) = header.split_once(':') else {
                        continue;
                    };
                    let (name, value) = (name.trim(), value.trim());
                    check = if name.eq_ignore_ascii_case("host") {
                        check.host(value)
                    } else {
                        check.header(name, value)
                    };
                }
                match &backend.http_check_expect {
                    None => check,
                    Some(expect) => self.expect(
                        backend.lines.of("http-check expect", backend.line),
                        check,
                        expect,
                    ),
                }
            }
        };
        check = check
            .inter(options.effective_inter())
            .fastinter(options.effective_fastinter())
            .downinter(options.effective_downinter())
            .rise(options.effective_rise())
            .fall(options.effective_fall());
        // `timeout check 0` is HAProxy's "unset": the check gets `inter`, as with no line.
        if let Some(timeout) = backend.timeout.check.filter(|t| !t.is_zero()) {
            check = check.timeout(timeout);
        }
        check
    }

    fn expect(&mut self, line: SourceLine, check: Check, expect: &HttpCheckExpect) -> Check {
        match (expect.negate, expect.kind) {
            (false, ExpectKind::Status) => match expect.pattern.parse::<u16>() {
                Ok(status) => check.expect_status(status),
                Err(_) if expect.pattern == "200-399" => check,
                Err(_) => {
                    self.found.error(
                        line,
                        "http-check",
                        format!(
                            "'expect status {}': the gateway checks one status (or 200-399)",
                            expect.pattern
                        ),
                    );
                    check
                }
            },
            (false, ExpectKind::String) => check.expect_body(expect.pattern.clone()),
            _ => {
                let bang = if expect.negate { "! " } else { "" };
                self.found.error(line, "http-check", format!("'expect {bang}{}' is not supported by the gateway (use status N or string TEXT)", expect.kind.as_str()));
                check
            }
        }
    }
}

/// The frontend's ACLs made only of `nbsrv(...)` lines, by name.
fn nbsrv_acls(acls: &[Acl]) -> std::collections::HashMap<String, Vec<NbsrvTest>> {
    let mut out: std::collections::HashMap<String, Vec<NbsrvTest>> =
        std::collections::HashMap::new();
    for acl in acls {
        if let Some(test) = nbsrv_test(&acl.expr) {
            out.entry(acl.name.clone()).or_default().push(test);
        }
    }
    out.retain(|name, tests| acls.iter().filter(|a| &a.name == name).count() == tests.len());
    out
}

/// Backends named by a `monitor fail` condition the gateway can act on: `if` with terms or-ed,
/// each "no server up in B", or `unless` one term "some server up in B".
fn monitored_backends(
    if_true: &Option<String>,
    unless: &Option<String>,
    nbsrv: &std::collections::HashMap<String, Vec<NbsrvTest>>,
) -> Option<Vec<String>> {
    let (text, negated) = match (if_true, unless) {
        (Some(text), None) => (text, false),
        (None, Some(text)) => (text, true),
        _ => return None,
    };
    let words = crate::lexer::split_line(text, &|_| None).ok()?;
    let mut terms: Vec<Vec<NbsrvTest>> = Vec::new();
    let mut index = 0;
    let mut expect_term = true;
    while index < words.len() {
        let word = words[index].value.as_str();
        match (expect_term, word) {
            (false, "||" | "or") => expect_term = true,
            (true, "{") => {
                let (inner, close) = anonymous_acl(&words, index)?;
                terms.push(vec![nbsrv_test(&inner.join(" "))?]);
                index = close;
                expect_term = false;
            }
            (true, name) => {
                terms.push(nbsrv.get(name)?.clone());
                expect_term = false;
            }
            _ => return None,
        }
        index += 1;
    }
    let tests: Vec<NbsrvTest> = terms.into_iter().flatten().collect();
    if tests.is_empty() {
        return None;
    }
    if negated {
        // `unless X` fails the monitor when X is false: one "some server up" test only.
        return match tests.as_slice() {
            [test] if test.is_some_up() => Some(vec![test.backend.clone()]),
            _ => None,
        };
    }
    tests
        .iter()
        .all(NbsrvTest::is_none_up)
        .then(|| tests.into_iter().map(|t| t.backend).collect())
}

/// `ADDR` or `ADDR/LEN` (`option forwardfor except`).
fn parse_network(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (addr, len) = match text.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (text, None),
    };
    let addr: std::net::IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(len) => len.parse::<u8>().ok().filter(|l| *l <= max)?,
        None => max,
    };
    Some((addr, len))
}

fn is_hash(balance: &Balance) -> bool {
    matches!(
        balance,
        Balance::Source | Balance::Uri { .. } | Balance::UrlParam { .. } | Balance::Hdr { .. }
    )
}

fn header_action(action: &HttpResponseAction) -> HeaderAction {
    match action {
        HttpResponseAction::AddHeader { name, value } => HeaderAction::add(name, value),
        HttpResponseAction::SetHeader { name, value } => HeaderAction::set(name, value),
        HttpResponseAction::DelHeader { name } => HeaderAction::delete(name),
    }
}

/// HAProxy combines the frontend's and the backend's keep-alive options: closing wins.
fn connection_mode(
    frontend: Option<HttpConnectionMode>,
    backend: Option<HttpConnectionMode>,
) -> ConnectionMode {
    use HttpConnectionMode::*;
    match (frontend, backend) {
        (Some(Close), _) | (_, Some(Close)) => ConnectionMode::Close,
        (Some(ServerClose), _) | (_, Some(ServerClose)) => ConnectionMode::ServerClose,
        _ => ConnectionMode::KeepAlive,
    }
}

/// The error for TLS settings in a build without the `tls` feature.
#[cfg(not(feature = "tls"))]
const NO_TLS: &str =
    "'ssl': this gangway was built without TLS support (feature 'tls' of gangway-config)";

impl Planner<'_> {
    /// The certificates of a `bind ... ssl crt FILE...` line, read now (a missing or bad file
    /// is an error naming it); `None` after reporting an error.
    #[cfg(feature = "tls")]
    fn tls_listener(&mut self, bind: &model::Bind) -> Option<gangway::TlsListener> {
        let mut tls = gangway::TlsListener::new();
        for file in &bind.crt {
            match tls.cert_file(file) {
                Ok(next) => tls = next,
                Err(e) => {
                    self.found
                        .error(bind.line, "bind", format!("crt {file}: {e}"));
                    return None;
                }
            }
        }
        if tls.cert_count() == 0 {
            self.found
                .error(bind.line, "bind", "'ssl' needs at least one 'crt FILE'");
            return None;
        }
        Some(if bind.strict_sni {
            tls.strict_sni()
        } else {
            tls
        })
    }

    #[cfg(not(feature = "tls"))]
    fn tls_listener(&mut self, bind: &model::Bind) -> Option<()> {
        self.found.error(bind.line, "bind", NO_TLS);
        None
    }

    /// TLS to a `server ... ssl [verify none|required] [ca-file FILE] [sni str(NAME)]`.
    #[cfg(feature = "tls")]
    fn tls_server(&mut self, server: &model::Server) -> Option<gangway::TlsServer> {
        let options = &server.options;
        let mut tls = gangway::TlsServer::new();
        if options.verify == Some(model::Verify::None) {
            tls = tls.verify_none();
            if options.ca_file.is_some() {
                self.found.warn(
                    server.line,
                    "server",
                    format!(
                        "server '{}': 'ca-file' is unused with 'verify none'",
                        server.name
                    ),
                );
            }
        } else {
            let Some(file) = &options.ca_file else {
                self.found.error(server.line, "server", format!("server '{}': 'ssl' verifies the server's certificate: give 'ca-file FILE' (or 'verify none')", server.name));
                return None;
            };
            match tls.ca_file(file) {
                Ok(next) => tls = next,
                Err(e) => {
                    self.found
                        .error(server.line, "server", format!("ca-file {file}: {e}"));
                    return None;
                }
            }
        }
        if let Some(sni) = &options.sni {
            tls = tls.sni(sni);
        }
        Some(tls)
    }
}

fn timeouts(model: &model::Timeouts) -> Timeouts {
    let mut out = Timeouts::default();
    // As in HAProxy, 0 is "unset": client, server and connect then never expire, the others
    // keep what an unset one gets (here, the gateway's default).
    let unbounded = [
        (&mut out.client, model.client),
        (&mut out.server, model.server),
        (&mut out.connect, model.connect),
    ];
    for (field, value) in unbounded {
        if let Some(value) = value {
            *field = unbounded_if_zero(value);
        }
    }
    let defaulted = [
        (&mut out.http_request, model.http_request),
        (&mut out.http_keep_alive, model.http_keep_alive),
        (&mut out.tunnel, model.tunnel),
        (&mut out.client_fin, model.client_fin),
        (&mut out.server_fin, model.server_fin),
        (&mut out.queue, model.queue),
        (&mut out.client_hs, model.client_hs),
    ];
    for (field, value) in defaulted {
        if let Some(value) = set_unless_zero(value) {
            *field = value;
        }
    }
    out
}

/// An error file's bytes, as many as its size says, as HAProxy reads it (`http_load_errorfile`):
/// a device such as `/dev/zero` gives nothing rather than filling the memory.
fn read_error_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut bytes = Vec::new();
    file.take(size).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A timeout that is set and not 0 (0 is "unset", as in HAProxy).
fn set_unless_zero(value: Option<std::time::Duration>) -> Option<std::time::Duration> {
    value.filter(|v| !v.is_zero())
}

fn unbounded_if_zero(value: std::time::Duration) -> std::time::Duration {
    if value.is_zero() {
        std::time::Duration::MAX
    } else {
        value
    }
}

/// The passive health policy of a server with `observe` (HAProxy's defaults for the rest:
/// `on-error fail-check`, `error-limit 10`).
fn passive_policy(observe: Observe, options: &ServerOptions) -> gangway::health::PassivePolicy {
    use gangway::health::{Observe as Watch, OnError as Action, PassivePolicy};
    let mut policy = PassivePolicy::default().observe(match observe {
        Observe::Layer4 => Watch::Layer4,
        Observe::Layer7 => Watch::Layer7,
    });
    if let Some(on_error) = options.on_error {
        policy = policy.on_error(match on_error {
            OnError::Fastinter => Action::FastInter,
            OnError::FailCheck => Action::FailCheck,
            OnError::SuddenDeath => Action::SuddenDeath,
            OnError::MarkDown => Action::MarkDown,
        });
    }
    if let Some(limit) = options.error_limit {
        policy = policy.error_limit(limit);
    }
    policy
}

/// An IP address, or the first address a host name resolves to.
fn resolve_ip(host: &str) -> Option<std::net::IpAddr> {
    if let Ok(ip) = host.parse() {
        return Some(ip);
    }
    use std::net::ToSocketAddrs as _;
    (host, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn zero_is_unset_as_in_haproxy() {
        let zero = Some(Duration::ZERO);
        let model = model::Timeouts {
            connect: zero,
            client: zero,
            server: zero,
            tunnel: zero,
            client_fin: zero,
            server_fin: zero,
            http_keep_alive: zero,
            client_hs: zero,
            ..model::Timeouts::default()
        };
        let planned = timeouts(&model);
        let defaults = Timeouts::default();
        // Client, server and connect never expire.
        assert_eq!(planned.connect, Duration::MAX);
        assert_eq!(planned.client, Duration::MAX);
        assert_eq!(planned.server, Duration::MAX);
        // The others keep what an unset one gets: a tunnel at 0 is not kept open forever.
        assert_eq!(planned.tunnel, defaults.tunnel);
        assert_eq!(planned.client_fin, defaults.client_fin);
        assert_eq!(planned.server_fin, defaults.server_fin);
        assert_eq!(planned.http_keep_alive, defaults.http_keep_alive);
        assert_eq!(planned.client_hs, defaults.client_hs);
    }
}
