//! A human-readable summary of a config: what `gangway check` prints.

use std::fmt::Write as _;

use crate::model::*;
use crate::time::format_time;

/// Renders listeners, routes, backends, servers and checks, one item a line, ending with a
/// count line.
///
/// ```
/// let text = "frontend fe\n bind 127.0.0.1:8080\n default_backend be\nbackend be\n server s1 127.0.0.1:9000 check\n";
/// let loaded = gangway_config::parse_haproxy(text, "example.cfg").unwrap();
/// let summary = gangway_config::summary(&loaded.config);
/// assert!(summary.contains("listen 127.0.0.1:8080"));
/// assert!(summary.ends_with("1 frontend, 1 backend, 1 server, 1 check, 1 route\n"));
/// ```
pub fn summary(config: &Config) -> String {
    let mut out = String::new();
    let mut global = Vec::new();
    if let Some(maxconn) = config.global.maxconn {
        global.push(format!("maxconn {maxconn}"));
    }
    if let Some(time) = config.global.hard_stop_after {
        global.push(format!("hard-stop-after {}", format_time(time)));
    }
    if !global.is_empty() {
        let _ = writeln!(out, "global: {}", global.join(", "));
    }
    let mut routes = 0;
    for frontend in &config.frontends {
        let _ = writeln!(
            out,
            "frontend {} (mode {})",
            frontend.name,
            frontend.effective_mode().as_str()
        );
        for bind in &frontend.bind {
            let proxy = if bind.accept_proxy {
                " accept-proxy"
            } else {
                ""
            };
            let ssl = if bind.ssl {
                let strict = if bind.strict_sni { " strict-sni" } else { "" };
                let n = bind.crt.len();
                let plural = if n == 1 { "" } else { "s" };
                format!(" ssl ({n} certificate{plural}{strict})")
            } else {
                String::new()
            };
            let _ = writeln!(out, "  listen {}{proxy}{ssl}", bind.address);
        }
        if let Some(maxconn) = frontend.maxconn {
            let _ = writeln!(out, "  maxconn {maxconn}");
        }
        write_timeouts(
            &mut out,
            &frontend.timeout,
            &["client", "http-request", "http-keep-alive", "client-fin"],
        );
        write_options(&mut out, &frontend.option, true);
        if let Some(uri) = &frontend.monitor_uri {
            let fails: Vec<String> = frontend
                .monitor_fail
                .iter()
                .map(|rule| rule.condition().to_string())
                .collect();
            if fails.is_empty() {
                let _ = writeln!(out, "  monitor-uri {uri}");
            } else {
                let _ = writeln!(out, "  monitor-uri {uri} (fails {})", fails.join(", "));
            }
        }
        if let Some(uri) = &frontend.stats_uri {
            let _ = writeln!(out, "  stats uri {uri} (status page)");
        }
        let mut names: Vec<&str> = Vec::new();
        for acl in &frontend.acl {
            if !names.contains(&acl.name.as_str()) {
                names.push(&acl.name);
            }
        }
        for name in names {
            let exprs: Vec<&str> = frontend
                .acl
                .iter()
                .filter(|acl| acl.name == name)
                .map(|acl| acl.expr.as_str())
                .collect();
            let _ = writeln!(out, "  acl {name}: {}", exprs.join("  OR  "));
        }
        write_http_rules(&mut out, &frontend.http_request, &frontend.http_response);
        for (index, rule) in frontend.use_backend.iter().enumerate() {
            routes += 1;
            let _ = writeln!(
                out,
                "  route {}: -> {}{}",
                index + 1,
                rule.backend,
                condition_suffix(&rule.condition())
            );
        }
        match &frontend.default_backend {
            Some(name) => {
                routes += 1;
                let _ = writeln!(out, "  default -> {name}");
            }
            None => {
                let _ = writeln!(out, "  default -> (none: 503)");
            }
        }
    }
    let mut servers = 0;
    let mut checks = 0;
    for backend in &config.backends {
        let mut head = format!(
            "backend {} (mode {}, balance {}",
            backend.name,
            backend.effective_mode().as_str(),
            backend.effective_balance()
        );
        if backend.hash_type == Some(HashType::Consistent) {
            head.push_str(", hash-type consistent");
        }
        let _ = writeln!(out, "{head}, retries {})", backend.effective_retries());
        write_timeouts(
            &mut out,
            &backend.timeout,
            &[
                "connect",
                "server",
                "tunnel",
                "queue",
                "check",
                "server-fin",
            ],
        );
        write_options(&mut out, &backend.option, false);
        write_http_rules(&mut out, &backend.http_request, &backend.http_response);
        for server in &backend.server {
            servers += 1;
            let options = &server.options;
            let mut line = format!(
                "  server {} {} weight {}",
                server.name,
                server.address,
                options.effective_weight()
            );
            if let Some(maxconn) = options.maxconn {
                let _ = write!(line, " maxconn {maxconn}");
            }
            if let Some(maxqueue) = options.maxqueue {
                let _ = write!(line, " maxqueue {maxqueue}");
            }
            if options.backup == Some(true) {
                line.push_str(" backup");
            }
            if options.disabled == Some(true) {
                line.push_str(" disabled");
            }
            if let Some(slowstart) = options.slowstart {
                let _ = write!(line, " slowstart {}", format_time(slowstart));
            }
            if let Some(n) = options.pool_max_conn {
                let _ = write!(line, " pool-max-conn {n}");
            }
            if let Some(delay) = options.pool_purge_delay {
                let _ = write!(line, " pool-purge-delay {}", format_time(delay));
            }
            match options.send_proxy {
                Some(ProxyVersion::V1) => line.push_str(" send-proxy"),
                Some(ProxyVersion::V2) => line.push_str(" send-proxy-v2"),
                Some(ProxyVersion::Off) | None => {}
            }
            if options.ssl == Some(true) {
                line.push_str(match options.verify {
                    Some(Verify::None) => " ssl verify none",
                    _ => " ssl verify required",
                });
            }
            let _ = writeln!(out, "{line}");
            if options.checks() {
                checks += 1;
                let _ = writeln!(out, "    check {}", check_text(backend, server));
            }
        }
    }
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let _ = writeln!(
        out,
        "{}, {}, {}, {}, {}",
        plural(config.frontends.len(), "frontend"),
        plural(config.backends.len(), "backend"),
        plural(servers, "server"),
        plural(checks, "check"),
        plural(routes, "route"),
    );
    out
}

fn check_text(backend: &Backend, server: &Server) -> String {
    let options = &server.options;
    let mut text = match &backend.option.httpchk {
        Some(chk) => {
            let mut text = format!("http {} {}", chk.method, chk.uri);
            match &backend.http_check_expect {
                Some(expect) => {
                    let bang = if expect.negate { "! " } else { "" };
                    let _ = write!(
                        text,
                        " expect {bang}{} {}",
                        expect.kind.as_str(),
                        expect.pattern
                    );
                }
                None => text.push_str(" expect status 2xx/3xx"),
            }
            text
        }
        None => "tcp".to_owned(),
    };
    if options.addr.is_some() || options.port.is_some() {
        let host = options.addr.as_deref().unwrap_or(&server.address.host);
        let port = options.port.unwrap_or(server.address.port);
        let _ = write!(text, " on {host}:{port}");
    }
    let _ = write!(
        text,
        " inter {} fastinter {} downinter {} rise {} fall {}",
        format_time(options.effective_inter()),
        format_time(options.effective_fastinter()),
        format_time(options.effective_downinter()),
        options.effective_rise(),
        options.effective_fall(),
    );
    if let Some(timeout) = backend.timeout.check {
        let _ = write!(text, " timeout {}", format_time(timeout));
    }
    if let Some(observe) = options.observe {
        let _ = write!(
            text,
            " observe {}",
            match observe {
                Observe::Layer4 => "layer4",
                Observe::Layer7 => "layer7",
            }
        );
    }
    text
}

fn write_timeouts(out: &mut String, timeouts: &Timeouts, relevant: &[&str]) {
    let parts: Vec<String> = timeouts
        .iter()
        .filter(|(name, _)| relevant.contains(name))
        .map(|(name, value)| format!("{name} {}", format_time(value)))
        .collect();
    if !parts.is_empty() {
        let _ = writeln!(out, "  timeout {}", parts.join(", "));
    }
}

/// Lists the options that act on this side (logging options on frontends, redispatch and
/// allbackups on backends), as HAProxy ignores the others there.
fn write_options(out: &mut String, options: &Options, frontend: bool) {
    let mut parts = Vec::new();
    if let Some(mode) = options.http_connection {
        parts.push(mode.as_str().to_owned());
    }
    if !frontend && options.redispatch == Some(true) {
        parts.push("redispatch".to_owned());
    }
    if !frontend && options.allbackups == Some(true) {
        parts.push("allbackups".to_owned());
    }
    if let Some(forward) = &options.forwardfor {
        parts.push(format!("forwardfor ({})", forward.header));
    }
    for (name, value) in [
        ("logasap", options.logasap),
        ("httplog", options.httplog),
        ("dontlognull", options.dontlognull),
    ] {
        if frontend && value == Some(true) {
            parts.push(name.to_owned());
        }
    }
    if !parts.is_empty() {
        let _ = writeln!(out, "  option {}", parts.join(", "));
    }
}

fn write_http_rules(
    out: &mut String,
    requests: &[HttpRequestRule],
    responses: &[HttpResponseRule],
) {
    for rule in requests {
        let action = request_action(&rule.action);
        let _ = writeln!(
            out,
            "  http-request {action}{}",
            condition_suffix(&rule.condition)
        );
    }
    for rule in responses {
        let action = response_action(&rule.action);
        let _ = writeln!(
            out,
            "  http-response {action}{}",
            condition_suffix(&rule.condition)
        );
    }
}

fn condition_suffix(condition: &RuleCondition) -> String {
    if condition.is_always() {
        String::new()
    } else {
        format!(" {condition}")
    }
}

fn request_action(action: &HttpRequestAction) -> String {
    match action {
        HttpRequestAction::Redirect {
            kind,
            to,
            code,
            drop_query,
            append_slash,
        } => {
            let kind = match kind {
                RedirectKind::Location => "location",
                RedirectKind::Prefix => "prefix",
                RedirectKind::Scheme => "scheme",
            };
            let mut text = format!("redirect {kind} {to} code {}", code.unwrap_or(302));
            if *drop_query {
                text.push_str(" drop-query");
            }
            if *append_slash {
                text.push_str(" append-slash");
            }
            text
        }
        HttpRequestAction::Deny { status } => format!("deny {}", status.unwrap_or(403)),
        HttpRequestAction::AddHeader { name, value } => format!("add-header {name} {value}"),
        HttpRequestAction::SetHeader { name, value } => format!("set-header {name} {value}"),
        HttpRequestAction::DelHeader { name } => format!("del-header {name}"),
    }
}

fn response_action(action: &HttpResponseAction) -> String {
    match action {
        HttpResponseAction::AddHeader { name, value } => format!("add-header {name} {value}"),
        HttpResponseAction::SetHeader { name, value } => format!("set-header {name} {value}"),
        HttpResponseAction::DelHeader { name } => format!("del-header {name}"),
    }
}
