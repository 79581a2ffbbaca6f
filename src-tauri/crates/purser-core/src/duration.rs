//! [`PolicyDuration`]: the durations a policy is written in (`"90s"`, `"10m"`,
//! `"1h30m"`, `"7d"`), parsed strictly and formatted back in the same canonical form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A positive whole number of seconds, at most 366 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyDuration {
    seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "duration {0:?} is invalid: write whole numbers with units d, h, m, s in that order, e.g. \"30s\", \"10m\", \"1h30m\", \"7d\" (more than 0, at most 366d)"
)]
pub struct DurationError(pub String);

const UNITS: [(char, u32); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
const MAX_SECONDS: u32 = 366 * 86_400;

impl PolicyDuration {
    /// The default `approval_timeout`.
    pub const TEN_MINUTES: PolicyDuration = PolicyDuration { seconds: 600 };
    /// The default `hold_ttl`.
    pub const THIRTY_MINUTES: PolicyDuration = PolicyDuration { seconds: 1_800 };

    pub fn from_seconds(seconds: u32) -> Option<PolicyDuration> {
        (1..=MAX_SECONDS)
            .contains(&seconds)
            .then_some(PolicyDuration { seconds })
    }

    pub fn seconds(self) -> u32 {
        self.seconds
    }

    pub fn to_chrono(self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.seconds))
    }
}

impl FromStr for PolicyDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<PolicyDuration, DurationError> {
        let error = || DurationError(text.to_owned());
        let mut rest = text;
        let mut total: u64 = 0;
        let mut next_unit = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 9 {
                return Err(error());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| error())?;
            let unit = rest[digits..].chars().next().ok_or_else(error)?;
            let position = UNITS[next_unit..]
                .iter()
                .position(|(u, _)| *u == unit)
                .ok_or_else(error)?;
            let (_, seconds) = UNITS[next_unit + position];
            next_unit += position + 1;
            total = total.saturating_add(number.saturating_mul(u64::from(seconds)));
            rest = &rest[digits + 1..];
        }
        u32::try_from(total)
            .ok()
            .and_then(PolicyDuration::from_seconds)
            .ok_or_else(error)
    }
}

impl fmt::Display for PolicyDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.seconds;
        for (unit, seconds) in UNITS {
            if rest >= seconds {
                write!(f, "{}{unit}", rest / seconds)?;
                rest %= seconds;
            }
        }
        Ok(())
    }
}

impl Serialize for PolicyDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PolicyDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PolicyDuration, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_canonically() {
        for (text, seconds, canonical) in [
            ("30s", 30, "30s"),
            ("10m", 600, "10m"),
            ("1h30m", 5_400, "1h30m"),
            ("90m", 5_400, "1h30m"),
            ("7d", 604_800, "7d"),
            ("1d2h3m4s", 93_784, "1d2h3m4s"),
        ] {
            let duration: PolicyDuration = text.parse().unwrap();
            assert_eq!(duration.seconds(), seconds, "{text}");
            assert_eq!(duration.to_string(), canonical, "{text}");
        }
    }

    #[test]
    fn refuses_bad_durations() {
        for bad in [
            "", "10", "m", "0s", "1m1h", "1h1h", "1.5h", "-1m", "10 m", "1w", "367d", "10M",
        ] {
            assert!(bad.parse::<PolicyDuration>().is_err(), "{bad:?}");
        }
    }
}
