//! One test (or table) per directive of the HAProxy-style syntax, plus the TOML front end.

use std::time::Duration;

use gangway_config::*;

const FE: &str = "frontend fe\n bind 127.0.0.1:8080\n default_backend be\n";
const BE: &str = "backend be\n server s1 127.0.0.1:9000\n";

/// Loads `text`; the "no 'mode', assuming http" warning is left out (most snippets here have
/// no `mode` line; `missing_mode_is_http_with_a_warning` tests it).
fn load(text: &str) -> Loaded {
    match parse_haproxy(text, "test.cfg") {
        Ok(mut loaded) => {
            loaded
                .warnings
                .retain(|w| !w.message.contains("has no 'mode'"));
            loaded
        }
        Err(error) => panic!("unexpected errors:\n{error}\n--- config ---\n{text}"),
    }
}

fn config(text: &str) -> Config {
    load(text).config
}

/// Every error, formatted as `test.cfg:LINE: 'KEYWORD': MESSAGE`.
fn errors(text: &str) -> Vec<String> {
    match parse_haproxy(text, "test.cfg") {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(error) => error
            .diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

fn assert_error(text: &str, line: usize, keyword: &str, fragment: &str) {
    let errors = errors(text);
    let prefix = format!("test.cfg:{line}: '{keyword}': ");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&prefix) && e.contains(fragment)),
        "no error starting {prefix:?} containing {fragment:?} in {errors:#?}"
    );
}

fn warnings(text: &str) -> Vec<String> {
    load(text)
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A property of a parsed value, for tables of cases.
type Holds<T> = fn(&T) -> bool;

/// A field getter, for tables of cases.
type Field<T> = fn(&T) -> Option<Duration>;

fn secs(n: u64) -> Option<Duration> {
    Some(Duration::from_secs(n))
}

fn backend(text: &str) -> Backend {
    let config = config(&format!("{FE}{text}"));
    config.backend("be").cloned().unwrap()
}

fn frontend(text: &str) -> Frontend {
    let config = config(&format!("{text}{BE}"));
    config.frontend("fe").cloned().unwrap()
}

#[test]
fn global_maxconn() {
    let config = config(&format!("global\n maxconn 4096\n{FE}{BE}"));
    assert_eq!(config.global.maxconn, Some(4096));
    assert_error(
        &format!("global\n maxconn lots\n{FE}{BE}"),
        2,
        "maxconn",
        "not a valid number",
    );
}

#[test]
fn global_process_directives_are_ignored_with_a_warning() {
    let text = format!(
        "global\n daemon\n chroot /var/empty\n uid 99\n gid 99\n user haproxy\n group haproxy\n log 127.0.0.1 local0\n nbthread 4\n pidfile /run/h.pid\n stats socket /run/h.sock\n ulimit-n 65536\n tune.bufsize 32768\n ssl-default-bind-ciphers X\n{FE}{BE}"
    );
    let warnings = warnings(&text);
    assert_eq!(warnings.len(), 13, "{warnings:#?}");
    assert!(warnings[0].starts_with("test.cfg:2: 'daemon': process-level directive ignored"));
    assert_error(
        &format!("global\n frobnicate\n{FE}{BE}"),
        2,
        "frobnicate",
        "unknown keyword in 'global'",
    );
}

#[test]
fn defaults_are_inherited_and_reset_by_the_next_defaults() {
    let text = "defaults\n mode tcp\n timeout connect 5s\n retries 5\n option redispatch\n maxconn 100\n\
                frontend fe\n bind :80\n default_backend be\n\
                backend be\n server s1 127.0.0.1:1\n\
                defaults\n timeout server 7s\n\
                backend be2\n mode tcp\n timeout connect 1s\n server s1 127.0.0.1:1\n";
    let config = config(text);
    let fe = config.frontend("fe").unwrap();
    assert_eq!(fe.mode, Some(Mode::Tcp));
    assert_eq!(fe.maxconn, Some(100));
    let be = config.backend("be").unwrap();
    assert_eq!(
        (be.mode, be.timeout.connect, be.retries),
        (Some(Mode::Tcp), secs(5), Some(5))
    );
    assert_eq!(be.option.redispatch, Some(true));
    let be2 = config.backend("be2").unwrap();
    assert_eq!(be2.timeout.connect, secs(1), "the section's own value wins");
    assert_eq!(be2.timeout.server, secs(7));
    assert_eq!(be2.retries, None, "a new defaults section starts empty");
}

#[test]
fn bind_forms() {
    let fe = frontend(
        "frontend fe\n bind :80\n bind *:81 accept-proxy\n bind 127.0.0.1:82,[::1]:83\n bind 127.0.0.1:9000-9002 name web\n default_backend be\n",
    );
    let got: Vec<(String, bool)> = fe
        .bind
        .iter()
        .map(|b| (b.address.to_string(), b.accept_proxy))
        .collect();
    let want = [
        ("*:80", false),
        ("*:81", true),
        ("127.0.0.1:82", false),
        ("[::1]:83", false),
        ("127.0.0.1:9000", false),
        ("127.0.0.1:9001", false),
        ("127.0.0.1:9002", false),
    ];
    assert_eq!(got, want.map(|(a, p)| (a.to_owned(), p)));
    for (bind, fragment) in [
        ("bind :443 ssl", "'ssl' needs at least one 'crt FILE'"),
        ("bind :443 crt /x.pem", "'crt' needs 'ssl'"),
        ("bind :443 ssl crt", "'crt' expects a PEM file"),
        (
            "bind :443 ssl crt /x.pem verify required",
            "option 'verify' is not supported",
        ),
        (
            "bind :443 ssl crt /x.pem alpn h2",
            "must include 'http/1.1'",
        ),
    ] {
        assert_error(
            &format!("frontend fe\n {bind}\n default_backend be\n{BE}"),
            2,
            "bind",
            fragment,
        );
    }
    assert_error(
        &format!("frontend fe\n bind nowhere\n default_backend be\n{BE}"),
        2,
        "bind",
        "missing ':PORT'",
    );
    assert_error(
        &format!("frontend fe\n bind :80 frob\n default_backend be\n{BE}"),
        2,
        "bind",
        "unknown option 'frob'",
    );
    assert_error(
        &format!("defaults\n bind :80\n{FE}{BE}"),
        2,
        "bind",
        "not allowed in a 'defaults' section",
    );
    let warnings = warnings(&format!(
        "{FE}backend be\n bind :80\n server s1 127.0.0.1:1\n"
    ));
    assert!(
        warnings[0].contains("'bind': ignored because backend 'be' has no frontend capability"),
        "{warnings:?}"
    );
}

#[test]
fn missing_mode_is_http_with_a_warning() {
    let loaded = parse_haproxy(&format!("{FE}{BE}"), "test.cfg").unwrap();
    assert_eq!(loaded.config.frontends[0].effective_mode(), Mode::Http);
    assert_eq!(
        loaded.warnings[0].to_string(),
        "test.cfg:1: 'mode': frontend 'fe' has no 'mode': gangway assumes 'mode http' (HAProxy would use tcp)"
    );
    let loaded = parse_haproxy(&format!("defaults\n mode http\n{FE}{BE}"), "test.cfg").unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn listen_is_a_frontend_and_a_backend() {
    let config = config(
        "listen app\n bind 127.0.0.1:80\n timeout client 3s\n timeout server 4s\n server s1 127.0.0.1:9000 check\nlisten old 127.0.0.1:81\n server s1 127.0.0.1:9001\n",
    );
    let fe = config.frontend("app").unwrap();
    assert_eq!(fe.default_backend.as_deref(), Some("app"));
    assert_eq!(fe.timeout.client, secs(3));
    let be = config.backend("app").unwrap();
    assert_eq!(be.timeout.server, secs(4));
    assert_eq!(be.server[0].options.check, Some(true));
    let old = config.frontend("old").unwrap();
    assert_eq!(old.bind[0].address.to_string(), "127.0.0.1:81");
}

#[test]
fn mode() {
    let tcp = config(
        "frontend fe\n mode tcp\n bind :80\n default_backend be\nbackend be\n mode tcp\n server s 127.0.0.1:1\n",
    );
    assert_eq!(tcp.frontends[0].mode, Some(Mode::Tcp));
    assert_eq!(tcp.backends[0].mode, Some(Mode::Tcp));
    assert_eq!(
        backend("backend be\n mode http\n server s 127.0.0.1:1\n").mode,
        Some(Mode::Http)
    );
    assert_error(
        &format!("{FE}backend be\n mode udp\n"),
        5,
        "mode",
        "unknown mode 'udp'",
    );
    // An HTTP frontend cannot hand requests to a TCP backend (HAProxy refuses it too).
    assert_error(
        &format!("{FE}backend be\n mode tcp\n server s 127.0.0.1:1\n"),
        3,
        "default_backend",
        "TCP-mode backend",
    );
    // A TCP frontend may use an HTTP backend.
    config(
        "frontend fe\n mode tcp\n bind :80\n default_backend be\nbackend be\n server s 127.0.0.1:1\n",
    );
}

#[test]
fn an_empty_word_is_dropped_at_the_end_and_refused_before_others() {
    // As HAProxy 2.4+: an unset `${VAR}` (or `""`) is an empty word; last on its line it is
    // dropped like trailing spaces, anywhere else the line is refused (it would end the
    // arguments there). The same in ACLs, conditions and every other directive.
    let unset = "${GANGWAY_TEST_SURELY_UNSET}";
    let fe = frontend(&format!(
        "frontend fe\n bind :80\n acl a hdr(host) -i x {unset}\n use_backend be if a {unset}\n default_backend be {unset}\n"
    ));
    assert_eq!(fe.acl[0].expr, "hdr(host) -i x");
    assert_eq!(fe.use_backend[0].if_true.as_deref(), Some("a"));
    for (word, text) in [
        (5, format!(" acl a hdr(host) -i {unset} x")),
        (7, format!(" use_backend be if {{ hdr(host) -i {unset} }}")),
        (4, format!(" http-request set-header X-A {unset} if TRUE")),
        (4, " http-request set-header X-A \"\" if TRUE".to_owned()),
    ] {
        let config = format!("frontend fe\n bind :80\n{text}\n default_backend be\n{BE}");
        let errors = errors(&config);
        assert!(
            errors.iter().any(|e| e.starts_with("test.cfg:3: ")
                && e.contains(&format!("word {word} "))
                && e.contains("is empty and would end the arguments there")),
            "{text}: {errors:?}"
        );
    }
    let errors = errors(&format!("{FE}backend be\n server s {unset} check\n"));
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("test.cfg:5: ") && e.contains("word 3")),
        "{errors:?}"
    );
}

#[test]
fn acl_lines_are_kept_and_checked() {
    let fe = frontend(
        "frontend fe\n bind :80\n acl ws path_beg /ws\n acl ws hdr(Upgrade) -i WebSocket\n use_backend be if ws\n default_backend be\n",
    );
    let acls: Vec<(&str, &str)> = fe
        .acl
        .iter()
        .map(|a| (a.name.as_str(), a.expr.as_str()))
        .collect();
    assert_eq!(
        acls,
        [("ws", "path_beg /ws"), ("ws", "hdr(Upgrade) -i WebSocket")]
    );
    assert_error(
        &format!("frontend fe\n bind :80\n acl ws no_such_fetch x\n default_backend be\n{BE}"),
        3,
        "acl",
        "ACL 'ws'",
    );
    assert_error(
        &format!("frontend fe\n bind :80\n acl ws\n default_backend be\n{BE}"),
        3,
        "acl",
        "no criterion",
    );
}

#[test]
fn use_backend_conditions() {
    let text = "frontend fe\n bind :80\n acl a path_beg /a\n acl b path_beg /b\n use_backend be if a b\n use_backend be unless a || !b\n use_backend be if { path_beg /ws }\n use_backend be\n";
    let fe = frontend(text);
    let got: Vec<String> = fe
        .use_backend
        .iter()
        .map(|r| r.condition().to_string())
        .collect();
    assert_eq!(
        got,
        ["if a b", "unless a || !b", "if { path_beg /ws }", "always"]
    );
    assert_error(
        &format!("{FE} use_backend nowhere\n{BE}"),
        4,
        "use_backend",
        "no backend named 'nowhere'",
    );
    assert_error(
        &format!("{FE} use_backend be if undefined_acl\n{BE}"),
        4,
        "use_backend",
        "no ACL named 'undefined_acl'",
    );
    assert_error(
        &format!("{FE} use_backend be if\n{BE}"),
        4,
        "use_backend",
        "missing condition",
    );
    assert_error(
        &format!("{FE} use_backend be if {{ path_beg /ws\n{BE}"),
        4,
        "use_backend",
        "matching '}'",
    );
}

#[test]
fn default_backend() {
    assert_eq!(frontend(FE).default_backend.as_deref(), Some("be"));
    let config = config(&format!(
        "defaults\n default_backend be\nfrontend fe\n bind :80\n{BE}"
    ));
    assert_eq!(config.frontends[0].default_backend.as_deref(), Some("be"));
    assert_error(
        &format!("frontend fe\n bind :80\n default_backend missing\n{BE}"),
        3,
        "default_backend",
        "no backend named 'missing'",
    );
}

#[test]
fn server_options_table() {
    let cases: &[(&str, Holds<ServerOptions>)] = &[
        ("check", |o| o.check == Some(true)),
        ("inter 2s", |o| o.inter == secs(2)),
        ("fastinter 500ms", |o| {
            o.fastinter == Some(Duration::from_millis(500))
        }),
        ("downinter 10s", |o| o.downinter == secs(10)),
        ("rise 5", |o| o.rise == Some(5)),
        ("fall 1", |o| o.fall == Some(1)),
        ("weight 0", |o| o.weight == Some(0)),
        ("weight 256", |o| o.weight == Some(256)),
        ("maxconn 100", |o| o.maxconn == Some(100)),
        ("maxqueue 10", |o| o.maxqueue == Some(10)),
        ("backup", |o| o.backup == Some(true)),
        ("slowstart 30s", |o| o.slowstart == secs(30)),
        ("pool-max-conn 0", |o| o.pool_max_conn == Some(0)),
        ("pool-max-conn -1", |o| o.pool_max_conn == Some(-1)),
        ("pool-purge-delay 30s", |o| o.pool_purge_delay == secs(30)),
        ("send-proxy", |o| o.send_proxy == Some(ProxyVersion::V1)),
        ("send-proxy-v2", |o| o.send_proxy == Some(ProxyVersion::V2)),
        ("port 8081", |o| o.port == Some(8081)),
        ("addr 127.0.0.2", |o| o.addr.as_deref() == Some("127.0.0.2")),
        ("disabled", |o| o.disabled == Some(true)),
        ("on-marked-down shutdown-sessions", |o| {
            o.shutdown_sessions_on_down == Some(true)
        }),
        ("on-error fastinter", |o| {
            o.on_error == Some(OnError::Fastinter)
        }),
        ("on-error fail-check", |o| {
            o.on_error == Some(OnError::FailCheck)
        }),
        ("on-error sudden-death", |o| {
            o.on_error == Some(OnError::SuddenDeath)
        }),
        ("on-error mark-down", |o| {
            o.on_error == Some(OnError::MarkDown)
        }),
        ("error-limit 5", |o| o.error_limit == Some(5)),
        ("observe layer4", |o| o.observe == Some(Observe::Layer4)),
        ("observe layer7", |o| o.observe == Some(Observe::Layer7)),
        ("check inter 2s rise 2 fall 2", |o| {
            o.checks() && o.inter == secs(2) && o.effective_rise() == 2 && o.effective_fall() == 2
        }),
    ];
    for (options, holds) in cases {
        let be = backend(&format!(
            "backend be\n server s1 127.0.0.1:9000 {options}\n"
        ));
        assert!(
            holds(&be.server[0].options),
            "{options}: {:?}",
            be.server[0].options
        );
    }
    let bad: &[(&str, &str)] = &[
        ("chek", "unknown or unsupported server option 'chek'"),
        ("inter", "'inter' expects a time"),
        ("inter 2x", "unknown unit"),
        ("inter 0", "greater than 0"),
        ("rise 0", "'rise' must be at least 1"),
        ("weight 257", "out of range"),
        ("pool-max-conn -2", "expects -1 (no limit), 0 or more"),
        ("pool-max-conn x", "not a valid number"),
        ("weight heavy", "not a valid number"),
        ("port 70000", "not a valid number"),
        ("on-error explode", "'on-error' expects"),
        ("observe layer5", "'observe' expects"),
        ("on-marked-down nothing", "shutdown-sessions"),
        ("ssl verify sometimes", "'verify' expects none or required"),
        ("ssl sni req.hdr(host)", "only a constant name"),
        (
            "ssl sni ssl_fc_sni",
            "'sni ssl_fc_sni': only a constant name",
        ),
        ("ssl sni str()", "only a constant name"),
    ];
    for (options, fragment) in bad {
        assert_error(
            &format!("{FE}backend be\n server s1 127.0.0.1:9000 {options}\n"),
            5,
            "server",
            fragment,
        );
    }
    assert_error(
        &format!("{FE}backend be\n server s1\n"),
        5,
        "server",
        "expects NAME ADDR:PORT",
    );
    assert_error(
        &format!("{FE}backend be\n server s1 127.0.0.1\n"),
        5,
        "server",
        "missing ':PORT'",
    );
    assert_error(
        &format!("{FE}backend be\n server s1 127.0.0.1:1\n server s1 127.0.0.1:2\n"),
        6,
        "server",
        "duplicate server name 's1'",
    );
}

#[test]
fn a_server_on_port_0_is_an_error_at_its_line() {
    // It was accepted, and every request to the backend got a 503.
    assert_error(
        &format!("{FE}backend be\n server s 127.0.0.1:0\n"),
        5,
        "server",
        "port 0 is no port a server listens on",
    );
}

#[test]
fn a_zero_check_interval_is_one_error_at_its_line() {
    // It was reported twice on the server line, and three times for default-server (its line,
    // the section's line and each server's).
    let text = format!("{FE}backend be\n server s 127.0.0.1:1 check inter 0\n");
    assert_eq!(
        errors(&text),
        ["test.cfg:5: 'server': 'inter' must be greater than 0"]
    );
    let text =
        format!("{FE}backend be\n default-server fastinter 0\n server s 127.0.0.1:1 check\n");
    assert_eq!(
        errors(&text),
        ["test.cfg:5: 'default-server': 'fastinter' must be greater than 0"]
    );
}

#[test]
fn default_server_applies_to_later_servers() {
    let text = "defaults\n default-server inter 3s fall 5\n\
                frontend fe\n bind :80\n default_backend be\n\
                backend be\n default-server rise 4\n server s1 127.0.0.1:1 check fall 2\n";
    let config = config(text);
    let options = &config.backend("be").unwrap().server[0].options;
    assert_eq!(
        (options.inter, options.rise, options.fall),
        (secs(3), Some(4), Some(2))
    );
}

#[test]
fn a_no_option_on_a_server_beats_default_server() {
    let text = "frontend fe\n bind :80\n default_backend be\n\
                backend be\n default-server send-proxy check backup ssl verify none\n\
                server s1 127.0.0.1:1 no-send-proxy no-check no-backup no-ssl\n\
                server s2 127.0.0.1:2 no-send-proxy-v2\n";
    let config = config(text);
    let servers = &config.backend("be").unwrap().server;
    for server in servers {
        assert_eq!(
            server.options.send_proxy,
            Some(ProxyVersion::Off),
            "{}",
            server.name
        );
    }
    let o = &servers[0].options;
    assert_eq!(
        (o.check, o.backup, o.ssl),
        (Some(false), Some(false), Some(false))
    );
    let toml = "[[frontend]]\nname = \"fe\"\nbind = [{ address = \"127.0.0.1:80\" }]\ndefault_backend = \"be\"\n\
                [[backend]]\nname = \"be\"\ndefault-server = { send-proxy = \"v2\" }\n\
                server = [{ name = \"s1\", address = \"127.0.0.1:9000\", send-proxy = \"off\" }]\n";
    let config = parse_toml(toml, "t.toml").unwrap().config;
    let options = &config.backend("be").unwrap().server[0].options;
    assert_eq!(options.send_proxy, Some(ProxyVersion::Off));
}

#[test]
fn balance_table() {
    let cases: &[(&str, Balance)] = &[
        ("roundrobin", Balance::Roundrobin),
        ("static-rr", Balance::StaticRr),
        ("leastconn", Balance::Leastconn),
        ("first", Balance::First),
        ("source", Balance::Source),
        (
            "uri",
            Balance::Uri {
                len: None,
                depth: None,
                whole: false,
            },
        ),
        (
            "uri len 10 depth 2 whole",
            Balance::Uri {
                len: Some(10),
                depth: Some(2),
                whole: true,
            },
        ),
        (
            "url_param session",
            Balance::UrlParam {
                name: "session".into(),
            },
        ),
        (
            "hdr(Host) use_domain_only",
            Balance::Hdr {
                name: "Host".into(),
                use_domain_only: true,
            },
        ),
        ("random", Balance::Random { draws: 2 }),
        ("random(3)", Balance::Random { draws: 3 }),
    ];
    for (text, want) in cases {
        let be = backend(&format!(
            "backend be\n balance {text}\n server s 127.0.0.1:1\n"
        ));
        assert_eq!(be.balance.as_ref(), Some(want), "{text}");
    }
    assert_error(
        &format!("{FE}backend be\n balance rdp-cookie\n"),
        5,
        "balance",
        "unsupported algorithm 'rdp-cookie'",
    );
    assert_error(
        &format!("{FE}backend be\n balance roundrobin extra\n"),
        5,
        "balance",
        "unexpected argument 'extra'",
    );
    assert_error(
        &format!("{FE}backend be\n balance random(0)\n"),
        5,
        "balance",
        "draws",
    );
}

#[test]
fn hash_type() {
    let be = backend("backend be\n balance source\n hash-type consistent\n server s 127.0.0.1:1\n");
    assert_eq!(be.hash_type, Some(HashType::Consistent));
    let be = backend("backend be\n hash-type map-based\n server s 127.0.0.1:1\n");
    assert_eq!(be.hash_type, Some(HashType::MapBased));
    let loaded = load(&format!(
        "{FE}backend be\n hash-type consistent sdbm avalanche\n server s 127.0.0.1:1\n"
    ));
    assert!(loaded.warnings[0].to_string().contains("'sdbm' is ignored"));
    assert_error(
        &format!("{FE}backend be\n hash-type ring\n"),
        5,
        "hash-type",
        "map-based",
    );
}

#[test]
fn arguments_accepted_but_ignored_warn() {
    let cases = [
        (
            "bind :80 backlog 100",
            "",
            "test.cfg:2: 'bind': option 'backlog' is ignored",
        ),
        (
            "bind :80 mss 1400 nice 10",
            "",
            "test.cfg:2: 'bind': option 'nice' is ignored",
        ),
        (
            "bind :80 process 1 thread 1",
            "",
            "test.cfg:2: 'bind': option 'thread' is ignored",
        ),
        (
            "bind :80",
            " hash-type consistent avalanche\n",
            "test.cfg:6: 'hash-type': 'avalanche' is ignored",
        ),
    ];
    for (bind, backend_line, warning) in cases {
        let text = format!(
            "frontend fe\n {bind}\n default_backend be\nbackend be\n server s 127.0.0.1:1\n{backend_line}"
        );
        let found = warnings(&text);
        assert!(
            found.iter().any(|w| w.starts_with(warning)),
            "{text}\n{found:?}"
        );
    }
    // Labels of the listener: accepted quietly.
    let text = format!("frontend fe\n bind :80 name main id 7\n default_backend be\n{BE}");
    assert!(warnings(&text).is_empty());
}

#[test]
fn incomplete_or_refused_arguments_are_errors() {
    let cases = [
        (
            format!("{FE}backend be\n option httpchk GET / HTTP/1.1 Host:x\n"),
            5,
            "option httpchk",
            "unexpected argument 'Host:x'",
        ),
        (
            format!("{FE}backend be\n option forwardfor header\n"),
            5,
            "option forwardfor",
            "'header' expects a header name",
        ),
        (
            format!("{FE}backend be\n option forwardfor if-none except\n"),
            5,
            "option forwardfor",
            "'except' expects a network",
        ),
        (
            format!("frontend fe\n bind :80\n acl or path /x\n default_backend be\n{BE}"),
            3,
            "acl",
            "ACL name 'or' will never match",
        ),
    ];
    for (text, line, keyword, message) in &cases {
        assert_error(text, *line, keyword, message);
    }
}

#[test]
fn a_problem_found_after_parsing_points_at_its_own_line() {
    // Several lines of one directive (sub-directives, statuses): the one at fault is named,
    // not the last of them.
    let cases = [
        (
            format!(
                "{FE}backend be\n http-check expect rstring (\n http-check send meth GET\n server s 127.0.0.1:1 check\n"
            ),
            5,
            "http-check",
        ),
        (
            format!("{FE}backend be\n option httpchk GET /ok\n http-check send uri health\n"),
            6,
            "option httpchk",
        ),
        (
            format!(
                "frontend fe\n bind :80\n stats uri metrics\n stats refresh 5s\n default_backend be\n{BE}"
            ),
            3,
            "stats",
        ),
        (
            format!(
                "frontend fe\n bind :80\n errorfile 503 /surely/not/here.http\n errorfile 404 /dev/null\n default_backend be\n{BE}"
            ),
            3,
            "errorfile",
        ),
    ];
    for (text, line, keyword) in &cases {
        assert_error(text, *line, keyword, "");
    }
}

#[test]
fn timeouts_table() {
    let cases: &[(&str, Field<Timeouts>, Duration)] = &[
        ("connect 5000", |t| t.connect, Duration::from_millis(5000)),
        ("client 50s", |t| t.client, Duration::from_secs(50)),
        ("server 1m", |t| t.server, Duration::from_secs(60)),
        ("tunnel 1h", |t| t.tunnel, Duration::from_secs(3600)),
        (
            "http-request 10s",
            |t| t.http_request,
            Duration::from_secs(10),
        ),
        (
            "http-keep-alive 2s",
            |t| t.http_keep_alive,
            Duration::from_secs(2),
        ),
        ("queue 30s", |t| t.queue, Duration::from_secs(30)),
        ("check 1500ms", |t| t.check, Duration::from_millis(1500)),
        ("client-fin 1s", |t| t.client_fin, Duration::from_secs(1)),
        (
            "server-fin 100us",
            |t| t.server_fin,
            Duration::from_micros(100),
        ),
        ("tunnel 1d", |t| t.tunnel, Duration::from_secs(86_400)),
    ];
    for (text, field, want) in cases {
        let config = config(&format!("defaults\n timeout {text}\n{FE}{BE}"));
        assert_eq!(field(&config.backends[0].timeout), Some(*want), "{text}");
        assert_eq!(field(&config.frontends[0].timeout), Some(*want), "{text}");
    }
    assert_error(
        &format!("defaults\n timeout connect 5 s\n{FE}{BE}"),
        2,
        "timeout",
        "unexpected argument 's'",
    );
    assert_error(
        &format!("defaults\n timeout connect 5sec\n{FE}{BE}"),
        2,
        "timeout connect",
        "unknown unit",
    );
    assert_error(
        &format!("defaults\n timeout forever 5s\n{FE}{BE}"),
        2,
        "timeout",
        "unknown timeout 'forever'",
    );
    let warnings = warnings(&format!(
        "{FE}backend be\n timeout client 5s\n server s 127.0.0.1:1\n"
    ));
    assert!(
        warnings[0]
            .contains("'timeout client' ignored because backend 'be' has no frontend capability"),
        "{warnings:?}"
    );
}

#[test]
fn a_zero_timeout_is_no_timeout_or_refused() {
    // HAProxy reads 0 as "no timeout": kept as zero (the planner makes it unbounded)...
    let config = config(&format!(
        "defaults\n timeout connect 0\n timeout client 0\n timeout server 0s\n timeout check 0\n{FE}{BE}"
    ));
    let be = &config.backends[0].timeout;
    assert_eq!(
        (be.connect, be.server, be.check),
        (
            Some(Duration::ZERO),
            Some(Duration::ZERO),
            Some(Duration::ZERO)
        )
    );
    assert_eq!(config.frontends[0].timeout.client, Some(Duration::ZERO));
    // ...except where the gateway cannot wait without a limit.
    for (line, name) in [(2, "http-request"), (3, "queue")] {
        let text = format!("defaults\n timeout connect 5s\n timeout {name} 0\n{FE}{BE}");
        let text = if line == 2 {
            text.replacen(" timeout connect 5s\n", "", 1)
        } else {
            text
        };
        assert_error(&text, line, "timeout", "0 means no timeout in HAProxy");
    }
    let toml = "[[frontend]]\nname = \"fe\"\nbind = [{ address = \"127.0.0.1:80\" }]\ntimeout.http-request = 0\n";
    let message = parse_toml(toml, "t.toml").unwrap_err().diagnostics()[0].to_string();
    assert!(
        message.contains("'timeout http-request'") && message.contains("0 means no timeout"),
        "{message}"
    );
}

#[test]
fn a_zero_timeout_where_it_has_no_effect_only_warns() {
    // As HAProxy: `timeout http-request` does nothing in a backend here, `timeout queue` nothing
    // in a frontend; 0 there is a warning like any other value, not the "cannot wait" error.
    let cases = [
        (
            format!("{FE}backend be\n timeout http-request 0\n server s 127.0.0.1:1\n"),
            "test.cfg:5: 'timeout': 'timeout http-request' has no effect in backend 'be'",
        ),
        (
            format!("frontend fe\n bind :80\n timeout queue 0\n default_backend be\n{BE}"),
            "test.cfg:3: 'timeout': 'timeout queue' ignored because frontend 'fe' has no backend capability",
        ),
    ];
    for (text, warning) in &cases {
        let found = warnings(text);
        assert!(
            found.len() == 1 && found[0].starts_with(warning),
            "{text}\n{found:?}"
        );
    }
    // Where they apply (a frontend's or listen's http-request, a backend's or listen's queue),
    // 0 is still refused.
    for (text, line) in [
        (
            format!("frontend fe\n bind :80\n timeout http-request 0\n default_backend be\n{BE}"),
            3,
        ),
        (
            format!("{FE}backend be\n timeout queue 0\n server s 127.0.0.1:1\n"),
            5,
        ),
        (
            "listen app\n bind :80\n timeout http-request 0\n server s 127.0.0.1:1\n".to_owned(),
            3,
        ),
        (
            "listen app\n bind :80\n timeout queue 0\n server s 127.0.0.1:1\n".to_owned(),
            3,
        ),
    ] {
        assert_error(&text, line, "timeout", "0 means no timeout in HAProxy");
    }
    // TOML: the same sections.
    let be = "[[backend]]\nname = \"be\"\ntimeout.http-request = 0\nserver = [{ name = \"s\", address = \"127.0.0.1:1\" }]\n";
    let fe = "[[frontend]]\nname = \"fe\"\nbind = [{ address = \"127.0.0.1:80\" }]\ndefault_backend = \"be\"\ntimeout.queue = 0\n";
    parse_toml(&format!("{fe}{be}"), "t.toml").unwrap();
    let refused = "[[backend]]\nname = \"be\"\ntimeout.queue = 0\n";
    let message = parse_toml(refused, "t.toml").unwrap_err().diagnostics()[0].to_string();
    assert!(message.contains("'timeout queue'"), "{message}");
}

#[test]
fn client_request_timeouts_in_a_backend_warn_that_they_do_nothing() {
    for name in ["http-request", "http-keep-alive"] {
        let found = warnings(&format!(
            "{FE}backend be\n timeout {name} 5s\n server s 127.0.0.1:1\n"
        ));
        assert_eq!(
            found,
            [format!(
                "test.cfg:5: 'timeout': 'timeout {name}' has no effect in backend 'be': the gateway applies it per frontend (set it in the frontend or defaults)"
            )],
        );
        // Where a frontend reads it: no warning.
        let text = format!(
            "defaults\n timeout {name} 5s\nlisten fe\n bind :80\n timeout {name} 5s\n server s 127.0.0.1:1\n"
        );
        assert!(warnings(&text).is_empty(), "{name}");
    }
}

#[test]
fn old_timeout_keywords() {
    let loaded = load(&format!(
        "defaults\n contimeout 5000\n clitimeout 50000\n srvtimeout 50000\n{FE}{BE}"
    ));
    let be = &loaded.config.backends[0];
    assert_eq!((be.timeout.connect, be.timeout.server), (secs(5), secs(50)));
    assert_eq!(loaded.config.frontends[0].timeout.client, secs(50));
    let keywords: Vec<&str> = loaded.warnings.iter().map(|w| w.keyword.as_str()).collect();
    assert_eq!(keywords, ["contimeout", "clitimeout", "srvtimeout"]);
}

#[test]
fn maxconn_and_retries() {
    assert_eq!(
        frontend("frontend fe\n bind :80\n maxconn 200\n default_backend be\n").maxconn,
        Some(200)
    );
    assert_eq!(
        backend("backend be\n retries 7\n server s 127.0.0.1:1\n").retries,
        Some(7)
    );
    assert_error(
        &format!("{FE}backend be\n retries -1\n"),
        5,
        "retries",
        "not a valid number",
    );
}

#[test]
fn options_table() {
    let cases: &[(&str, Holds<Options>)] = &[
        ("redispatch", |o| o.redispatch == Some(true)),
        ("http-server-close", |o| {
            o.http_connection == Some(HttpConnectionMode::ServerClose)
        }),
        ("httpclose", |o| {
            o.http_connection == Some(HttpConnectionMode::Close)
        }),
        ("forceclose", |o| {
            o.http_connection == Some(HttpConnectionMode::Close)
        }),
        ("http-keep-alive", |o| {
            o.http_connection == Some(HttpConnectionMode::KeepAlive)
        }),
        ("forwardfor", |o| {
            o.forwardfor == Some(ForwardFor::default())
        }),
        (
            "forwardfor except 127.0.0.0/8 header X-Client if-none",
            |o| {
                o.forwardfor
                    == Some(ForwardFor {
                        header: "X-Client".into(),
                        except: Some("127.0.0.0/8".into()),
                        if_none: true,
                    })
            },
        ),
        ("httpchk", |o| o.httpchk == Some(HttpChk::default())),
        ("httpchk /health", |o| {
            o.httpchk
                .as_ref()
                .is_some_and(|c| c.method == "OPTIONS" && c.uri == "/health")
        }),
        ("httpchk GET /health HTTP/1.1", |o| {
            o.httpchk
                .as_ref()
                .is_some_and(|c| c.method == "GET" && c.version == "HTTP/1.1")
        }),
        ("logasap", |o| o.logasap == Some(true)),
        ("httplog", |o| o.httplog == Some(true)),
        ("dontlognull", |o| o.dontlognull == Some(true)),
    ];
    for (text, holds) in cases {
        let config = config(&format!("defaults\n option {text}\n{FE}{BE}"));
        assert!(
            holds(&config.backends[0].option),
            "{text}: {:?}",
            config.backends[0].option
        );
    }
    let config = config(
        "defaults\n option httpclose\n option redispatch\nfrontend fe\n bind :80\n no option httpclose\n default_backend be\nbackend be\n no option redispatch\n server s 127.0.0.1:1\n",
    );
    assert_eq!(
        config.frontends[0].option.http_connection,
        Some(HttpConnectionMode::KeepAlive)
    );
    assert_eq!(config.backends[0].option.redispatch, Some(false));
    assert_error(
        &format!("defaults\n option splice-auto\n{FE}{BE}"),
        2,
        "option splice-auto",
        "unknown or unsupported option",
    );
    assert!(
        warnings(&format!("defaults\n option tcplog\n{FE}{BE}"))[0]
            .contains("logging option ignored")
    );
}

#[test]
fn option_allbackups_is_inherited_and_cleared_as_haproxy() {
    let backups = |text: &str| config(text).backend("be").unwrap().option.allbackups;
    assert_eq!(
        backups(&format!(
            "{FE}backend be\n option allbackups\n server s1 127.0.0.1:1\n"
        )),
        Some(true)
    );
    // From `defaults`, as HAProxy; `no option allbackups` in the backend clears it.
    assert_eq!(
        backups(&format!("defaults\n option allbackups\n{FE}{BE}")),
        Some(true)
    );
    assert_eq!(
        backups(&format!(
            "defaults\n option allbackups\n{FE}backend be\n no option allbackups\n server s1 127.0.0.1:1\n"
        )),
        Some(false)
    );
    assert_eq!(backups(&format!("{FE}{BE}")), None);
    // A backend option: ignored with a warning in a frontend, as HAProxy.
    let text = format!("frontend fe\n bind :80\n option allbackups\n default_backend be\n{BE}");
    let expected = "test.cfg:3: 'option allbackups': ignored because frontend 'fe' has no backend";
    let warnings = warnings(&text);
    assert!(
        warnings.iter().any(|w| w.starts_with(expected)),
        "{warnings:?}"
    );
    assert_error(
        &format!("{FE}backend be\n option allbackups now\n server s1 127.0.0.1:1\n"),
        5,
        "option allbackups",
        "unexpected argument 'now'",
    );
    // TOML: `option.allbackups`, inherited from `[defaults]`.
    let toml = r#"
[defaults]
option.allbackups = true
[[frontend]]
name = "fe"
bind = [{ address = "127.0.0.1:80" }]
default_backend = "be"
[[backend]]
name = "be"
server = [{ name = "s1", address = "127.0.0.1:1" }]
[[backend]]
name = "own"
option.allbackups = false
server = [{ name = "s1", address = "127.0.0.1:1" }]
"#;
    let config = parse_toml(toml, "t.toml").unwrap().config;
    assert_eq!(config.backend("be").unwrap().option.allbackups, Some(true));
    assert!(
        summary(&config).contains("  option allbackups\n"),
        "{}",
        summary(&config)
    );
    assert_eq!(
        config.backend("own").unwrap().option.allbackups,
        Some(false)
    );
}

#[test]
fn http_check_expect() {
    let cases: &[(&str, bool, ExpectKind, &str)] = &[
        ("status 200", false, ExpectKind::Status, "200"),
        ("status 200-399", false, ExpectKind::Status, "200-399"),
        ("! status 500", true, ExpectKind::Status, "500"),
        ("rstatus ^2", false, ExpectKind::Rstatus, "^2"),
        ("string OK", false, ExpectKind::String, "OK"),
        ("rstring ^ok$", false, ExpectKind::Rstring, "^ok$"),
    ];
    for (text, negate, kind, pattern) in cases {
        let be = backend(&format!(
            "backend be\n option httpchk GET /health\n http-check expect {text}\n server s 127.0.0.1:1 check\n"
        ));
        let expect = be.http_check_expect.unwrap();
        assert_eq!(
            (expect.negate, expect.kind, expect.pattern.as_str()),
            (*negate, *kind, *pattern),
            "{text}"
        );
    }
    assert_error(
        &format!("{FE}backend be\n http-check expect status abc\n"),
        5,
        "http-check",
        "status codes",
    );
    assert_error(
        &format!("{FE}backend be\n http-check expect rstring (\n"),
        5,
        "http-check",
        "invalid regex",
    );
    assert_error(
        &format!("{FE}backend be\n http-check expect header name x\n"),
        5,
        "http-check",
        "unsupported expect type",
    );
    assert_error(
        &format!("{FE}backend be\n http-check connect\n"),
        5,
        "http-check",
        "not supported",
    );
}

#[test]
fn monitor_uri_and_monitor_fail() {
    let fe = frontend(
        "frontend fe\n bind :80\n monitor-uri /alive\n acl down path_beg /maintenance\n monitor fail if down\n default_backend be\n",
    );
    assert_eq!(fe.monitor_uri.as_deref(), Some("/alive"));
    assert_eq!(fe.monitor_fail[0].if_true.as_deref(), Some("down"));
}

#[test]
fn monitor_errors() {
    assert_error(
        &format!(
            "frontend fe\n bind :80\n acl down nbsrv(nowhere) lt 1\n default_backend be\n{BE}"
        ),
        3,
        "acl",
        "no backend named 'nowhere'",
    );
    assert_error(
        &format!("frontend fe\n bind :80\n monitor-uri alive\n default_backend be\n{BE}"),
        3,
        "monitor-uri",
        "must start with '/'",
    );
    assert_error(
        &format!("{FE} monitor-uri /a\n monitor fail\n{BE}"),
        5,
        "monitor",
        "needs 'if' or 'unless'",
    );
    assert_error(
        &format!("{FE} monitor-uri /a\n monitor pass if TRUE\n{BE}"),
        5,
        "monitor",
        "expects 'fail",
    );
}

#[test]
fn http_request_rules() {
    let fe = frontend(
        "frontend fe\n bind :80\n acl old path_beg /old\n http-request redirect location /new code 301 if old\n http-request redirect prefix /v2 drop-query append-slash\n http-request redirect scheme https unless { ssl_fc }\n http-request deny deny_status 429 if { path_beg /admin }\n http-request deny\n http-request add-header X-A 1\n http-request set-header X-Forwarded-Proto http\n http-request del-header X-Secret\n default_backend be\n",
    );
    let actions: Vec<HttpRequestAction> =
        fe.http_request.iter().map(|r| r.action.clone()).collect();
    assert_eq!(
        actions,
        [
            HttpRequestAction::Redirect {
                kind: RedirectKind::Location,
                to: "/new".into(),
                code: Some(301),
                drop_query: false,
                append_slash: false
            },
            HttpRequestAction::Redirect {
                kind: RedirectKind::Prefix,
                to: "/v2".into(),
                code: None,
                drop_query: true,
                append_slash: true
            },
            HttpRequestAction::Redirect {
                kind: RedirectKind::Scheme,
                to: "https".into(),
                code: None,
                drop_query: false,
                append_slash: false
            },
            HttpRequestAction::Deny { status: Some(429) },
            HttpRequestAction::Deny { status: None },
            HttpRequestAction::AddHeader {
                name: "X-A".into(),
                value: "1".into()
            },
            HttpRequestAction::SetHeader {
                name: "X-Forwarded-Proto".into(),
                value: "http".into()
            },
            HttpRequestAction::DelHeader {
                name: "X-Secret".into()
            },
        ]
    );
    assert_eq!(fe.http_request[0].condition, RuleCondition::when("old"));
    assert_eq!(
        fe.http_request[2].condition,
        RuleCondition::unless("{ ssl_fc }")
    );
    let bad: &[(&str, &str)] = &[
        ("redirect location /x code 200", "redirect code 200"),
        ("redirect elsewhere /x", "location|prefix|scheme"),
        ("deny deny_status 99", "between 200 and 599"),
        ("add-header X-Only", "expects NAME VALUE"),
        ("set-header X-Src %[src]", "log-format"),
        ("add-header Bad:Name v", "invalid header name"),
        ("tarpit", "unsupported action 'tarpit'"),
        // Found when the gateway was built, without a line, before.
        (
            "redirect location \"/a\\r\\nSet-Cookie: x\"",
            "redirect target contains CR, LF",
        ),
        ("redirect prefix /a\\x01", "redirect target contains CR, LF"),
        // The gateway refused these when it was built, without a line.
        (
            "del-header Content-Length",
            "'del-header Content-Length' is not supported",
        ),
        ("set-header transfer-encoding chunked", "the gateway writes"),
        ("add-header Connection close", "the gateway writes"),
        ("del-header Upgrade", "the gateway writes"),
        ("add-header Host x", "only set-header may change Host"),
        ("del-header host", "only set-header may change host"),
    ];
    for (rule, fragment) in bad {
        assert_error(
            &format!("{FE} http-request {rule}\n{BE}"),
            4,
            "http-request",
            fragment,
        );
    }
}

#[test]
fn http_response_rules() {
    let be = backend(
        "backend be\n http-response add-header X-Served-By gangway\n http-response set-header Cache-Control no-store if { path_beg /api }\n http-response del-header Server\n server s 127.0.0.1:1\n",
    );
    let actions: Vec<HttpResponseAction> =
        be.http_response.iter().map(|r| r.action.clone()).collect();
    assert_eq!(
        actions,
        [
            HttpResponseAction::AddHeader {
                name: "X-Served-By".into(),
                value: "gangway".into()
            },
            HttpResponseAction::SetHeader {
                name: "Cache-Control".into(),
                value: "no-store".into()
            },
            HttpResponseAction::DelHeader {
                name: "Server".into()
            },
        ]
    );
    assert_error(
        &format!("{FE} http-response redirect location /x\n{BE}"),
        4,
        "http-response",
        "unsupported action",
    );
    assert_error(
        &format!("{FE} http-response del-header Transfer-Encoding\n{BE}"),
        4,
        "http-response",
        "'del-header Transfer-Encoding' is not supported",
    );
    // `set-header` on Host is the one rule the gateway takes on it.
    let be = backend("backend be\n http-response set-header Host x\n server s 127.0.0.1:1\n");
    assert_eq!(be.http_response.len(), 1);
}

#[test]
fn errorfile() {
    let dir = std::env::temp_dir().join(format!("gangway-config-errorfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("503.http");
    std::fs::write(&page, "HTTP/1.0 503 Service Unavailable\r\n\r\nsorry\n").unwrap();
    let be = backend(&format!(
        "backend be\n errorfile 503 {}\n server s 127.0.0.1:1\n",
        page.display()
    ));
    assert_eq!(be.errorfile.get(&503), Some(&page));
    assert_error(
        &format!(
            "{FE}backend be\n errorfile 503 {}/missing.http\n",
            dir.display()
        ),
        5,
        "errorfile",
        "cannot read",
    );
    assert_error(
        &format!("{FE}backend be\n errorfile 302 {}\n", page.display()),
        5,
        "errorfile",
        "status 302 cannot have an error file",
    );
    // A directory was an error at the frontend's line when the gateway was planned; a socket
    // or FIFO would block the start for good (opening one waits for a writer).
    assert_error(
        &format!("{FE}backend be\n errorfile 503 {}\n", dir.display()),
        5,
        "errorfile",
        "it is a directory",
    );
    let socket = dir.join("503.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    assert_error(
        &format!("{FE}backend be\n errorfile 503 {}\n", socket.display()),
        5,
        "errorfile",
        "it is a FIFO or socket",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_directives_in_proxies_are_ignored_with_a_warning() {
    let warnings = warnings(&format!("defaults\n log global\n{FE}{BE}"));
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].starts_with("test.cfg:2: 'log': logging directive ignored"));
}

#[test]
fn unknown_keywords_and_misplaced_directives() {
    assert_error(
        &format!("{FE} compression algo gzip\n{BE}"),
        4,
        "compression",
        "unknown or unsupported keyword in 'frontend' section",
    );
    assert_error(
        &format!("bind :80\n{FE}{BE}"),
        1,
        "bind",
        "outside of a section",
    );
    let loaded = load(&format!(
        "userlist admins\n user admin password x\n{FE}{BE}"
    ));
    assert!(
        loaded.warnings[0]
            .to_string()
            .contains("'userlist': section is not supported")
    );
}

#[test]
fn all_errors_are_reported_at_once_in_file_order() {
    let text = "frontend fe\n bind :80\n timeout client 5parsecs\n use_backend ghost\n default_backend be\nbackend be\n server s1 127.0.0.1:1 weight 1000\n balance fastest\n frobnicate\n";
    let errors = errors(text);
    assert_eq!(
        errors,
        [
            "test.cfg:3: 'timeout client': invalid time '5parsecs': unknown unit (expected us, ms, s, m, h or d; a bare number is milliseconds)",
            "test.cfg:4: 'use_backend': frontend 'fe': no backend named 'ghost'",
            "test.cfg:7: 'server': weight 1000 is out of range 0..256",
            "test.cfg:8: 'balance': unknown or unsupported algorithm 'fastest' (roundrobin, static-rr, leastconn, first, source, uri, url_param, hdr(NAME), random)",
            "test.cfg:9: 'frobnicate': unknown or unsupported keyword in 'backend' section",
        ]
    );
}

#[test]
fn quoting_and_environment_variables() {
    // SAFETY of the test: the variable name is unique to this test.
    let fe = frontend(
        "frontend fe\n bind \"127.0.0.1:${GANGWAY_CONFIG_TEST_UNSET_PORT}8080\"\n http-request set-header X-Note \"two words\"\n default_backend be\n",
    );
    assert_eq!(fe.bind[0].address.port, 8080);
    assert_eq!(
        fe.http_request[0].action,
        HttpRequestAction::SetHeader {
            name: "X-Note".into(),
            value: "two words".into()
        }
    );
}

#[test]
fn a_malformed_hex_escape_is_an_error_at_its_line() {
    // As HAProxy, `\x` takes exactly two hex digits; `\x+1` was read as byte 1.
    for (escape, found) in [("\\x+1", "\\x+1"), ("\\x4", "\\x4\""), ("\\xg0", "\\xg0")] {
        let text = format!(
            "{FE}backend be\n http-request set-header X-A \"a{escape}\"\n server s1 127.0.0.1:1\n"
        );
        let expected =
            format!("test.cfg:5: '\\x' must be followed by two hex digits (found '{found}')");
        assert_eq!(errors(&text), [expected], "{text}");
    }
    let text =
        format!("{FE}backend be\n http-request set-header X-A a\\x2fb\n server s1 127.0.0.1:1\n");
    assert_eq!(
        config(&text).backends[0].http_request[0].action,
        HttpRequestAction::SetHeader {
            name: "X-A".into(),
            value: "a/b".into()
        }
    );
}

#[test]
fn duplicate_section_names() {
    assert_error(
        &format!("{FE}{BE}backend be\n server s 127.0.0.1:1\n"),
        6,
        "backend",
        "already exists",
    );
    // A frontend and a backend may share a name, as in HAProxy.
    config("frontend app\n bind :80\n default_backend app\nbackend app\n server s 127.0.0.1:1\n");
}

#[test]
fn nothing_to_listen_on_is_an_error() {
    let errors = errors(BE);
    assert!(
        errors.iter().any(|e| e.contains("nothing to listen on")),
        "{errors:?}"
    );
}

#[test]
fn toml_defaults_and_default_server_are_applied() {
    let text = r#"
[defaults]
timeout.connect = "5s"
default-server = { inter = "3s" }
[[frontend]]
name = "fe"
bind = [{ address = "127.0.0.1:80", accept-proxy = true }]
default_backend = "be"
[[backend]]
name = "be"
default-server = { fall = 5 }
server = [{ name = "s1", address = "127.0.0.1:9000", check = true, send-proxy = "v2" }]
"#;
    let config = parse_toml(text, "t.toml").unwrap().config;
    let be = config.backend("be").unwrap();
    assert_eq!(be.timeout.connect, secs(5));
    let options = &be.server[0].options;
    assert_eq!(
        (options.inter, options.fall, options.send_proxy),
        (secs(3), Some(5), Some(ProxyVersion::V2))
    );
    assert!(config.frontends[0].bind[0].accept_proxy);
}

#[test]
fn toml_defaults_http_check_expect_is_inherited_like_every_default() {
    // Through `Backend::inherit`, as the HAProxy-style parser applies `defaults`: a backend
    // without its own expect takes the one of `[defaults]`, one with its own keeps it.
    let text = r#"
[defaults]
option.httpchk = { method = "GET", uri = "/health" }
http-check-expect = { kind = "status", pattern = "204" }
[[frontend]]
name = "fe"
bind = [{ address = "127.0.0.1:80" }]
default_backend = "be"
[[backend]]
name = "be"
server = [{ name = "s1", address = "127.0.0.1:9000", check = true }]
[[backend]]
name = "own"
http-check-expect = { negate = true, kind = "string", pattern = "down" }
server = [{ name = "s1", address = "127.0.0.1:9000", check = true }]
"#;
    let toml = parse_toml(text, "t.toml").unwrap().config;
    let expect = |name: &str| toml.backend(name).unwrap().http_check_expect.clone();
    let inherited = HttpCheckExpect {
        negate: false,
        kind: ExpectKind::Status,
        pattern: "204".into(),
    };
    assert_eq!(expect("be"), Some(inherited));
    let own = expect("own").unwrap();
    assert!(own.negate && own.kind == ExpectKind::String && own.pattern == "down");
    // The same file in HAProxy syntax reads as the same model.
    let haproxy = "defaults\n option httpchk GET /health\n http-check expect status 204\n\
        frontend fe\n bind 127.0.0.1:80\n default_backend be\n\
        backend be\n server s1 127.0.0.1:9000 check\n\
        backend own\n http-check expect ! string down\n server s1 127.0.0.1:9000 check\n";
    assert_eq!(toml.backends, config(haproxy).backends);
}

#[test]
fn toml_errors_name_the_line() {
    let text = "[[frontend]]\nname = \"fe\"\nbind = [{ address = \"127.0.0.1:80\" }]\ndefualt_backend = \"be\"\n";
    let error = parse_toml(text, "t.toml").unwrap_err();
    let message = error.diagnostics()[0].to_string();
    assert!(message.starts_with("t.toml:4: "), "{message}");
    assert!(message.contains("defualt_backend"), "{message}");
    let text = "[[frontend]]\nname = \"fe\"\nbind = [{ address = \"127.0.0.1:80\" }]\ntimeout.client = \"5 parsecs\"\n";
    let message = parse_toml(text, "t.toml").unwrap_err().diagnostics()[0].to_string();
    assert!(
        message.starts_with("t.toml:4: ") && message.contains("invalid time"),
        "{message}"
    );
    let text = "[[frontend]]\nname = \"fe\"\nbind = [{ address = \"127.0.0.1:80\" }]\ndefault_backend = \"ghost\"\n";
    let message = parse_toml(text, "t.toml").unwrap_err().diagnostics()[0].to_string();
    assert_eq!(
        message,
        "t.toml: 'default_backend': frontend 'fe': no backend named 'ghost'"
    );
}

#[test]
fn toml_http_rules() {
    let text = r#"
[[frontend]]
name = "fe"
bind = [{ address = "127.0.0.1:80" }]
default_backend = "be"
http-request = [
  { action = "redirect", kind = "scheme", to = "https", code = 301, unless = "{ ssl_fc }" },
  { action = "set-header", name = "X-Forwarded-Proto", value = "http" },
]
http-response = [{ action = "del-header", name = "Server" }]
[[backend]]
name = "be"
server = [{ name = "s1", address = "127.0.0.1:9000" }]
"#;
    let fe = parse_toml(text, "t.toml")
        .unwrap()
        .config
        .frontends
        .remove(0);
    assert_eq!(
        fe.http_request[0].condition,
        RuleCondition::unless("{ ssl_fc }")
    );
    assert_eq!(
        fe.http_response[0].action,
        HttpResponseAction::DelHeader {
            name: "Server".into()
        }
    );
}

#[test]
fn http_check_send() {
    let be = backend(
        "backend be\n option httpchk\n http-check send meth GET uri /health ver HTTP/1.1 hdr Host app.local\n server s 127.0.0.1:1 check\n",
    );
    let chk = be.option.httpchk.unwrap();
    assert_eq!((chk.method.as_str(), chk.uri.as_str()), ("GET", "/health"));
    assert_eq!(chk.version, "HTTP/1.1\r\nHost: app.local");
}

#[test]
fn http_check_send_keywords_in_any_order_keep_every_header() {
    let cases = [
        "meth GET uri /health hdr Host example.com hdr X-Foo bar ver HTTP/1.1",
        "hdr Host example.com ver HTTP/1.1 hdr X-Foo bar uri /health meth GET",
        "ver HTTP/1.1 hdr Host example.com comment \"a check\" hdr X-Foo bar meth GET uri /health",
    ];
    for send in cases {
        let be = backend(&format!(
            "backend be\n option httpchk\n http-check send {send}\n server s 127.0.0.1:1 check\n"
        ));
        let chk = be.option.httpchk.unwrap();
        assert_eq!(
            (chk.method.as_str(), chk.uri.as_str(), chk.version.as_str()),
            (
                "GET",
                "/health",
                "HTTP/1.1\r\nHost: example.com\r\nX-Foo: bar"
            ),
            "{send}"
        );
    }
    // Headers the check writes itself are ignored with a warning.
    let found = warnings(&format!(
        "{FE}backend be\n option httpchk\n http-check send hdr Connection keep-alive hdr X-A 1\n server s 127.0.0.1:1\n"
    ));
    assert_eq!(
        found,
        [
            "test.cfg:6: 'http-check': 'send hdr Connection' is ignored: the check writes this header itself"
        ]
    );
}

#[test]
fn http_check_send_without_option_httpchk_is_ignored() {
    // As HAProxy 2.2+: the rules are ignored with a warning, and the checks stay TCP connects
    // (an HTTP request would take a Postgres or Redis server down).
    let text = format!(
        "defaults\n http-check send hdr Host svc\n{FE}backend be\n server s 127.0.0.1:1 check\n"
    );
    assert_eq!(config(&text).backend("be").unwrap().option.httpchk, None);
    assert_eq!(
        warnings(&text),
        [
            "test.cfg:2: 'http-check': 'defaults' uses http-check rules without 'option httpchk', so the rules are ignored (a backend's own 'option httpchk' does not take them either)"
        ]
    );
    let text = format!(
        "{FE}backend be\n http-check send meth GET uri /health\n server s 127.0.0.1:1 check\n"
    );
    assert_eq!(config(&text).backend("be").unwrap().option.httpchk, None);
    assert_eq!(
        warnings(&text),
        [
            "test.cfg:5: 'http-check': proxy 'be' uses http-check rules without 'option httpchk', so the rules are ignored"
        ]
    );
    // `no option httpchk` turns them off too.
    let text = format!(
        "defaults\n option httpchk\n{FE}backend be\n no option httpchk\n http-check send uri /x\n"
    );
    assert_eq!(config(&text).backend("be").unwrap().option.httpchk, None);
    // `option httpchk` in defaults turns a backend's own send rule on; the backend's rules do
    // not take the defaults' request (HAProxy gives the backend a ruleset of its own).
    let text = format!(
        "defaults\n option httpchk GET /d HTTP/1.1\\r\\nX-D:\\ 1\n{FE}backend be\n http-check send hdr Host svc\n"
    );
    let chk = config(&text)
        .backend("be")
        .unwrap()
        .option
        .httpchk
        .clone()
        .unwrap();
    assert_eq!(
        (chk.method.as_str(), chk.uri.as_str(), chk.version.as_str()),
        ("OPTIONS", "/", "HTTP/1.0\r\nHost: svc")
    );
    // That is a quiet change of what is checked: a warning says so.
    assert!(
        warnings(&text).contains(&"test.cfg:7: 'http-check': proxy 'be' has its own 'http-check send', so it checks 'OPTIONS /', not the 'GET /d' of 'defaults' (as HAProxy); give 'meth' and 'uri' here to keep them".to_owned()),
        "{:?}",
        warnings(&text)
    );
    // `option httpchk` after the send line in the same section turns it on.
    let be = backend("backend be\n http-check send hdr Host svc\n option httpchk GET /h\n");
    let chk = be.option.httpchk.unwrap();
    assert_eq!((chk.method.as_str(), chk.uri.as_str()), ("GET", "/h"));
}

#[test]
fn a_backend_with_its_own_check_request_does_not_take_the_expect_of_defaults() {
    // HAProxy 2.2+ gives a backend with its own `http-check send` or `option httpchk` a
    // ruleset of its own: the expect rule of `defaults` is not in it (tcpcheck.c).
    let defaults = "defaults\n option httpchk GET /d\n http-check expect status 401\n";
    let cases: &[(&str, usize, &str)] = &[
        (" http-check send uri /own\n", 8, "http-check send"),
        (" option httpchk GET /own\n", 8, "option httpchk"),
        (
            " option httpchk GET /own\n http-check send hdr Host x\n",
            8,
            "option httpchk",
        ),
    ];
    for (own, line, what) in cases {
        let text = format!("{defaults}{FE}backend be\n{own} server s 127.0.0.1:1 check\n");
        assert_eq!(
            config(&text).backend("be").unwrap().http_check_expect,
            None,
            "{own}"
        );
        let want = format!(
            "test.cfg:{line}: 'http-check': proxy 'be' has its own '{what}', so it does not take the 'http-check expect status 401' of 'defaults' (as HAProxy): its checks pass on any 2xx or 3xx status; repeat the expect line here to keep it"
        );
        assert!(warnings(&text).contains(&want), "{:#?}", warnings(&text));
    }
    // Its own expect line wins, without a warning; a backend without lines of its own keeps
    // the whole check of `defaults`.
    let text = format!(
        "{defaults}{FE}backend be\n http-check send uri /own\n http-check expect ! status 500\n"
    );
    let expect = config(&text)
        .backend("be")
        .unwrap()
        .http_check_expect
        .clone()
        .unwrap();
    assert!(expect.negate && expect.pattern == "500");
    assert!(
        !warnings(&text).iter().any(|w| w.contains("does not take")),
        "{:?}",
        warnings(&text)
    );
    let text = format!("{defaults}{FE}backend be\n server s 127.0.0.1:1 check\n");
    let expect = config(&text)
        .backend("be")
        .unwrap()
        .http_check_expect
        .clone()
        .unwrap();
    assert_eq!(expect.pattern, "401");
    // Checks that stay TCP connects (`no option httpchk`) have nothing to warn about.
    let text = format!("{defaults}{FE}backend be\n no option httpchk\n");
    assert!(
        !warnings(&text).iter().any(|w| w.contains("does not take")),
        "{:?}",
        warnings(&text)
    );
    // A `listen` section is a backend too.
    let text = format!("{defaults}listen be\n bind 127.0.0.1:0\n option httpchk GET /own\n");
    assert_eq!(config(&text).backend("be").unwrap().http_check_expect, None);
}

#[test]
fn option_httpchk_and_http_check_send_merge_as_haproxy() {
    let chk = |text: &str| {
        let chk = backend(&format!("backend be\n{text}"))
            .option
            .httpchk
            .unwrap();
        (chk.method, chk.uri, chk.version)
    };
    let owned = |m: &str, u: &str, v: &str| (m.to_owned(), u.to_owned(), v.to_owned());
    // The later line overwrites the method, URI and version it gives, and its headers replace
    // the earlier line's (the option's version-string headers are header rules in 2.2+).
    assert_eq!(
        chk(" option httpchk GET / HTTP/1.1\\r\\nX-A:\\ 1\n http-check send hdr X-B 2\n"),
        owned("GET", "/", "HTTP/1.1\r\nX-B: 2")
    );
    // A later line without headers keeps the earlier ones (HAProxy 2.6, issue #1772).
    assert_eq!(
        chk(" http-check send meth GET uri /health hdr Host svc\n option httpchk\n"),
        owned("GET", "/health", "HTTP/1.0\r\nHost: svc")
    );
    assert_eq!(
        chk(" option httpchk GET /h HTTP/1.1\\r\\nHost:\\ app\n http-check send uri /ready\n"),
        owned("GET", "/ready", "HTTP/1.1\r\nHost: app")
    );
    assert_eq!(
        chk(
            " http-check send meth GET uri /health\n option httpchk HEAD /h2 HTTP/1.1\\r\\nX-A:\\ 1\n"
        ),
        owned("HEAD", "/h2", "HTTP/1.1\r\nX-A: 1")
    );
    assert_eq!(
        chk(" option httpchk /only-uri\n http-check send ver HTTP/1.1 hdr Host svc\n"),
        owned("OPTIONS", "/only-uri", "HTTP/1.1\r\nHost: svc")
    );
    // A second `option httpchk` replaces the first, unless a send line came before it.
    assert_eq!(
        chk(" option httpchk GET /a\n option httpchk\n"),
        owned("OPTIONS", "/", "HTTP/1.0")
    );
    assert_eq!(
        chk(" option httpchk GET /a\n http-check send hdr Host svc\n option httpchk\n"),
        owned("GET", "/a", "HTTP/1.0\r\nHost: svc")
    );
    // A backend without lines of its own takes the merged request of defaults.
    let text = format!("defaults\n http-check send uri /d hdr Host svc\n option httpchk\n{FE}{BE}");
    let inherited = config(&text).backend("be").unwrap().option.httpchk.clone();
    assert_eq!(
        inherited.map(|c| (c.method, c.uri, c.version)),
        Some(owned("OPTIONS", "/d", "HTTP/1.0\r\nHost: svc"))
    );
    // `%%` in a header value is a `%` (HAProxy's log-format).
    assert_eq!(
        chk(" option httpchk\n http-check send hdr X-Pct 100%%\n"),
        owned("OPTIONS", "/", "HTTP/1.0\r\nX-Pct: 100%")
    );
}

#[test]
fn a_second_http_check_send_is_an_error() {
    // HAProxy refuses a send rule that follows another (or an expect) without a connect.
    assert_error(
        &format!(
            "{FE}backend be\n option httpchk\n http-check send meth GET\n http-check send uri /x\n"
        ),
        7,
        "http-check",
        "a second 'http-check send' in one section is not supported (the first is at line 6",
    );
    assert_error(
        &format!(
            "{FE}backend be\n option httpchk\n http-check expect status 200\n http-check send uri /x\n"
        ),
        7,
        "http-check",
        "'http-check send' after 'http-check expect' (line 6) is not supported",
    );
    // Sections are separate: a backend's send line follows the one of defaults.
    let text = format!(
        "defaults\n option httpchk\n http-check send uri /d\n{FE}backend be\n http-check send uri /b\n"
    );
    let chk = config(&text)
        .backend("be")
        .unwrap()
        .option
        .httpchk
        .clone()
        .unwrap();
    assert_eq!(chk.uri, "/b");
}

#[test]
fn http_check_send_errors() {
    let cases = [
        ("meth", "'meth' expects a string as argument"),
        ("uri /x ver", "'ver' expects a string as argument"),
        ("hdr Host", "'hdr' expects <name> and <value> as arguments"),
        (
            "hdr X-A 1 hdr",
            "'hdr' expects <name> and <value> as arguments",
        ),
        ("meth GET path /x", "but got 'path' as argument"),
        (
            "hdr Host a hdr host b",
            "'host' header already defined (previous value is 'a')",
        ),
        ("body ping", "'send body' is not supported"),
        ("uri-lf /%[src]", "log-format expressions are not supported"),
        ("hdr Bad:Name 1", "invalid header name"),
        (
            "hdr X-Src %[src]",
            "log-format expressions ('%') are not supported",
        ),
        (
            "hdr X-A 50%",
            "log-format expressions ('%') are not supported",
        ),
    ];
    for (send, message) in cases {
        assert_error(
            &format!("{FE}backend be\n http-check send {send}\n"),
            5,
            "http-check",
            message,
        );
    }
}

#[test]
fn bind_v6only() {
    let fe = frontend(
        "frontend fe\n bind :::80\n bind :::81 v6only\n bind :::82 v4v6\n default_backend be\n",
    );
    let flags: Vec<bool> = fe.bind.iter().map(|b| b.v6only).collect();
    assert_eq!(flags, [false, true, false]);
}

#[test]
fn stats() {
    let cases: &[(&str, Option<&str>)] = &[
        ("stats enable", Some("/haproxy?stats")),
        ("stats uri /metrics", Some("/metrics")),
        ("stats enable\n stats uri /m", Some("/m")),
        ("stats uri /m\n stats enable", Some("/m")),
    ];
    for (lines, want) in cases {
        let fe = frontend(&format!(
            "frontend fe\n bind :80\n {lines}\n default_backend be\n"
        ));
        assert_eq!(fe.stats_uri.as_deref(), *want, "{lines}");
    }
    let loaded = load(&format!(
        "frontend fe\n bind :80\n stats enable\n stats refresh 5s\n stats realm Haproxy\\ Statistics\n default_backend be\n{BE}"
    ));
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    assert_error(
        &format!("frontend fe\n bind :80\n stats auth admin:admin\n default_backend be\n{BE}"),
        3,
        "stats",
        "'stats auth' is not supported",
    );
    assert_error(
        &format!("{FE}backend be\n stats enable\n server s 127.0.0.1:1\n"),
        5,
        "stats",
        "put 'stats' in the frontend",
    );
    assert_error(
        &format!("frontend fe\n bind :80\n stats uri metrics\n default_backend be\n{BE}"),
        3,
        "stats",
        "must start with '/'",
    );
}

#[test]
fn check_header_lines_after_the_version_are_checked() {
    // A line without ':' was dropped, and a name with a space went into the request.
    assert_error(
        &format!("{FE}backend be\n option httpchk GET / HTTP/1.1\\r\\nHost\\ example.com\n"),
        5,
        "option httpchk",
        "header line 'Host example.com' has no ':'",
    );
    assert_error(
        &format!("{FE}backend be\n option httpchk GET / HTTP/1.1\\r\\nX\\ A:\\ 1\n"),
        5,
        "option httpchk",
        "invalid header name 'X A'",
    );
}

#[test]
fn a_check_request_line_that_would_break_is_an_error_at_its_line() {
    // The gateway refused these when it was built, without file:line.
    let cases: &[(&str, &str)] = &[
        (
            " option httpchk GET \"/a b\"",
            "URI \"/a b\" contains a space",
        ),
        (
            " option httpchk \"G T\" /",
            "method \"G T\" is not an HTTP token",
        ),
        (
            " option httpchk GET / \"HTTP/1.1 x\"",
            "version \"HTTP/1.1 x\" contains a space",
        ),
        (
            " option httpchk\n http-check send meth \"G(T\" uri /",
            "method \"G(T\" is not an HTTP token",
        ),
    ];
    for (lines, fragment) in cases {
        assert_error(
            &format!("{FE}backend be\n{lines}\n server s 127.0.0.1:1 check\n"),
            if lines.contains("send") { 6 } else { 5 },
            "option httpchk",
            fragment,
        );
    }
}
