//! The principal's control of agents through the CLI, as the agent feels it: a frozen
//! agent is denied (`agent_frozen`) until unfrozen; a revoked token is refused (401) for
//! good; `purser agent list` tells which is which.
//!
//! One daemon for the file; every test has agents of its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::sync::LazyLock;

use purser_system_tests::{TestDaemon, assert_error, micros, payment, spent_and_held};
use serde_json::Value;

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
max = "100.00"
on_exceed = "deny"
"#;

static DAEMON: LazyLock<TestDaemon> = LazyLock::new(|| TestDaemon::start(POLICY));

/// The agent's record in `purser agent list --json`.
fn listed(name: &str) -> Value {
    let agents = DAEMON.cli_json(&["agent", "list"]);
    agents
        .as_array()
        .unwrap_or_else(|| panic!("agent list --json is not an array: {agents}"))
        .iter()
        .find(|agent| agent["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not listed: {agents}"))
}

#[test]
fn a_frozen_agent_is_denied_until_unfrozen() {
    let agent = DAEMON.agent("frosty-bot");
    assert_eq!(listed("frosty-bot")["status"], "active");
    DAEMON.cli_ok(&["agent", "freeze", "frosty-bot"]);
    assert_eq!(listed("frosty-bot")["status"], "frozen");

    let denied = agent.decide(&payment("while-frozen", "1.00", "api.example.com"));
    assert_eq!(denied["status"], "denied", "{denied}");
    assert_eq!(denied["reason"]["code"], "agent_frozen", "{denied}");
    assert_eq!(denied["decided_by"], "policy", "{denied}");
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (0, 0),
        "a frozen agent may still read its budget, and spent nothing"
    );

    DAEMON.cli_ok(&["agent", "unfreeze", "frosty-bot"]);
    assert_eq!(listed("frosty-bot")["status"], "active");
    let approved = agent.decide(&payment("thawed", "1.00", "api.example.com"));
    assert_eq!(approved["status"], "approved", "{approved}");
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (micros("1.00"), 0)
    );
}

#[test]
fn a_revoked_token_is_refused_everywhere() {
    let agent = DAEMON.agent("retired-bot");
    let approved = agent.decide(&payment("last-order", "2.00", "api.example.com"));
    let id = approved["id"].as_str().unwrap();
    DAEMON.cli_ok(&["agent", "revoke", "retired-bot"]);
    assert_eq!(listed("retired-bot")["status"], "revoked");

    assert_error(
        &agent.authorize(&payment("after-revoke", "1.00", "api.example.com")),
        401,
        "unauthenticated",
    );
    assert_error(&agent.get(id, 0), 401, "unauthenticated");
    assert_error(&agent.budget(), 401, "unauthenticated");
    // Revocation is for good: unfreezing does not bring the token back.
    let _ = DAEMON.cli(&["agent", "unfreeze", "retired-bot"]);
    assert_error(&agent.budget(), 401, "unauthenticated");
}

#[test]
fn tokens_are_shown_once_and_names_are_unique() {
    let first = DAEMON.add_agent("unique-bot");
    assert!(
        first.len() >= 20,
        "a token is long enough to be secret: {first}"
    );
    let again = DAEMON.cli(&["agent", "add", "unique-bot"]);
    assert_ne!(again.status.code(), Some(0), "{again:?}");
    let listing = DAEMON.cli_ok(&["--json", "agent", "list"]);
    assert!(!listing.contains(&first), "agent list never shows a token");
    let other = DAEMON.add_agent("unique-bot-2");
    assert_ne!(first, other);
}

#[test]
fn freezing_or_revoking_an_agent_cancels_its_pending_requests() {
    for (name, change) in [
        ("freeze-pending-bot", "freeze"),
        ("revoke-pending-bot", "revoke"),
    ] {
        let agent = DAEMON.agent(name);
        let pending = agent.decide(&payment("asks-first", "30.00", "api.example.com"));
        assert_eq!(pending["status"], "pending", "{pending}");
        let id = pending["id"].as_str().unwrap();
        DAEMON.cli_ok(&["agent", change, name]);
        // The change cancels what the agent was waiting for, in the same transaction:
        // it leaves the principal's queue and can no longer be approved.
        let queue: Value = serde_json::from_str(&DAEMON.cli_ok(&["--json", "approvals"])).unwrap();
        assert!(
            !queue.as_array().unwrap().iter().any(|a| a["id"] == id),
            "{change}: still waiting: {queue}"
        );
        let approve = DAEMON.cli(&["--json", "approve", id]);
        assert_ne!(approve.status.code(), Some(0), "{change}: {approve:?}");
        if change == "freeze" {
            let (code, seen) = agent.get(id, 0);
            assert_eq!(code, 200, "{change}: {seen}");
            assert_eq!(seen["status"], "cancelled", "{change}: {seen}");
            assert_eq!(
                seen["reason"]["code"], "denied_by_principal",
                "{change}: {seen}"
            );
        }
    }
}
