//! Rule 3, the schedule: a profile's `hours` say on which weekdays and between which
//! local times (in the policy's zone) its agents may spend. Outside them →
//! `outside_schedule`.
//!
//! Also formats a schedule the way the policy file writes it (`mon-fri 08:00-20:00`) for
//! messages.

use std::fmt::{self, Write as _};

use chrono::{Datelike, Timelike, Weekday};

use super::Subject;
use super::local_time::LocalClock;
use super::verdict::Verdict;
use crate::Timestamp;
use crate::decision::ReasonCode;
use crate::policy::{DaySet, Schedule};

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Denies a request made at `at` outside the profile's hours.
pub(super) fn check(
    subject: &Subject<'_>,
    clock: &mut LocalClock,
    at: Timestamp,
    verdict: &mut Verdict,
) {
    let Some((profile_name, profile)) = subject.profile else {
        return;
    };
    let Some(hours) = profile.hours else { return };
    let tz = subject.policy.timezone;
    let local = clock.local(at);
    let minute = local.hour() * 60 + local.minute();
    if allows(hours, local.weekday(), minute) {
        return;
    }
    verdict.deny(
        ReasonCode::OutsideSchedule,
        format!(
            "outside allowed hours {} {} (it is {} {:02}:{:02} there; profile {profile_name})",
            ScheduleText(hours),
            tz.name(),
            day_name(local.weekday()),
            local.hour(),
            local.minute(),
        ),
    );
}

/// Is `minute` (after local midnight) on `weekday` inside the schedule? `from` is
/// inclusive, `to` exclusive.
fn allows(hours: Schedule, weekday: Weekday, minute: u32) -> bool {
    hours.days.contains(weekday)
        && u32::from(hours.from_minute) <= minute
        && minute < u32::from(hours.to_minute)
}

fn day_name(weekday: Weekday) -> &'static str {
    DAY_NAMES[weekday.num_days_from_monday() as usize]
}

/// `mon-fri 08:00-20:00`, `mon,wed,sat-sun 00:00-24:00`.
struct ScheduleText(Schedule);

impl fmt::Display for ScheduleText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_days(f, self.0.days)?;
        f.write_char(' ')?;
        write_minute(f, self.0.from_minute)?;
        f.write_char('-')?;
        write_minute(f, self.0.to_minute)
    }
}

/// Runs of consecutive days as `first-last`, single days alone, comma-separated.
fn write_days(f: &mut fmt::Formatter<'_>, days: DaySet) -> fmt::Result {
    let mut first = true;
    let mut day = 0;
    while day < 7 {
        if days.0 & (1 << day) == 0 {
            day += 1;
            continue;
        }
        let run_start = day;
        while day + 1 < 7 && days.0 & (1 << (day + 1)) != 0 {
            day += 1;
        }
        if !first {
            f.write_char(',')?;
        }
        first = false;
        f.write_str(DAY_NAMES[run_start])?;
        if day > run_start {
            write!(f, "-{}", DAY_NAMES[day])?;
        }
        day += 1;
    }
    if first {
        f.write_str("no day")?;
    }
    Ok(())
}

fn write_minute(f: &mut fmt::Formatter<'_>, minute: u16) -> fmt::Result {
    write!(f, "{:02}:{:02}", minute / 60, minute % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(days: u8, from_minute: u16, to_minute: u16) -> String {
        ScheduleText(Schedule {
            days: DaySet(days),
            from_minute,
            to_minute,
        })
        .to_string()
    }

    #[test]
    fn formats_like_the_policy_file() {
        assert_eq!(text(0b001_1111, 8 * 60, 20 * 60), "mon-fri 08:00-20:00");
        assert_eq!(text(0b110_0101, 0, 1440), "mon,wed,sat-sun 00:00-24:00");
        assert_eq!(text(0b111_1111, 90, 95), "mon-sun 01:30-01:35");
        assert_eq!(text(0, 0, 60), "no day 00:00-01:00");
    }

    #[test]
    fn from_is_inclusive_and_to_exclusive() {
        let hours = Schedule {
            days: DaySet(0b000_0001),
            from_minute: 480,
            to_minute: 1200,
        };
        assert!(allows(hours, Weekday::Mon, 480));
        assert!(allows(hours, Weekday::Mon, 1199));
        assert!(!allows(hours, Weekday::Mon, 1200));
        assert!(!allows(hours, Weekday::Mon, 479));
        assert!(!allows(hours, Weekday::Tue, 600));
        let all_day = Schedule {
            days: DaySet(0b111_1111),
            from_minute: 0,
            to_minute: 1440,
        };
        assert!(allows(all_day, Weekday::Sun, 1439));
    }
}
