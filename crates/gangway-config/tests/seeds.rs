//! The seeds' HAProxy configs (addresses on loopback) load cleanly, and each TOML twin
//! describes exactly the same gateway.

use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

const SEEDS: &[&str] = &[
    "seed000",
    "seed001a",
    "seed001b",
    "seed004-subdomain",
    "seed004-uri",
    "seed004-detect",
];

#[test]
fn haproxy_and_toml_twins_are_equal() {
    for seed in SEEDS {
        let cfg = gangway_config::load(&fixture(&format!("{seed}.cfg")))
            .unwrap_or_else(|e| panic!("{seed}.cfg: {e}"));
        let toml = gangway_config::load(&fixture(&format!("{seed}.toml")))
            .unwrap_or_else(|e| panic!("{seed}.toml: {e}"));
        assert_eq!(cfg.config, toml.config, "{seed}");
        assert!(toml.warnings.is_empty(), "{seed}.toml: {:?}", toml.warnings);
    }
}

#[test]
fn toml_round_trip_keeps_the_model() {
    for seed in SEEDS {
        let loaded = gangway_config::load(&fixture(&format!("{seed}.cfg"))).unwrap();
        let text = toml::to_string(&loaded.config).unwrap();
        let again = gangway_config::parse_toml(&text, "round-trip.toml")
            .unwrap_or_else(|e| panic!("{seed}: {e}\n{text}"));
        assert_eq!(again.config, loaded.config, "{seed}\n{text}");
    }
}

#[test]
fn seed004_warns_about_process_directives_and_old_timeouts() {
    let loaded = gangway_config::load(&fixture("seed004-uri.cfg")).unwrap();
    let keywords: Vec<&str> = loaded.warnings.iter().map(|w| w.keyword.as_str()).collect();
    for keyword in [
        "log",
        "chroot",
        "uid",
        "gid",
        "daemon",
        "contimeout",
        "clitimeout",
        "srvtimeout",
    ] {
        assert!(
            keywords.contains(&keyword),
            "no warning for {keyword}: {keywords:?}"
        );
    }
    let config = &loaded.config;
    assert_eq!(config.global.maxconn, Some(4096));
    let public = config.frontend("public").unwrap();
    assert_eq!(public.maxconn, Some(2000));
    assert_eq!(
        public.use_backend[0].if_true.as_deref(),
        Some("is_websocket is_example")
    );
    let www = config.backend("www").unwrap();
    assert_eq!(www.timeout.server, Some(std::time::Duration::from_secs(30)));
    assert_eq!(
        www.timeout.connect,
        Some(std::time::Duration::from_millis(5000))
    );
    assert_eq!(www.effective_retries(), 3);
    assert_eq!(www.option.redispatch, Some(true));
    assert_eq!(
        www.option.http_connection,
        Some(gangway_config::HttpConnectionMode::ServerClose)
    );
}

#[test]
fn seed000_forceclose_is_the_last_word() {
    let loaded = gangway_config::load(&fixture("seed000.cfg")).unwrap();
    let ws = loaded.config.backend("websockets").unwrap();
    assert_eq!(
        ws.option.http_connection,
        Some(gangway_config::HttpConnectionMode::Close)
    );
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.keyword == "option forceclose")
    );
}
