//! [`Window`]: the span a budget limit covers, and where the current one starts.
//!
//! `hour`, `day`, `week` (Monday first) and `month` are calendar-aligned in the policy's
//! time zone, so "day" means the principal's day, DST included: a day may last 23 or 25
//! hours, and a midnight that does not exist starts at the first instant after it.
//! `transaction` is a per-request cap, `session` covers one agent session, `total` all time.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike,
};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Timestamp;

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
#[error("window {0:?} is unknown: use one of transaction, session, hour, day, week, month, total")]
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

    /// Is this an hour/day/week/month window, one that restarts on a calendar boundary?
    pub fn is_calendar(self) -> bool {
        matches!(
            self,
            Window::Hour | Window::Day | Window::Week | Window::Month
        )
    }

    /// Start of the window containing `now` for calendar windows (hour/day/week(Monday)/month),
    /// aligned in `tz`, DST-correct (a local midnight that doesn't exist → first instant after;
    /// ambiguous → the earlier instant). `Total`/`Session`/`Transaction` → None (no start: all
    /// time / not a period).
    ///
    /// An hour that occurs twice (clocks go back) is two windows: the start is the latest
    /// local `HH:00` at or before `now`. Should a boundary fall outside what the calendar
    /// can represent, the answer is `None` (all time), which can only make a budget stricter.
    pub fn current_start(self, now: Timestamp, tz: Tz) -> Option<Timestamp> {
        if !self.is_calendar() {
            return None;
        }
        self.current_start_local(&now.with_timezone(&tz))
    }

    /// [`Window::current_start`] for a `now` already converted to the policy's zone, so
    /// that the engine converts once per decision for all its windows.
    pub(crate) fn current_start_local(self, now: &DateTime<Tz>) -> Option<Timestamp> {
        let tz = now.timezone();
        let local = now.naive_local();
        let today = local.date();
        // The wall-clock time at which the window starts.
        let boundary = match self {
            Window::Hour => today.and_hms_opt(local.hour(), 0, 0)?,
            Window::Day => today.and_time(NaiveTime::MIN),
            Window::Week => today
                .checked_sub_days(Days::new(u64::from(today.weekday().num_days_from_monday())))?
                .and_time(NaiveTime::MIN),
            Window::Month => today.with_day(1)?.and_time(NaiveTime::MIN),
            Window::Transaction | Window::Session | Window::Total => return None,
        };
        // An hour that happens twice is two windows, told apart by the clock's offset.
        let offset_seconds = if self == Window::Hour {
            now.offset().fix().local_minus_utc()
        } else {
            0
        };
        let key = memo::Key {
            tz,
            window: self,
            boundary,
            offset_seconds,
        };
        memo::get_or_insert(key, || match tz.from_local_datetime(&boundary) {
            LocalResult::Ambiguous(_, later) if self == Window::Hour && later <= *now => {
                Some(later.to_utc())
            }
            _ => first_instant_at_or_after(tz, boundary),
        })
    }
}

/// Where a window starts is a pure function of its [`memo::Key`], and a daemon asks for
/// the same few again and again; each thread remembers its last answer per window so a
/// decision does not redo the time zone database searches on every request. It only
/// memoizes: the answer is the same with or without it.
mod memo {
    use std::cell::Cell;

    use chrono::NaiveDateTime;
    use chrono_tz::Tz;

    use super::Window;
    use crate::Timestamp;

    /// Everything a window start depends on.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Key {
        pub(super) tz: Tz,
        pub(super) window: Window,
        /// The local wall-clock time the window starts at.
        pub(super) boundary: NaiveDateTime,
        /// For hours only: the offset in effect at `now` (which pass of a repeated hour).
        pub(super) offset_seconds: i32,
    }

    type Entry = Option<(Key, Option<Timestamp>)>;

    thread_local! {
        /// Hour, day, week, month.
        static LAST: [Cell<Entry>; 4] =
            const { [Cell::new(None), Cell::new(None), Cell::new(None), Cell::new(None)] };
    }

    pub(super) fn get_or_insert(
        key: Key,
        compute: impl FnOnce() -> Option<Timestamp>,
    ) -> Option<Timestamp> {
        let slot = match key.window {
            Window::Hour => 0,
            Window::Day => 1,
            Window::Week => 2,
            _ => 3,
        };
        LAST.with(|last| {
            let cell = &last[slot];
            match cell.get() {
                Some((cached, start)) if cached == key => start,
                _ => {
                    let start = compute();
                    cell.set(Some((key, start)));
                    start
                }
            }
        })
    }
}

/// The first instant whose wall-clock time in `tz` is `local`: the earlier one when the
/// clocks go back over it, and the end of the gap when the clocks jump over it.
fn first_instant_at_or_after(tz: Tz, local: NaiveDateTime) -> Option<Timestamp> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => Some(instant.to_utc()),
        LocalResult::None => GapInfo::new(&local, &tz)?.end.map(|end| end.to_utc()),
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
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn the_memo_tells_zones_and_repeated_hours_apart() {
        let (new_york, paris) = (Tz::America__New_York, Tz::Europe__Paris);
        for _ in 0..2 {
            // 01:30 EDT, then 01:30 EST: the same wall-clock hour, two windows.
            let first = Window::Hour.current_start(at("2024-11-03T05:30:00Z"), new_york);
            let second = Window::Hour.current_start(at("2024-11-03T06:30:00Z"), new_york);
            assert_eq!(first, Some(at("2024-11-03T05:00:00Z")));
            assert_eq!(second, Some(at("2024-11-03T06:00:00Z")));
            // The same local date in two zones.
            let day = at("2024-06-05T12:00:00Z");
            assert_eq!(
                Window::Day.current_start(day, paris),
                Some(at("2024-06-04T22:00:00Z"))
            );
            assert_eq!(
                Window::Day.current_start(day, new_york),
                Some(at("2024-06-05T04:00:00Z"))
            );
        }
    }
}
