//! [`LocalClock`]: `now` in the policy's time zone, and where the calendar windows
//! containing it start. The schedule and every budget read the same conversion, done at
//! most once per decision and only if a rule needs it.

use chrono::DateTime;
use chrono_tz::Tz;

use crate::{Timestamp, Window};

/// `now` in the policy's zone and its window starts, each computed at most once.
#[derive(Debug)]
pub(super) struct LocalClock {
    now: Timestamp,
    tz: Tz,
    local: Option<DateTime<Tz>>,
    /// Hour, day, week, month; `None` until computed.
    starts: [Option<Option<Timestamp>>; 4],
}

impl LocalClock {
    pub(super) fn new(now: Timestamp, tz: Tz) -> LocalClock {
        LocalClock {
            now,
            tz,
            local: None,
            starts: [None; 4],
        }
    }

    /// `at` in the policy's zone (converted once when `at` is `now`).
    pub(super) fn local(&mut self, at: Timestamp) -> DateTime<Tz> {
        if at != self.now {
            return at.with_timezone(&self.tz);
        }
        let (now, tz) = (self.now, self.tz);
        *self.local.get_or_insert_with(|| now.with_timezone(&tz))
    }

    /// The `since` of a budget query: the window's start, `None` (all time) for `total`
    /// and `session`.
    pub(super) fn since(&mut self, window: Window) -> Option<Timestamp> {
        let slot = match window {
            Window::Hour => 0,
            Window::Day => 1,
            Window::Week => 2,
            Window::Month => 3,
            Window::Transaction | Window::Session | Window::Total => return None,
        };
        if let Some(start) = self.starts[slot] {
            return start;
        }
        let local = self.local(self.now);
        let start = window.current_start_local(&local);
        self.starts[slot] = Some(start);
        start
    }
}
