//! `gangway check -c FILE`.

use std::path::Path;
use std::process::ExitCode;

use gangway_config::Format;

/// Loads `path`, prints warnings (stderr) and the summary (stdout); on errors prints every
/// one of them and exits 1.
pub(crate) fn run(path: &Path) -> ExitCode {
    let syntax = match Format::from_path(path) {
        Format::Haproxy => "HAProxy-style",
        Format::Toml => "TOML",
    };
    match gangway_config::load(path) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            print!("{}", gangway_config::summary(&loaded.config));
            println!("{}: configuration is valid ({syntax})", path.display());
            ExitCode::SUCCESS
        }
        Err(gangway_config::Error::Invalid { errors, warnings }) => {
            for warning in &warnings {
                eprintln!("warning: {warning}");
            }
            for error in &errors {
                eprintln!("error: {error}");
            }
            eprintln!(
                "{}: configuration is invalid ({} error{})",
                path.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
