//! Replays the checked-in fuzz corpora (`fuzz/corpus/proxy_*`) through the fuzz targets'
//! entry points (`gangway_proxy_protocol::fuzzing`), so a plain `cargo test` catches
//! regressions without cargo-fuzz or a nightly toolchain.

#[path = "../../../fuzz/checks/replay.rs"]
mod replay_corpus;
use replay_corpus::replay;

use gangway_proxy_protocol::fuzzing;

#[test]
fn proxy_decode_corpus() {
    replay("proxy_decode", fuzzing::decode_invariants);
}

#[test]
fn proxy_encode_corpus() {
    replay("proxy_encode", fuzzing::encode_round_trip);
}
