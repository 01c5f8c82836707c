//! `gangway`: run an HTTP + WebSocket gateway from an HAProxy-style or TOML config.
//!
//! ```text
//! gangway check -c haproxy.cfg     validate, print a summary, exit 1 listing every error
//! gangway run -c haproxy.cfg [-v]  serve; SIGHUP reloads, SIGTERM/SIGINT stop gracefully
//! gangway demo [-v]                demo backends and a gateway on 127.0.0.1
//! ```
//!
//! Part of [gangway](https://github.com/gangway-rs/gangway); the library to embed is the
//! `gangway` crate, the config formats are described by `gangway-config`.
#![forbid(unsafe_code)]

mod args;
mod check;
mod demo;
mod run;

use std::process::ExitCode;

use args::Command;

fn main() -> ExitCode {
    let command = match args::parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("gangway: {message}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            println!("{}", args::USAGE);
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("gangway {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Check { config } => check::run(&config),
        Command::Run { config, verbose } => run::run(&config, verbose),
        Command::Demo { verbose } => demo::run(verbose),
    }
}
