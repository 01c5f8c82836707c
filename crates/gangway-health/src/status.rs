//! Expected status codes: lists and ranges such as `200,300-399`.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use crate::Error;

/// A set of HTTP status codes, written as a comma-separated list of codes and inclusive ranges
/// (`200`, `200,204`, `200-299,304`). Spaces around items are allowed.
///
/// ```
/// use gangway_health::StatusSet;
///
/// let set: StatusSet = "200,300-399".parse().unwrap();
/// assert!(set.contains(200) && set.contains(302) && !set.contains(204));
/// assert_eq!(set.to_string(), "200,300-399");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet {
    ranges: Vec<(u16, u16)>,
}

impl Default for StatusSet {
    /// `200-399`: any success or redirect (what HAProxy accepts without `http-check expect`).
    fn default() -> Self {
        StatusSet {
            ranges: vec![(200, 399)],
        }
    }
}

impl StatusSet {
    /// Whether `status` is in the set.
    pub fn contains(&self, status: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(low, high)| (low..=high).contains(&status))
    }
}

impl From<u16> for StatusSet {
    fn from(status: u16) -> Self {
        StatusSet {
            ranges: vec![(status, status)],
        }
    }
}

impl From<RangeInclusive<u16>> for StatusSet {
    fn from(range: RangeInclusive<u16>) -> Self {
        StatusSet {
            ranges: vec![(*range.start(), *range.end())],
        }
    }
}

impl FromStr for StatusSet {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |offset: usize, reason: &'static str| Error::InvalidStatusList {
            input: input.to_owned(),
            offset,
            reason,
        };
        let mut ranges = Vec::new();
        let mut offset = 0;
        for item in input.split(',') {
            let item_offset = offset + (item.len() - item.trim_start().len());
            offset += item.len() + 1;
            let item = item.trim();
            if item.is_empty() {
                return Err(fail(item_offset, "empty item"));
            }
            let (low, high) = match item.split_once('-') {
                Some((low, high)) => (low.trim(), high.trim()),
                None => (item, item),
            };
            let parse = |text: &str| -> Result<u16, Error> {
                match text.parse::<u16>() {
                    Ok(code) if (100..=999).contains(&code) => Ok(code),
                    Ok(_) => Err(fail(
                        item_offset,
                        "status codes are three digits, 100 to 999",
                    )),
                    Err(_) => Err(fail(item_offset, "not a number")),
                }
            };
            let (low, high) = (parse(low)?, parse(high)?);
            if low > high {
                return Err(fail(item_offset, "range start is above its end"));
            }
            ranges.push((low, high));
        }
        Ok(StatusSet { ranges })
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(low, high)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if low == high {
                write!(f, "{low}")?;
            } else {
                write!(f, "{low}-{high}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_table() {
        let ok: &[(&str, &[u16], &[u16])] = &[
            ("200", &[200], &[199, 201, 404]),
            ("200,300-399", &[200, 300, 350, 399], &[201, 299, 400]),
            (" 200 , 204 ", &[200, 204], &[201]),
            ("100-599", &[100, 599], &[600, 99]),
            ("301-301", &[301], &[300, 302]),
        ];
        for (text, inside, outside) in ok {
            let set: StatusSet = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            for s in *inside {
                assert!(set.contains(*s), "{text} should contain {s}");
            }
            for s in *outside {
                assert!(!set.contains(*s), "{text} should not contain {s}");
            }
        }
        let bad: &[(&str, usize)] = &[
            ("", 0),
            ("200,", 4),
            ("abc", 0),
            ("200,99", 4),
            ("200, 1000", 5),
            ("399-300", 0),
            ("200-", 0),
            ("70000", 0),
        ];
        for (text, offset) in bad {
            match text.parse::<StatusSet>() {
                Err(Error::InvalidStatusList { offset: got, .. }) => {
                    assert_eq!(got, *offset, "{text:?}")
                }
                other => panic!("{text:?}: expected an error, got {other:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn matches_a_reference_model(ranges in proptest::collection::vec((100u16..1000, 0u16..50), 1..6), probe in 0u16..1100) {
            let text = ranges
                .iter()
                .map(|&(low, span)| format!("{}-{}", low, (low + span).min(999)))
                .collect::<Vec<_>>()
                .join(",");
            let set: StatusSet = text.parse().unwrap();
            let expected = ranges.iter().any(|&(low, span)| probe >= low && probe <= (low + span).min(999));
            prop_assert_eq!(set.contains(probe), expected);
            let again: StatusSet = set.to_string().parse().unwrap();
            prop_assert_eq!(again, set);
        }
    }
}
