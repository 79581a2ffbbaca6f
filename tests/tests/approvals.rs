//! The human in the loop, across processes: an agent's request goes pending, the agent
//! long-polls, and the principal answers with the real CLI (`purser approvals`,
//! `approve`, `deny`, standing grants `--for` and `--always`). The long-poll must return
//! the principal's answer promptly, not at the end of its wait.
//!
//! One daemon for the file (approvals do not expire here: `approval_timeout = "10m"`);
//! every test has agents of its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use purser_system_tests::{
    Agent, TestDaemon, assert_error, micros, payment, reason_codes, spent_and_held,
};
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
max = "500.00"
on_exceed = "deny"

# A day budget of 100 that denies, for the re-check at approval time.
[profiles.tight]
currencies = ["USD"]
approve_above = { USD = "25.00" }

[[profiles.tight.limit]]
currency = "USD"
window = "day"
max = "100.00"
on_exceed = "deny"

# Only listed merchants go through alone; past 50 a day, ask.
[profiles.curated]
currencies = ["USD"]
allowed_merchants = ["api.example.com", "*.trusted.example"]

[[profiles.curated.limit]]
currency = "USD"
window = "day"
max = "50.00"
on_exceed = "ask"

[agents]
recheck-bot = "tight"
curated-bot = "curated"
"#;

/// How soon after the principal's answer a long-poll must return.
const PROMPTLY: Duration = Duration::from_secs(5);

static DAEMON: LazyLock<TestDaemon> = LazyLock::new(|| TestDaemon::start(POLICY));

fn agent(name: &str) -> Agent {
    DAEMON.agent(name)
}

/// A request above the approval threshold; its pending decision.
fn ask(agent: &Agent, request_id: &str, amount: &str, merchant: &str) -> Value {
    let decision = agent.decide(&payment(request_id, amount, merchant));
    assert_eq!(decision["status"], "pending", "{decision}");
    decision
}

fn spent_today(agent: &Agent) -> (i64, i64) {
    spent_and_held(&agent.budget_ok(), "agent", "day", "USD")
}

#[test]
fn approve_from_the_cli_answers_an_agent_waiting_on_its_post() {
    let agent = agent("waiting-bot");
    let body = payment("gpu-hours", "40.00", "cloud.example.com");
    let waiting = {
        let agent = agent.clone();
        let body = body.clone();
        std::thread::spawn(move || {
            let (status, decision) = agent.authorize_waiting(&body, 30);
            (status, decision, Instant::now())
        })
    };

    let pending = DAEMON.pending_approval("waiting-bot", "gpu-hours");
    assert_eq!(pending["status"], "pending", "{pending}");
    assert_eq!(pending["amount"], "40.00", "{pending}");
    assert_eq!(pending["merchant"], "cloud.example.com", "{pending}");
    assert_eq!(
        pending["reason"]["code"], "over_approval_threshold",
        "{pending}"
    );
    assert_eq!(
        pending["purpose"], body["purpose"],
        "the principal sees the purpose: {pending}"
    );
    assert_eq!(pending["context"], body["context"], "{pending}");
    assert_eq!(spent_today(&agent), (0, 0), "pending holds nothing");

    let id = pending["id"].as_str().unwrap();
    let human = DAEMON.cli_ok(&["approvals"]);
    assert!(human.contains(id), "the table lists {id}:\n{human}");

    let approved_at = Instant::now();
    DAEMON.cli_ok(&["approve", id]);
    let (status, decision, answered_at) = waiting.join().unwrap();
    assert_eq!(status, 200, "{decision}");
    assert!(
        answered_at.duration_since(approved_at) < PROMPTLY,
        "the long-poll returned {:?} after the approval",
        answered_at.duration_since(approved_at)
    );
    assert_eq!(decision["id"], id);
    assert_eq!(decision["status"], "approved", "{decision}");
    assert_eq!(
        decision["reason"]["code"], "approved_by_principal",
        "{decision}"
    );
    assert_eq!(decision["decided_by"], "principal", "{decision}");
    assert_eq!(spent_today(&agent), (micros("40.00"), 0));

    // Nothing waits any more, and the same request_id replays the decision.
    assert!(
        !DAEMON.approvals().iter().any(|pending| pending["id"] == id),
        "approved requests leave the inbox"
    );
    let replay = agent.decide(&body);
    assert_eq!(replay["id"], id);
    assert_eq!(replay["status"], "approved");
    assert_eq!(
        spent_today(&agent),
        (micros("40.00"), 0),
        "a replay never spends twice"
    );

    // An answered request cannot be answered again: exit 1, one line on stderr.
    let again = DAEMON.cli(&["approve", id]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.starts_with("purser: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn approve_from_the_cli_wakes_a_get_long_poll() {
    let agent = agent("polling-bot");
    let pending = ask(&agent, "seats", "30.00", "saas.example.com");
    let id = pending["id"].as_str().unwrap().to_owned();
    let waiting = {
        let agent = agent.clone();
        let id = id.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let answer = agent.get(&id, 30);
            (answer, started.elapsed())
        })
    };
    // Let the long-poll start waiting before the principal answers.
    std::thread::sleep(Duration::from_millis(300));
    let approved = DAEMON.cli_json(&["approve", &id]);
    assert_eq!(approved["status"], "approved", "{approved}");
    let ((status, decision), waited) = waiting.join().unwrap();
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["status"], "approved", "{decision}");
    assert!(waited < PROMPTLY, "the long-poll waited {waited:?}");
}

#[test]
fn deny_from_the_cli_with_a_reason_reaches_the_agent() {
    let agent = agent("denied-bot");
    let pending = ask(&agent, "yacht", "99.00", "boats.example.com");
    let id = pending["id"].as_str().unwrap().to_owned();
    let waiting = {
        let agent = agent.clone();
        let id = id.clone();
        std::thread::spawn(move || agent.get(&id, 30))
    };
    std::thread::sleep(Duration::from_millis(300));
    DAEMON.cli_ok(&["deny", &id, "--reason", "not in this quarter's plan"]);
    let (status, decision) = waiting.join().unwrap();
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["status"], "denied", "{decision}");
    assert_eq!(
        decision["reason"]["code"], "denied_by_principal",
        "{decision}"
    );
    assert!(
        decision["reason"]["message"]
            .as_str()
            .unwrap()
            .contains("not in this quarter's plan"),
        "the agent hears why: {decision}"
    );
    assert_eq!(decision["decided_by"], "principal", "{decision}");
    assert_eq!(spent_today(&agent), (0, 0), "a denial spends nothing");
    // A denied request cannot be approved afterwards.
    assert_eq!(DAEMON.cli(&["approve", &id]).status.code(), Some(1));
    assert_eq!(spent_today(&agent), (0, 0));
}

#[test]
fn a_standing_grant_for_a_duration_approves_the_same_merchant_up_to_the_amount() {
    let agent = agent("grant-bot");
    let first = ask(&agent, "credits-1", "40.00", "api.example.com");
    let granted = DAEMON.cli_json(&["approve", first["id"].as_str().unwrap(), "--for", "15m"]);
    assert_eq!(granted["status"], "approved", "{granted}");

    // Same merchant (any case), same currency, at most the granted amount: no human.
    for (request_id, amount, merchant) in [
        ("credits-2", "30.00", "api.example.com"),
        ("credits-3", "40.00", "API.Example.com"),
    ] {
        let decision = agent.decide(&payment(request_id, amount, merchant));
        assert_eq!(decision["status"], "approved", "{decision}");
        assert_eq!(decision["reason"]["code"], "standing_grant", "{decision}");
        assert_eq!(decision["decided_by"], "policy", "{decision}");
    }
    assert_eq!(spent_today(&agent), (micros("110.00"), 0));

    // More than the grant, or another merchant: the principal is asked again.
    let above = ask(&agent, "credits-4", "40.01", "api.example.com");
    let elsewhere = ask(&agent, "credits-5", "30.00", "other.example.com");
    assert!(!reason_codes(&above).contains(&"standing_grant".to_owned()));
    // Another agent does not benefit from this agent's grant.
    let stranger = self::agent("grant-stranger");
    let strangers = ask(&stranger, "credits-1", "30.00", "api.example.com");
    for (who, decision) in [(&agent, above), (&agent, elsewhere), (&stranger, strangers)] {
        let (status, _) = who.void(decision["id"].as_str().unwrap());
        assert_eq!(status, 200);
    }
}

#[test]
fn an_always_grant_keeps_approving() {
    let agent = agent("always-bot");
    let first = ask(&agent, "sub-1", "26.00", "saas.example.com");
    DAEMON.cli_ok(&["approve", first["id"].as_str().unwrap(), "--always"]);
    for n in 2..=4 {
        let decision = agent.decide(&payment(&format!("sub-{n}"), "26.00", "saas.example.com"));
        assert_eq!(decision["status"], "approved", "{decision}");
        assert_eq!(decision["reason"]["code"], "standing_grant", "{decision}");
    }
    assert_eq!(spent_today(&agent), (micros("104.00"), 0));
}

#[test]
fn a_grant_never_overrides_a_deny() {
    let agent = agent("grant-budget-bot");
    let first = ask(&agent, "big-1", "200.00", "cloud.example.com");
    DAEMON.cli_ok(&["approve", first["id"].as_str().unwrap(), "--always"]);
    let second = agent.decide(&payment("big-2", "200.00", "cloud.example.com"));
    assert_eq!(second["status"], "approved", "{second}");
    // 400 of 500 spent: a third 200 is over the day's deny budget, grant or not.
    let third = agent.decide(&payment("big-3", "200.00", "cloud.example.com"));
    assert_eq!(third["status"], "denied", "{third}");
    assert_eq!(third["reason"]["code"], "over_budget", "{third}");
    assert_eq!(spent_today(&agent), (micros("400.00"), 0));
}

#[test]
fn an_agent_can_withdraw_its_pending_request() {
    let agent = agent("withdrawing-bot");
    let pending = ask(&agent, "maybe", "50.00", "api.example.com");
    let id = pending["id"].as_str().unwrap();
    let (status, voided) = agent.void(id);
    assert_eq!(status, 200, "{voided}");
    assert_eq!(voided["status"], "voided", "{voided}");
    assert!(!DAEMON.approvals().iter().any(|pending| pending["id"] == id));
    assert_eq!(DAEMON.cli(&["approve", id]).status.code(), Some(1));
    assert_error(&agent.void(id), 409, "invalid_state");
    assert_eq!(spent_today(&agent), (0, 0));
}

#[test]
fn approval_rechecks_the_budget_and_cannot_overspend() {
    let agent = agent("recheck-bot");
    let pending = ask(&agent, "big-ask", "80.00", "api.example.com");
    // While it waits, the agent spends 50 within policy: 80 more would pass 100.
    for n in 1..=2 {
        let decision = agent.decide(&payment(&format!("small-{n}"), "25.00", "api.example.com"));
        assert_eq!(decision["status"], "approved", "{decision}");
    }
    let id = pending["id"].as_str().unwrap();
    let output = DAEMON.cli(&["approve", id]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "an approval the budget refuses is a failure of the thing asked: {output:?}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("over_budget"),
        "the principal hears why: {stderr}"
    );
    let (_, decision) = agent.get(id, 0);
    assert_eq!(decision["status"], "denied", "{decision}");
    assert_eq!(decision["reason"]["code"], "over_budget", "{decision}");
    assert_eq!(decision["decided_by"], "policy", "{decision}");
    assert_eq!(
        spent_today(&agent),
        (micros("50.00"), 0),
        "never past the budget"
    );
}

#[test]
fn unlisted_merchants_and_ask_budgets_wait_for_the_principal() {
    let agent = agent("curated-bot");
    let listed = agent.decide(&payment("listed", "10.00", "api.example.com"));
    assert_eq!(listed["status"], "approved", "{listed}");
    let globbed = agent.decide(&payment("globbed", "10.00", "shop.trusted.example"));
    assert_eq!(globbed["status"], "approved", "{globbed}");

    let unlisted = ask(&agent, "unlisted", "5.00", "new-vendor.example.com");
    assert_eq!(
        unlisted["reason"]["code"], "merchant_not_listed",
        "{unlisted}"
    );
    let over = ask(&agent, "over-day", "40.00", "api.example.com");
    assert_eq!(
        over["reason"]["code"], "over_budget_needs_approval",
        "{over}"
    );
    assert_eq!(spent_today(&agent), (micros("20.00"), 0));

    // The principal may let the budget be exceeded: that is what "ask" means.
    let approved = DAEMON.cli_json(&["approve", over["id"].as_str().unwrap()]);
    assert_eq!(approved["status"], "approved", "{approved}");
    assert_eq!(spent_today(&agent), (micros("60.00"), 0));
    DAEMON.cli_ok(&["deny", unlisted["id"].as_str().unwrap()]);
}

#[test]
fn a_session_grant_covers_only_that_session() {
    let agent = agent("session-bot");
    let in_session = |request_id: &str, session: &str| {
        let mut body = payment(request_id, "30.00", "api.example.com");
        body["session_id"] = serde_json::json!(session);
        body
    };
    let first = agent.decide(&in_session("s-1", "run-7"));
    assert_eq!(first["status"], "pending", "{first}");
    DAEMON.cli_ok(&["approve", first["id"].as_str().unwrap(), "--session"]);
    let same = agent.decide(&in_session("s-2", "run-7"));
    assert_eq!(same["reason"]["code"], "standing_grant", "{same}");
    let other = agent.decide(&in_session("s-3", "run-8"));
    assert_eq!(
        other["status"], "pending",
        "another session asks again: {other}"
    );
    agent.void(other["id"].as_str().unwrap());
}

#[test]
fn answering_an_unknown_id_fails_with_exit_1() {
    for args in [&["approve", "auth_unknown"][..], &["deny", "auth_unknown"]] {
        let output = DAEMON.cli(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("purser: "), "{stderr}");
    }
}
