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
    // The gateway's own limits are part of the check: plan and build every frontend.
    let checked = gangway_config::load(path).and_then(|loaded| {
        let plan = gangway_config::plan(&loaded, gangway_config::PlanOptions::default())
            .map_err(|error| with_warnings(error, &loaded.warnings))?;
        let mut build_errors = Vec::new();
        for frontend in plan.frontends {
            if let Err(error) = frontend.builder.build() {
                build_errors.push(gangway_config::Diagnostic {
                    file: loaded.file.clone(),
                    line: None,
                    keyword: String::new(),
                    message: format!("frontend '{}': {error}", frontend.name),
                });
            }
        }
        let mut warnings = loaded.warnings.clone();
        warnings.extend(plan.warnings);
        if build_errors.is_empty() {
            Ok((loaded, warnings))
        } else {
            Err(gangway_config::Error::Invalid {
                errors: build_errors,
                warnings,
            })
        }
    });
    match checked {
        Ok((loaded, warnings)) => {
            for warning in &warnings {
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

/// Puts the loader's warnings in front of the planner's.
fn with_warnings(
    error: gangway_config::Error,
    first: &[gangway_config::Diagnostic],
) -> gangway_config::Error {
    match error {
        gangway_config::Error::Invalid { errors, warnings } => {
            let mut all = first.to_vec();
            all.extend(warnings);
            gangway_config::Error::Invalid {
                errors,
                warnings: all,
            }
        }
        other => other,
    }
}
