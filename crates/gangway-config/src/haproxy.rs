//! The HAProxy-style front end: `global`, `defaults`, `frontend`, `backend` and `listen`
//! sections, read line by line into [`Config`], collecting every error and warning.

use std::path::PathBuf;
use std::time::Duration;

use crate::address::{BindAddress, ServerAddress};
use crate::error::Findings;
use crate::lexer::{Word, split_line};
use crate::model::*;
use crate::time::{parse_time, zero_timeout_refused};
use crate::validate::{HTTPCHK_METHOD_LINE, HTTPCHK_URI_LINE};

/// Process-level `global` directives that mean nothing to an embedded gateway: accepted,
/// reported as ignored.
const IGNORED_GLOBAL: &[&str] = &[
    "daemon",
    "chroot",
    "uid",
    "gid",
    "user",
    "group",
    "log",
    "log-tag",
    "log-send-hostname",
    "nbthread",
    "nbproc",
    "pidfile",
    "stats",
    "ulimit-n",
    "node",
    "description",
    "master-worker",
    "quiet",
    "debug",
    "zero-warning",
    "cpu-map",
    "ca-base",
    "crt-base",
    "spread-checks",
    "grace",
    "setenv",
    "presetenv",
    "unsetenv",
    "resetenv",
    "maxsslconn",
    "maxconnrate",
    "maxsessrate",
    "maxpipes",
    "noepoll",
    "nopoll",
    "nosplice",
    "nogetaddrinfo",
    "noreuseport",
    "busy-polling",
    "server-state-file",
    "server-state-base",
    "unix-bind",
    "external-check",
    "localpeer",
    "lua-load",
    "lua-prepend-path",
    "insecure-fork-wanted",
    "expose-experimental-directives",
    "set-dumpable",
    "strict-limits",
    "thread-groups",
    "h1-case-adjust",
    "h1-case-adjust-file",
    "profiling.tasks",
    "numa-cpu-mapping",
];

/// Sections other than the five proxy sections; their bodies are skipped with a warning.
const IGNORED_SECTIONS: &[&str] = &[
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "program",
    "ring",
    "cache",
    "http-errors",
    "fcgi-app",
    "crt-store",
    "log-forward",
];

/// Logging options that only change HAProxy's log format: accepted, reported as ignored.
const IGNORED_LOG_OPTIONS: &[&str] = &[
    "tcplog",
    "httpslog",
    "log-health-checks",
    "log-separate-errors",
    "dontlog-normal",
];

/// Capabilities of a section, as HAProxy's `PR_CAP_*`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cap {
    Defaults,
    Frontend,
    Backend,
}

enum Section {
    None,
    Global,
    Defaults,
    Frontend(usize),
    Backend(usize),
    Listen { frontend: usize, backend: usize },
    Ignored,
}

/// What a proxy directive applies to: at most one of each.
struct Scope<'c> {
    defaults: Option<&'c mut Defaults>,
    frontend: Option<&'c mut Frontend>,
    backend: Option<&'c mut Backend>,
    kind: &'static str,
    name: String,
}

impl Scope<'_> {
    fn has(&self, cap: Cap) -> bool {
        match cap {
            Cap::Defaults => self.defaults.is_some(),
            Cap::Frontend => self.frontend.is_some(),
            Cap::Backend => self.backend.is_some(),
        }
    }
}

/// Runs `$body` with `$section` bound to each listed section of `$scope` that is open, e.g.
/// `in_sections!(scope, [defaults, backend], |s| { s.retries = Some(3) })`. A macro because
/// `Defaults`, `Frontend` and `Backend` share field names but no type to write a function over.
macro_rules! in_sections {
    ($scope:expr, [$($kind:ident),+], |$section:ident| $body:expr) => {{
        let scope: &mut Scope<'_> = &mut $scope;
        $(
            if let Some($section) = scope.$kind.as_deref_mut() {
                $body;
            }
        )+
    }};
}

/// Result of reading one HAProxy-style file: the model plus everything found wrong.
pub(crate) struct Parsed<'f> {
    pub(crate) config: Config,
    pub(crate) found: Findings<'f>,
}

pub(crate) fn parse<'f>(
    text: &str,
    file: &'f str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Parsed<'f> {
    let mut parser = Parser {
        config: Config::default(),
        defaults: Defaults::default(),
        section: Section::None,
        found: Findings::new(file),
        line: 0,
        httpchk: HttpChkLines::default(),
    };
    for (index, line) in text.lines().enumerate() {
        parser.line = index + 1;
        match split_line(line, env) {
            Ok(words) if words.is_empty() => {}
            Ok(words) => parser.directive(&words),
            Err(message) => parser.error("", message),
        }
    }
    parser.close_httpchk();
    // HAProxy's default mode is tcp; gangway's is http (see docs/config.md). Say so where it matters.
    for frontend in &parser.config.frontends {
        if frontend.mode.is_none() {
            parser.found.warn(
                frontend.line,
                "mode",
                format!("frontend '{}' has no 'mode': gangway assumes 'mode http' (HAProxy would use tcp)", frontend.name),
            );
        }
    }
    Parsed {
        config: parser.config,
        found: parser.found,
    }
}

struct Parser<'f> {
    config: Config,
    defaults: Defaults,
    section: Section,
    found: Findings<'f>,
    line: usize,
    /// `option httpchk` and `http-check send` of the current section.
    httpchk: HttpChkLines,
}

/// The health check request lines of one section, merged as HAProxy 2.2+ does
/// (`tcpcheck_add_http_rule`): a section with its own lines does not take those of `defaults`.
#[derive(Default)]
struct HttpChkLines {
    /// The request the lines so far describe.
    request: Option<CheckRequest>,
    /// `option httpchk` (true) or `no option httpchk` (false) in this section.
    option: Option<bool>,
    /// The line of this section's last `option httpchk`.
    option_line: Option<usize>,
    /// The line of this section's `http-check send`.
    send: Option<usize>,
    /// The line of this section's first `http-check expect`.
    expect: Option<usize>,
}

/// What `option httpchk` or `http-check send` gives; `None` where the line gives nothing.
#[derive(Default)]
struct CheckRequest {
    /// The method and the line that gave it.
    method: Option<(String, usize)>,
    /// The URI and the line that gave it.
    uri: Option<(String, usize)>,
    version: Option<String>,
    /// `\r\nName: value` for each header.
    headers: String,
}

impl CheckRequest {
    /// HAProxy's `tcpcheck_overwrite_send_http_rule`: `later` replaces the method, URI and
    /// version it gives, and its headers replace the earlier line's when it gives some. A
    /// later line without headers keeps them (HAProxy 2.6 keeps them for a bare
    /// `option httpchk` after `http-check send ... hdr Host x`, issue #1772; here it is so
    /// for both kinds of line: a check that lost its `Host` would mark vhost servers down).
    fn overwrite(&mut self, later: CheckRequest) {
        if later.method.is_some() {
            self.method = later.method;
        }
        if later.uri.is_some() {
            self.uri = later.uri;
        }
        if later.version.is_some() {
            self.version = later.version;
        }
        if !later.headers.is_empty() {
            self.headers = later.headers;
        }
    }

    fn to_model(&self) -> HttpChk {
        let mut check = HttpChk::default();
        if let Some((method, _)) = &self.method {
            check.method.clone_from(method);
        }
        if let Some((uri, _)) = &self.uri {
            check.uri.clone_from(uri);
        }
        if let Some(version) = &self.version {
            check.version.clone_from(version);
        }
        check.version.push_str(&self.headers);
        check
    }
}

type Words<'w, 'a> = &'w [Word<'a>];

/// The method of a parser `P` that handles one directive.
type Handler<P> = fn(&mut P, Words<'_, '_>);

fn arg<'w>(words: Words<'w, '_>, index: usize) -> Option<&'w str> {
    words.get(index).map(|w| w.value.as_str())
}

/// The text of `words` as written, `${VAR}` resolved as in other arguments, joined by single
/// spaces (quotes kept for the ACL parser).
fn raw_join(words: Words<'_, '_>) -> String {
    words
        .iter()
        .map(|w| w.expanded.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A byte allowed in section and ACL names, as in HAProxy.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')
}

/// A log-format string without expressions as the text it stands for (`%%` is `%`); `None`
/// if it has an expression (any other `%`).
fn log_format_literal(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        if !rest[at + 1..].starts_with('%') {
            return None;
        }
        out.push_str(&rest[..=at]);
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    Some(out)
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_name_byte)
}

impl Parser<'_> {
    /// Records an error on the current line.
    fn error(&mut self, keyword: &str, message: impl Into<String>) {
        self.found
            .error(SourceLine(Some(self.line)), keyword, message);
    }

    /// Records a warning on the current line.
    fn warn(&mut self, keyword: &str, message: impl Into<String>) {
        self.found
            .warn(SourceLine(Some(self.line)), keyword, message);
    }

    fn directive(&mut self, words: Words<'_, '_>) {
        let keyword = words[0].value.as_str();
        if matches!(
            keyword,
            "global" | "defaults" | "frontend" | "backend" | "listen"
        ) || IGNORED_SECTIONS.contains(&keyword)
        {
            self.close_httpchk();
        }
        match keyword {
            "global" => self.open_global(words),
            "defaults" => self.open_defaults(words),
            "frontend" | "backend" | "listen" => self.open_proxy(words),
            section if IGNORED_SECTIONS.contains(&section) => {
                self.warn(section, "section is not supported by gangway and is ignored");
                self.section = Section::Ignored;
            }
            _ => match self.section {
                Section::None => self.error(
                    keyword,
                    "directive outside of a section (expected global, defaults, frontend, backend or listen first)",
                ),
                Section::Ignored => {}
                Section::Global => self.global_directive(words),
                _ => self.proxy_directive(words),
            },
        }
    }

    fn open_global(&mut self, words: Words<'_, '_>) {
        if words.len() > 1 {
            self.error("global", "takes no argument");
        }
        self.section = Section::Global;
    }

    fn open_defaults(&mut self, words: Words<'_, '_>) {
        if words.len() > 2 {
            self.error("defaults", "takes at most a name");
        }
        if words.len() == 2 {
            self.warn(
                "defaults",
                "named defaults are treated as anonymous: they apply to the sections that follow",
            );
        }
        // A new defaults section starts from scratch, as in HAProxy.
        self.defaults = Defaults::default();
        self.section = Section::Defaults;
    }

    fn open_proxy(&mut self, words: Words<'_, '_>) {
        let kind = words[0].value.as_str();
        let Some(name) = arg(words, 1) else {
            self.error(kind, "needs a name");
            self.section = Section::Ignored;
            return;
        };
        if !is_valid_name(name) {
            self.error(
                kind,
                format!("invalid name '{name}' (letters, digits, '-', '_', '.', ':' only)"),
            );
        }
        let mut rest = 2;
        if arg(words, 2) == Some("from") {
            self.warn(kind, "'from' is ignored: the last anonymous defaults apply");
            rest = 4;
        }
        let line = SourceLine(Some(self.line));
        let wants_frontend = kind != "backend";
        let wants_backend = kind != "frontend";
        if wants_frontend && self.config.frontends.iter().any(|f| f.name == name) {
            self.error(kind, format!("a frontend named '{name}' already exists"));
        }
        if wants_backend && self.config.backends.iter().any(|b| b.name == name) {
            self.error(kind, format!("a backend named '{name}' already exists"));
        }
        let frontend = wants_frontend.then(|| {
            let mut frontend = Frontend {
                name: name.to_owned(),
                line,
                ..Frontend::default()
            };
            frontend.inherit(&self.defaults);
            if kind == "listen" {
                frontend.default_backend = Some(name.to_owned());
            }
            self.config.frontends.push(frontend);
            self.config.frontends.len() - 1
        });
        let backend = wants_backend.then(|| {
            let mut backend = Backend {
                name: name.to_owned(),
                line,
                ..Backend::default()
            };
            backend.inherit(&self.defaults);
            self.config.backends.push(backend);
            self.config.backends.len() - 1
        });
        self.section = match (frontend, backend) {
            (Some(frontend), Some(backend)) => Section::Listen { frontend, backend },
            (Some(frontend), None) => Section::Frontend(frontend),
            (None, Some(backend)) => Section::Backend(backend),
            (None, None) => Section::Ignored,
        };
        // Old syntax: `listen NAME ADDR:PORT` binds in the header line.
        if words.len() > rest {
            if kind == "listen" {
                let bind_words = &words[rest - 1..];
                self.proxy_directive_with(bind_words, "bind");
            } else {
                self.error(kind, "unexpected words after the name");
            }
        }
    }

    fn global_directive(&mut self, words: Words<'_, '_>) {
        let keyword = words[0].value.as_str();
        match keyword {
            "maxconn" => {
                if let Some(value) = self.number(words, 1, keyword) {
                    self.config.global.maxconn = Some(value);
                }
                self.no_more(words, 2, keyword);
            }
            "hard-stop-after" => {
                if let Some(value) = self.time(words, 1, keyword) {
                    self.config.global.hard_stop_after = Some(value);
                }
                self.no_more(words, 2, keyword);
            }
            kw if IGNORED_GLOBAL.contains(&kw)
                || kw.starts_with("tune.")
                || kw.starts_with("ssl-")
                || kw.starts_with("log-") =>
            {
                self.warn(
                    kw,
                    "process-level directive ignored by gangway (it runs as an embedded gateway)",
                );
            }
            _ => self.error(keyword, "unknown keyword in 'global' section"),
        }
    }

    fn scope(&mut self) -> Scope<'_> {
        match self.section {
            Section::Defaults => Scope {
                defaults: Some(&mut self.defaults),
                frontend: None,
                backend: None,
                kind: "defaults",
                name: String::new(),
            },
            Section::Frontend(index) => {
                let frontend = &mut self.config.frontends[index];
                Scope {
                    name: frontend.name.clone(),
                    defaults: None,
                    frontend: Some(frontend),
                    backend: None,
                    kind: "frontend",
                }
            }
            Section::Backend(index) => {
                let backend = &mut self.config.backends[index];
                Scope {
                    name: backend.name.clone(),
                    defaults: None,
                    frontend: None,
                    backend: Some(backend),
                    kind: "backend",
                }
            }
            Section::Listen { frontend, backend } => Scope {
                name: self.config.frontends[frontend].name.clone(),
                defaults: None,
                frontend: Some(&mut self.config.frontends[frontend]),
                backend: Some(&mut self.config.backends[backend]),
                kind: "listen",
            },
            Section::None | Section::Global | Section::Ignored => Scope {
                defaults: None,
                frontend: None,
                backend: None,
                kind: "",
                name: String::new(),
            },
        }
    }

    /// Checks a keyword's capabilities: forbidden in `defaults` is an error; in a section that
    /// lacks every wanted capability it is ignored with a warning, as HAProxy does.
    fn allowed(&mut self, keyword: &str, caps: &[Cap]) -> bool {
        let scope = self.scope();
        let in_defaults = scope.has(Cap::Defaults);
        let ok = caps.iter().any(|cap| scope.has(*cap));
        let (kind, name) = (scope.kind, scope.name);
        if ok {
            return true;
        }
        if in_defaults {
            self.error(keyword, "not allowed in a 'defaults' section");
        } else {
            let wanted = if caps.contains(&Cap::Frontend) {
                "frontend"
            } else {
                "backend"
            };
            self.warn(
                keyword,
                format!("ignored because {kind} '{name}' has no {wanted} capability"),
            );
        }
        false
    }

    fn proxy_directive(&mut self, words: Words<'_, '_>) {
        let keyword = words[0].value.clone();
        self.proxy_directive_with(words, &keyword);
        // Remember where each directive is, for problems found later (validation, planning).
        let key = match (keyword.as_str(), arg(words, 1), arg(words, 2)) {
            ("option", Some(name), _) => format!("option {name}"),
            ("no", Some("option"), Some(name)) => format!("option {name}"),
            ("timeout", Some(kind), _) => format!("timeout {kind}"),
            // One key per sub-directive or status, so that a problem points at its own line.
            ("http-check" | "stats", Some(sub), _) => format!("{keyword} {sub}"),
            ("errorfile", Some(code), _) => match code.parse::<u16>() {
                Ok(code) => format!("errorfile {code}"),
                Err(_) => keyword,
            },
            _ => keyword,
        };
        let line = self.line;
        in_sections!(self.scope(), [frontend, backend], |s| {
            s.lines.0.insert(key.clone(), line)
        });
    }

    /// Directives one method handles, with the sections they may appear in.
    fn sectioned(keyword: &str) -> Option<(&'static [Cap], Handler<Self>)> {
        use Cap::*;
        Some(match keyword {
            "bind" => (&[Frontend], Self::bind),
            "acl" => (&[Frontend, Backend], Self::acl),
            "use_backend" => (&[Frontend], Self::use_backend),
            "default_backend" => (&[Defaults, Frontend], Self::default_backend),
            "server" => (&[Backend], Self::server),
            "default-server" => (&[Defaults, Backend], Self::default_server),
            "balance" => (&[Defaults, Backend], Self::balance),
            "hash-type" => (&[Defaults, Backend], Self::hash_type),
            "http-check" => (&[Defaults, Backend], Self::http_check),
            "monitor-uri" => (&[Defaults, Frontend], Self::monitor_uri),
            "monitor" => (&[Frontend], Self::monitor),
            "http-request" => (&[Frontend, Backend], Self::http_request),
            "http-response" => (&[Frontend, Backend], Self::http_response),
            _ => return None,
        })
    }

    fn proxy_directive_with(&mut self, words: Words<'_, '_>, keyword: &str) {
        use Cap::*;
        if let Some((caps, handle)) = Self::sectioned(keyword) {
            if self.allowed(keyword, caps) {
                handle(self, words);
            }
            return;
        }
        match keyword {
            "mode" => self.mode(words),
            "timeout" => self.timeout(words),
            "contimeout" | "clitimeout" | "srvtimeout" => self.old_timeout(words),
            "maxconn" => {
                if self.allowed(keyword, &[Defaults, Frontend]) {
                    if let Some(value) = self.number(words, 1, keyword) {
                        in_sections!(self.scope(), [defaults, frontend], |s| {
                            s.maxconn = Some(value)
                        });
                    }
                    self.no_more(words, 2, keyword);
                }
            }
            "retries" => {
                if self.allowed(keyword, &[Defaults, Backend]) {
                    if let Some(value) = self.number(words, 1, keyword) {
                        in_sections!(self.scope(), [defaults, backend], |s| {
                            s.retries = Some(value)
                        });
                    }
                    self.no_more(words, 2, keyword);
                }
            }
            "option" => self.option(words, false),
            "no" if arg(words, 1) == Some("option") => self.option(&words[1..], true),
            "errorfile" => self.errorfile(words),
            "stats" => {
                let scope = self.scope();
                let backend_only = scope.has(Backend) && !scope.has(Frontend);
                if backend_only {
                    self.error(
                        keyword,
                        "stats in a backend section is not supported: put 'stats' in the frontend",
                    );
                } else if self.allowed(keyword, &[Defaults, Frontend]) {
                    self.stats(words);
                }
            }
            "log" | "log-format" | "log-tag" | "description" | "capture" | "log-format-sd"
            | "error-log-format" => {
                self.warn(
                    keyword,
                    "logging directive ignored (gangway logs through tracing; see 'gangway run -v')",
                );
            }
            _ => {
                let kind = self.scope().kind;
                self.error(
                    keyword,
                    format!("unknown or unsupported keyword in '{kind}' section"),
                );
            }
        }
    }

    fn no_more(&mut self, words: Words<'_, '_>, count: usize, keyword: &str) {
        if words.len() > count {
            self.error(
                keyword,
                format!("unexpected argument '{}'", words[count].value),
            );
        }
    }

    fn number<T: std::str::FromStr>(
        &mut self,
        words: Words<'_, '_>,
        index: usize,
        keyword: &str,
    ) -> Option<T> {
        self.number_of(words, index, keyword, "")
    }

    /// Parses a number argument; `option` names the option it belongs to in messages.
    fn number_of<T: std::str::FromStr>(
        &mut self,
        words: Words<'_, '_>,
        index: usize,
        keyword: &str,
        option: &str,
    ) -> Option<T> {
        self.value_of(words, index, keyword, option, "a number", |text| {
            text.parse()
                .map_err(|_| format!("'{text}' is not a valid number"))
        })
    }

    fn time(&mut self, words: Words<'_, '_>, index: usize, keyword: &str) -> Option<Duration> {
        self.time_of(words, index, keyword, "")
    }

    /// Parses a time argument; `option` names the option it belongs to in messages.
    fn time_of(
        &mut self,
        words: Words<'_, '_>,
        index: usize,
        keyword: &str,
        option: &str,
    ) -> Option<Duration> {
        let what = "a time (e.g. 5s, 500ms; a bare number is ms)";
        self.value_of(words, index, keyword, option, what, |text| {
            parse_time(text).map_err(|error| error.to_string())
        })
    }

    /// Parses argument `index` with `parse`; a missing or bad value is an error on `keyword`,
    /// prefixed with `'OPTION' ` when the value belongs to an option.
    fn value_of<T>(
        &mut self,
        words: Words<'_, '_>,
        index: usize,
        keyword: &str,
        option: &str,
        what: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let prefix = if option.is_empty() {
            String::new()
        } else {
            format!("'{option}' ")
        };
        let Some(text) = arg(words, index) else {
            self.error(keyword, format!("{prefix}expects {what}"));
            return None;
        };
        parse(text)
            .map_err(|message| self.error(keyword, format!("{prefix}{message}")))
            .ok()
    }

    fn bind(&mut self, words: Words<'_, '_>) {
        let Some(spec) = arg(words, 1) else {
            self.error("bind", "expects ADDR:PORT");
            return;
        };
        let mut addresses = Vec::new();
        for part in spec.split(',') {
            match expand_port_range(part) {
                Ok(parts) => {
                    for text in parts {
                        match text.parse::<BindAddress>() {
                            Ok(address) => addresses.push(address),
                            Err(error) => self.error("bind", error.to_string()),
                        }
                    }
                }
                Err(message) => self.error("bind", message),
            }
        }
        let mut accept_proxy = false;
        let mut name = None;
        let mut v6only = false;
        let (mut ssl, mut crt, mut strict_sni) = (false, Vec::new(), false);
        let mut index = 2;
        while let Some(option) = arg(words, index) {
            match option {
                "accept-proxy" => accept_proxy = true,
                "name" | "id" | "process" | "thread" | "backlog" | "mss" | "nice" | "maxconn" => {
                    if arg(words, index + 1).is_none() {
                        self.error("bind", format!("option '{option}' expects a value"));
                    }
                    match option {
                        "name" => name = arg(words, index + 1).map(str::to_owned),
                        // A numeric label: nothing to apply.
                        "id" => {}
                        "maxconn" => self.warn(
                            "bind",
                            "'maxconn' on a bind line is ignored; use the frontend's 'maxconn'",
                        ),
                        _ => self.warn("bind", format!("option '{option}' is ignored")),
                    }
                    index += 1;
                }
                "v6only" => v6only = true,
                "v4v6" => v6only = false,
                "transparent" | "defer-accept" | "tfo" => {
                    self.warn("bind", format!("option '{option}' is ignored"));
                }
                "ssl" => ssl = true,
                "strict-sni" => strict_sni = true,
                "crt" => {
                    match arg(words, index + 1) {
                        Some(file) => crt.push(file.to_owned()),
                        None => self.error("bind", "option 'crt' expects a PEM file"),
                    }
                    index += 1;
                }
                "alpn" => {
                    match arg(words, index + 1) {
                        Some(list) if list.split(',').any(|p| p == "http/1.1") => {
                            if list != "http/1.1" {
                                self.warn("bind", format!("'alpn {list}': the gateway speaks HTTP/1.1 only and offers just 'http/1.1'"));
                            }
                        }
                        Some(list) => self.error("bind", format!("'alpn {list}': the gateway speaks HTTP/1.1 only; the list must include 'http/1.1'")),
                        None => self.error("bind", "option 'alpn' expects a protocol list"),
                    }
                    index += 1;
                }
                "crt-list" | "ca-file" | "verify" | "crl-file" => {
                    self.error(
                        "bind",
                        format!("option '{option}' is not supported (client certificates and crt-list files are not implemented; use 'crt FILE' once per certificate)"),
                    );
                    return;
                }
                other => self.error("bind", format!("unknown option '{other}'")),
            }
            index += 1;
        }
        if !crt.is_empty() && !ssl {
            self.error("bind", "'crt' needs 'ssl' on the same bind line");
        }
        if ssl && crt.is_empty() {
            self.error("bind", "'ssl' needs at least one 'crt FILE'");
        }
        if strict_sni && !ssl {
            self.error("bind", "'strict-sni' needs 'ssl' on the same bind line");
        }
        let line = SourceLine(Some(self.line));
        if let Some(frontend) = self.scope().frontend {
            frontend
                .bind
                .extend(addresses.into_iter().map(|address| Bind {
                    address,
                    accept_proxy,
                    v6only,
                    ssl,
                    crt: crt.clone(),
                    strict_sni,
                    name: name.clone(),
                    line,
                }));
        }
    }

    fn mode(&mut self, words: Words<'_, '_>) {
        let mode = match arg(words, 1) {
            Some("http") => Mode::Http,
            Some("tcp") => Mode::Tcp,
            Some("health") => {
                self.error(
                    "mode",
                    "'health' mode was removed from HAProxy and is not supported",
                );
                return;
            }
            Some(other) => {
                self.error(
                    "mode",
                    format!("unknown mode '{other}' (expected http or tcp)"),
                );
                return;
            }
            None => {
                self.error("mode", "expects http or tcp");
                return;
            }
        };
        self.no_more(words, 2, "mode");
        in_sections!(self.scope(), [defaults, frontend, backend], |s| {
            s.mode = Some(mode)
        });
    }

    fn acl(&mut self, words: Words<'_, '_>) {
        let Some(name) = arg(words, 1) else {
            self.error("acl", "expects a name and a criterion");
            return;
        };
        if !name.bytes().all(is_name_byte) {
            self.error("acl", format!("invalid ACL name '{name}'"));
            return;
        }
        if name.eq_ignore_ascii_case("or") {
            self.error(
                "acl",
                format!(
                    "ACL name '{name}' will never match: 'or' is the disjunction of a condition"
                ),
            );
            return;
        }
        if words.len() < 3 {
            self.error("acl", format!("ACL '{name}' has no criterion"));
            return;
        }
        let acl = Acl {
            name: name.to_owned(),
            expr: raw_join(&words[2..]),
            line: SourceLine(Some(self.line)),
        };
        in_sections!(self.scope(), [frontend, backend], |s| {
            s.acl.push(acl.clone())
        });
    }

    /// Splits `ARGS... [if|unless COND...]`; an empty condition is an error.
    fn split_condition<'w, 'a>(
        &mut self,
        words: Words<'w, 'a>,
        keyword: &str,
    ) -> Option<(Words<'w, 'a>, RuleCondition)> {
        let Some(at) = words
            .iter()
            .position(|w| w.value == "if" || w.value == "unless")
        else {
            return Some((words, RuleCondition::default()));
        };
        let text = raw_join(&words[at + 1..]);
        if text.is_empty() {
            self.error(
                keyword,
                format!("missing condition after '{}'", words[at].value),
            );
            return None;
        }
        let condition = if words[at].value == "if" {
            RuleCondition::when(text)
        } else {
            RuleCondition::unless(text)
        };
        Some((&words[..at], condition))
    }

    fn use_backend(&mut self, words: Words<'_, '_>) {
        let Some((args, condition)) = self.split_condition(words, "use_backend") else {
            return;
        };
        let Some(backend) = arg(args, 1) else {
            self.error("use_backend", "expects a backend name");
            return;
        };
        if backend.contains("%[") {
            self.error(
                "use_backend",
                "dynamic backend names (log-format expressions) are not supported",
            );
            return;
        }
        self.no_more(args, 2, "use_backend");
        let rule = UseBackend {
            backend: backend.to_owned(),
            if_true: condition.if_true,
            unless: condition.unless,
            line: SourceLine(Some(self.line)),
        };
        if let Some(f) = self.scope().frontend {
            f.use_backend.push(rule);
        }
    }

    fn default_backend(&mut self, words: Words<'_, '_>) {
        let Some(backend) = arg(words, 1) else {
            self.error("default_backend", "expects a backend name");
            return;
        };
        self.no_more(words, 2, "default_backend");
        let backend = backend.to_owned();
        let line = SourceLine(Some(self.line));
        let mut scope = self.scope();
        if let Some(d) = scope.defaults.as_deref_mut() {
            d.default_backend = Some(backend.clone());
        }
        if let Some(f) = scope.frontend.as_deref_mut() {
            f.default_backend = Some(backend);
            f.default_backend_line = line;
        }
    }

    fn server(&mut self, words: Words<'_, '_>) {
        let (Some(name), Some(address)) = (arg(words, 1), arg(words, 2)) else {
            self.error("server", "expects NAME ADDR:PORT [options]");
            return;
        };
        let address = match address.parse::<ServerAddress>() {
            Ok(address) => Some(address),
            Err(error) => {
                self.error("server", format!("server '{name}': {error}"));
                None
            }
        };
        let mut options = ServerOptions::default();
        self.server_options(&words[3..], &mut options, "server");
        let line = SourceLine(Some(self.line));
        let name = name.to_owned();
        if let (Some(backend), Some(address)) = (self.scope().backend, address) {
            options.inherit(&backend.default_server);
            backend.server.push(Server {
                name,
                address,
                options,
                line,
            });
        }
    }

    fn default_server(&mut self, words: Words<'_, '_>) {
        let mut options = ServerOptions::default();
        self.server_options(&words[1..], &mut options, "default-server");
        in_sections!(self.scope(), [defaults, backend], |s| {
            options.inherit(&s.default_server);
            s.default_server = options.clone();
        });
    }

    fn server_options(&mut self, words: Words<'_, '_>, options: &mut ServerOptions, kw: &str) {
        let mut index = 0;
        while let Some(option) = arg(words, index) {
            let value = arg(words, index + 1);
            let mut takes_value = true;
            match option {
                "check" => {
                    options.check = Some(true);
                    takes_value = false;
                }
                "no-check" => {
                    options.check = Some(false);
                    takes_value = false;
                }
                "inter" | "fastinter" | "downinter" | "slowstart" | "pool-purge-delay" => {
                    if let Some(time) = self.time_of(words, index + 1, kw, option) {
                        if time.is_zero() && !matches!(option, "slowstart" | "pool-purge-delay") {
                            // Not kept: the check of the merged options would report it again.
                            self.error(kw, format!("'{option}' must be greater than 0"));
                            index += 2;
                            continue;
                        }
                        let field = match option {
                            "inter" => &mut options.inter,
                            "fastinter" => &mut options.fastinter,
                            "downinter" => &mut options.downinter,
                            "slowstart" => &mut options.slowstart,
                            _ => &mut options.pool_purge_delay,
                        };
                        *field = Some(time);
                    }
                }
                "rise" | "fall" | "weight" | "maxconn" | "maxqueue" | "error-limit" => {
                    if let Some(number) = self.number_of::<u32>(words, index + 1, kw, option) {
                        let field = match option {
                            "rise" => &mut options.rise,
                            "fall" => &mut options.fall,
                            "weight" => &mut options.weight,
                            "maxconn" => &mut options.maxconn,
                            "maxqueue" => &mut options.maxqueue,
                            _ => &mut options.error_limit,
                        };
                        *field = Some(number);
                    }
                }
                "pool-max-conn" => {
                    if let Some(n) = self.number_of::<i64>(words, index + 1, kw, option) {
                        options.pool_max_conn = Some(n);
                    }
                }
                "port" => {
                    if let Some(port) = self.number_of::<u16>(words, index + 1, kw, "port") {
                        options.port = Some(port);
                    }
                }
                "addr" => match value {
                    Some(addr) => options.addr = Some(addr.to_owned()),
                    None => self.error(kw, "'addr' expects an address"),
                },
                "backup" | "no-backup" => {
                    options.backup = Some(option == "backup");
                    takes_value = false;
                }
                "disabled" | "enabled" => {
                    options.disabled = Some(option == "disabled");
                    takes_value = false;
                }
                "send-proxy" => {
                    options.send_proxy = Some(ProxyVersion::V1);
                    takes_value = false;
                }
                "send-proxy-v2" => {
                    options.send_proxy = Some(ProxyVersion::V2);
                    takes_value = false;
                }
                "no-send-proxy" | "no-send-proxy-v2" => {
                    // Off, not unset: a `default-server send-proxy` must not come back.
                    options.send_proxy = Some(ProxyVersion::Off);
                    takes_value = false;
                }
                "on-marked-down" => match value {
                    Some("shutdown-sessions") => options.shutdown_sessions_on_down = Some(true),
                    Some(other) => self.error(
                        kw,
                        format!("'on-marked-down {other}': only 'shutdown-sessions' is supported"),
                    ),
                    None => self.error(kw, "'on-marked-down' expects 'shutdown-sessions'"),
                },
                "on-error" => {
                    let action = match value {
                        Some("fastinter") => Some(OnError::Fastinter),
                        Some("fail-check") => Some(OnError::FailCheck),
                        Some("sudden-death") => Some(OnError::SuddenDeath),
                        Some("mark-down") => Some(OnError::MarkDown),
                        _ => None,
                    };
                    match action {
                        Some(action) => options.on_error = Some(action),
                        None => self.error(
                            kw,
                            "'on-error' expects fastinter, fail-check, sudden-death or mark-down",
                        ),
                    }
                }
                "observe" => match value {
                    Some("layer4") => options.observe = Some(Observe::Layer4),
                    Some("layer7") => options.observe = Some(Observe::Layer7),
                    _ => self.error(kw, "'observe' expects layer4 or layer7"),
                },
                "ssl" | "no-ssl" => {
                    options.ssl = Some(option == "ssl");
                    takes_value = false;
                }
                "verify" => match value {
                    Some("none") => options.verify = Some(Verify::None),
                    Some("required") => options.verify = Some(Verify::Required),
                    _ => self.error(kw, "'verify' expects none or required"),
                },
                "ca-file" => match value {
                    Some(file) => options.ca_file = Some(file.to_owned()),
                    None => self.error(kw, "'ca-file' expects a PEM file"),
                },
                "sni" => match value {
                    Some(expr) => {
                        // HAProxy takes an expression: a bare word is a sample fetch
                        // (`sni ssl_fc_sni`, `sni req.hdr(host)`), not a name. Only a constant
                        // name is supported, in HAProxy's form `str(NAME)`.
                        match expr.strip_prefix("str(").and_then(|e| e.strip_suffix(')')) {
                            Some(name) if !name.is_empty() && !name.contains(['(', ')', ',']) => {
                                options.sni = Some(name.to_owned());
                            }
                            _ => self.error(kw, format!("'sni {expr}': only a constant name is supported, as 'str(NAME)'")),
                        }
                    }
                    None => self.error(kw, "'sni' expects a name, as 'str(NAME)'"),
                },
                other => {
                    self.error(
                        kw,
                        format!("unknown or unsupported server option '{other}'"),
                    );
                    takes_value = false;
                }
            }
            index += if takes_value { 2 } else { 1 };
        }
    }

    fn balance(&mut self, words: Words<'_, '_>) {
        let Some(algorithm) = arg(words, 1) else {
            self.error("balance", "expects an algorithm");
            return;
        };
        let mut used = 2;
        let balance = match algorithm {
            "roundrobin" => Balance::Roundrobin,
            "static-rr" => Balance::StaticRr,
            "leastconn" => Balance::Leastconn,
            "first" => Balance::First,
            "source" => Balance::Source,
            "uri" => {
                let (mut len, mut depth, mut whole) = (None, None, false);
                while let Some(option) = arg(words, used) {
                    match option {
                        "len" => len = self.number_of(words, used + 1, "balance", "len"),
                        "depth" => depth = self.number_of(words, used + 1, "balance", "depth"),
                        "whole" => {
                            whole = true;
                            used += 1;
                            continue;
                        }
                        other => {
                            self.error("balance", format!("unknown 'uri' option '{other}'"));
                            used += 1;
                            continue;
                        }
                    }
                    used += 2;
                }
                Balance::Uri { len, depth, whole }
            }
            "url_param" => {
                let Some(name) = arg(words, 2) else {
                    self.error("balance", "'url_param' expects a parameter name");
                    return;
                };
                used = 3;
                Balance::UrlParam {
                    name: name.to_owned(),
                }
            }
            text if text.starts_with("hdr(") && text.ends_with(')') => {
                let name = &text[4..text.len() - 1];
                if name.is_empty() {
                    self.error("balance", "'hdr()' needs a header name");
                    return;
                }
                let use_domain_only = arg(words, 2) == Some("use_domain_only");
                if use_domain_only {
                    used = 3;
                }
                Balance::Hdr {
                    name: name.to_owned(),
                    use_domain_only,
                }
            }
            "random" => Balance::Random { draws: 2 },
            text if text.starts_with("random(") && text.ends_with(')') => {
                match text[7..text.len() - 1].parse::<u32>() {
                    Ok(draws) if draws >= 1 => Balance::Random { draws },
                    _ => {
                        self.error("balance", "'random(N)' needs a number of draws >= 1");
                        return;
                    }
                }
            }
            other => {
                self.error(
                    "balance",
                    format!("unknown or unsupported algorithm '{other}' (roundrobin, static-rr, leastconn, first, source, uri, url_param, hdr(NAME), random)"),
                );
                return;
            }
        };
        self.no_more(words, used, "balance");
        in_sections!(self.scope(), [defaults, backend], |s| {
            s.balance = Some(balance.clone())
        });
    }

    fn hash_type(&mut self, words: Words<'_, '_>) {
        let hash_type = match arg(words, 1) {
            Some("consistent") => HashType::Consistent,
            Some("map-based") => HashType::MapBased,
            _ => {
                self.error("hash-type", "expects 'map-based' or 'consistent'");
                return;
            }
        };
        let mut used = 2;
        if let Some(function) = arg(words, 2)
            && matches!(function, "sdbm" | "djb2" | "wt6" | "crc32" | "none")
        {
            self.warn(
                "hash-type",
                format!("hash function '{function}' is ignored; gangway uses its own hash"),
            );
            used = 3;
        }
        if arg(words, used) == Some("avalanche") {
            self.warn(
                "hash-type",
                "'avalanche' is ignored; gangway uses its own hash",
            );
            used += 1;
        }
        self.no_more(words, used, "hash-type");
        in_sections!(self.scope(), [defaults, backend], |s| {
            s.hash_type = Some(hash_type)
        });
    }

    fn set_timeout(&mut self, keyword: &str, name: &str, value: Duration) {
        // HAProxy: a client-side timeout in a backend (or the reverse) is ignored with a warning.
        let side = match name {
            // http-request and http-keep-alive are valid in every section (HAProxy 2.6).
            "client" | "client-fin" | "client-hs" => Some(Cap::Frontend),
            "connect" | "server" | "queue" | "check" | "server-fin" | "tunnel" => {
                Some(Cap::Backend)
            }
            _ => None,
        };
        if let Some(side) = side {
            let scope = self.scope();
            let ok = scope.has(Cap::Defaults) || scope.has(side);
            if !ok {
                let (kind, section) = (scope.kind, scope.name);
                let wanted = if side == Cap::Frontend {
                    "frontend"
                } else {
                    "backend"
                };
                self.warn(
                    keyword,
                    format!("'timeout {name}' ignored because {kind} '{section}' has no {wanted} capability"),
                );
                return;
            }
        }
        if matches!(name, "http-request" | "http-keep-alive") {
            let scope = self.scope();
            if !scope.has(Cap::Defaults) && !scope.has(Cap::Frontend) {
                let (kind, section) = (scope.kind, scope.name);
                self.warn(
                    keyword,
                    format!("'timeout {name}' has no effect in {kind} '{section}': the gateway applies it per frontend (set it in the frontend or defaults)"),
                );
            }
        }
        // HAProxy reads 0 as "no timeout"; where these two apply (the warnings above return or
        // say they do not), the gateway cannot wait without a limit.
        let applies = match name {
            "http-request" => self.scope().has(Cap::Defaults) || self.scope().has(Cap::Frontend),
            "queue" => true,
            _ => false,
        };
        if value.is_zero() && applies {
            self.error(keyword, zero_timeout_refused(name));
            return;
        }
        in_sections!(self.scope(), [defaults, frontend, backend], |s| {
            if let Some(field) = s.timeout.kind_mut(name) {
                *field = Some(value);
            }
        });
    }

    fn timeout(&mut self, words: Words<'_, '_>) {
        let Some(name) = arg(words, 1) else {
            self.error("timeout", "expects a kind and a time");
            return;
        };
        if !Timeouts::KINDS.contains(&name) {
            self.error(
                "timeout",
                format!(
                    "unknown timeout '{name}' (expected one of {})",
                    Timeouts::KINDS.join(", ")
                ),
            );
            return;
        }
        let Some(value) = self.time(words, 2, &format!("timeout {name}")) else {
            return;
        };
        self.no_more(words, 3, "timeout");
        self.set_timeout("timeout", name, value);
    }

    fn old_timeout(&mut self, words: Words<'_, '_>) {
        let keyword = words[0].value.as_str();
        let name = match keyword {
            "contimeout" => "connect",
            "clitimeout" => "client",
            _ => "server",
        };
        self.warn(
            keyword,
            format!("deprecated (removed in HAProxy 2.1); read as 'timeout {name}'"),
        );
        let Some(value) = self.time(words, 1, keyword) else {
            return;
        };
        self.no_more(words, 2, keyword);
        self.set_timeout(keyword, name, value);
    }

    fn option(&mut self, words: Words<'_, '_>, negated: bool) {
        use Cap::*;
        let Some(name) = arg(words, 1) else {
            self.error("option", "expects an option name");
            return;
        };
        let keyword = format!("option {name}");
        match name {
            "http-server-close" | "httpclose" | "forceclose" | "http-keep-alive" => {
                if name == "forceclose" {
                    self.warn(&keyword, "deprecated; read as 'option httpclose'");
                }
                let mode = match name {
                    "http-server-close" => HttpConnectionMode::ServerClose,
                    "http-keep-alive" => HttpConnectionMode::KeepAlive,
                    _ => HttpConnectionMode::Close,
                };
                self.no_more(words, 2, &keyword);
                in_sections!(self.scope(), [defaults, frontend, backend], |s| {
                    let current = &mut s.option.http_connection;
                    if !negated {
                        *current = Some(mode);
                    } else if *current == Some(mode) {
                        // `no option X` clears X, falling back to keep-alive (HAProxy's default).
                        *current = Some(HttpConnectionMode::KeepAlive);
                    }
                });
            }
            "redispatch" | "allbackups" => {
                if self.allowed(&keyword, &[Defaults, Backend]) {
                    self.no_more(words, 2, &keyword);
                    let field: fn(&mut Options) -> &mut Option<bool> = match name {
                        "redispatch" => |o| &mut o.redispatch,
                        _ => |o| &mut o.allbackups,
                    };
                    self.set_flag(field, !negated);
                }
            }
            "logasap" | "httplog" | "dontlognull" => {
                if self.allowed(&keyword, &[Defaults, Frontend]) {
                    let mut used = 2;
                    if name == "httplog" && arg(words, 2) == Some("clf") {
                        used = 3;
                    }
                    self.no_more(words, used, &keyword);
                    let field: fn(&mut Options) -> &mut Option<bool> = match name {
                        "logasap" => |o| &mut o.logasap,
                        "httplog" => |o| &mut o.httplog,
                        _ => |o| &mut o.dontlognull,
                    };
                    self.set_flag(field, !negated);
                }
            }
            "forwardfor" => {
                if negated {
                    self.error(&keyword, "'no option forwardfor' is not supported");
                    return;
                }
                let mut forward = ForwardFor::default();
                let mut index = 2;
                while let Some(word) = arg(words, index) {
                    match (word, arg(words, index + 1)) {
                        ("except", Some(network)) => {
                            forward.except = Some(network.to_owned());
                            index += 2;
                        }
                        ("header", Some(header)) => {
                            forward.header = header.to_owned();
                            index += 2;
                        }
                        ("if-none", _) => {
                            forward.if_none = true;
                            index += 1;
                        }
                        (word @ ("except" | "header"), None) => {
                            let what = if word == "except" {
                                "a network"
                            } else {
                                "a header name"
                            };
                            self.error(&keyword, format!("'{word}' expects {what}"));
                            return;
                        }
                        (other, _) => {
                            self.error(&keyword, format!("unexpected argument '{other}' (expected except NET, header NAME or if-none)"));
                            return;
                        }
                    }
                }
                in_sections!(self.scope(), [defaults, frontend, backend], |s| {
                    s.option.forwardfor = Some(forward.clone())
                });
            }
            "httpchk" => {
                if !self.allowed(&keyword, &[Defaults, Backend]) {
                    return;
                }
                let args: Vec<&str> = words[2..].iter().map(|w| w.value.as_str()).collect();
                let line = self.line;
                let mut request = CheckRequest::default();
                let version = match args.as_slice() {
                    [] => None,
                    [uri] => {
                        request.uri = Some(((*uri).to_owned(), line));
                        None
                    }
                    [method, uri] => {
                        request.method = Some(((*method).to_owned(), line));
                        request.uri = Some(((*uri).to_owned(), line));
                        None
                    }
                    [method, uri, version] => {
                        request.method = Some(((*method).to_owned(), line));
                        request.uri = Some(((*uri).to_owned(), line));
                        Some(*version)
                    }
                    [_, _, _, extra, ..] => {
                        // As HAProxy (too many arguments): the old code joined them silently.
                        self.error(
                            &keyword,
                            format!("unexpected argument '{extra}' (at most METHOD URI VERSION; headers go in the version, as 'HTTP/1.1\\r\\nHost:\\ example.com', or in 'http-check send hdr NAME VALUE')"),
                        );
                        return;
                    }
                };
                if let Some(version) = version {
                    // HAProxy lets the version carry headers after "\r\n" (and a body after
                    // "\r\n\r\n", which the gateway's checks do not send); they are header rules
                    // that a later `http-check send` replaces.
                    let (text, body) = match version.split_once("\r\n\r\n") {
                        Some((text, body)) => (text, Some(body)),
                        None => (version, None),
                    };
                    let (text, headers) = match text.split_once("\r\n") {
                        Some((text, headers)) => (text, format!("\r\n{headers}")),
                        None => (text, String::new()),
                    };
                    request.version = Some(text.to_owned()).filter(|v| !v.is_empty());
                    request.headers = headers;
                    if body.is_some_and(|b| !b.is_empty()) {
                        self.warn(
                            &keyword,
                            "the body after the version is ignored: the gateway's checks send no body",
                        );
                    }
                }
                if negated {
                    self.httpchk.option = Some(false);
                } else {
                    let lines = &mut self.httpchk;
                    match &mut lines.request {
                        // After an `http-check send`, the option's request overwrites it.
                        Some(earlier) if lines.send.is_some() => earlier.overwrite(request),
                        // A second `option httpchk` replaces the first.
                        _ => lines.request = Some(request),
                    }
                    lines.option = Some(true);
                    lines.option_line = Some(line);
                }
                self.apply_httpchk();
            }
            name if IGNORED_LOG_OPTIONS.contains(&name) => {
                self.warn(
                    &keyword,
                    "logging option ignored (gangway logs through tracing)",
                );
            }
            _ => self.error(&keyword, "unknown or unsupported option"),
        }
    }

    fn set_flag(&mut self, field: fn(&mut Options) -> &mut Option<bool>, value: bool) {
        in_sections!(self.scope(), [defaults, frontend, backend], |s| {
            *field(&mut s.option) = Some(value)
        });
    }

    /// The health check request of the current section: its own lines if it has any (and
    /// `option httpchk` is on, here or in `defaults`), else the one of `defaults`.
    fn httpchk_value(&self) -> Option<HttpChk> {
        let inherited = match self.section {
            Section::Backend(_) | Section::Listen { .. } => self.defaults.option.httpchk.as_ref(),
            _ => None,
        };
        let lines = &self.httpchk;
        match &lines.request {
            None if lines.option == Some(false) => None,
            None => inherited.cloned(),
            Some(request) => lines
                .option
                .unwrap_or(inherited.is_some())
                .then(|| request.to_model()),
        }
    }

    /// Writes the health check request of the current section into the model.
    fn apply_httpchk(&mut self) {
        let check = self.httpchk_value();
        let request = self.httpchk.request.as_ref();
        let uri_line = request.and_then(|r| r.uri.as_ref()).map(|(_, line)| *line);
        let method_line = request
            .and_then(|r| r.method.as_ref())
            .map(|(_, line)| *line);
        in_sections!(self.scope(), [defaults, backend], |s| {
            s.option.httpchk.clone_from(&check)
        });
        for (key, line) in [
            (HTTPCHK_URI_LINE, uri_line),
            (HTTPCHK_METHOD_LINE, method_line),
        ] {
            if let Some(line) = line {
                in_sections!(self.scope(), [backend], |s| {
                    s.lines.0.insert(key.to_owned(), line)
                });
            }
        }
    }

    /// At the end of a section: as HAProxy, `http-check send` without `option httpchk` (here
    /// or in `defaults`) is ignored, and the checks stay TCP connects.
    fn close_httpchk(&mut self) {
        if let Some(line) = self.httpchk.send
            && self.httpchk_value().is_none()
        {
            let message = match self.section {
                Section::Defaults => "'defaults' uses http-check rules without 'option httpchk', so the rules are ignored (a backend's own 'option httpchk' does not take them either)".to_owned(),
                _ => format!(
                    "proxy '{}' uses http-check rules without 'option httpchk', so the rules are ignored",
                    self.scope().name
                ),
            };
            self.found
                .warn(SourceLine(Some(line)), "http-check", message);
        }
        // As HAProxy, a backend's own send line replaces the request of `defaults` rather
        // than amending it: say so when that changes the method or URI checked.
        if matches!(self.section, Section::Backend(_) | Section::Listen { .. })
            && self.httpchk.option.is_none()
            && let (Some(line), Some(inherited), Some(own)) = (
                self.httpchk.send,
                self.defaults.option.httpchk.clone(),
                self.httpchk_value(),
            )
            && (own.method != inherited.method || own.uri != inherited.uri)
        {
            let message = format!(
                "proxy '{}' has its own 'http-check send', so it checks '{} {}', not the '{} {}' of 'defaults' (as HAProxy); give 'meth' and 'uri' here to keep them",
                self.scope().name,
                own.method,
                own.uri,
                inherited.method,
                inherited.uri
            );
            self.found
                .warn(SourceLine(Some(line)), "http-check", message);
        }
        self.drop_inherited_expect();
        self.httpchk = HttpChkLines::default();
    }

    /// HAProxy 2.2+ keeps a section's `http-check` rules in a ruleset of its own
    /// (`proxy_parse_httpcheck`, `proxy_parse_httpchk_opt` in `tcpcheck.c`): a backend with its
    /// own `http-check send` or `option httpchk` replaces the whole ruleset of `defaults`, so it
    /// does not take its `http-check expect` either, and without one of its own it passes on
    /// any 2xx/3xx. HAProxy says nothing; a warning says so here, since servers may go down.
    fn drop_inherited_expect(&mut self) {
        let lines = &self.httpchk;
        let own_line = match (lines.send, lines.option_line) {
            (Some(send), Some(option)) => Some(send.min(option)),
            (send, option) => send.or(option),
        };
        if !matches!(self.section, Section::Backend(_) | Section::Listen { .. })
            || lines.expect.is_some()
            || self.httpchk_value().is_none()
        {
            return;
        }
        let (Some(line), Some(inherited)) = (own_line, self.defaults.http_check_expect.clone())
        else {
            return;
        };
        in_sections!(self.scope(), [backend], |s| s.http_check_expect = None);
        let own = if self.httpchk.send == Some(line) {
            "http-check send"
        } else {
            "option httpchk"
        };
        let message = format!(
            "proxy '{}' has its own '{own}', so it does not take the 'http-check expect {}{} {}' of 'defaults' (as HAProxy): its checks pass on any 2xx or 3xx status; repeat the expect line here to keep it",
            self.scope().name,
            if inherited.negate { "! " } else { "" },
            inherited.kind.as_str(),
            inherited.pattern,
        );
        self.found
            .warn(SourceLine(Some(line)), "http-check", message);
    }

    fn http_check(&mut self, words: Words<'_, '_>) {
        match arg(words, 1) {
            Some("expect") => {}
            Some("send") => {
                self.http_check_send(words);
                return;
            }
            Some("disable-on-404") | Some("send-state") => {
                self.warn(
                    "http-check",
                    format!("'http-check {}' is ignored", words[1].value),
                );
                return;
            }
            Some(other) => {
                self.error(
                    "http-check",
                    format!("'http-check {other}' is not supported (only 'http-check expect' and 'http-check send')"),
                );
                return;
            }
            None => {
                self.error("http-check", "expects 'expect' or 'send'");
                return;
            }
        }
        let mut index = 2;
        let negate = arg(words, index) == Some("!");
        if negate {
            index += 1;
        }
        let kind = match arg(words, index) {
            Some("status") => ExpectKind::Status,
            Some("rstatus") => ExpectKind::Rstatus,
            Some("string") => ExpectKind::String,
            Some("rstring") => ExpectKind::Rstring,
            Some(other) => {
                self.error(
                    "http-check",
                    format!("unsupported expect type '{other}' (status, rstatus, string, rstring)"),
                );
                return;
            }
            None => {
                self.error(
                    "http-check",
                    "'expect' needs status|rstatus|string|rstring PATTERN",
                );
                return;
            }
        };
        let Some(pattern) = arg(words, index + 1) else {
            self.error(
                "http-check",
                format!("'expect {}' needs a pattern", kind.as_str()),
            );
            return;
        };
        self.no_more(words, index + 2, "http-check");
        let expect = HttpCheckExpect {
            negate,
            kind,
            pattern: pattern.to_owned(),
        };
        in_sections!(self.scope(), [defaults, backend], |s| {
            s.http_check_expect = Some(expect.clone())
        });
        self.httpchk.expect.get_or_insert(self.line);
    }

    /// `http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]... [comment C]`, keywords in
    /// any order (HAProxy 2.2+). It merges with this section's `option httpchk` whatever their
    /// order: the later line replaces the method, URI and version it gives, and its headers
    /// replace the earlier line's. Without `option httpchk` it is ignored (see
    /// [`Parser::close_httpchk`]).
    fn http_check_send(&mut self, words: Words<'_, '_>) {
        const KW: &str = "http-check";
        if let Some(earlier) = self.httpchk.send {
            self.error(KW, format!("a second 'http-check send' in one section is not supported (the first is at line {earlier}; HAProxy refuses it without an 'http-check connect' between them): give every keyword on one line"));
            return;
        }
        if let Some(expect) = self.httpchk.expect {
            self.error(KW, format!("'http-check send' after 'http-check expect' (line {expect}) is not supported (HAProxy refuses it without an 'http-check connect' between them): put the send line first"));
            return;
        }
        let mut request = CheckRequest::default();
        let mut host: Option<String> = None;
        let mut index = 2;
        while let Some(word) = arg(words, index) {
            // HAProxy reads an empty value as a missing one.
            let value = |at: usize| arg(words, at).filter(|v| !v.is_empty());
            match word {
                "meth" | "uri" | "ver" | "comment" | "uri-lf" | "body" | "body-lf" => {
                    let Some(text) = value(index + 1) else {
                        self.error(KW, format!("'send': '{word}' expects a string as argument"));
                        return;
                    };
                    match word {
                        "meth" => request.method = Some((text.to_owned(), self.line)),
                        "uri" => request.uri = Some((text.to_owned(), self.line)),
                        "ver" => request.version = Some(text.to_owned()),
                        "comment" => {}
                        "uri-lf" | "body-lf" => {
                            self.error(
                                KW,
                                format!("'send {word}': log-format expressions are not supported"),
                            );
                            return;
                        }
                        _ => {
                            self.error(
                                KW,
                                "'send body' is not supported: the gateway's checks send no body",
                            );
                            return;
                        }
                    }
                    index += 2;
                }
                "hdr" => {
                    let (Some(name), Some(text)) = (value(index + 1), value(index + 2)) else {
                        self.error(KW, "'send': 'hdr' expects <name> and <value> as arguments");
                        return;
                    };
                    if !gangway_h1::is_valid_field_name(name.as_bytes())
                        || !gangway_h1::is_valid_field_value(text.as_bytes())
                    {
                        self.error(
                            KW,
                            format!("'send hdr {name}': invalid header name or value"),
                        );
                        return;
                    }
                    // HAProxy reads the value as a log-format string: `%%` is a `%`.
                    let Some(text) = log_format_literal(text) else {
                        self.error(
                            KW,
                            format!("'send hdr {name}': log-format expressions ('%') are not supported (write '%%' for a '%')"),
                        );
                        return;
                    };
                    if name.eq_ignore_ascii_case("host") {
                        if let Some(previous) = &host {
                            self.error(KW, format!("'send': '{name}' header already defined (previous value is '{previous}')"));
                            return;
                        }
                        host = Some(text.clone());
                    }
                    if ["connection", "content-length", "transfer-encoding"]
                        .iter()
                        .any(|n| name.eq_ignore_ascii_case(n))
                    {
                        self.warn(
                            KW,
                            format!(
                                "'send hdr {name}' is ignored: the check writes this header itself"
                            ),
                        );
                    } else {
                        request.headers.push_str(&format!("\r\n{name}: {text}"));
                    }
                    index += 3;
                }
                other => {
                    self.error(
                        KW,
                        format!("'send' expects 'comment', 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' or 'body-lf' but got '{other}' as argument"),
                    );
                    return;
                }
            }
        }
        let lines = &mut self.httpchk;
        match &mut lines.request {
            Some(option) => option.overwrite(request),
            None => lines.request = Some(request),
        }
        lines.send = Some(self.line);
        self.apply_httpchk();
    }

    /// `stats enable`, `stats uri PATH`; cosmetic `stats` options are ignored with a warning,
    /// and those that protect the page (`auth`, `admin`, `http-request`) are refused.
    fn stats(&mut self, words: Words<'_, '_>) {
        let uri = match arg(words, 1) {
            Some("enable") => {
                self.no_more(words, 2, "stats");
                None
            }
            Some("uri") => match arg(words, 2) {
                Some(uri) => {
                    self.no_more(words, 3, "stats");
                    Some(uri.to_owned())
                }
                None => {
                    self.error("stats", "'stats uri' expects a path");
                    return;
                }
            },
            Some(
                option @ ("realm" | "refresh" | "hide-version" | "show-legends" | "show-node"
                | "show-desc" | "show-modules" | "scope"),
            ) => {
                self.warn(
                    "stats",
                    format!("'stats {option}' is ignored: the gateway serves its own status page"),
                );
                return;
            }
            Some(option @ ("auth" | "admin" | "http-request")) => {
                self.error(
                    "stats",
                    format!("'stats {option}' is not supported: the status page would be served without it (protect it with a frontend 'http-request deny' rule, which runs first, or drop the stats lines)"),
                );
                return;
            }
            Some(other) => {
                self.error("stats", format!("unknown or unsupported 'stats {other}'"));
                return;
            }
            None => {
                self.error("stats", "expects enable or uri PATH");
                return;
            }
        };
        in_sections!(self.scope(), [defaults, frontend], |s| {
            match &uri {
                Some(uri) => s.stats_uri = Some(uri.clone()),
                None => {
                    s.stats_uri
                        .get_or_insert_with(|| "/haproxy?stats".to_owned());
                }
            }
        });
    }

    fn monitor_uri(&mut self, words: Words<'_, '_>) {
        let Some(uri) = arg(words, 1) else {
            self.error("monitor-uri", "expects a URI");
            return;
        };
        self.no_more(words, 2, "monitor-uri");
        let uri = uri.to_owned();
        in_sections!(self.scope(), [defaults, frontend], |s| {
            s.monitor_uri = Some(uri.clone())
        });
    }

    fn monitor(&mut self, words: Words<'_, '_>) {
        if arg(words, 1) != Some("fail") {
            self.error("monitor", "expects 'fail if|unless CONDITION'");
            return;
        }
        let Some((args, condition)) = self.split_condition(words, "monitor") else {
            return;
        };
        if condition.is_always() {
            self.error(
                "monitor",
                "'monitor fail' needs 'if' or 'unless' and a condition",
            );
            return;
        }
        self.no_more(args, 2, "monitor");
        let rule = MonitorFail {
            if_true: condition.if_true,
            unless: condition.unless,
            line: SourceLine(Some(self.line)),
        };
        if let Some(f) = self.scope().frontend {
            f.monitor_fail.push(rule);
        }
    }

    fn header_action(
        &mut self,
        keyword: &str,
        action: &str,
        args: Words<'_, '_>,
    ) -> Option<(String, Option<String>)> {
        let name = arg(args, 2);
        let value = arg(args, 3);
        match (action, name, value) {
            ("del-header", Some(name), _) => {
                self.no_more(args, 3, keyword);
                Some((name.to_owned(), None))
            }
            (_, Some(name), Some(value)) if action != "del-header" => {
                self.no_more(args, 4, keyword);
                if value.contains("%[") || value.contains("%{") {
                    self.error(
                        keyword,
                        format!(
                            "'{action}': log-format expressions in header values are not supported"
                        ),
                    );
                    return None;
                }
                Some((name.to_owned(), Some(value.to_owned())))
            }
            _ => {
                let usage = if action == "del-header" {
                    "NAME"
                } else {
                    "NAME VALUE"
                };
                self.error(keyword, format!("'{action}' expects {usage}"));
                None
            }
        }
    }

    fn http_request(&mut self, words: Words<'_, '_>) {
        let Some((args, condition)) = self.split_condition(words, "http-request") else {
            return;
        };
        let Some(action) = arg(args, 1) else {
            self.error("http-request", "expects an action");
            return;
        };
        let action = match action {
            "redirect" => {
                let Some(action) = self.redirect(args) else {
                    return;
                };
                action
            }
            "deny" => {
                let mut status = None;
                let mut index = 2;
                while let Some(word) = arg(args, index) {
                    match word {
                        "deny_status" | "status" => {
                            status = self.number_of(args, index + 1, "http-request", word);
                            index += 2;
                        }
                        other => {
                            self.error(
                                "http-request",
                                format!("'deny': unsupported argument '{other}'"),
                            );
                            return;
                        }
                    }
                }
                HttpRequestAction::Deny { status }
            }
            "add-header" | "set-header" | "del-header" => {
                let Some((name, value)) = self.header_action("http-request", action, args) else {
                    return;
                };
                match (action, value) {
                    ("add-header", Some(value)) => HttpRequestAction::AddHeader { name, value },
                    ("set-header", Some(value)) => HttpRequestAction::SetHeader { name, value },
                    _ => HttpRequestAction::DelHeader { name },
                }
            }
            other => {
                self.error(
                    "http-request",
                    format!("unsupported action '{other}' (redirect, deny, add-header, set-header, del-header)"),
                );
                return;
            }
        };
        let rule = HttpRequestRule {
            action,
            condition,
            line: SourceLine(Some(self.line)),
        };
        self.add_rule(rule, |f| &mut f.http_request, |b| &mut b.http_request);
    }

    /// Adds an `http-request` or `http-response` rule to the open frontend (of a `listen`
    /// section, its frontend half), else to the open backend.
    fn add_rule<R>(
        &mut self,
        rule: R,
        frontend_rules: fn(&mut Frontend) -> &mut Vec<R>,
        backend_rules: fn(&mut Backend) -> &mut Vec<R>,
    ) {
        let scope = self.scope();
        if let Some(frontend) = scope.frontend {
            frontend_rules(frontend).push(rule);
        } else if let Some(backend) = scope.backend {
            backend_rules(backend).push(rule);
        }
    }

    fn redirect(&mut self, args: Words<'_, '_>) -> Option<HttpRequestAction> {
        let kind = match arg(args, 2) {
            Some("location") => RedirectKind::Location,
            Some("prefix") => RedirectKind::Prefix,
            Some("scheme") => RedirectKind::Scheme,
            _ => {
                self.error(
                    "http-request",
                    "'redirect' expects location|prefix|scheme TARGET",
                );
                return None;
            }
        };
        let Some(to) = arg(args, 3) else {
            self.error("http-request", "'redirect' expects a target");
            return None;
        };
        if to.contains("%[") {
            self.error(
                "http-request",
                "'redirect': log-format expressions in the target are not supported",
            );
            return None;
        }
        let (mut code, mut drop_query, mut append_slash) = (None, false, false);
        let mut index = 4;
        while let Some(word) = arg(args, index) {
            match word {
                "code" => {
                    code = self.number_of(args, index + 1, "http-request", "code");
                    index += 2;
                    continue;
                }
                "drop-query" => drop_query = true,
                "append-slash" => append_slash = true,
                other => {
                    self.error(
                        "http-request",
                        format!("'redirect': unsupported option '{other}'"),
                    );
                    return None;
                }
            }
            index += 1;
        }
        Some(HttpRequestAction::Redirect {
            kind,
            to: to.to_owned(),
            code,
            drop_query,
            append_slash,
        })
    }

    fn http_response(&mut self, words: Words<'_, '_>) {
        let Some((args, condition)) = self.split_condition(words, "http-response") else {
            return;
        };
        let action = match arg(args, 1) {
            Some(action @ ("add-header" | "set-header" | "del-header")) => {
                let Some((name, value)) = self.header_action("http-response", action, args) else {
                    return;
                };
                match (action, value) {
                    ("add-header", Some(value)) => HttpResponseAction::AddHeader { name, value },
                    ("set-header", Some(value)) => HttpResponseAction::SetHeader { name, value },
                    _ => HttpResponseAction::DelHeader { name },
                }
            }
            Some(other) => {
                self.error(
                    "http-response",
                    format!("unsupported action '{other}' (add-header, set-header, del-header)"),
                );
                return;
            }
            None => {
                self.error("http-response", "expects an action");
                return;
            }
        };
        let rule = HttpResponseRule {
            action,
            condition,
            line: SourceLine(Some(self.line)),
        };
        self.add_rule(rule, |f| &mut f.http_response, |b| &mut b.http_response);
    }

    fn errorfile(&mut self, words: Words<'_, '_>) {
        let (Some(code), Some(path)) = (arg(words, 1), arg(words, 2)) else {
            self.error("errorfile", "expects CODE FILE");
            return;
        };
        let Ok(code) = code.parse::<u16>() else {
            self.error("errorfile", format!("'{code}' is not a status code"));
            return;
        };
        self.no_more(words, 3, "errorfile");
        let path = PathBuf::from(path);
        in_sections!(self.scope(), [defaults, frontend, backend], |s| {
            s.errorfile.insert(code, path.clone())
        });
    }
}

/// `ADDR:LOW-HIGH` becomes one address per port, as HAProxy binds every port of a range.
fn expand_port_range(text: &str) -> Result<Vec<String>, String> {
    let Some(colon) = text.rfind(':') else {
        return Ok(vec![text.to_owned()]);
    };
    let (host, ports) = (&text[..colon], &text[colon + 1..]);
    let Some((low, high)) = ports.split_once('-') else {
        return Ok(vec![text.to_owned()]);
    };
    let (Ok(low), Ok(high)) = (low.parse::<u16>(), high.parse::<u16>()) else {
        return Err(format!("invalid port range '{ports}'"));
    };
    if low > high || high - low >= 1024 {
        return Err(format!(
            "invalid port range '{ports}' (low <= high, at most 1024 ports)"
        ));
    }
    Ok((low..=high).map(|port| format!("{host}:{port}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with_env(text: &str) -> Config {
        let env = |name: &str| match name {
            "API_HOST" => Some("api.example.com".to_owned()),
            "ODD" => Some("a b\"c'd\\e#f${G}".to_owned()),
            _ => None,
        };
        let parsed = parse(text, "t.cfg", &env);
        assert!(parsed.found.errors.is_empty(), "{:?}", parsed.found.errors);
        parsed.config
    }

    #[test]
    fn variables_are_expanded_in_acls_and_conditions() {
        let config = parse_with_env(
            "frontend fe\n bind :80\n acl api hdr(host) -i ${API_HOST}\n acl q hdr(host) -i \"${API_HOST}\" '${API_HOST}'\n acl odd path ${ODD} ${UNSET}x\n use_backend be if { hdr(host) -i ${API_HOST} } api\n default_backend be\nbackend be\n server s 127.0.0.1:1\n",
        );
        let fe = &config.frontends[0];
        let exprs: Vec<&str> = fe.acl.iter().map(|a| a.expr.as_str()).collect();
        assert_eq!(
            exprs,
            [
                "hdr(host) -i api.example.com",
                "hdr(host) -i \"api.example.com\" '${API_HOST}'",
                "path a\\ b\\\"c\\'d\\\\e\\#f\\$\\{G\\} x",
            ]
        );
        assert_eq!(
            fe.use_backend[0].if_true.as_deref(),
            Some("{ hdr(host) -i api.example.com } api")
        );
        // The ACL parser reads the escaped value back as one word.
        let words = split_line(exprs[2], &|_| None).unwrap();
        assert_eq!(words[1].value, "a b\"c'd\\e#f${G}");
    }
}
