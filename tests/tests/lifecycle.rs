//! The daemon's life and the principal's durable state: a restart keeps agents, the
//! policy version, authorizations (pending ones too) and budgets; a second `purser serve`
//! on the same data dir is refused naming the running pid; an invalid policy file is
//! refused whole with `file:line:col` and the running policy is untouched; an empty data
//! dir denies everything; the audit trail verifies intact after a bit of everything.
//!
//! Each test has its daemon: they stop, restart or inspect the whole trail.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::process::Stdio;
use std::time::Duration;

use purser_system_tests::daemon::{path_str, purser_command, wait_with_timeout};
use purser_system_tests::{TestDaemon, hold, micros, payment, spent_and_held};
use serde_json::{Value, json};

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
max = "200.00"
on_exceed = "deny"
"#;

fn day(budget: &Value) -> (i64, i64) {
    spent_and_held(budget, "agent", "day", "USD")
}

#[test]
fn a_restart_keeps_agents_policy_authorizations_and_budgets() {
    let mut daemon = TestDaemon::start(POLICY);
    let version = daemon.apply_policy(&POLICY.replace("\"200.00\"", "\"300.00\""));
    let policy_before = daemon.cli_json(&["policy", "show"]);
    assert_eq!(policy_before["version"], version, "{policy_before}");

    let keeper = daemon.agent("keeper-bot");
    let icy = daemon.agent("icy-bot");
    daemon.cli_ok(&["agent", "freeze", "icy-bot"]);
    let approved = keeper.decide(&payment("kept-1", "12.50", "api.example.com"));
    assert_eq!(approved["status"], "approved", "{approved}");
    let pending = keeper.decide(&payment("kept-2", "40.00", "api.example.com"));
    assert_eq!(pending["status"], "pending", "{pending}");
    let held = keeper.decide(&hold("kept-3", "10.00", "api.example.com"));
    assert_eq!(held["status"], "approved", "{held}");
    let budget_before = keeper.budget_ok();
    assert_eq!(day(&budget_before), (micros("12.50"), micros("10.00")));

    daemon.restart();

    // Same policy, same agents (with the same tokens), on the new port.
    let policy_after = daemon.cli_json(&["policy", "show"]);
    assert_eq!(policy_after["version"], version, "{policy_after}");
    assert_eq!(policy_after["text"], policy_before["text"]);
    let keeper = daemon.agent_with_token("keeper-bot", keeper.token());
    let icy = daemon.agent_with_token("icy-bot", icy.token());
    let status = daemon.cli_json(&["status"]);
    assert_eq!(status["policy_version"], version, "{status}");
    assert_eq!(status["agents"], 2, "{status}");
    assert_eq!(status["pending"], 1, "{status}");

    // Same authorizations and budgets.
    for decision in [&approved, &pending, &held] {
        let (status, read) = keeper.get(decision["id"].as_str().unwrap(), 0);
        assert_eq!(status, 200, "{read}");
        assert_eq!(&read, decision, "unchanged by the restart");
    }
    assert_eq!(day(&keeper.budget_ok()), day(&budget_before));
    let limit =
        purser_system_tests::budget_line(&keeper.budget_ok(), "agent", "day", "USD")["limit"]
            .clone();
    assert_eq!(
        limit, "300.00",
        "the applied version governs after the restart"
    );
    // An idempotent replay after the restart still spends nothing.
    let replay = keeper.decide(&payment("kept-1", "12.50", "api.example.com"));
    assert_eq!(replay, approved);

    // The frozen agent is still frozen; the pending request can still be answered and
    // the hold still captured.
    let denied = icy.decide(&payment("icy-1", "1.00", "api.example.com"));
    assert_eq!(denied["reason"]["code"], "agent_frozen", "{denied}");
    let answered = daemon.cli_json(&["approve", pending["id"].as_str().unwrap()]);
    assert_eq!(answered["status"], "approved", "{answered}");
    let (status, captured) = keeper.capture(held["id"].as_str().unwrap(), Some("4.00"));
    assert_eq!(status, 200, "{captured}");
    assert_eq!(day(&keeper.budget_ok()), (micros("56.50"), 0));
    daemon.assert_audit_intact();
}

#[test]
fn a_second_serve_on_the_same_data_dir_exits_2_naming_the_pid() {
    let daemon = TestDaemon::start(POLICY);
    let agent = daemon.agent("solo-bot");
    let mut second = purser_command(daemon.data_dir())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let Some(status) = wait_with_timeout(&mut second, Duration::from_secs(20)) else {
        let _ = second.kill();
        let _ = second.wait();
        panic!("a second purser serve on the same data dir kept running");
    };
    let output = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(&daemon.pid().to_string()),
        "the refusal names the running daemon's pid {}: {stderr}",
        daemon.pid()
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("listening"),
        "the second daemon never listened"
    );
    // The first one is unharmed.
    let decision = agent.decide(&payment("still-here", "1.00", "api.example.com"));
    assert_eq!(decision["status"], "approved", "{decision}");
    daemon.cli_ok(&["status"]);
}

/// `approve_above`'s amount is a number on line 8 (column 25): money is never a number.
const BAD_POLICY: &str = r#"version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = 25 }
"#;

/// Asserts `stderr` holds a `FILE:LINE:COL: message` line for `file` at `line`.
fn assert_points_at(stderr: &str, file: &str, line: usize) {
    let prefix = format!("{file}:{line}:");
    let found = stderr.lines().any(|text| {
        text.strip_prefix(&prefix).is_some_and(|rest| {
            let (column, message) = rest.split_once(": ").unwrap_or(("", ""));
            !column.is_empty() && column.bytes().all(|b| b.is_ascii_digit()) && !message.is_empty()
        })
    });
    assert!(
        found,
        "expected a `{prefix}COL: message` line, got:\n{stderr}"
    );
}

#[test]
fn an_invalid_policy_is_refused_whole_with_file_line_col() {
    let daemon = TestDaemon::start(POLICY);
    let shown_before = daemon.cli_json(&["policy", "show"]);
    let history_before = daemon.cli_json(&["policy", "history"]);
    let agent = daemon.agent("steady-bot");

    let bad = daemon.write_file("bad-policy.toml", BAD_POLICY);
    let bad = path_str(&bad);
    let applied = daemon.cli(&["policy", "apply", bad]);
    assert_eq!(applied.status.code(), Some(2), "{applied:?}");
    assert_points_at(&String::from_utf8_lossy(&applied.stderr), bad, 8);

    // `check` says the same without the daemon.
    let checked = daemon.cli(&["policy", "check", bad]);
    assert_eq!(checked.status.code(), Some(2), "{checked:?}");
    assert_points_at(&String::from_utf8_lossy(&checked.stderr), bad, 8);

    // An unknown key, too, is refused where it is.
    let typo = daemon.write_file(
        "typo-policy.toml",
        &POLICY.replace("hold_ttl = \"30m\"", "hold_ttl = \"30m\"\napprove_abov = 3"),
    );
    let typo = path_str(&typo);
    let applied = daemon.cli(&["policy", "apply", typo]);
    assert_eq!(applied.status.code(), Some(2), "{applied:?}");
    assert_points_at(&String::from_utf8_lossy(&applied.stderr), typo, 6);

    // The running policy is untouched, and still governs.
    assert_eq!(daemon.cli_json(&["policy", "show"]), shown_before);
    assert_eq!(daemon.cli_json(&["policy", "history"]), history_before);
    let decision = agent.decide(&payment("steady-1", "30.00", "api.example.com"));
    assert_eq!(
        decision["status"], "pending",
        "threshold 25 still applies: {decision}"
    );

    // A missing file is an input error too.
    let missing = daemon.cli(&["policy", "apply", "/nonexistent/policy.toml"]);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
}

#[test]
fn an_empty_data_dir_denies_everything_until_a_policy_is_applied() {
    let daemon = TestDaemon::start_without_policy();
    let agent = daemon.agent("early-bot");
    let denied = agent.decide(&payment("too-early", "1.00", "api.example.com"));
    assert_eq!(denied["status"], "denied", "{denied}");
    let version = daemon.apply_policy(POLICY);
    let approved = agent.decide(&payment("in-time", "1.00", "api.example.com"));
    assert_eq!(approved["status"], "approved", "{approved}");
    let history = daemon.cli_json(&["policy", "history"]);
    assert_eq!(history[0]["version"], version, "newest first: {history}");
}

#[test]
fn the_audit_trail_is_intact_after_a_bit_of_everything() {
    let daemon = TestDaemon::start(POLICY);
    let agent = daemon.agent("busy-bot");
    let approved = agent.decide(&payment("a-1", "5.00", "api.example.com"));
    let to_deny = agent.decide(&payment("a-2", "30.00", "api.example.com"));
    daemon.cli_ok(&["deny", to_deny["id"].as_str().unwrap(), "--reason", "no"]);
    let to_approve = agent.decide(&payment("a-3", "30.00", "api.example.com"));
    daemon.cli_ok(&["approve", to_approve["id"].as_str().unwrap(), "--for", "1h"]);
    let held = agent.decide(&hold("a-4", "10.00", "api.example.com"));
    agent.capture(held["id"].as_str().unwrap(), Some("3.00"));
    let voided = agent.decide(&hold("a-5", "10.00", "api.example.com"));
    agent.void(voided["id"].as_str().unwrap());
    agent.usage(
        &json!({"request_id": "a-6", "action": "web_search", "units": "2",
        "unit_cost": "0.01", "currency": "USD"}),
    );
    daemon.cli_ok(&["agent", "freeze", "busy-bot"]);
    agent.decide(&payment("a-7", "1.00", "api.example.com"));
    daemon.cli_ok(&["agent", "unfreeze", "busy-bot"]);
    daemon.cli_ok(&["kill", "--reason", "drill"]);
    daemon.cli_ok(&["resume"]);
    daemon.apply_policy(POLICY);

    // The decision the agent heard is in the trail.
    let audit = daemon.cli_json(&["audit", "list", "--agent", "busy-bot"]);
    let entries = audit["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|entry| entry["authorization_id"] == approved["id"] && entry["kind"] == "request"),
        "{audit}"
    );
    let all = daemon.cli_json(&["audit", "list", "--limit", "1000"]);
    let kinds: Vec<&str> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "request",
        "usage",
        "approval",
        "denial",
        "capture",
        "void",
        "kill",
        "resume",
        "policy_change",
        "agent_change",
    ] {
        assert!(kinds.contains(&kind), "no {kind} entry: {kinds:?}");
    }

    let rows = daemon.assert_audit_intact();
    let export = daemon.cli_ok(&["audit", "export", "--format", "jsonl"]);
    let lines: Vec<Value> = export
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, rows, "the export is the whole trail");
    let seqs: Vec<u64> = lines
        .iter()
        .map(|line| line["seq"].as_u64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|pair| pair[0] < pair[1]),
        "oldest first: {seqs:?}"
    );
    let csv = daemon.cli_ok(&["audit", "export", "--format", "csv"]);
    assert_eq!(
        csv.lines().count() as u64,
        rows + 1,
        "a header and one line per row"
    );
}

#[test]
fn a_crash_loses_nothing_that_was_answered() {
    let mut daemon = TestDaemon::start(POLICY);
    let agent = daemon.agent("crashy-bot");
    let approved = agent.decide(&payment("crash-1", "7.00", "api.example.com"));
    assert_eq!(approved["status"], "approved", "{approved}");
    let held = agent.decide(&hold("crash-2", "3.00", "api.example.com"));
    // SIGKILL right after the answers: no shutdown, no flush. What the agent heard must
    // be on disk, and the stale lock and socket must not block the next start.
    daemon.crash_and_restart();
    let agent = daemon.agent_with_token("crashy-bot", agent.token());
    for decision in [&approved, &held] {
        let (status, read) = agent.get(decision["id"].as_str().unwrap(), 0);
        assert_eq!(status, 200, "{read}");
        assert_eq!(&read, decision);
    }
    assert_eq!(day(&agent.budget_ok()), (micros("7.00"), micros("3.00")));
    let replay = agent.decide(&payment("crash-1", "7.00", "api.example.com"));
    assert_eq!(replay, approved, "the idempotency key survived the crash");
    assert_eq!(day(&agent.budget_ok()), (micros("7.00"), micros("3.00")));
    daemon.assert_audit_intact();
}

#[test]
fn the_data_dir_and_admin_socket_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let daemon = TestDaemon::start_without_policy();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(daemon.data_dir()), 0o700, "data dir");
    assert_eq!(
        mode(&daemon.data_dir().join("admin.sock")),
        0o600,
        "admin socket"
    );
}

#[test]
fn a_graceful_stop_releases_waiting_agents() {
    let mut daemon = TestDaemon::start(POLICY);
    let agent = daemon.agent("patient-bot");
    let pending = agent.decide(&payment("stop-1", "40.00", "api.example.com"));
    assert_eq!(pending["status"], "pending", "{pending}");
    let waiting = {
        let agent = agent.clone();
        let id = pending["id"].as_str().unwrap().to_owned();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let response = agent.send(
                &agent
                    .request("GET", &format!("/v1/authorizations/{id}?wait=60"))
                    .timeout(Duration::from_secs(70)),
            );
            (response, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let status = daemon.stop();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
    let (response, waited) = waiting.join().unwrap();
    assert!(
        waited < Duration::from_secs(15),
        "the long-poll was released by the shutdown, not by its 60 s wait ({waited:?})"
    );
    assert_eq!(response.status, 200, "released with the current state");
    assert_eq!(response.json()["status"], "pending", "still undecided");
    // Nothing the stop did decided the request.
    daemon.restart_stopped();
    let agent = daemon.agent_with_token("patient-bot", agent.token());
    let (_, read) = agent.get(pending["id"].as_str().unwrap(), 0);
    assert_eq!(read["status"], "pending", "{read}");
}
