//! HAProxy time values: `500` (milliseconds), `250ms`, `2s`, `1m`, `1h`, `1d`, `100us`.

use std::fmt;
use std::time::Duration;

/// Parses an HAProxy time value; a bare number is milliseconds, as in HAProxy.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(gangway_config::parse_time("2s"), Ok(Duration::from_secs(2)));
/// assert_eq!(gangway_config::parse_time("5000"), Ok(Duration::from_millis(5000)));
/// ```
pub fn parse_time(text: &str) -> Result<Duration, TimeError> {
    let digits_end = text
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    if digits_end == 0 {
        return Err(TimeError::new(text, "expected a number"));
    }
    let value: u64 = text[..digits_end]
        .parse()
        .map_err(|_| TimeError::new(text, "number too large"))?;
    let unit = &text[digits_end..];
    let duration = match unit {
        "" | "ms" => Duration::from_millis(value),
        "us" => Duration::from_micros(value),
        "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        "h" => Duration::from_secs(value.saturating_mul(3600)),
        "d" => Duration::from_secs(value.saturating_mul(86_400)),
        _ => {
            return Err(TimeError::new(
                text,
                "unknown unit (expected us, ms, s, m, h or d; a bare number is milliseconds)",
            ));
        }
    };
    // HAProxy stores timers as 32-bit milliseconds (about 24.8 days).
    if duration > MAX_TIME {
        return Err(TimeError::new(
            text,
            "larger than HAProxy's limit of 2147483647ms",
        ));
    }
    Ok(duration)
}

/// The error for `timeout NAME 0` where the gateway cannot run without a limit
/// (`http-request`, `queue`); HAProxy reads 0 as "no timeout".
pub(crate) fn zero_timeout_refused(name: &str) -> String {
    format!(
        "0 means no timeout in HAProxy, and the gateway cannot wait without limit here: give 'timeout {name}' a time"
    )
}

const MAX_TIME: Duration = Duration::from_millis(i32::MAX as u64);

/// Formats a duration the way HAProxy users write it (`2s`, `500ms`, `1h`).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(gangway_config::format_time(Duration::from_secs(3600)), "1h");
/// assert_eq!(gangway_config::format_time(Duration::from_millis(1500)), "1500ms");
/// ```
pub fn format_time(duration: Duration) -> String {
    let micros = duration.as_micros();
    if !micros.is_multiple_of(1000) {
        return format!("{micros}us");
    }
    let millis = micros / 1000;
    if millis == 0 || !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let secs = millis / 1000;
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// A time value that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError {
    text: String,
    reason: &'static str,
}

impl TimeError {
    fn new(text: &str, reason: &'static str) -> Self {
        Self {
            text: text.to_owned(),
            reason,
        }
    }
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid time '{}': {}", self.text, self.reason)
    }
}

impl std::error::Error for TimeError {}

/// serde for `Option<Duration>` fields: accepts `"2s"`-style strings or integers (milliseconds).
pub(crate) mod opt_serde {
    use super::{format_time, parse_time};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Millis(u64),
        Text(String),
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => serializer.serialize_str(&format_time(*duration)),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let repr = Option::<Repr>::deserialize(deserializer)?;
        match repr {
            None => Ok(None),
            Some(Repr::Millis(ms)) => parse_time(&ms.to_string())
                .map(Some)
                .map_err(serde::de::Error::custom),
            Some(Repr::Text(text)) => parse_time(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_table() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("5000", Some(Duration::from_millis(5000))),
            ("250ms", Some(Duration::from_millis(250))),
            ("100us", Some(Duration::from_micros(100))),
            ("2s", Some(Duration::from_secs(2))),
            ("600s", Some(Duration::from_secs(600))),
            ("1m", Some(Duration::from_secs(60))),
            ("1h", Some(Duration::from_secs(3600))),
            ("1d", Some(Duration::from_secs(86_400))),
            ("", None),
            ("s", None),
            ("2 s", None),
            ("2sec", None),
            ("-1", None),
            ("1.5s", None),
            ("30d", None),
            ("99999999999999999999999", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_time(text).ok(), *expected, "{text:?}");
        }
    }

    #[test]
    fn format_round_trips() {
        for text in ["1h", "2s", "500ms", "1m", "90s", "1d", "100us", "0ms"] {
            let parsed = parse_time(text).unwrap();
            assert_eq!(format_time(parsed), text);
        }
    }
}
