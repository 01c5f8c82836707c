//! Passive health: what real traffic says about a server (HAProxy's `observe`, `on-error`,
//! `error-limit`).

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// What the gateway saw when it sent real traffic to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrafficOutcome {
    /// The exchange went through (connect and, for layer 7, a non-error status).
    Success,
    /// The connection was refused.
    ConnectRefused,
    /// The connection was not established in time.
    ConnectTimeout,
    /// The server reset or closed the connection before answering.
    Reset,
    /// The server did not answer in time.
    ResponseTimeout,
    /// The server answered with this status.
    Status(u16),
}

impl TrafficOutcome {
    /// Whether this outcome counts as an error when observing at `observe`.
    ///
    /// At layer 7, `5xx` statuses count as errors except `501` and `505`, which say more about
    /// the request than about the server (as in HAProxy).
    pub fn is_error(self, observe: Observe) -> bool {
        match self {
            TrafficOutcome::Success => false,
            TrafficOutcome::ConnectRefused
            | TrafficOutcome::ConnectTimeout
            | TrafficOutcome::Reset
            | TrafficOutcome::ResponseTimeout => true,
            TrafficOutcome::Status(status) => {
                observe == Observe::Layer7
                    && (500..600).contains(&status)
                    && !matches!(status, 501 | 505)
            }
        }
    }
}

/// Which traffic outcomes count as errors (HAProxy's `observe layer4|layer7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Observe {
    /// Only connection problems: refused, timeouts, resets.
    Layer4,
    /// Connection problems and `5xx` answers (except `501`, `505`).
    #[default]
    Layer7,
}

/// What happens when `error-limit` consecutive traffic errors are seen (HAProxy's `on-error`).
///
/// Every mode also brings the next active check forward to `fastinter`; active checks are what
/// bring the server back up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Only check sooner: the next check runs within `fastinter`.
    FastInter,
    /// Count a failed check (the default).
    #[default]
    FailCheck,
    /// Leave the server one failed check away from down, then count a failed check (with
    /// `fall 1` or a server already at its last chance, this marks it down).
    SuddenDeath,
    /// Mark the server down at once.
    MarkDown,
}

impl FromStr for OnError {
    type Err = Error;

    /// Parses HAProxy's spelling: `fastinter`, `fail-check`, `sudden-death`, `mark-down`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fastinter" => Ok(OnError::FastInter),
            "fail-check" => Ok(OnError::FailCheck),
            "sudden-death" => Ok(OnError::SuddenDeath),
            "mark-down" => Ok(OnError::MarkDown),
            other => Err(Error::UnknownOnError(other.to_owned())),
        }
    }
}

impl fmt::Display for OnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnError::FastInter => "fastinter",
            OnError::FailCheck => "fail-check",
            OnError::SuddenDeath => "sudden-death",
            OnError::MarkDown => "mark-down",
        })
    }
}

/// How traffic outcomes act on a server's health.
///
/// ```
/// use gangway_health::{OnError, Observe, PassivePolicy};
///
/// let policy = PassivePolicy::default()
///     .on_error("mark-down".parse().unwrap())
///     .error_limit(5)
///     .observe(Observe::Layer4);
/// assert_eq!(policy.get_on_error(), OnError::MarkDown);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassivePolicy {
    observe: Observe,
    on_error: OnError,
    error_limit: u32,
}

impl Default for PassivePolicy {
    /// HAProxy's defaults: `observe layer7`, `on-error fail-check`, `error-limit 10`.
    fn default() -> Self {
        PassivePolicy {
            observe: Observe::Layer7,
            on_error: OnError::FailCheck,
            error_limit: 10,
        }
    }
}

impl PassivePolicy {
    /// Sets which outcomes count as errors.
    pub fn observe(mut self, observe: Observe) -> Self {
        self.observe = observe;
        self
    }

    /// Sets the action taken at the error limit.
    pub fn on_error(mut self, on_error: OnError) -> Self {
        self.on_error = on_error;
        self
    }

    /// Sets how many consecutive errors trigger the action (at least 1).
    pub fn error_limit(mut self, limit: u32) -> Self {
        self.error_limit = limit.max(1);
        self
    }

    /// Which outcomes count as errors.
    pub fn get_observe(&self) -> Observe {
        self.observe
    }

    /// The action taken at the error limit.
    pub fn get_on_error(&self) -> OnError {
        self.on_error
    }

    /// Consecutive errors that trigger the action.
    pub fn get_error_limit(&self) -> u32 {
        self.error_limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_classification_table() {
        use TrafficOutcome::*;
        let cases = [
            (Success, false, false),
            (ConnectRefused, true, true),
            (ConnectTimeout, true, true),
            (Reset, true, true),
            (ResponseTimeout, true, true),
            (Status(200), false, false),
            (Status(404), false, false),
            (Status(500), false, true),
            (Status(501), false, false),
            (Status(502), false, true),
            (Status(503), false, true),
            (Status(504), false, true),
            (Status(505), false, false),
            (Status(599), false, true),
        ];
        for (outcome, l4, l7) in cases {
            assert_eq!(outcome.is_error(Observe::Layer4), l4, "{outcome:?} layer4");
            assert_eq!(outcome.is_error(Observe::Layer7), l7, "{outcome:?} layer7");
        }
    }

    #[test]
    fn on_error_round_trips() {
        for mode in [
            OnError::FastInter,
            OnError::FailCheck,
            OnError::SuddenDeath,
            OnError::MarkDown,
        ] {
            assert_eq!(mode.to_string().parse::<OnError>().unwrap(), mode);
        }
        let err = "explode".parse::<OnError>().unwrap_err();
        assert!(err.to_string().contains("explode"));
    }
}
