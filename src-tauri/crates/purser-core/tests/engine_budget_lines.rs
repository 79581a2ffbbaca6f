//! `budget_lines`: what `GET /v1/budget` shows an agent, one line per limit that applies
//! to it, counted exactly as the engine counts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a broken fixture must fail loudly"
)]

mod support;

use chrono::Duration;
use chrono_tz::Tz;
use purser_core::engine::{BudgetLine, BudgetLineScope, budget_lines};
use purser_core::policy::{OnExceed, Policy};
use purser_core::{Amount, CaptureMode, Timestamp, Window};
use support::*;

/// Wednesday 2024-06-05 12:00 in New York (16:00 UTC).
fn now() -> Timestamp {
    at("2024-06-05T16:00:00Z")
}

fn policy() -> Policy {
    let mut profile = usd_profile();
    profile.limits = vec![
        limit("USD", "transaction", "25.00", OnExceed::Deny),
        limit("USD", "day", "100.00", OnExceed::Ask),
        limit("USD", "session", "30.00", OnExceed::Deny),
        limit("EUR", "total", "10.00", OnExceed::Deny),
    ];
    let mut policy = policy_with(Tz::America__New_York, profile);
    policy.limits = vec![limit("USD", "month", "500.00", OnExceed::Deny)];
    policy
}

fn ledger() -> VecLedger {
    let mut ledger = VecLedger::default();
    // Yesterday (local) for bot, today for bot (one of them held, in session s1), and
    // another agent this month.
    ledger.spend("bot", "40.00", "USD", at("2024-06-05T03:59:59Z"));
    ledger.spend("bot", "20.00", "USD", at("2024-06-05T04:00:00Z"));
    let hold = purser_core::AuthorizationRequest {
        capture: CaptureMode::Manual,
        session_id: Some(session("s1")),
        ..payment("15.00")
    };
    ledger.record(&hold, now() - Duration::hours(1));
    ledger.spend("other", "300.00", "USD", at("2024-06-01T04:00:00Z"));
    ledger.spend("other", "999.00", "USD", at("2024-06-01T03:59:59Z"));
    ledger.spend("bot", "12.00", "EUR", at("2020-01-01T00:00:00Z"));
    ledger
}

#[expect(
    clippy::too_many_arguments,
    reason = "one argument per column of the expected table"
)]
fn line(
    scope: BudgetLineScope,
    code: &str,
    window: Window,
    limit: &str,
    on_exceed: OnExceed,
    spent: &str,
    held: &str,
    remaining: &str,
    window_start: Option<&str>,
) -> BudgetLine {
    BudgetLine {
        scope,
        currency: currency(code),
        window,
        limit: money(limit),
        on_exceed,
        spent: money(spent),
        held: money(held),
        remaining: money(remaining),
        window_start: window_start.map(at),
    }
}

#[test]
fn one_line_per_applicable_limit_shared_first() {
    use BudgetLineScope::*;
    let lines = budget_lines(
        &policy(),
        &agent("bot"),
        Some(&session("s1")),
        &ledger(),
        now(),
    );
    assert_eq!(
        lines,
        vec![
            // June in New York began 2024-06-01 00:00 EDT; 40+20+15+300 counted, not 999.
            line(
                Shared,
                "USD",
                Window::Month,
                "500.00",
                OnExceed::Deny,
                "360.00",
                "15.00",
                "125.00",
                Some("2024-06-01T04:00:00Z")
            ),
            line(
                Agent,
                "USD",
                Window::Transaction,
                "25.00",
                OnExceed::Deny,
                "0",
                "0",
                "25.00",
                None
            ),
            // Today began at 04:00 UTC: yesterday's 40.00 is out.
            line(
                Agent,
                "USD",
                Window::Day,
                "100.00",
                OnExceed::Ask,
                "20.00",
                "15.00",
                "65.00",
                Some("2024-06-05T04:00:00Z")
            ),
            line(
                Session,
                "USD",
                Window::Session,
                "30.00",
                OnExceed::Deny,
                "0",
                "15.00",
                "15.00",
                None
            ),
            // Over its limit: nothing remains, never a negative amount.
            line(
                Agent,
                "EUR",
                Window::Total,
                "10.00",
                OnExceed::Deny,
                "12.00",
                "0",
                "0",
                None
            ),
        ]
    );
}

#[test]
fn session_lines_count_only_the_given_session() {
    let no_session = budget_lines(&policy(), &agent("bot"), None, &ledger(), now());
    let session_line = no_session
        .iter()
        .find(|l| l.window == Window::Session)
        .unwrap();
    assert_eq!(session_line.scope, BudgetLineScope::Session);
    // The session-less entries of bot: 40 + 20 (the 15.00 hold is in s1).
    assert_eq!(
        (session_line.spent, session_line.held),
        (money("60.00"), Amount::ZERO)
    );
    assert_eq!(session_line.remaining, Amount::ZERO);
    let other = budget_lines(
        &policy(),
        &agent("bot"),
        Some(&session("s2")),
        &ledger(),
        now(),
    );
    let session_line = other.iter().find(|l| l.window == Window::Session).unwrap();
    assert_eq!(session_line.remaining, money("30.00"));
}

#[test]
fn agent_lines_count_only_that_agent() {
    let lines = budget_lines(&policy(), &agent("other"), None, &ledger(), now());
    let day = lines.iter().find(|l| l.window == Window::Day).unwrap();
    assert_eq!((day.spent, day.held), (Amount::ZERO, Amount::ZERO));
    let month = lines.iter().find(|l| l.window == Window::Month).unwrap();
    assert_eq!(
        month.remaining,
        money("125.00"),
        "shared lines are the same for everyone"
    );
}

#[test]
fn an_agent_without_a_profile_sees_only_shared_limits() {
    let mut policy = policy();
    let default = policy.profiles.remove(&profile_name("default")).unwrap();
    policy.profiles.insert(profile_name("ops"), default);
    let lines = budget_lines(&policy, &agent("bot"), None, &ledger(), now());
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].scope, BudgetLineScope::Shared);
}

#[test]
fn lines_serialize_for_the_agent_api() {
    let lines = budget_lines(
        &policy(),
        &agent("bot"),
        Some(&session("s1")),
        &ledger(),
        now(),
    );
    let json = serde_json::to_value(&lines[2]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "scope": "agent", "currency": "USD", "window": "day", "limit": "100.00",
            "on_exceed": "ask", "spent": "20.00", "held": "15.00", "remaining": "65.00",
            "window_start": "2024-06-05T04:00:00Z"
        })
    );
    assert_eq!(BudgetLineScope::Session.as_str(), "session");
}
