//! Golden tests of `gangway check`: stdout, stderr and exit status for each seed fixture and
//! for broken configs. Set `GANGWAY_UPDATE_GOLDEN=1` to rewrite the golden files.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../gangway-config/tests/fixtures")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Runs `gangway check -c NAME` in `dir` and renders what it printed.
fn check_output(dir: &Path, name: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_gangway"))
        .args(["check", "-c", name])
        .current_dir(dir)
        .output()
        .expect("run gangway");
    format!(
        "$ gangway check -c {name}\n--- exit: {} ---\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

fn assert_golden(dir: &Path, name: &str) {
    let actual = check_output(dir, name);
    let golden = golden_dir().join(format!("{name}.txt"));
    if std::env::var_os("GANGWAY_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with GANGWAY_UPDATE_GOLDEN=1)",
            golden.display()
        )
    });
    assert_eq!(actual, expected, "golden file {}", golden.display());
}

#[test]
fn seeds_pass_check() {
    // Every seed fixture (HAProxy-style and TOML twin), so a new seed needs a golden file too.
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no seed fixtures in {}",
        fixtures().display()
    );
    for name in names {
        assert_golden(&fixtures(), &name);
    }
}

#[test]
fn broken_configs_list_every_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    for name in [
        "errors.cfg",
        "errors.toml",
        "missing.cfg",
        "unsupported.cfg",
    ] {
        assert_golden(&dir, name);
    }
}

#[test]
fn a_second_config_file_is_refused_not_taken_instead_of_the_first() {
    // HAProxy loads every `-f` file; gangway reads one, so it says so rather than silently
    // checking only the last.
    let output = Command::new(env!("CARGO_BIN_EXE_gangway"))
        .args(["check", "-c", "seed000.cfg", "-f", "missing.cfg"])
        .current_dir(fixtures())
        .output()
        .expect("run gangway");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(
            "gangway: -f missing.cfg: a second config file (after seed000.cfg); gangway reads one"
        ),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
