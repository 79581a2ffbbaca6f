//! [`Window`]: the span a budget limit covers, and where the current one starts.
//!
//! `hour`, `day`, `week` (Monday first) and `month` are calendar-aligned in the policy's
//! time zone, so "day" means the principal's day, DST included: a day may last 23 or 25
//! hours, and a midnight that does not exist starts at the first instant after it.
//! `transaction` is a per-request cap, `session` covers one agent session, `total` all time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Window {
    Transaction,
    Session,
    Hour,
    Day,
    Week,
    Month,
    Total,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "window {0:?} is unknown: use one of transaction, session, hour, day, week, month, total"
)]
pub struct WindowError(pub String);

impl Window {
    pub const ALL: [Window; 7] = [
        Window::Transaction,
        Window::Session,
        Window::Hour,
        Window::Day,
        Window::Week,
        Window::Month,
        Window::Total,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Transaction => "transaction",
            Window::Session => "session",
            Window::Hour => "hour",
            Window::Day => "day",
            Window::Week => "week",
            Window::Month => "month",
            Window::Total => "total",
        }
    }
}

impl FromStr for Window {
    type Err = WindowError;

    fn from_str(text: &str) -> Result<Window, WindowError> {
        Window::ALL
            .into_iter()
            .find(|w| w.as_str() == text)
            .ok_or_else(|| WindowError(text.to_owned()))
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Window {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Window, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}
