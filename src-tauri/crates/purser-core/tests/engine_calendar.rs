//! Calendar windows: where the current hour/day/week/month starts in the policy's zone,
//! across DST changes (23- and 25-hour days, midnights that do not exist or happen
//! twice), and a budget that must follow the principal's week, not UTC's.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a broken fixture must fail loudly"
)]

mod support;

use chrono::{Datelike, Duration, NaiveDate, Timelike};
use chrono_tz::Tz;
use proptest::prelude::*;
use purser_core::engine::decide;
use purser_core::policy::OnExceed;
use purser_core::{DecisionStatus, ReasonCode, Timestamp, Window};
use support::*;

fn start(window: Window, now: &str, tz: Tz) -> Timestamp {
    window
        .current_start(at(now), tz)
        .unwrap_or_else(|| panic!("{window} has a start"))
}

/// How long the local day starting at `now`'s day start lasts.
fn day_length(now: &str, tz: Tz) -> Duration {
    let today = start(Window::Day, now, tz);
    // 26 hours after a day starts is always in the next day (days last 23 to 25 hours).
    let tomorrow = Window::Day
        .current_start(today + Duration::hours(26), tz)
        .unwrap();
    tomorrow - today
}

#[test]
fn only_calendar_windows_have_a_start() {
    let now = at("2024-06-03T10:00:00Z");
    for window in [Window::Transaction, Window::Session, Window::Total] {
        assert_eq!(
            window.current_start(now, Tz::Europe__Paris),
            None,
            "{window}"
        );
    }
}

#[test]
fn new_york_days_across_dst() {
    let tz = Tz::America__New_York;
    // Spring forward, 2024-03-10: midnight is EST (UTC-5), the next one EDT (UTC-4).
    assert_eq!(
        start(Window::Day, "2024-03-10T15:00:00Z", tz),
        at("2024-03-10T05:00:00Z")
    );
    assert_eq!(
        start(Window::Day, "2024-03-11T03:59:59Z", tz),
        at("2024-03-10T05:00:00Z")
    );
    assert_eq!(
        start(Window::Day, "2024-03-11T04:00:00Z", tz),
        at("2024-03-11T04:00:00Z")
    );
    assert_eq!(day_length("2024-03-10T15:00:00Z", tz), Duration::hours(23));
    // Fall back, 2024-11-03: a 25-hour day.
    assert_eq!(
        start(Window::Day, "2024-11-03T15:00:00Z", tz),
        at("2024-11-03T04:00:00Z")
    );
    assert_eq!(
        start(Window::Day, "2024-11-04T04:59:59Z", tz),
        at("2024-11-03T04:00:00Z")
    );
    assert_eq!(
        start(Window::Day, "2024-11-04T05:00:00Z", tz),
        at("2024-11-04T05:00:00Z")
    );
    assert_eq!(day_length("2024-11-03T15:00:00Z", tz), Duration::hours(25));
}

#[test]
fn paris_days_across_dst() {
    let tz = Tz::Europe__Paris;
    assert_eq!(
        start(Window::Day, "2024-03-31T12:00:00Z", tz),
        at("2024-03-30T23:00:00Z")
    );
    assert_eq!(day_length("2024-03-31T12:00:00Z", tz), Duration::hours(23));
    assert_eq!(
        start(Window::Day, "2024-10-27T12:00:00Z", tz),
        at("2024-10-26T22:00:00Z")
    );
    assert_eq!(day_length("2024-10-27T12:00:00Z", tz), Duration::hours(25));
    // 00:30 local on 1 April is still 31 March in UTC.
    assert_eq!(
        start(Window::Day, "2024-03-31T22:30:00Z", tz),
        at("2024-03-31T22:00:00Z")
    );
}

#[test]
fn weeks_start_on_monday_local_midnight() {
    let paris = Tz::Europe__Paris;
    // Sunday 2024-03-31 23:00 CEST: the week began Monday 25 March 00:00 CET.
    assert_eq!(
        start(Window::Week, "2024-03-31T21:00:00Z", paris),
        at("2024-03-24T23:00:00Z")
    );
    // Monday 1 April 00:30 CEST: a new week, at local midnight (UTC still says Sunday).
    assert_eq!(
        start(Window::Week, "2024-03-31T22:30:00Z", paris),
        at("2024-03-31T22:00:00Z")
    );
    assert_eq!(
        start(Window::Week, "2024-03-31T22:00:00Z", paris),
        at("2024-03-31T22:00:00Z")
    );
    assert_eq!(
        start(Window::Week, "2024-03-31T21:59:59Z", paris),
        at("2024-03-24T23:00:00Z")
    );
    let new_york = Tz::America__New_York;
    // Week of Monday 2024-11-04 (EST), seen on Sunday 10 November 23:30 EST.
    assert_eq!(
        start(Window::Week, "2024-11-11T04:30:00Z", new_york),
        at("2024-11-04T05:00:00Z")
    );
    // The week of the fall-back Sunday began on Monday 28 October, EDT.
    assert_eq!(
        start(Window::Week, "2024-11-03T20:00:00Z", new_york),
        at("2024-10-28T04:00:00Z")
    );
}

#[test]
fn months_start_on_the_first_local_midnight() {
    assert_eq!(
        start(Window::Month, "2024-10-31T23:30:00Z", Tz::Europe__Paris),
        at("2024-10-31T23:00:00Z")
    );
    assert_eq!(
        start(Window::Month, "2024-10-31T22:59:59Z", Tz::Europe__Paris),
        at("2024-09-30T22:00:00Z")
    );
    assert_eq!(
        start(Window::Month, "2024-03-15T12:00:00Z", Tz::America__New_York),
        at("2024-03-01T05:00:00Z")
    );
    assert_eq!(
        start(Window::Month, "2024-01-01T00:00:00Z", Tz::UTC),
        at("2024-01-01T00:00:00Z")
    );
}

#[test]
fn hours_follow_the_local_clock() {
    let new_york = Tz::America__New_York;
    // 01:00-02:00 happens twice on 2024-11-03: each pass is its own hour.
    assert_eq!(
        start(Window::Hour, "2024-11-03T05:30:00Z", new_york),
        at("2024-11-03T05:00:00Z")
    );
    assert_eq!(
        start(Window::Hour, "2024-11-03T06:30:00Z", new_york),
        at("2024-11-03T06:00:00Z")
    );
    // Spring forward: 03:00 EDT follows 01:59 EST.
    assert_eq!(
        start(Window::Hour, "2024-03-10T07:15:00Z", new_york),
        at("2024-03-10T07:00:00Z")
    );
    // Half-hour zones: 16:15 IST is in the hour that began at 16:00 IST, 10:30 UTC.
    assert_eq!(
        start(Window::Hour, "2024-06-01T10:45:00Z", Tz::Asia__Kolkata),
        at("2024-06-01T10:30:00Z")
    );
}

#[test]
fn a_midnight_that_does_not_exist_starts_the_day_at_the_first_instant_after() {
    // Santiago, 2024-09-08: clocks go from Saturday 24:00 (-04) to Sunday 01:00 (-03).
    let santiago = Tz::America__Santiago;
    assert_eq!(
        start(Window::Day, "2024-09-08T12:00:00Z", santiago),
        at("2024-09-08T04:00:00Z")
    );
    assert_eq!(
        day_length("2024-09-08T12:00:00Z", santiago),
        Duration::hours(23)
    );
    // Havana, 2024-03-10: 00:00 CST becomes 01:00 CDT; that Sunday also starts a week.
    let havana = Tz::America__Havana;
    assert_eq!(
        start(Window::Day, "2024-03-10T12:00:00Z", havana),
        at("2024-03-10T05:00:00Z")
    );
    assert_eq!(
        start(Window::Week, "2024-03-12T12:00:00Z", havana),
        at("2024-03-11T04:00:00Z")
    );
    // Beirut, 2024-03-31: 00:00 EET becomes 01:00 EEST.
    assert_eq!(
        start(Window::Day, "2024-03-31T12:00:00Z", Tz::Asia__Beirut),
        at("2024-03-30T22:00:00Z")
    );
}

#[test]
fn a_midnight_that_happens_twice_starts_the_day_at_the_earlier_one() {
    // Havana, 2024-11-03: 01:00 CDT goes back to 00:00 CST, so midnight happens twice.
    let havana = Tz::America__Havana;
    assert_eq!(
        start(Window::Day, "2024-11-03T04:30:00Z", havana),
        at("2024-11-03T04:00:00Z")
    );
    assert_eq!(
        start(Window::Day, "2024-11-03T05:30:00Z", havana),
        at("2024-11-03T04:00:00Z")
    );
    assert_eq!(
        day_length("2024-11-03T12:00:00Z", havana),
        Duration::hours(25)
    );
}

#[test]
fn late_sunday_spend_counts_in_its_week_and_not_the_next() {
    let mut profile = usd_profile();
    profile.limits = vec![limit("USD", "week", "100.00", OnExceed::Deny)];
    let policy = policy_with(Tz::Europe__Paris, profile);
    let mut ledger = VecLedger::default();
    // Sunday 2024-03-31, 23:30 in Paris (CEST).
    ledger.spend("bot", "80.00", "USD", at("2024-03-31T21:30:00Z"));

    let sunday_late = decide(
        &policy,
        &payment("30.00"),
        &ledger,
        at("2024-03-31T21:45:00Z"),
    );
    assert_eq!(sunday_late.status, DecisionStatus::Denied);
    assert_eq!(codes(&sunday_late), vec![ReasonCode::OverBudget]);
    // Monday 00:15 in Paris; in UTC it is still Sunday, so a UTC week would deny it.
    let monday_early = decide(
        &policy,
        &payment("30.00"),
        &ledger,
        at("2024-03-31T22:15:00Z"),
    );
    assert_eq!(
        monday_early.status,
        DecisionStatus::Approved,
        "{monday_early:#?}"
    );
}

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        Tz::UTC,
        Tz::Europe__Paris,
        Tz::America__New_York,
        Tz::America__Santiago,
        Tz::America__Havana,
        Tz::Asia__Beirut,
        Tz::Asia__Kolkata,
        Tz::Australia__Lord_Howe,
        Tz::Pacific__Apia,
    ])
}

/// The first local date of the window containing `date`.
fn first_date(window: Window, date: NaiveDate) -> NaiveDate {
    match window {
        Window::Day => date,
        Window::Week => date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday())),
        Window::Month => date.with_day(1).unwrap(),
        _ => unreachable!(),
    }
}

proptest! {
    /// For any instant and zone, a day/week/month window starts at the first instant
    /// whose local date is the window's first date: at or before now, and one second
    /// earlier is still the previous window.
    #[test]
    fn day_week_month_start_at_the_first_instant_of_their_first_date(
        seconds in 1_000_000_000i64..1_900_000_000,
        tz in zone(),
        window in prop::sample::select(vec![Window::Day, Window::Week, Window::Month]),
    ) {
        let now = chrono::DateTime::from_timestamp(seconds, 0).unwrap();
        let start = window.current_start(now, tz).unwrap();
        let first = first_date(window, now.with_timezone(&tz).date_naive());
        prop_assert!(start <= now, "start {start} after now {now}");
        prop_assert_eq!(start.with_timezone(&tz).date_naive(), first);
        let before = (start - Duration::seconds(1)).with_timezone(&tz).date_naive();
        prop_assert!(before < first, "{} is already on {}", start - Duration::seconds(1), first);
    }

    /// An hour window starts at or before now, at most an hour and a half earlier (Lord
    /// Howe's half-hour shift), at a local time with zero minutes unless the clocks
    /// jumped over that minute.
    #[test]
    fn hours_start_at_or_before_now(seconds in 1_000_000_000i64..1_900_000_000, tz in zone()) {
        let now = chrono::DateTime::from_timestamp(seconds, 0).unwrap();
        let start = Window::Hour.current_start(now, tz).unwrap();
        prop_assert!(start <= now && now - start < Duration::minutes(90), "{start} for {now}");
        let local = start.with_timezone(&tz);
        let jumped = local.minute() != 0
            && (start - Duration::seconds(1)).with_timezone(&tz).naive_local() + Duration::seconds(1)
                != local.naive_local();
        prop_assert!(local.minute() == 0 || jumped, "{local}");
    }
}
