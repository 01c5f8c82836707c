//! Checks that need the whole model (names that refer to other sections, ranges, ACL
//! references); shared by the HAProxy-style and the TOML front ends.

use std::collections::HashSet;

use gangway_acl::AclSet;

use crate::error::Findings;
use crate::model::*;
use crate::time::zero_timeout_refused;

/// The key of [`DirectiveLines`] for the line that last set the health check URI
/// (`option httpchk` or `http-check send uri`).
pub(crate) const HTTPCHK_URI_LINE: &str = "httpchk uri";
/// The key of the line that gave a backend's check method, in its [`DirectiveLines`].
pub(crate) const HTTPCHK_METHOD_LINE: &str = "httpchk method";

const ERRORFILE_CODES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
];

pub(crate) fn validate(config: &Config, found: &mut Findings<'_>) {
    let mut seen = HashSet::new();
    for frontend in &config.frontends {
        check_name(found, &mut seen, "frontend", &frontend.name, frontend.line);
        check_frontend(found, config, frontend);
    }
    let mut seen = HashSet::new();
    for backend in &config.backends {
        check_name(found, &mut seen, "backend", &backend.name, backend.line);
        check_backend(found, config, backend);
    }
    if config.frontends.iter().all(|f| f.bind.is_empty()) {
        found.error(
            SourceLine(None),
            "bind",
            "no frontend has a 'bind' line: nothing to listen on",
        );
    }
}

/// `timeout http-request 0` in a frontend and `timeout queue 0` in a backend (`applies`, the
/// one of the two the section uses; TOML, as the HAProxy-style parser refuses them at their
/// line already): HAProxy's "no timeout" is not something the gateway can do there. Elsewhere
/// the timeout has no effect, and 0 is as good as any value.
fn check_zero_timeout(
    found: &mut Findings<'_>,
    timeouts: &Timeouts,
    applies: &str,
    lines: &DirectiveLines,
    section: SourceLine,
) {
    for (name, value) in timeouts.iter() {
        if value.is_zero() && name == applies {
            let keyword = format!("timeout {name}");
            found.error(
                lines.of(&keyword, section),
                &keyword,
                zero_timeout_refused(name),
            );
        }
    }
}

/// A `kind` section needs a name, unique among the `seen` ones. The HAProxy-style parser
/// reports a duplicate at its line already, so only sections without one (TOML) are checked.
fn check_name<'c>(
    found: &mut Findings<'_>,
    seen: &mut HashSet<&'c str>,
    kind: &str,
    name: &'c str,
    line: SourceLine,
) {
    if name.is_empty() {
        found.error(line, kind, format!("a {kind} needs a name"));
    } else if !seen.insert(name) && line.0.is_none() {
        found.error(
            line,
            kind,
            format!("a {kind} named '{name}' already exists"),
        );
    }
}

fn check_frontend(found: &mut Findings<'_>, config: &Config, frontend: &Frontend) {
    let what = format!("frontend '{}'", frontend.name);
    check_zero_timeout(
        found,
        &frontend.timeout,
        "http-request",
        &frontend.lines,
        frontend.line,
    );
    if frontend.bind.is_empty() {
        found.warn(
            frontend.line,
            "bind",
            format!("{what} has no 'bind' line and will not receive traffic"),
        );
    }
    let acl_names = acl_set(found, config, &frontend.acl);
    let mode = frontend.effective_mode();
    let check_target =
        |found: &mut Findings<'_>, line: SourceLine, kw: &str, name: &str| match config
            .backend(name)
        {
            None => found.error(line, kw, format!("{what}: no backend named '{name}'")),
            Some(backend) if mode == Mode::Http && backend.effective_mode() == Mode::Tcp => {
                found.error(
                    line,
                    kw,
                    format!("{what} is in HTTP mode and cannot use TCP-mode backend '{name}'"),
                );
            }
            Some(_) => {}
        };
    for rule in &frontend.use_backend {
        check_target(found, rule.line, "use_backend", &rule.backend);
        check_condition(
            found,
            rule.line,
            "use_backend",
            &rule.condition(),
            &acl_names,
        );
    }
    if let Some(name) = &frontend.default_backend {
        let line = if frontend.default_backend_line.0.is_some() {
            frontend.default_backend_line
        } else {
            frontend.line
        };
        check_target(found, line, "default_backend", name);
    } else if frontend.use_backend.is_empty() {
        found.warn(
            frontend.line,
            "default_backend",
            format!("{what} has no backend: every request gets 503"),
        );
    }
    if let Some(uri) = &frontend.monitor_uri
        && !uri.starts_with('/')
    {
        found.error(
            frontend.lines.of("monitor-uri", frontend.line),
            "monitor-uri",
            "must start with '/'",
        );
    }
    if let Some(uri) = &frontend.stats_uri
        && !uri.starts_with('/')
    {
        found.error(
            frontend.lines.of("stats uri", frontend.line),
            "stats",
            "'stats uri' must start with '/'",
        );
    }
    for rule in &frontend.monitor_fail {
        let condition = rule.condition();
        check_condition(found, rule.line, "monitor", &condition, &acl_names);
        if condition.is_always() {
            found.error(
                rule.line,
                "monitor",
                "'monitor fail' needs 'if' or 'unless'",
            );
        }
    }
    if frontend.monitor_uri.is_none() && !frontend.monitor_fail.is_empty() {
        found.warn(
            frontend.line,
            "monitor",
            format!("{what}: 'monitor fail' has no effect without 'monitor-uri'"),
        );
    }
    check_http_rules(
        found,
        &frontend.http_request,
        &frontend.http_response,
        &acl_names,
    );
    if mode == Mode::Tcp
        && (!frontend.http_request.is_empty()
            || !frontend.http_response.is_empty()
            || frontend.monitor_uri.is_some())
    {
        found.warn(
            frontend.line,
            "mode",
            format!("{what} is in TCP mode: its HTTP rules and monitor-uri are ignored"),
        );
    }
    check_errorfiles(found, &frontend.lines, frontend.line, &frontend.errorfile);
}

fn check_backend(found: &mut Findings<'_>, config: &Config, backend: &Backend) {
    let what = format!("backend '{}'", backend.name);
    // Headers after the check's version (`option httpchk M U V\r\nName:\ value`, or
    // `http-check send hdr`): each must be a `Name: value` line that cannot break the
    // request.
    if let Some(chk) = &backend.option.httpchk {
        let line = backend.lines.of("option httpchk", backend.line);
        for header in chk.version.split("\r\n").skip(1) {
            match header.split_once(':') {
                Some((name, value)) => check_header(
                    found,
                    line,
                    "option httpchk",
                    name.trim(),
                    Some(&value.trim().to_owned()),
                ),
                None => found.error(
                    line,
                    "option httpchk",
                    format!("header line '{header}' has no ':'"),
                ),
            }
        }
    }
    check_zero_timeout(
        found,
        &backend.timeout,
        "queue",
        &backend.lines,
        backend.line,
    );
    if backend.server.is_empty() {
        found.warn(
            backend.line,
            "server",
            format!("{what} has no server: its requests get 503"),
        );
    }
    let mut names = HashSet::new();
    for server in &backend.server {
        if !names.insert(server.name.as_str()) {
            found.error(
                server.line,
                "server",
                format!("{what}: duplicate server name '{}'", server.name),
            );
        }
        check_server_options(found, server.line, "server", &server.options);
    }
    check_server_options(
        found,
        backend.line,
        "default-server",
        &backend.default_server,
    );
    if let Some(Balance::Random { draws: 0 }) = &backend.balance {
        found.error(
            backend.lines.of("balance", backend.line),
            "balance",
            "'random' needs at least 1 draw",
        );
    }
    if let Some(expect) = &backend.http_check_expect {
        check_expect(
            found,
            backend.lines.of("http-check expect", backend.line),
            expect,
        );
    }
    if let Some(check) = &backend.option.httpchk {
        let send = backend.lines.of("http-check send", backend.line);
        let line = backend.lines.of("option httpchk", send);
        // The request line is written as it is given: a space or control byte in a part
        // would break it (the gateway refused these when built, without a line).
        let breaks_line = |part: &str| part.bytes().any(|b| b <= b' ' || b == 0x7f);
        if !check.uri.starts_with('/') && check.uri != "*" {
            found.error(
                backend.lines.of(HTTPCHK_URI_LINE, line),
                "option httpchk",
                format!("URI '{}' must start with '/'", check.uri),
            );
        } else if breaks_line(&check.uri) {
            found.error(
                backend.lines.of(HTTPCHK_URI_LINE, line),
                "option httpchk",
                format!("URI {:?} contains a space or control byte", check.uri),
            );
        }
        if !gangway_h1::is_valid_field_name(check.method.as_bytes()) {
            found.error(
                backend.lines.of(HTTPCHK_METHOD_LINE, line),
                "option httpchk",
                format!("method {:?} is not an HTTP token", check.method),
            );
        }
        let version = check.version.split("\r\n").next().unwrap_or_default();
        if breaks_line(version) {
            found.error(
                line,
                "option httpchk",
                format!("version {version:?} contains a space or control byte"),
            );
        }
    }
    let acl_names = acl_set(found, config, &backend.acl);
    check_http_rules(
        found,
        &backend.http_request,
        &backend.http_response,
        &acl_names,
    );
    check_errorfiles(found, &backend.lines, backend.line, &backend.errorfile);
}

fn check_server_options(
    found: &mut Findings<'_>,
    line: SourceLine,
    keyword: &str,
    options: &ServerOptions,
) {
    if let Some(weight) = options.weight
        && weight > 256
    {
        found.error(
            line,
            keyword,
            format!("weight {weight} is out of range 0..256"),
        );
    }
    if let Some(n) = options.pool_max_conn
        && n < -1
    {
        found.error(
            line,
            keyword,
            format!("'pool-max-conn {n}' expects -1 (no limit), 0 or more"),
        );
    }
    for (name, value) in [("rise", options.rise), ("fall", options.fall)] {
        if value == Some(0) {
            found.error(line, keyword, format!("'{name}' must be at least 1"));
        }
    }
    for (name, value) in [
        ("inter", options.inter),
        ("fastinter", options.fastinter),
        ("downinter", options.downinter),
    ] {
        if value.is_some_and(|v| v.is_zero()) {
            found.error(line, keyword, format!("'{name}' must be greater than 0"));
        }
    }
    if let Some(addr) = &options.addr
        && addr.parse::<std::net::IpAddr>().is_err()
        && !addr
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        found.error(line, keyword, format!("'addr {addr}' is not an address"));
    }
}

fn check_expect(found: &mut Findings<'_>, line: SourceLine, expect: &HttpCheckExpect) {
    match expect.kind {
        ExpectKind::Status => {
            let valid = expect.pattern.split(',').all(|part| {
                let (low, high) = part.split_once('-').unwrap_or((part, part));
                matches!((low.parse::<u16>(), high.parse::<u16>()), (Ok(l), Ok(h)) if (100..=599).contains(&l) && (l..=599).contains(&h))
            });
            if !valid {
                found.error(
                    line,
                    "http-check",
                    format!(
                        "'expect status {}' needs status codes or ranges (200, 200-399)",
                        expect.pattern
                    ),
                );
            }
        }
        ExpectKind::Rstatus | ExpectKind::Rstring => {
            if let Err(error) = regex::Regex::new(&expect.pattern) {
                found.error(line, "http-check", format!("invalid regex: {error}"));
            }
        }
        ExpectKind::String => {
            if expect.pattern.is_empty() {
                found.error(
                    line,
                    "http-check",
                    "'expect string' needs a non-empty string",
                );
            }
        }
    }
}

fn check_http_rules(
    found: &mut Findings<'_>,
    requests: &[HttpRequestRule],
    responses: &[HttpResponseRule],
    acl_names: &AclSet,
) {
    for rule in requests {
        check_condition(found, rule.line, "http-request", &rule.condition, acl_names);
        match &rule.action {
            HttpRequestAction::Redirect { code, to, .. } => {
                if let Some(code) = code
                    && ![301, 302, 303, 307, 308].contains(code)
                {
                    found.error(
                        rule.line,
                        "http-request",
                        format!("redirect code {code} must be 301, 302, 303, 307 or 308"),
                    );
                }
                if to.is_empty() {
                    found.error(rule.line, "http-request", "redirect target is empty");
                } else if !gangway_h1::is_valid_field_value(to.as_bytes()) {
                    // It becomes the `Location` line: a CR or LF would add lines to the answer.
                    found.error(
                        rule.line,
                        "http-request",
                        "redirect target contains CR, LF, NUL or another control byte",
                    );
                }
            }
            HttpRequestAction::Deny {
                status: Some(status),
            } => {
                if !(200..=599).contains(status) {
                    found.error(
                        rule.line,
                        "http-request",
                        format!("deny status {status} must be between 200 and 599"),
                    );
                }
            }
            HttpRequestAction::Deny { status: None } => {}
            HttpRequestAction::AddHeader { name, value } => {
                check_rule_header(
                    found,
                    rule.line,
                    "http-request",
                    "add-header",
                    name,
                    Some(value),
                );
            }
            HttpRequestAction::SetHeader { name, value } => {
                check_rule_header(
                    found,
                    rule.line,
                    "http-request",
                    "set-header",
                    name,
                    Some(value),
                );
            }
            HttpRequestAction::DelHeader { name } => {
                check_rule_header(found, rule.line, "http-request", "del-header", name, None);
            }
        }
    }
    for rule in responses {
        check_condition(
            found,
            rule.line,
            "http-response",
            &rule.condition,
            acl_names,
        );
        match &rule.action {
            HttpResponseAction::AddHeader { name, value } => {
                check_rule_header(
                    found,
                    rule.line,
                    "http-response",
                    "add-header",
                    name,
                    Some(value),
                );
            }
            HttpResponseAction::SetHeader { name, value } => {
                check_rule_header(
                    found,
                    rule.line,
                    "http-response",
                    "set-header",
                    name,
                    Some(value),
                );
            }
            HttpResponseAction::DelHeader { name } => {
                check_rule_header(found, rule.line, "http-response", "del-header", name, None);
            }
        }
    }
}

/// The headers the gateway writes itself from a message's framing and its connection's state;
/// the gateway refuses rules on them when it is built (without a line), so they are refused here.
const GATEWAY_WRITTEN_HEADERS: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
];

/// A header rule (`http-request` / `http-response` `add-header`, `set-header`, `del-header`).
/// Whether the gateway writes `name` itself, so that no rule or option may name it.
pub(crate) fn is_written_by_gateway(name: &str) -> bool {
    GATEWAY_WRITTEN_HEADERS
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

fn check_rule_header(
    found: &mut Findings<'_>,
    line: SourceLine,
    keyword: &str,
    action: &str,
    name: &str,
    value: Option<&String>,
) {
    check_header(found, line, keyword, name, value);
    if is_written_by_gateway(name) {
        found.error(
            line,
            keyword,
            format!("'{action} {name}' is not supported: the gateway writes Content-Length, Transfer-Encoding, Connection and Upgrade from the message's framing and the connection's state"),
        );
    } else if name.eq_ignore_ascii_case("host") && action != "set-header" {
        found.error(
            line,
            keyword,
            format!("'{action} {name}' is not supported: only set-header may change {name} (a request carries exactly one)"),
        );
    }
}

fn check_header(
    found: &mut Findings<'_>,
    line: SourceLine,
    keyword: &str,
    name: &str,
    value: Option<&String>,
) {
    if !gangway_h1::is_valid_field_name(name.as_bytes()) {
        found.error(line, keyword, format!("invalid header name '{name}'"));
    }
    if let Some(value) = value
        && !gangway_h1::is_valid_field_value(value.as_bytes())
    {
        found.error(
            line,
            keyword,
            format!("header '{name}' value contains CR, LF, NUL or another control byte"),
        );
    }
}

fn check_errorfiles(
    found: &mut Findings<'_>,
    lines: &DirectiveLines,
    section: SourceLine,
    files: &std::collections::BTreeMap<u16, std::path::PathBuf>,
) {
    for (code, path) in files {
        let line = lines.of(&format!("errorfile {code}"), section);
        if !ERRORFILE_CODES.contains(code) {
            found.error(
                line,
                "errorfile",
                format!("status {code} cannot have an error file (supported: {ERRORFILE_CODES:?})"),
            );
        }
        if let Some(problem) = errorfile_problem(path) {
            found.error(
                line,
                "errorfile",
                format!("cannot read '{}': {problem}", path.display()),
            );
        }
    }
}

/// Why `path` cannot be an error file: missing, a directory, or a FIFO or socket (opening one
/// would wait for a writer, so the gateway would never start). Devices are read like HAProxy
/// reads them, up to their size (`/dev/null` gives an empty answer).
fn errorfile_problem(path: &std::path::Path) -> Option<String> {
    let kind = match std::fs::metadata(path) {
        Ok(metadata) => metadata.file_type(),
        Err(error) => return Some(error.to_string()),
    };
    if kind.is_dir() {
        return Some("it is a directory".to_owned());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() || kind.is_socket() {
            return Some("it is a FIFO or socket, not a file".to_owned());
        }
    }
    None
}

/// Compiles a section's ACL lines; a line that does not compile is reported and still
/// declared (as never matching) so that conditions using its name are not reported twice.
fn acl_set(found: &mut Findings<'_>, config: &Config, acls: &[Acl]) -> AclSet {
    let mut set = AclSet::new();
    for acl in acls {
        if let Some(test) = crate::acl::nbsrv_test(&acl.expr) {
            if config.backend(&test.backend).is_none() {
                found.error(
                    acl.line,
                    "acl",
                    format!("ACL '{}': no backend named '{}'", acl.name, test.backend),
                );
            }
            // Declared so conditions may name it; only `monitor fail` can act on it.
            if let Ok(expr) = set.parse_expr("always_false") {
                let _ = set.add(&acl.name, expr);
            }
            continue;
        }
        let expr = match crate::acl::check_acl_line(&acl.expr) {
            Ok(()) => set.parse_expr(&acl.expr),
            Err(message) => {
                found.error(acl.line, "acl", format!("ACL '{}': {message}", acl.name));
                set.parse_expr("always_false")
            }
        };
        let added = expr.and_then(|expr| set.add(&acl.name, expr));
        if let Err(error) = added {
            found.error(acl.line, "acl", format!("ACL '{}': {error}", acl.name));
        }
    }
    set
}

fn check_condition(
    found: &mut Findings<'_>,
    line: SourceLine,
    keyword: &str,
    condition: &RuleCondition,
    acl_names: &AclSet,
) {
    if condition.if_true.is_some() && condition.unless.is_some() {
        found.error(
            line,
            keyword,
            "a rule has either 'if' or 'unless', not both",
        );
    }
    let Some(text) = condition.if_true.as_ref().or(condition.unless.as_ref()) else {
        return;
    };
    if let Err(message) = crate::acl::check_condition(text, acl_names) {
        found.error(line, keyword, message);
    }
}
