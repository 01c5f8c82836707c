//! Replays the checked-in fuzz corpora (`fuzz/corpus/config_*`) through the fuzz targets'
//! own invariant checks (`fuzz/checks/config.rs`), so a plain `cargo test` catches
//! regressions without cargo-fuzz or a nightly toolchain.

#[path = "../../../fuzz/checks/replay.rs"]
mod replay_corpus;
use replay_corpus::replay;

#[path = "../../../fuzz/checks/config.rs"]
mod checks;

#[test]
fn config_haproxy_corpus() {
    replay("config_haproxy", checks::haproxy);
}
