//! Loads a config (HAProxy-style or TOML), prints its warnings and summary, then the same
//! definition as TOML: `cargo run -p gangway-config --example to_toml -- haproxy.cfg`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: to_toml FILE");
        return ExitCode::from(2);
    };
    match gangway_config::load(&path) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            eprint!("{}", gangway_config::summary(&loaded.config));
            match toml::to_string(&loaded.config) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("cannot write TOML: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
