//! Money over real HTTP: idempotent retries never spend twice and a reused `request_id`
//! with other parameters is a conflict; manual holds are captured (in part) or voided and
//! the budget follows; usage metering answers cost, session total and what is left.
//!
//! One daemon for the file; every test has agents of its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::sync::LazyLock;

use purser_system_tests::{
    Agent, TestDaemon, assert_error, budget_line, hold, micros, money, payment, spent_and_held,
};
use serde_json::{Value, json};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "50.00" }

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "100.00"
on_exceed = "deny"

[profiles.meter]
currencies = ["USD"]

[[profiles.meter.limit]]
currency = "USD"
window = "day"
max = "100.00"
on_exceed = "deny"

[[profiles.meter.limit]]
currency = "USD"
window = "session"
max = "1.00"
on_exceed = "ask"

[agents]
metered-bot = "meter"
greedy-meter-bot = "meter"
"#;

static DAEMON: LazyLock<TestDaemon> = LazyLock::new(|| TestDaemon::start(POLICY));

fn agent(name: &str) -> Agent {
    DAEMON.agent(name)
}

fn day(agent: &Agent) -> (i64, i64) {
    spent_and_held(&agent.budget_ok(), "agent", "day", "USD")
}

#[test]
fn an_exact_replay_returns_the_same_decision_and_spends_once() {
    let agent = agent("retry-bot");
    let body = payment("order-8812-attempt", "12.50", "api.example.com");
    let first = agent.decide(&body);
    assert_eq!(first["status"], "approved", "{first}");
    for _ in 0..3 {
        let replay = agent.decide(&body);
        assert_eq!(replay, first, "a replay is the same decision");
    }
    assert_eq!(day(&agent), (micros("12.50"), 0), "spent once");
    // The same request_id is another agent's own key: no conflict, its own decision.
    let other = self::agent("retry-bot-2");
    let theirs = other.decide(&body);
    assert_ne!(theirs["id"], first["id"]);
    assert_eq!(day(&agent), (micros("12.50"), 0));
}

#[test]
fn a_reused_request_id_with_other_parameters_is_a_conflict() {
    let agent = agent("conflict-bot");
    let first = agent.decide(&payment("order-1", "10.00", "api.example.com"));
    for changed in [
        payment("order-1", "10.01", "api.example.com"),
        payment("order-1", "10.00", "other.example.com"),
        hold("order-1", "10.00", "api.example.com"),
    ] {
        assert_error(&agent.authorize(&changed), 409, "idempotency_conflict");
    }
    assert_eq!(
        day(&agent),
        (micros("10.00"), 0),
        "a conflict changes nothing"
    );
    let (status, read) = agent.get(first["id"].as_str().unwrap(), 0);
    assert_eq!(status, 200);
    assert_eq!(read, first);
}

#[test]
fn a_manual_hold_is_captured_in_part_and_the_rest_released() {
    let agent = agent("capture-bot");
    let decision = agent.decide(&hold("hotel-1", "30.00", "hotel.example.com"));
    assert_eq!(decision["status"], "approved", "{decision}");
    let id = decision["id"].as_str().unwrap();
    assert_eq!(day(&agent), (0, micros("30.00")), "approved manual = held");

    let (status, captured) = agent.capture(id, Some("12.34"));
    assert_eq!(status, 200, "{captured}");
    assert_eq!(captured["status"], "captured", "{captured}");
    assert_eq!(captured["captured_amount"], "12.34", "{captured}");
    assert_eq!(
        day(&agent),
        (micros("12.34"), 0),
        "captured is spent, the rest released"
    );

    // A hold is captured once.
    assert_error(&agent.capture(id, Some("1.00")), 409, "invalid_state");
    assert_error(&agent.void(id), 409, "invalid_state");
    assert_eq!(day(&agent), (micros("12.34"), 0));
}

#[test]
fn a_capture_takes_at_most_the_hold_and_by_default_all_of_it() {
    let agent = agent("capture-all-bot");
    let id = agent.decide(&hold("car-1", "20.00", "cars.example.com"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(&agent.capture(&id, Some("20.01")), 409, "invalid_state");
    assert_eq!(
        day(&agent),
        (0, micros("20.00")),
        "a refused capture changes nothing"
    );
    let (status, captured) = agent.capture(&id, None);
    assert_eq!(status, 200, "{captured}");
    assert_eq!(captured["captured_amount"], "20.00", "{captured}");
    assert_eq!(day(&agent), (micros("20.00"), 0));
}

#[test]
fn a_void_releases_a_hold() {
    let agent = agent("void-bot");
    let id = agent.decide(&hold("flight-1", "45.00", "air.example.com"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(day(&agent), (0, micros("45.00")));
    let (status, voided) = agent.void(&id);
    assert_eq!(status, 200, "{voided}");
    assert_eq!(voided["status"], "voided", "{voided}");
    assert_eq!(day(&agent), (0, 0));
    assert_error(&agent.void(&id), 409, "invalid_state");
    assert_error(&agent.capture(&id, None), 409, "invalid_state");
}

#[test]
fn an_auto_capture_approval_cannot_be_captured_or_voided() {
    let agent = agent("auto-bot");
    let id = agent.decide(&payment("auto-1", "5.00", "api.example.com"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(&agent.capture(&id, None), 409, "invalid_state");
    assert_error(&agent.void(&id), 409, "invalid_state");
    assert_eq!(day(&agent), (micros("5.00"), 0));
}

fn usage(request_id: &str, units: &str, unit_cost: &str) -> Value {
    json!({
        "request_id": request_id,
        "action": "web_search",
        "units": units,
        "unit_cost": unit_cost,
        "currency": "USD",
        "session_id": "run-42",
    })
}

#[test]
fn usage_is_metered_against_the_budgets() {
    let agent = agent("metered-bot");
    let (status, first) = agent.usage(&usage("search-1", "3", "0.002"));
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "approved", "{first}");
    let metering = &first["metering"];
    assert_eq!(metering["action"], "web_search", "{first}");
    assert_eq!(money(&metering["units_consumed"]), micros("3"), "{first}");
    assert_eq!(money(&metering["unit_cost"]), micros("0.002"), "{first}");
    assert_eq!(metering["cost"], "0.006", "{first}");
    assert_eq!(metering["currency"], "USD", "{first}");
    assert_eq!(metering["session_total"], "0.006", "{first}");
    // The tightest budget left: the session's 1.00.
    assert_eq!(metering["budget_remaining"], "0.994", "{first}");

    let (_, second) = agent.usage(&usage("search-2", "5", "0.01"));
    assert_eq!(second["metering"]["cost"], "0.05", "{second}");
    assert_eq!(second["metering"]["session_total"], "0.056", "{second}");
    assert_eq!(second["metering"]["budget_remaining"], "0.944", "{second}");

    // A replay is not metered twice.
    let (_, replay) = agent.usage(&usage("search-2", "5", "0.01"));
    assert_eq!(replay["metering"]["cost"], "0.05", "{replay}");
    assert_error(
        &agent.usage(&usage("search-2", "6", "0.01")),
        409,
        "idempotency_conflict",
    );

    assert_eq!(day(&agent), (micros("0.056"), 0));
    let budget = agent.budget_ok();
    assert_eq!(
        budget_line(&budget, "agent", "day", "USD")["remaining"],
        "99.944"
    );
}

#[test]
fn usage_past_a_budget_is_denied_never_pending() {
    // The session limit says "ask", but usage is never pending: it is denied.
    let agent = agent("greedy-meter-bot");
    let (status, denied) = agent.usage(&usage("scrape-1", "200", "0.01"));
    assert_eq!(status, 200, "{denied}");
    assert_eq!(denied["status"], "denied", "{denied}");
    assert_eq!(denied["reason"]["code"], "over_budget", "{denied}");
    assert_eq!(day(&agent), (0, 0));
}

#[test]
fn concurrent_requests_never_overspend_a_deny_budget() {
    // 20 agents' worth of concurrency from one agent: 20 × 10.00 against 100.00 a day.
    let agent = agent("stampede-bot");
    let threads: Vec<_> = (0..20)
        .map(|n| {
            let agent = agent.clone();
            std::thread::spawn(move || {
                agent.decide(&payment(
                    &format!("stampede-{n}"),
                    "10.00",
                    "api.example.com",
                ))
            })
        })
        .collect();
    let decisions: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let approved = decisions
        .iter()
        .filter(|d| d["status"] == "approved")
        .count();
    assert_eq!(approved, 10, "exactly the budget's worth is approved");
    for denied in decisions.iter().filter(|d| d["status"] != "approved") {
        assert_eq!(denied["status"], "denied", "{denied}");
        assert_eq!(denied["reason"]["code"], "over_budget", "{denied}");
    }
    assert_eq!(day(&agent), (micros("100.00"), 0));
}
