//! Replays the checked-in fuzz corpora (`fuzz/corpus/h1_*`) through the fuzz targets'
//! own invariant checks (`fuzz/checks/h1.rs`), so a plain `cargo test` catches
//! regressions without cargo-fuzz or a nightly toolchain.

#[path = "../../../fuzz/checks/h1.rs"]
mod checks;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

/// Runs `check` on every file of `fuzz/corpus/<target>`, naming the file that fails.
fn replay(target: &str, check: fn(&[u8])) {
    replay_dir("corpus", target, check);
}

/// Runs `check` on every file of `fuzz/<kind>/<target>`, naming the file that fails.
fn replay_dir(kind: &str, target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{target}: invariants broken by {failed:#?}"
    );
}

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
