//! Replays the checked-in fuzz corpora (`fuzz/corpus/acl_*`) through the fuzz targets'
//! own invariant checks (`fuzz/checks/acl.rs`), so a plain `cargo test` catches
//! regressions without cargo-fuzz or a nightly toolchain.

#[path = "../../../fuzz/checks/replay.rs"]
mod replay_corpus;
use replay_corpus::replay;

#[path = "../../../fuzz/checks/acl.rs"]
mod checks;

#[test]
fn acl_parse_corpus() {
    replay("acl_parse", checks::parse);
}

#[test]
fn acl_reference_corpus() {
    replay("acl_reference", checks::reference);
}
