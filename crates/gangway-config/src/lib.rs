//! Gateway definitions for [gangway](https://github.com/gangway-rs/gangway/tree/main/crates/gangway) from an HAProxy-style config
//! subset or from TOML, read into one typed model ([`Config`]).
//!
//! ```
//! let text = "
//! defaults
//!     mode http
//!     timeout connect 5s
//! frontend public
//!     bind 127.0.0.1:8080
//!     acl is_websocket hdr(Upgrade) -i WebSocket
//!     use_backend ws if is_websocket
//!     default_backend www
//! backend www
//!     server www1 127.0.0.1:9000 check inter 2s rise 2 fall 2
//! backend ws
//!     timeout tunnel 1h
//!     server ws1 127.0.0.1:9001
//! ";
//! let loaded = gangway_config::parse_haproxy(text, "haproxy.cfg")?;
//! let config = &loaded.config;
//! assert_eq!(config.frontends[0].use_backend[0].backend, "ws");
//! // `defaults` are already applied to every section.
//! let ws = config.backend("ws").unwrap();
//! assert_eq!(ws.timeout.connect, Some(std::time::Duration::from_secs(5)));
//!
//! // The same model from TOML; keys are HAProxy's keywords.
//! let toml = r#"
//! [defaults]
//! mode = "http"
//! timeout.connect = "5s"
//! [[frontend]]
//! name = "public"
//! bind = [{ address = "127.0.0.1:8080" }]
//! acl = [{ name = "is_websocket", expr = "hdr(Upgrade) -i WebSocket" }]
//! use_backend = [{ backend = "ws", if = "is_websocket" }]
//! default_backend = "www"
//! [[backend]]
//! name = "www"
//! server = [{ name = "www1", address = "127.0.0.1:9000", check = true, inter = "2s", rise = 2, fall = 2 }]
//! [[backend]]
//! name = "ws"
//! timeout.tunnel = "1h"
//! server = [{ name = "ws1", address = "127.0.0.1:9001" }]
//! "#;
//! let from_toml = gangway_config::parse_toml(toml, "gangway.toml")?;
//! assert_eq!(from_toml.config, loaded.config);
//! # Ok::<(), gangway_config::Error>(())
//! ```
//!
//! Problems are reported with `file:line` and the keyword ([`Diagnostic`]), in rounds: reading
//! HAProxy-style text reports every bad line at once, while TOML stops at its first syntax
//! error, unknown key or wrong type; then validation of the model reports every problem it
//! finds; then [`plan`] (and building the gateways) reports what the gateway cannot do, each
//! round only once the one before found nothing. Process-level HAProxy directives (`daemon`,
//! `chroot`, `log`, ...) are accepted and listed in [`Loaded::warnings`]. See `docs/config.md` in the repository for the full reference.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod acl;
mod address;
mod de;
mod error;
#[cfg(feature = "gateway")]
#[cfg_attr(docsrs, doc(cfg(feature = "gateway")))]
mod gateway;
mod haproxy;
mod lexer;
mod model;
mod summary;
mod time;
mod validate;

use std::path::Path;

pub use address::{AddressError, BindAddress, ServerAddress};
use error::Findings;
pub use error::{Diagnostic, Error};
#[cfg(feature = "gateway")]
#[cfg_attr(docsrs, doc(cfg(feature = "gateway")))]
pub use gateway::{Plan, PlanOptions, PlannedFrontend, plan};
pub use model::*;
pub use summary::summary;
pub use time::{TimeError, format_time, parse_time};

/// A loaded, validated config and the warnings found while reading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file name used in diagnostics.
    pub file: String,
    /// The model, with `defaults` and `default-server` already applied.
    pub config: Config,
    /// Things accepted but ignored or deprecated, in file order.
    pub warnings: Vec<Diagnostic>,
}

/// The two config syntaxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// HAProxy-style sections (`haproxy.cfg`).
    Haproxy,
    /// TOML (`*.toml`).
    Toml,
}

impl Format {
    /// TOML for a `.toml` extension, HAProxy-style for anything else.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("toml") => Format::Toml,
            _ => Format::Haproxy,
        }
    }
}

/// Reads and validates a config file; the syntax follows the extension ([`Format::from_path`]).
pub fn load(path: &Path) -> Result<Loaded, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, &path.display().to_string(), Format::from_path(path))
}

/// Parses and validates config text; `file` is used in diagnostics.
pub fn parse(text: &str, file: &str, format: Format) -> Result<Loaded, Error> {
    match format {
        Format::Haproxy => parse_haproxy(text, file),
        Format::Toml => parse_toml(text, file),
    }
}

/// Parses and validates HAProxy-style text (`${VAR}` reads the process environment).
pub fn parse_haproxy(text: &str, file: &str) -> Result<Loaded, Error> {
    let env = |name: &str| std::env::var(name).ok();
    let parsed = haproxy::parse(text, file, &env);
    finish(parsed.config, parsed.found)
}

/// Parses and validates TOML text.
pub fn parse_toml(text: &str, file: &str) -> Result<Loaded, Error> {
    let mut config: Config = match toml::from_str(text) {
        Ok(config) => config,
        Err(error) => {
            let line = error
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let diagnostic = Diagnostic::new(file, line, "", error.message().to_owned());
            return Err(Error::Invalid {
                errors: vec![diagnostic],
                warnings: Vec::new(),
            });
        }
    };
    let defaults = std::mem::take(&mut config.defaults);
    for frontend in &mut config.frontends {
        frontend.inherit(&defaults);
    }
    for backend in &mut config.backends {
        backend.inherit(&defaults);
        for server in &mut backend.server {
            server.options.inherit(&backend.default_server);
        }
    }
    finish(config, Findings::new(file))
}

fn finish(config: Config, mut found: Findings<'_>) -> Result<Loaded, Error> {
    validate::validate(&config, &mut found);
    let Findings {
        file,
        mut errors,
        mut warnings,
    } = found;
    // Keep file order: parse-time and whole-model findings interleave by line.
    errors.sort_by_key(|d| d.line.unwrap_or(usize::MAX));
    warnings.sort_by_key(|d| d.line.unwrap_or(usize::MAX));
    if errors.is_empty() {
        Ok(Loaded {
            file: file.to_owned(),
            config,
            warnings,
        })
    } else {
        Err(Error::Invalid { errors, warnings })
    }
}
