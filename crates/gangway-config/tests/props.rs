//! Property tests: times round-trip, the HAProxy parser never panics, and server options
//! written in either syntax read back as the options they were written from.

use std::time::Duration;

use gangway_config::*;
use proptest::prelude::*;

proptest! {
    #[test]
    fn time_format_round_trips(ms in 0u64..=2_147_483_647) {
        let duration = Duration::from_millis(ms);
        prop_assert_eq!(parse_time(&format_time(duration)), Ok(duration));
    }

    #[test]
    fn bare_numbers_are_milliseconds(ms in 0u64..=2_147_483_647) {
        prop_assert_eq!(parse_time(&ms.to_string()), Ok(Duration::from_millis(ms)));
    }

    #[test]
    fn parser_never_panics(lines in prop::collection::vec(line(), 0..30)) {
        let text = lines.join("\n");
        let _ = parse_haproxy(&text, "fuzz.cfg");
    }

    #[test]
    fn server_options_read_back(options in server_options()) {
        let haproxy = format!(
            "frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s1 127.0.0.1:9000 {}\n",
            render(&options)
        );
        let loaded = parse_haproxy(&haproxy, "p.cfg").map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&loaded.config.backends[0].server[0].options, &options);
        let toml = toml::to_string(&loaded.config).unwrap();
        let again = parse_toml(&toml, "p.toml").map_err(|e| TestCaseError::fail(format!("{e}\n{toml}")))?;
        prop_assert_eq!(again.config, loaded.config);
    }
}

fn line() -> impl Strategy<Value = String> {
    let keyword = prop::sample::select(vec![
        "global",
        "defaults",
        "frontend fe",
        "backend be",
        "listen app",
        "bind",
        "server",
        "acl",
        "use_backend",
        "default_backend",
        "timeout",
        "option",
        "no option",
        "balance",
        "mode",
        "http-request",
        "http-response",
        "monitor",
        "monitor-uri",
        "errorfile",
        "http-check",
        "default-server",
        "hash-type",
        "maxconn",
        "retries",
        "contimeout",
        "log",
        "daemon",
        "{",
        "}",
        "if",
        "unless",
        "\"",
        "'",
        "\\",
        "#",
        "${X}",
    ]);
    let word = prop::sample::select(vec![
        "127.0.0.1:80",
        ":0",
        "*:8080",
        "check",
        "inter",
        "2s",
        "5000",
        "-1",
        "x",
        "fe",
        "be",
        "path_beg",
        "/ws",
        "hdr(Upgrade)",
        "-i",
        "WebSocket",
        "http",
        "tcp",
        "redirect",
        "location",
        "deny",
        "set-header",
        "expect",
        "status",
        "200",
        "roundrobin",
        "uri",
        "random(3)",
        "consistent",
        "connect",
        "tunnel",
        "1h",
        "accept-proxy",
        "weight",
        "300",
        "{",
        "}",
        "if",
        "||",
        "!",
        "\"a b\"",
        "é",
        "",
        "\t",
    ]);
    (keyword, prop::collection::vec(word, 0..8))
        .prop_map(|(keyword, words)| format!("{keyword} {}", words.join(" ")))
}

fn time() -> impl Strategy<Value = Option<Duration>> {
    prop::option::of((1u64..100_000).prop_map(Duration::from_millis))
}

fn server_options() -> impl Strategy<Value = ServerOptions> {
    let checks = (
        prop::option::of(any::<bool>()),
        time(),
        time(),
        time(),
        prop::option::of(1u32..10),
        prop::option::of(1u32..10),
    );
    let limits = (
        prop::option::of(0u32..=256),
        prop::option::of(0u32..1000),
        prop::option::of(0u32..1000),
        prop::option::of(any::<bool>()),
        time(),
        prop::option::of(prop::sample::select(vec![
            ProxyVersion::V1,
            ProxyVersion::V2,
            ProxyVersion::Off,
        ])),
    );
    let rest = (
        prop::option::of(1u16..),
        prop::option::of(Just("127.0.0.2".to_owned())),
        prop::option::of(any::<bool>()),
        prop::option::of(Just(true)),
        prop::option::of(prop::sample::select(vec![
            OnError::Fastinter,
            OnError::FailCheck,
            OnError::SuddenDeath,
            OnError::MarkDown,
        ])),
        prop::option::of(1u32..100),
        prop::option::of(prop::sample::select(vec![Observe::Layer4, Observe::Layer7])),
    );
    let pool = (prop::option::of(-1i64..100), time());
    (checks, limits, rest, pool).prop_map(|(c, l, r, p)| {
        let mut o = ServerOptions::default();
        (o.pool_max_conn, o.pool_purge_delay) = p;
        (o.check, o.inter, o.fastinter, o.downinter, o.rise, o.fall) = c;
        (
            o.weight,
            o.maxconn,
            o.maxqueue,
            o.backup,
            o.slowstart,
            o.send_proxy,
        ) = l;
        (
            o.port,
            o.addr,
            o.disabled,
            o.shutdown_sessions_on_down,
            o.on_error,
            o.error_limit,
            o.observe,
        ) = r;
        o
    })
}

/// Writes options as `server` line words (the reference for what the parser must read).
fn render(o: &ServerOptions) -> String {
    let mut words: Vec<String> = Vec::new();
    let time = |d: Duration| format_time(d);
    match o.check {
        Some(true) => words.push("check".into()),
        Some(false) => words.push("no-check".into()),
        None => {}
    }
    for (name, value) in [
        ("inter", o.inter),
        ("fastinter", o.fastinter),
        ("downinter", o.downinter),
        ("slowstart", o.slowstart),
        ("pool-purge-delay", o.pool_purge_delay),
    ] {
        if let Some(value) = value {
            words.push(format!("{name} {}", time(value)));
        }
    }
    for (name, value) in [
        ("rise", o.rise),
        ("fall", o.fall),
        ("weight", o.weight),
        ("maxconn", o.maxconn),
        ("maxqueue", o.maxqueue),
        ("error-limit", o.error_limit),
    ] {
        if let Some(value) = value {
            words.push(format!("{name} {value}"));
        }
    }
    match o.backup {
        Some(true) => words.push("backup".into()),
        Some(false) => words.push("no-backup".into()),
        None => {}
    }
    match o.send_proxy {
        Some(ProxyVersion::V1) => words.push("send-proxy".into()),
        Some(ProxyVersion::V2) => words.push("send-proxy-v2".into()),
        Some(ProxyVersion::Off) => words.push("no-send-proxy".into()),
        None => {}
    }
    if let Some(port) = o.port {
        words.push(format!("port {port}"));
    }
    if let Some(n) = o.pool_max_conn {
        words.push(format!("pool-max-conn {n}"));
    }
    if let Some(addr) = &o.addr {
        words.push(format!("addr {addr}"));
    }
    match o.disabled {
        Some(true) => words.push("disabled".into()),
        Some(false) => words.push("enabled".into()),
        None => {}
    }
    if o.shutdown_sessions_on_down == Some(true) {
        words.push("on-marked-down shutdown-sessions".into());
    }
    if let Some(on_error) = o.on_error {
        let name = match on_error {
            OnError::Fastinter => "fastinter",
            OnError::FailCheck => "fail-check",
            OnError::SuddenDeath => "sudden-death",
            OnError::MarkDown => "mark-down",
        };
        words.push(format!("on-error {name}"));
    }
    match o.observe {
        Some(Observe::Layer4) => words.push("observe layer4".into()),
        Some(Observe::Layer7) => words.push("observe layer7".into()),
        None => {}
    }
    words.join(" ")
}
