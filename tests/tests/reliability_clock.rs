//! Reliability scenario 6, clock (docs/reliability.md), across restarts: the real daemon
//! is restarted with its wall clock shifted by libfaketime (`LD_PRELOAD`, the time read
//! from `FAKETIME_TIMESTAMP_FILE` at start), backward and then forward across an hour
//! and a day boundary and past an approval's and a hold's deadline. A clock that went
//! back never resets a window early (what was spent "later" still counts), a clock that
//! went forward past a deadline never lets the approval or the hold be used after it,
//! and the audit trail stays intact across times that went backward.
//!
//! The in-process half (every jump through the injected `Clock`, to the microsecond at
//! the boundaries) is `src-tauri/crates/purser-daemon/tests/reliability_clock.rs`.
//! Needs the Debian package `faketime` (CI installs it); without it the test fails
//! saying so.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::path::Path;

use purser_system_tests::reliability::trail::Trail;
use purser_system_tests::reliability::{Row, unix_micros};
use purser_system_tests::{ServeOptions, TestDaemon, hold, payment, spent_and_held};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "30.00" }

[[profiles.default.limit]]
currency = "USD"
window = "hour"
max = "60.00"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "100.00"
on_exceed = "deny"
"#;

fn set_clock(file: &Path, at: &str) {
    std::fs::write(file, format!("@{at}\n")).unwrap();
}

#[test]
fn a_restart_with_the_clock_shifted_resets_no_window_early_and_revives_no_deadline() {
    assert!(
        Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME} is missing: apt-get install faketime (cargo xtask test installs it)"
    );
    let clock_dir = tempfile::tempdir().unwrap();
    let clock = clock_dir.path().join("faketime");
    set_clock(&clock, "2030-01-15 23:50:00");
    let serve = ServeOptions::default()
        .env("LD_PRELOAD", LIBFAKETIME)
        .env("FAKETIME_TIMESTAMP_FILE", clock.to_str().unwrap())
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    let mut daemon = TestDaemon::start_with(serve);
    daemon.apply_policy(POLICY);
    let agent = daemon.agent("timely-bot");
    let token = agent.token().to_owned();
    let mut row = Row::new("6 clock: restarts with a shifted clock");

    // 23:50 on the 15th: 40 waiting for the principal until 00:00 (a pending request holds
    // nothing), then 50.01 spent and 5 held.
    let pending = agent.decide(&payment("ask", "40.00", "api.example.com"));
    assert_eq!(pending["status"], "pending", "{pending}");
    let pending_id = pending["id"].as_str().unwrap().to_owned();
    let deadline = unix_micros(pending["expires_at"].as_str().unwrap());
    for n in 0..2 {
        let spent = agent.decide(&payment(&format!("spend-{n}"), "25.00", "api.example.com"));
        assert_eq!(spent["status"], "approved", "{spent}");
    }
    let spent = agent.decide(&payment("spend-2", "0.01", "api.example.com"));
    assert!(
        spent["created_at"]
            .as_str()
            .unwrap()
            .starts_with("2030-01-15T23:5"),
        "faketime is in effect: {spent}"
    );
    let held = agent.decide(&hold("hold", "5.00", "api.example.com"));

    // Back to 21:00 on the 15th: the hour and the day that hold the spend are "later",
    // and still count: no fresh budget from a clock that went back.
    daemon.stop();
    set_clock(&clock, "2030-01-15 21:00:00");
    daemon.restart_stopped();
    let agent = daemon.agent_with_token("timely-bot", &token);
    let again = agent.decide(&payment("after-back", "20.00", "api.example.com"));
    assert_eq!(
        again["status"], "denied",
        "a clock moved back must not reset the hour: {again}"
    );
    assert_eq!(again["reason"]["code"], "over_budget", "{again}");
    let (_, still) = agent.get(&pending_id, 0);
    assert_eq!(
        still["status"], "pending",
        "before its deadline it still waits: {still}"
    );

    // Forward to 00:25 on the 16th: past the approval's deadline (00:00) but not the
    // hold's (00:20 → lapsed too: 23:50 + 30m = 00:20). The new day and hour are fresh.
    daemon.stop();
    set_clock(&clock, "2030-01-16 00:25:00");
    daemon.restart_stopped();
    let agent = daemon.agent_with_token("timely-bot", &token);
    let refused = daemon.cli(&["approve", &pending_id]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "no approval after its deadline: {refused:?}"
    );
    let (_, expired) = agent.get(&pending_id, 0);
    assert_eq!(expired["status"], "expired", "{expired}");
    assert_eq!(expired["decided_by"], "timeout", "{expired}");
    let (status, capture) = agent.capture(held["id"].as_str().unwrap(), None);
    assert_eq!(status, 409, "a lapsed hold cannot be captured: {capture}");
    let fresh = agent.decide(&payment("new-day", "20.00", "api.example.com"));
    assert_eq!(
        fresh["status"], "approved",
        "the 16th is a new day and hour: {fresh}"
    );
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (20_000_000, 0)
    );

    let trail = Trail::export(&daemon);
    let finals = trail.finals();
    let decided = unix_micros(finals[&pending_id].decided_at.as_deref().unwrap());
    assert!(
        decided >= deadline,
        "expired at {decided}, before its deadline {deadline}"
    );
    let rows = daemon.assert_audit_intact();
    row.figure(
        "restarts",
        "23:50 → 21:00 (back) → 00:25 next day (forward)",
    )
    .figure("windows reset early", 0)
    .figure("approvals after deadline", 0)
    .figure("captures after hold lapsed", 0)
    .figure(
        "audit",
        format!("intact across the backward jump ({rows} rows)"),
    );
    row.report();
}
