//! The one error type of this crate: everything that can go wrong while parsing or compiling.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A place in parsed text: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Position {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number in characters, starting at 1.
    pub column: u32,
}

impl Position {
    /// Position of byte offset `offset` in `text`.
    pub(crate) fn of(text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why an ACL, a condition or an ALB rule could not be parsed or compiled.
///
/// Every variant says where (line and column in the parsed text, or file and line of a
/// `-f` pattern file), which token was wrong and what was expected instead.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The text is not well formed: `found` is the offending token (or `end of input`).
    Syntax {
        /// Where the offending token starts.
        position: Position,
        /// The offending token, or `end of input`.
        found: String,
        /// What the parser expected at this place.
        expected: String,
    },
    /// A sample fetch keyword this crate does not know (never silently false).
    UnknownFetch {
        /// Where the keyword starts.
        position: Position,
        /// The keyword as written.
        name: String,
    },
    /// A condition names an ACL that is neither declared with `acl` nor predefined.
    UnknownAcl {
        /// Where the name starts.
        position: Position,
        /// The name as written.
        name: String,
    },
    /// A pattern or fetch argument that is not valid for its matching method
    /// (bad integer, IP address or regular expression, misplaced flag, ...).
    InvalidPattern {
        /// Where the pattern starts.
        position: Position,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A pattern read from a `-f` file is not valid for the matching method.
    PatternFile {
        /// The file, as named after `-f`.
        path: PathBuf,
        /// Line in that file, starting at 1.
        line: u32,
        /// The pattern as read.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `-f` pattern file could not be read.
    Io {
        /// Where `-f FILE` appears in the parsed text.
        position: Position,
        /// The file, as named after `-f`.
        path: PathBuf,
        /// The underlying IO error.
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn syntax(position: Position, found: &str, expected: impl Into<String>) -> Error {
        Error::Syntax {
            position,
            found: found.to_owned(),
            expected: expected.into(),
        }
    }

    pub(crate) fn pattern(position: Position, pattern: &str, reason: impl Into<String>) -> Error {
        Error::InvalidPattern {
            position,
            pattern: pattern.to_owned(),
            reason: reason.into(),
        }
    }

    /// Where in the parsed text the error is, if it is in the text (not in a pattern file).
    pub fn position(&self) -> Option<Position> {
        match self {
            Error::Syntax { position, .. }
            | Error::UnknownFetch { position, .. }
            | Error::UnknownAcl { position, .. }
            | Error::InvalidPattern { position, .. }
            | Error::Io { position, .. } => Some(*position),
            Error::PatternFile { .. } => None,
        }
    }

    /// Moves the error's position to line `line` of an enclosing file (for configuration
    /// parsers that hand this crate one line at a time).
    ///
    /// ```
    /// let err = gangway_acl::Condition::parse("pth_beg /ws").unwrap_err().at_line(42);
    /// assert_eq!(err.position().unwrap().line, 42);
    /// ```
    pub fn at_line(mut self, line: u32) -> Error {
        match &mut self {
            Error::Syntax { position, .. }
            | Error::UnknownFetch { position, .. }
            | Error::UnknownAcl { position, .. }
            | Error::InvalidPattern { position, .. }
            | Error::Io { position, .. } => {
                position.line = line.saturating_add(position.line.saturating_sub(1));
            }
            Error::PatternFile { .. } => {}
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Syntax {
                position,
                found,
                expected,
            } => write!(f, "{position}: unexpected `{found}`, expected {expected}"),
            Error::UnknownFetch { position, name } => write!(
                f,
                "{position}: unknown fetch `{name}`, expected a sample fetch such as \
                 path, path_beg, url, query, method, req.ver, hdr(<name>), req.fhdr(<name>), \
                 hdr_cnt, src, url_param(<name>), req.cook(<name>) or ssl_fc"
            ),
            Error::UnknownAcl { position, name } => write!(
                f,
                "{position}: unknown ACL `{name}`, expected the name of an ACL declared \
                 earlier with `acl`, a predefined ACL (TRUE, FALSE, METH_GET, ...), an inline \
                 fetch expression or `{{ ... }}`"
            ),
            Error::InvalidPattern {
                position,
                pattern,
                reason,
            } => write!(f, "{position}: invalid `{pattern}`: {reason}"),
            Error::PatternFile {
                path,
                line,
                pattern,
                reason,
            } => write!(
                f,
                "{}, line {line}: invalid pattern `{pattern}`: {reason}",
                path.display()
            ),
            Error::Io {
                position,
                path,
                source,
            } => write!(
                f,
                "{position}: cannot read pattern file {}: {source}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
