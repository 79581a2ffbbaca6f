//! The emergency stop, end to end (agent-api.md §3 "Kill switch semantics"): when
//! `purser kill` returns, every pending approval is cancelled (and its waiting agent
//! told), every new request and usage is denied, `purser status` shows it, it survives a
//! restart of the daemon, and only `purser resume` lifts it.
//!
//! The kill switch stops every agent, so this file's daemon is its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::time::{Duration, Instant};

use purser_system_tests::{TestDaemon, micros, payment, spent_and_held};
use serde_json::json;

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "500.00"
on_exceed = "deny"
"#;

#[test]
fn kill_cancels_pending_denies_everything_survives_restart_until_resume() {
    let mut daemon = TestDaemon::start(POLICY);
    let agent = daemon.agent("runaway-bot");
    let token = agent.token().to_owned();
    let before = agent.decide(&payment("before-kill", "5.00", "api.example.com"));
    assert_eq!(before["status"], "approved", "{before}");

    let pending = agent.decide(&payment("waits", "40.00", "api.example.com"));
    assert_eq!(pending["status"], "pending", "{pending}");
    let pending_id = pending["id"].as_str().unwrap().to_owned();
    let waiting = {
        let agent = agent.clone();
        let id = pending_id.clone();
        std::thread::spawn(move || (agent.get(&id, 30), Instant::now()))
    };
    std::thread::sleep(Duration::from_millis(300));

    let killed_at = Instant::now();
    let killed = daemon.cli_json(&["kill", "--reason", "runaway loop"]);
    assert_eq!(killed["engaged"], true, "{killed}");
    assert_eq!(killed["cancelled"], 1, "{killed}");

    // The waiting agent hears it at once.
    let ((status, cancelled), answered_at) = waiting.join().unwrap();
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["decided_by"], "kill_switch", "{cancelled}");
    assert_eq!(
        cancelled["reason"]["code"], "kill_switch_engaged",
        "{cancelled}"
    );
    assert!(
        answered_at.duration_since(killed_at) < Duration::from_secs(5),
        "the long-poll returned {:?} after the kill",
        answered_at.duration_since(killed_at)
    );
    assert!(
        daemon.approvals().is_empty(),
        "no approval is left to grant"
    );
    assert_eq!(
        daemon.cli(&["approve", &pending_id]).status.code(),
        Some(1),
        "a cancelled request cannot be approved"
    );

    // Every new request, payment or usage, is denied.
    let denied = agent.decide(&payment("after-kill", "1.00", "api.example.com"));
    assert_eq!(denied["status"], "denied", "{denied}");
    assert_eq!(denied["reason"]["code"], "kill_switch_engaged", "{denied}");
    let (status, usage) = agent.usage(&json!({
        "request_id": "usage-after-kill", "action": "web_search", "units": "1",
        "unit_cost": "0.01", "currency": "USD"
    }));
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["status"], "denied", "{usage}");
    assert_eq!(usage["reason"]["code"], "kill_switch_engaged", "{usage}");
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (micros("5.00"), 0)
    );

    // `purser status` shows it, as JSON and for humans.
    let status = daemon.cli_json(&["status"]);
    assert_eq!(status["kill_switch"]["engaged"], true, "{status}");
    assert_eq!(status["kill_switch"]["reason"], "runaway loop", "{status}");
    assert_eq!(status["pending"], 0, "{status}");
    let human = daemon.cli_ok(&["status"]);
    assert!(human.contains("ENGAGED"), "{human}");

    // It survives a restart.
    daemon.restart();
    let agent = daemon.agent_with_token("runaway-bot", &token);
    let status = daemon.cli_json(&["status"]);
    assert_eq!(
        status["kill_switch"]["engaged"], true,
        "after restart: {status}"
    );
    let denied = agent.decide(&payment("after-restart", "1.00", "api.example.com"));
    assert_eq!(denied["reason"]["code"], "kill_switch_engaged", "{denied}");

    // Only resume lifts it.
    let resumed = daemon.cli_json(&["resume"]);
    assert_eq!(resumed["engaged"], false, "{resumed}");
    assert_eq!(
        daemon.cli_json(&["status"])["kill_switch"]["engaged"],
        false
    );
    let approved = agent.decide(&payment("after-resume", "1.00", "api.example.com"));
    assert_eq!(approved["status"], "approved", "{approved}");
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (micros("6.00"), 0)
    );

    let audit = daemon.cli_json(&["audit", "list"]);
    let kinds: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap())
        .collect();
    for kind in ["kill", "cancel", "resume"] {
        assert!(kinds.contains(&kind), "no {kind} entry in {audit}");
    }
    daemon.assert_audit_intact();
}

#[test]
fn kill_from_the_cli_without_a_daemon_fails_with_exit_1() {
    let mut daemon = TestDaemon::start_without_policy();
    daemon.stop();
    let output = daemon.cli(&["kill"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("purser: "), "{stderr}");
}
