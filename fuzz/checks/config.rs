//! Invariant checks for gangway-config, shared by the fuzz target (`fuzz/fuzz_targets/config_haproxy.rs`)
//! and the corpus replay test (`crates/gangway-config/tests/fuzz_corpus.rs`).

use gangway_config::{parse_haproxy, parse_toml, summary};

/// HAProxy-style config text: never panics; diagnostics point at lines of the file; an
/// accepted config survives a TOML round trip unchanged.
///
/// Input: the config text (lossy UTF-8).
pub(crate) fn haproxy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count().max(1);
    match parse_haproxy(&text, "fuzz.cfg") {
        Ok(loaded) => {
            for w in &loaded.warnings {
                assert!(
                    w.line.is_none_or(|l| (1..=lines + 1).contains(&l)),
                    "warning line {:?} of {lines}",
                    w.line
                );
                let _ = w.to_string();
            }
            let _ = summary(&loaded.config);
            let toml = match toml::to_string(&loaded.config) {
                Ok(toml) => toml,
                Err(e) => panic!("accepted config does not serialize to TOML: {e}"),
            };
            match parse_toml(&toml, "fuzz.toml") {
                Ok(again) => assert_eq!(
                    again.config, loaded.config,
                    "TOML round trip changed the config:\n{toml}"
                ),
                Err(e) => panic!("TOML of an accepted config is refused: {e}\n{toml}"),
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.is_empty());
            for d in e.diagnostics() {
                // One past the last line is where "missing at end of file" points.
                assert!(
                    d.line.is_none_or(|l| (1..=lines + 1).contains(&l)),
                    "error line {:?} of {lines}: {d}",
                    d.line
                );
            }
        }
    }
}
