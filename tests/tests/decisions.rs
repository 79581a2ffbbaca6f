//! Policy decisions over real HTTP: the approve path with the contract's JSON shape, and
//! every deny reason the policy alone can give (agent-api.md §1 "Reason codes"). Each
//! denial also holds nothing: the agent's budget is unchanged.
//!
//! One daemon for the file; every test uses agents of its own, so they run in parallel.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::sync::LazyLock;

use purser_system_tests::{
    Agent, TestDaemon, assert_error, assert_rfc3339, hours_excluding_now, micros, payment,
    reason_codes, spent_and_held,
};
use serde_json::json;

/// Default profile: USD only, software/cloud, card/stripe, no casinos, 100 per
/// transaction, 60 a day (deny), ask above 25. `metered`: 2 payments an hour.
/// `after-hours`: open only in an hour far from now.
fn policy() -> String {
    format!(
        r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = {{ USD = "25.00" }}
allowed_categories = ["software", "cloud"]
blocked_merchants = ["*casino*"]
allowed_rails = ["card", "stripe"]

[[profiles.default.limit]]
currency = "USD"
window = "transaction"
max = "100.00"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "60.00"
on_exceed = "deny"

[profiles.metered]
currencies = ["USD"]
velocity = {{ count = 2, window = "1h" }}

[profiles.after-hours]
currencies = ["USD"]
hours = {hours}

[agents]
velocity-bot = "metered"
schedule-bot = "after-hours"
"#,
        hours = hours_excluding_now()
    )
}

static DAEMON: LazyLock<TestDaemon> = LazyLock::new(|| TestDaemon::start(&policy()));

fn agent(name: &str) -> Agent {
    DAEMON.agent(name)
}

/// Asserts `body` is denied by the policy with `code` first, and that nothing was held.
fn assert_denied(agent: &Agent, body: &serde_json::Value, code: &str) -> serde_json::Value {
    let before = agent.budget_ok();
    let decision = agent.decide(body);
    assert_eq!(decision["status"], "denied", "{decision}");
    assert_eq!(decision["reason"]["code"], code, "{decision}");
    assert!(
        !decision["reason"]["message"].as_str().unwrap().is_empty(),
        "a reason explains itself: {decision}"
    );
    assert!(
        reason_codes(&decision).contains(&code.to_owned()),
        "{decision}"
    );
    assert_eq!(decision["decided_by"], "policy", "{decision}");
    assert_eq!(
        agent.budget_ok(),
        before,
        "a denial spends and holds nothing"
    );
    decision
}

#[test]
fn within_policy_is_approved_with_the_contracts_shape() {
    let agent = agent("buyer");
    let (status, decision) = agent.authorize(&payment("order-1", "12.50", "api.example.com"));
    assert_eq!(status, 200, "{decision}");
    let id = decision["id"].as_str().expect("an id");
    assert!(id.starts_with("auth_"), "{decision}");
    assert_eq!(decision["request_id"], "order-1");
    assert_eq!(decision["agent"], "buyer");
    assert_eq!(decision["status"], "approved");
    assert_eq!(
        decision["amount"], "12.50",
        "the amount comes back as the exact string"
    );
    assert_eq!(decision["currency"], "USD");
    assert_eq!(decision["merchant"], "api.example.com");
    assert_eq!(decision["reason"]["code"], "within_policy", "{decision}");
    assert!(decision["reason"]["message"].is_string(), "{decision}");
    assert_eq!(reason_codes(&decision), ["within_policy"]);
    assert_eq!(decision["decided_by"], "policy");
    assert!(
        decision["expires_at"].is_null(),
        "auto capture has no hold to lapse: {decision}"
    );
    assert_rfc3339(&decision["created_at"]);
    assert_rfc3339(&decision["decided_at"]);

    // The decision can be read back, unchanged.
    let (status, read) = agent.get(id, 0);
    assert_eq!(status, 200, "{read}");
    assert_eq!(read, decision);

    // Approved (auto capture) = spent, on every window at once.
    let budget = agent.budget_ok();
    assert_eq!(budget["agent"], "buyer");
    assert_eq!(
        spent_and_held(&budget, "agent", "day", "USD"),
        (micros("12.50"), 0)
    );
    let day = purser_system_tests::budget_line(&budget, "agent", "day", "USD");
    assert_eq!(day["limit"], "60.00");
    assert_eq!(day["remaining"], "47.50");
    assert_eq!(day["on_exceed"], "deny");
}

#[test]
fn an_agent_sees_only_its_own_authorizations() {
    let owner = agent("owner-bot");
    let other = agent("nosy-bot");
    let decision = owner.decide(&payment("mine", "1.00", "api.example.com"));
    let id = decision["id"].as_str().unwrap();
    assert_error(&other.get(id, 0), 404, "not_found");
    assert_error(&other.void(id), 404, "not_found");
    assert_error(&owner.get("auth_does_not_exist", 0), 404, "not_found");
}

#[test]
fn a_foreign_currency_is_denied() {
    let agent = agent("euro-bot");
    let mut body = payment("eur-1", "10.00", "api.example.com");
    body["currency"] = json!("EUR");
    assert_denied(&agent, &body, "currency_not_allowed");
}

#[test]
fn an_unlisted_rail_is_denied() {
    let agent = agent("rail-bot");
    let mut body = payment("x402-1", "10.00", "api.example.com");
    body["rail"] = json!("x402");
    assert_denied(&agent, &body, "rail_not_allowed");
}

#[test]
fn an_unlisted_category_is_denied() {
    let agent = agent("category-bot");
    let mut body = payment("travel-1", "10.00", "api.example.com");
    body["category"] = json!("travel");
    assert_denied(&agent, &body, "category_not_allowed");
}

#[test]
fn a_blocked_merchant_is_denied_whatever_its_case() {
    let agent = agent("casino-bot");
    assert_denied(
        &agent,
        &payment("bet-1", "5.00", "Royal-CASINO.example"),
        "merchant_blocked",
    );
}

#[test]
fn more_than_the_per_transaction_cap_is_denied() {
    let agent = agent("big-spender");
    // 150 is also above the approval threshold and the daily budget: deny wins, and the
    // cap (rule 5) comes before the budget (rule 7).
    let decision = assert_denied(
        &agent,
        &payment("big-1", "150.00", "api.example.com"),
        "over_transaction_limit",
    );
    let codes = reason_codes(&decision);
    assert!(codes.contains(&"over_budget".to_owned()), "{decision}");
    assert!(
        !codes.contains(&"within_policy".to_owned()),
        "a denial never carries an approve reason: {decision}"
    );
}

#[test]
fn every_rule_that_speaks_is_reported_deny_first() {
    let agent = agent("all-wrong-bot");
    let mut body = payment("wrong-1", "40.00", "cheap-casino.example");
    body["currency"] = json!("EUR");
    body["rail"] = json!("x402");
    body["category"] = json!("travel");
    let decision = assert_denied(&agent, &body, "currency_not_allowed");
    let codes = reason_codes(&decision);
    for code in [
        "currency_not_allowed",
        "rail_not_allowed",
        "category_not_allowed",
        "merchant_blocked",
    ] {
        assert!(
            codes.contains(&code.to_owned()),
            "{code} missing: {decision}"
        );
    }
}

#[test]
fn too_many_payments_in_the_velocity_window_are_denied() {
    let agent = agent("velocity-bot");
    for n in 1..=2 {
        let decision = agent.decide(&payment(&format!("fast-{n}"), "1.00", "api.example.com"));
        assert_eq!(decision["status"], "approved", "payment {n}: {decision}");
    }
    assert_denied(
        &agent,
        &payment("fast-3", "1.00", "api.example.com"),
        "velocity_exceeded",
    );
}

#[test]
fn spending_past_a_deny_budget_is_denied() {
    let agent = agent("budget-bot");
    for n in 1..=3 {
        let decision = agent.decide(&payment(&format!("day-{n}"), "20.00", "api.example.com"));
        assert_eq!(decision["status"], "approved", "payment {n}: {decision}");
    }
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (micros("60.00"), 0)
    );
    assert_denied(
        &agent,
        &payment("day-4", "0.01", "api.example.com"),
        "over_budget",
    );
}

#[test]
fn outside_the_profiles_hours_is_denied() {
    let agent = agent("schedule-bot");
    assert_denied(
        &agent,
        &payment("late-1", "1.00", "api.example.com"),
        "outside_schedule",
    );
}

#[test]
fn an_agent_without_a_policy_entry_gets_the_default_profile() {
    // Not in [agents]: the default profile applies, so 30 (above 25) waits for a human.
    let agent = agent("unlisted-bot");
    let decision = agent.decide(&payment("ask-1", "30.00", "api.example.com"));
    assert_eq!(decision["status"], "pending", "{decision}");
    assert_eq!(
        decision["reason"]["code"], "over_approval_threshold",
        "{decision}"
    );
    assert!(decision["decided_by"].is_null(), "{decision}");
    assert_rfc3339(&decision["expires_at"]);
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (0, 0),
        "a pending request holds nothing until approved"
    );
    // Withdraw it, so nothing waits for the principal.
    let (status, voided) = agent.void(decision["id"].as_str().unwrap());
    assert_eq!(status, 200, "{voided}");
    assert_eq!(voided["status"], "voided", "{voided}");
}
