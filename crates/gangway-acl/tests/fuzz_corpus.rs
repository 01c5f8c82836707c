//! Replays the checked-in fuzz corpora (`fuzz/corpus/acl_*`) through the fuzz targets'
//! own invariant checks (`fuzz/checks/acl.rs`), so a plain `cargo test` catches
//! regressions without cargo-fuzz or a nightly toolchain.

#[path = "../../../fuzz/checks/acl.rs"]
mod checks;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

/// Runs `check` on every file of `fuzz/corpus/<target>`, naming the file that fails.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
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
fn acl_parse_corpus() {
    replay("acl_parse", checks::parse);
}

#[test]
fn acl_reference_corpus() {
    replay("acl_reference", checks::reference);
}
