//! Replays the checked-in fuzz corpora (`fuzz/corpus/h1_*`) through the fuzz targets'
//! own invariant checks (`fuzz/checks/h1.rs`), so a plain `cargo test` catches
//! regressions without cargo-fuzz or a nightly toolchain.

#[path = "../../../fuzz/checks/replay.rs"]
mod replay_corpus;
use replay_corpus::replay;

#[path = "../../../fuzz/checks/h1.rs"]
mod checks;

#[test]
fn h1_request_corpus() {
    replay("h1_request", checks::request);
}

#[test]
fn h1_response_corpus() {
    replay("h1_response", checks::response);
}

#[test]
fn h1_chunked_corpus() {
    replay("h1_chunked", checks::chunked);
}

#[test]
fn h1_rewrite_corpus() {
    replay("h1_rewrite", checks::rewrite);
}

#[test]
fn h1_pipeline_corpus() {
    replay("h1_pipeline", checks::pipeline);
}
