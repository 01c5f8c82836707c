//! Request rules besides routing: header actions, redirects and denies.

use crate::Error;
use crate::acl::Condition;

/// A header change applied to a request or response (HAProxy's `set-header`, `add-header`,
/// `del-header`).
///
/// ```
/// use gangway::HeaderAction;
/// let a = HeaderAction::set("X-Env", "prod");
/// assert_eq!(a.name(), "X-Env");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderAction {
    /// Appends a header line, keeping existing ones.
    Add {
        /// Header name.
        name: String,
        /// Header value.
        value: String,
    },
    /// Replaces every line of this header with one line.
    Set {
        /// Header name.
        name: String,
        /// Header value.
        value: String,
    },
    /// Removes every line of this header.
    Delete {
        /// Header name.
        name: String,
    },
}

impl HeaderAction {
    /// Refuses a name that is not an HTTP token and a value holding CR, LF, NUL or another
    /// control byte: a configured header must never add a line of its own to a head. Refuses
    /// too the headers the gateway writes from a message's framing and connection state
    /// (`Content-Length`, `Transfer-Encoding`, `Connection`, `Upgrade`: a rule on them would
    /// make the server or client read the body differently), and anything but `set-header`
    /// on `Host` (a request has exactly one).
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let (name, value) = match self {
            HeaderAction::Add { name, value } | HeaderAction::Set { name, value } => {
                (name, Some(value))
            }
            HeaderAction::Delete { name } => (name, None),
        };
        if !gangway_h1::is_valid_field_name(name.as_bytes()) {
            return Err(Error::InvalidOption(format!(
                "header name {name:?} is not an HTTP token"
            )));
        }
        if written_by_gateway(name) {
            return Err(Error::InvalidOption(format!(
                "header rules cannot change {name}: the gateway writes Content-Length, \
                 Transfer-Encoding, Connection and Upgrade from the message's framing and the \
                 connection's state"
            )));
        }
        if name.eq_ignore_ascii_case("host") && !matches!(self, HeaderAction::Set { .. }) {
            return Err(Error::InvalidOption(format!(
                "only set-header may change {name}: a request must carry exactly one"
            )));
        }
        if let Some(value) = value
            && !gangway_h1::is_valid_field_value(value.as_bytes())
        {
            return Err(Error::InvalidOption(format!(
                "value of header {name} holds a control character (CR, LF, NUL...): {value:?}"
            )));
        }
        Ok(())
    }

    /// `add-header name value`.
    pub fn add(name: impl Into<String>, value: impl Into<String>) -> Self {
        HeaderAction::Add {
            name: name.into(),
            value: value.into(),
        }
    }

    /// `set-header name value`.
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        HeaderAction::Set {
            name: name.into(),
            value: value.into(),
        }
    }

    /// `del-header name`.
    pub fn delete(name: impl Into<String>) -> Self {
        HeaderAction::Delete { name: name.into() }
    }

    /// The header this action touches.
    pub fn name(&self) -> &str {
        match self {
            HeaderAction::Add { name, .. }
            | HeaderAction::Set { name, .. }
            | HeaderAction::Delete { name } => name,
        }
    }

    /// Whether this action removes existing lines of its header (set and delete do).
    pub(crate) fn removes_existing(&self) -> bool {
        !matches!(self, HeaderAction::Add { .. })
    }

    /// The line this action adds, if any.
    pub(crate) fn added(&self) -> Option<(&str, &str)> {
        match self {
            HeaderAction::Add { name, value } | HeaderAction::Set { name, value } => {
                Some((name, value))
            }
            HeaderAction::Delete { .. } => None,
        }
    }
}

/// Whether the gateway writes this header itself from a message's framing and connection
/// state (`Content-Length`, `Transfer-Encoding`, `Connection`, `Upgrade`): no configured
/// header may name it.
pub(crate) fn written_by_gateway(name: &str) -> bool {
    const NAMES: [&str; 4] = [
        "content-length",
        "transfer-encoding",
        "connection",
        "upgrade",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Where a redirect sends the client (HAProxy's `redirect scheme|location|prefix`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectTarget {
    /// `redirect scheme https`: same host and path, another scheme (needs a `Host` header).
    Scheme(String),
    /// `redirect location URL`: exactly this URL.
    Location(String),
    /// `redirect prefix /p`: this prefix followed by the original path and query.
    Prefix(String),
}

/// A redirect answer: target, status code (301, 302, 303, 307, 308) and whether the query
/// string is dropped.
///
/// ```
/// use gangway::Redirect;
/// let r = Redirect::scheme("https").code(301);
/// assert_eq!(r.status, 301);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redirect {
    /// Where to send the client.
    pub target: RedirectTarget,
    /// The status code (default 302).
    pub status: u16,
    /// `drop-query`: leave the query string out of `Scheme` and `Prefix` redirects.
    pub drop_query: bool,
}

impl Redirect {
    fn new(target: RedirectTarget) -> Self {
        Redirect {
            target,
            status: 302,
            drop_query: false,
        }
    }

    /// `redirect scheme <scheme>`.
    pub fn scheme(scheme: impl Into<String>) -> Self {
        Redirect::new(RedirectTarget::Scheme(scheme.into()))
    }

    /// `redirect location <url>`.
    pub fn location(url: impl Into<String>) -> Self {
        Redirect::new(RedirectTarget::Location(url.into()))
    }

    /// `redirect prefix <prefix>`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        Redirect::new(RedirectTarget::Prefix(prefix.into()))
    }

    /// Sets the status code.
    #[must_use]
    pub fn code(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Leaves the query string out of the location.
    #[must_use]
    pub fn drop_query(mut self) -> Self {
        self.drop_query = true;
        self
    }

    /// Refuses a target that could end the `Location` line (CR, LF or another control byte).
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let (RedirectTarget::Scheme(t) | RedirectTarget::Location(t) | RedirectTarget::Prefix(t)) =
            &self.target;
        if t.is_empty() || !gangway_h1::is_valid_field_value(t.as_bytes()) {
            return Err(Error::InvalidOption(format!(
                "redirect target {t:?} is empty or holds a control character"
            )));
        }
        Ok(())
    }

    /// Builds the `Location` value for a request with this `Host` and path-and-query (as in
    /// origin form, also for an absolute-form target; `None` for `*`, which counts as `/`,
    /// as in HAProxy).
    pub(crate) fn location_for(
        &self,
        host: Option<&str>,
        path_and_query: Option<&str>,
    ) -> Option<String> {
        let target = path_and_query.unwrap_or("/");
        let target = if self.drop_query {
            target.split_once('?').map_or(target, |(p, _)| p)
        } else {
            target
        };
        match &self.target {
            RedirectTarget::Location(url) => Some(url.clone()),
            RedirectTarget::Prefix(p) => {
                let prefix = p.trim_end_matches('/');
                // `//evil.example/x` after an empty prefix (`redirect prefix /`) would be a
                // network-path reference to another host (an open redirect; HAProxy sends it
                // as is): one slash is kept (browsers take `\` for `/` there too).
                if prefix.is_empty() {
                    let rest = target.trim_start_matches(['/', '\\']);
                    return Some(format!("/{rest}"));
                }
                Some(format!("{prefix}{target}"))
            }
            RedirectTarget::Scheme(s) => host.map(|h| format!("{s}://{h}{target}")),
        }
    }
}

/// What an [`HttpRule`] does when its condition holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RuleAction {
    /// `http-request deny [deny_status N]`: answer with this status, no backend involved.
    Deny {
        /// The status to answer (default 403).
        status: u16,
    },
    /// `redirect ...`: answer with a redirect.
    Redirect(Redirect),
    /// `http-request set-header/add-header/del-header`: change the request before it is sent.
    RequestHeader(HeaderAction),
    /// `http-response set-header/add-header/del-header`: change the response before the client
    /// sees it.
    ResponseHeader(HeaderAction),
}

/// A frontend rule: an action applied when its condition holds (`if`), or always without one.
/// Rules run in declaration order before routing; the first deny or redirect answers.
#[derive(Debug, Clone)]
pub struct HttpRule {
    /// The condition (`None`: always).
    pub condition: Option<Condition>,
    /// The action.
    pub action: RuleAction,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (redirect, Host, path and query, the expected `Location`)
    type Case = (
        Redirect,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn redirect_locations() {
        let cases: &[Case] = &[
            (
                Redirect::scheme("https"),
                Some("ex.com"),
                Some("/a?b=1"),
                Some("https://ex.com/a?b=1"),
            ),
            (
                Redirect::scheme("https").drop_query(),
                Some("ex.com"),
                Some("/a?b=1"),
                Some("https://ex.com/a"),
            ),
            (Redirect::scheme("https"), None, Some("/a"), None),
            // `OPTIONS *` (no path): `/`, as in HAProxy.
            (
                Redirect::scheme("https"),
                Some("ex.com"),
                None,
                Some("https://ex.com/"),
            ),
            (Redirect::prefix("/new/"), None, Some("/a"), Some("/new/a")),
            (Redirect::prefix("/new"), None, None, Some("/new/")),
            (
                Redirect::prefix("https://ex.com"),
                None,
                Some("/a?q"),
                Some("https://ex.com/a?q"),
            ),
            // Never a network-path reference to another host.
            (
                Redirect::prefix("/"),
                None,
                Some("//evil.com/x"),
                Some("/evil.com/x"),
            ),
            (
                Redirect::prefix("/"),
                None,
                Some("/\\evil.com/x"),
                Some("/evil.com/x"),
            ),
            (Redirect::prefix("/"), None, Some("/a//b"), Some("/a//b")),
            (
                Redirect::prefix("/p"),
                None,
                Some("//evil.com"),
                Some("/p//evil.com"),
            ),
            (
                Redirect::location("http://x/"),
                None,
                Some("/a"),
                Some("http://x/"),
            ),
        ];
        for (r, host, target, want) in cases {
            assert_eq!(
                r.location_for(*host, *target).as_deref(),
                *want,
                "{r:?} {target:?}"
            );
        }
    }
}
