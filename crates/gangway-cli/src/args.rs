//! Command-line arguments (a small hand-written parser: three commands, two flags).

use std::ffi::OsString;
use std::path::PathBuf;

pub(crate) const USAGE: &str = "\
usage: gangway <command> [options]

commands:
  check -c FILE    validate FILE, print a summary; exit 1 with every error
  run -c FILE      run the gateway FILE describes; SIGHUP reloads FILE,
                   SIGTERM/SIGINT shut down gracefully
  demo             start demo backends and a gateway on 127.0.0.1

options:
  -c, -f, --config FILE   the config file (one): HAProxy-style, or TOML when it
                          ends in .toml
  -v, --verbose           log every request (access lines)
  -h, --help              this text
  -V, --version           the version";

/// What to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Check { config: PathBuf },
    Run { config: PathBuf, verbose: bool },
    Demo { verbose: bool },
    Help,
    Version,
}

pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let Some(name) = args.next() else {
        return Err("missing command".to_owned());
    };
    let name = name.to_string_lossy().into_owned();
    let mut config: Option<PathBuf> = None;
    let mut verbose = false;
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some(flag @ ("-c" | "-f" | "--config")) => match (args.next(), &config) {
                (Some(second), Some(first)) => {
                    // HAProxy merges several `-f` files; taking the last would drop the rest.
                    return Err(format!(
                        "{flag} {}: a second config file (after {}); gangway reads one, put every section in it",
                        second.to_string_lossy(),
                        first.display()
                    ));
                }
                (Some(path), None) => config = Some(PathBuf::from(path)),
                (None, _) => return Err(format!("{flag} needs a file")),
            },
            Some("-v" | "--verbose") => verbose = true,
            Some("-h" | "--help") => return Ok(Command::Help),
            _ => return Err(format!("unexpected argument '{}'", arg.to_string_lossy())),
        }
    }
    let need_config = |config: Option<PathBuf>| config.ok_or(format!("'{name}' needs -c FILE"));
    match name.as_str() {
        "check" => Ok(Command::Check {
            config: need_config(config)?,
        }),
        "run" => Ok(Command::Run {
            config: need_config(config)?,
            verbose,
        }),
        "demo" if config.is_none() => Ok(Command::Demo { verbose }),
        "demo" => Err("'demo' takes no config file".to_owned()),
        "help" | "-h" | "--help" => Ok(Command::Help),
        "version" | "-V" | "--version" => Ok(Command::Version),
        other => Err(format!("unknown command '{other}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, String> {
        parse(line.split_whitespace().map(OsString::from))
    }

    #[test]
    fn table() {
        let cases: &[(&str, Result<Command, ()>)] = &[
            (
                "check -c a.cfg",
                Ok(Command::Check {
                    config: "a.cfg".into(),
                }),
            ),
            (
                "check -f a.cfg",
                Ok(Command::Check {
                    config: "a.cfg".into(),
                }),
            ),
            (
                "run --config a.toml -v",
                Ok(Command::Run {
                    config: "a.toml".into(),
                    verbose: true,
                }),
            ),
            (
                "run -c a.cfg",
                Ok(Command::Run {
                    config: "a.cfg".into(),
                    verbose: false,
                }),
            ),
            ("demo", Ok(Command::Demo { verbose: false })),
            ("demo -v", Ok(Command::Demo { verbose: true })),
            ("--help", Ok(Command::Help)),
            ("run -h", Ok(Command::Help)),
            ("--version", Ok(Command::Version)),
            ("", Err(())),
            ("check", Err(())),
            ("check -c", Err(())),
            ("run -c a.cfg --frobnicate", Err(())),
            ("demo -c a.cfg", Err(())),
            // One config file: HAProxy's several `-f` files are not merged.
            ("check -c a.cfg -c b.cfg", Err(())),
            ("run -f a.cfg -v --config a.cfg", Err(())),
            ("serve -c a.cfg", Err(())),
        ];
        for (line, expected) in cases {
            let got = parse_str(line);
            match expected {
                Ok(command) => assert_eq!(got.as_ref(), Ok(command), "{line}"),
                Err(()) => assert!(got.is_err(), "{line}: {got:?}"),
            }
        }
    }
}
