//! Diagnostics (errors and warnings with file:line and keyword) and the crate error.

use std::fmt;
use std::path::PathBuf;

use crate::model::SourceLine;

/// One problem found in a config: where, which keyword, and what is wrong.
///
/// Displayed as `FILE:LINE: 'KEYWORD': MESSAGE` (the line is left out when unknown, e.g. for a
/// TOML cross-reference problem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File name as given to the parser.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The directive or key the problem is about (e.g. `server`, `timeout`, `use_backend`).
    pub keyword: String,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn new(
        file: &str,
        line: Option<usize>,
        keyword: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_owned(),
            line,
            keyword: keyword.into(),
            message: message.into(),
        }
    }
}

/// The errors and warnings found in one file, in the order found: what the parser, the
/// validator and the planner each report into.
#[derive(Debug)]
pub(crate) struct Findings<'f> {
    pub(crate) file: &'f str,
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
}

impl<'f> Findings<'f> {
    pub(crate) fn new(file: &'f str) -> Self {
        Self {
            file,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Records an error about `keyword` at `line`, once: a backend used by several frontends
    /// is planned for each, and its findings are the same each time.
    pub(crate) fn error(&mut self, line: SourceLine, keyword: &str, message: impl Into<String>) {
        let diagnostic = Diagnostic::new(self.file, line.0, keyword, message);
        if !self.errors.contains(&diagnostic) {
            self.errors.push(diagnostic);
        }
    }

    /// Records a warning about `keyword` at `line`, once.
    pub(crate) fn warn(&mut self, line: SourceLine, keyword: &str, message: impl Into<String>) {
        let diagnostic = Diagnostic::new(self.file, line.0, keyword, message);
        if !self.warnings.contains(&diagnostic) {
            self.warnings.push(diagnostic);
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: ", self.file, line)?,
            None => write!(f, "{}: ", self.file)?,
        }
        if self.keyword.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "'{}': {}", self.keyword, self.message)
        }
    }
}

/// Why a config could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The config has errors; every one found is listed, in file order.
    Invalid {
        /// The errors.
        errors: Vec<Diagnostic>,
        /// Warnings found along the way (ignored directives and the like).
        warnings: Vec<Diagnostic>,
    },
}

impl Error {
    /// The config errors, empty for an IO error.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Invalid { errors, .. } => errors,
            Error::Io { .. } => &[],
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            Error::Invalid { errors, .. } => {
                write!(f, "{} error(s) in config", errors.len())?;
                for error in errors {
                    write!(f, "\n  {error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Invalid { .. } => None,
        }
    }
}
