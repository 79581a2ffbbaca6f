//! Deadlines kept by the running daemon, with the short timeouts of this file's policy:
//! an unanswered approval expires (fail closed: `expired`, `approval_expired`, decided by
//! `timeout`) and wakes the waiting agent; an uncaptured manual hold lapses and its money
//! is released.
//!
//! One daemon for the file (`approval_timeout = "2s"`, `hold_ttl = "2s"`); nothing here
//! approves anything by hand, so the short timeouts cannot race a principal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use purser_system_tests::{TestDaemon, assert_error, hold, micros, payment, spent_and_held};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "2s"
hold_ttl = "2s"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "100.00"
on_exceed = "deny"
"#;

static DAEMON: LazyLock<TestDaemon> = LazyLock::new(|| TestDaemon::start(POLICY));

#[test]
fn an_unanswered_approval_expires_and_wakes_the_waiting_agent() {
    let agent = DAEMON.agent("impatient-bot");
    let started = Instant::now();
    let (status, decision) =
        agent.authorize_waiting(&payment("expires-1", "40.00", "api.example.com"), 30);
    let waited = started.elapsed();
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["status"], "expired", "{decision}");
    assert_eq!(decision["reason"]["code"], "approval_expired", "{decision}");
    assert_eq!(decision["decided_by"], "timeout", "{decision}");
    assert!(
        waited >= Duration::from_millis(1_500) && waited < Duration::from_secs(15),
        "expiry after ~2s, found {waited:?}"
    );
    let id = decision["id"].as_str().unwrap();

    // Expired is final: the principal can no longer approve it, nothing was spent.
    assert!(!DAEMON.approvals().iter().any(|pending| pending["id"] == id));
    assert_eq!(DAEMON.cli(&["approve", id]).status.code(), Some(1));
    let (status, read) = agent.get(id, 0);
    assert_eq!(status, 200);
    assert_eq!(read["status"], "expired", "{read}");
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (0, 0)
    );
}

#[test]
fn an_approval_expires_without_anyone_waiting() {
    let agent = DAEMON.agent("fire-and-forget-bot");
    let decision = agent.decide(&payment("expires-2", "30.00", "api.example.com"));
    assert_eq!(decision["status"], "pending", "{decision}");
    let id = decision["id"].as_str().unwrap();
    DAEMON.wait_until(Duration::from_secs(15), "the approval to expire", || {
        agent.get(id, 0).1["status"] == "expired"
    });
    let (_, expired) = agent.get(id, 0);
    assert_eq!(expired["decided_by"], "timeout", "{expired}");
    assert_eq!(expired["reason"]["code"], "approval_expired", "{expired}");
}

#[test]
fn an_uncaptured_hold_lapses_and_releases_its_money() {
    let agent = DAEMON.agent("forgetful-bot");
    let decision = agent.decide(&hold("hold-1", "10.00", "api.example.com"));
    assert_eq!(decision["status"], "approved", "{decision}");
    assert!(
        decision["expires_at"].is_string(),
        "a manual hold says when it lapses: {decision}"
    );
    let id = decision["id"].as_str().unwrap();
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (0, micros("10.00")),
        "approval of a manual request holds, it does not spend"
    );
    DAEMON.wait_until(Duration::from_secs(15), "the hold to lapse", || {
        agent.get(id, 0).1["status"] != "approved"
    });
    let (_, lapsed) = agent.get(id, 0);
    assert_eq!(
        lapsed["status"], "voided",
        "a lapsed hold is released: {lapsed}"
    );
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (0, 0)
    );
    assert_error(&agent.capture(id, None), 409, "invalid_state");
}

#[test]
fn the_audit_trail_records_expiry_and_lapse() {
    let agent = DAEMON.agent("audited-bot");
    let pending = agent.decide(&payment("expires-3", "30.00", "api.example.com"));
    let held = agent.decide(&hold("hold-2", "5.00", "api.example.com"));
    for decision in [&pending, &held] {
        let id = decision["id"].as_str().unwrap();
        DAEMON.wait_until(Duration::from_secs(15), "the deadline to pass", || {
            let status = agent.get(id, 0).1["status"].clone();
            status == "expired" || status == "voided"
        });
    }
    let audit = DAEMON.cli_json(&["audit", "list", "--agent", "audited-bot"]);
    let kinds: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"expiry"), "{audit}");
    assert!(kinds.contains(&"lapse"), "{audit}");
    DAEMON.assert_audit_intact();
}
