//! Approvals reach the principal as desktop notifications: `purser serve --notify` talks
//! to a fake freedesktop notification server on a private session bus
//! (`purser_notify::fake_server`), which records every `Notify`/`CloseNotification` and
//! clicks for the principal (`ActionInvoked`).
//!
//! What is checked is what the principal and the agent see: the notification's words and
//! buttons, Approve/Deny deciding the request (the agent's long-poll returns it), the
//! notification closed when the request is decided anywhere else (CLI, expiry, kill
//! switch), one summary instead of a storm, small amounts muted, the kill switch
//! confirmed, and with no notification server nothing hangs and the request still
//! expires on time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::time::{Duration, Instant};

use purser_notify::fake_server::{FakeNotificationServer, NotifyCall};
use purser_system_tests::{Agent, ServeOptions, TestDaemon, payment, reason_codes};
use serde_json::Value;

/// How long a notification may take to appear (the benchmark measures the real figure).
const SHOWN: Duration = Duration::from_secs(10);

fn policy(approval_timeout: &str) -> String {
    format!(
        r#"
version = 1
timezone = "UTC"
approval_timeout = "{approval_timeout}"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD", "EUR"]
approve_above = {{ USD = "25.00", EUR = "25.00" }}

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "5000.00"
on_exceed = "deny"
"#
    )
}

/// A daemon with notifications on, talking to `bus`.
fn daemon_on(bus: &FakeNotificationServer, approval_timeout: &str, extra: &[&str]) -> TestDaemon {
    let mut serve = ServeOptions::default()
        .arg("--notify")
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address());
    for arg in extra {
        serve = serve.arg(*arg);
    }
    let daemon = TestDaemon::start_with(serve);
    daemon.apply_policy(&policy(approval_timeout));
    daemon
}

fn fake_server() -> FakeNotificationServer {
    FakeNotificationServer::start().expect("start the fake notification server")
}

/// The agent asks for `amount` USD and gets `pending`; the authorization.
fn ask(agent: &Agent, request_id: &str, amount: &str) -> Value {
    let (status, decision) = agent.authorize(&payment(request_id, amount, "api.example.com"));
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["status"], "pending", "{decision}");
    decision
}

fn shown(server: &FakeNotificationServer, summary: &str) -> NotifyCall {
    server.wait_for_summary(summary, SHOWN).unwrap_or_else(|| {
        panic!(
            "no notification {summary:?} within {SHOWN:?}; got {:#?}",
            server.calls()
        )
    })
}

/// The agent's long-poll for `id`, answered in a thread while the test clicks.
fn long_poll(agent: &Agent, id: &str) -> std::thread::JoinHandle<(u16, Value)> {
    let agent = agent.clone();
    let id = id.to_owned();
    std::thread::spawn(move || agent.get(&id, 30))
}

#[test]
fn approve_on_the_notification_approves_and_the_waiting_agent_gets_it() {
    let server = fake_server();
    let daemon = daemon_on(&server, "10m", &[]);
    let agent = daemon.agent("research-bot");
    let asked = ask(&agent, "n-approve", "42.00");
    let id = asked["id"].as_str().unwrap();

    let call = shown(&server, "research-bot wants 42.00 USD at api.example.com");
    assert_eq!(call.app_name, "Purser");
    assert!(
        call.body.contains("system test n-approve: buy API credits"),
        "the purpose is in the body: {}",
        call.body
    );
    assert!(
        call.body.contains("Asked by: ") && call.body.contains("25.00"),
        "the rule that asked is in the body: {}",
        call.body
    );
    let keys: Vec<&str> = call.actions.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["approve", "deny"], "headless: nothing to open");
    assert_eq!(call.expire_timeout, 0, "a prompt stays until answered");

    let waiting = long_poll(&agent, id);
    std::thread::sleep(Duration::from_millis(200));
    server.invoke_action(call.id, "approve").unwrap();
    let (status, decided) = waiting.join().unwrap();
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["status"], "approved", "{decided}");
    assert_eq!(decided["decided_by"], "principal", "{decided}");
    assert_eq!(reason_codes(&decided)[0], "approved_by_principal");
    daemon.assert_audit_intact();
}

#[test]
fn deny_on_the_notification_denies() {
    let server = fake_server();
    let daemon = daemon_on(&server, "10m", &[]);
    let agent = daemon.agent("deny-bot");
    let asked = ask(&agent, "n-deny", "30.00");
    let call = shown(&server, "deny-bot wants 30.00 USD");

    let waiting = long_poll(&agent, asked["id"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    server.invoke_action(call.id, "deny").unwrap();
    let (_, decided) = waiting.join().unwrap();
    assert_eq!(decided["status"], "denied", "{decided}");
    assert_eq!(reason_codes(&decided)[0], "denied_by_principal");
    let audit = daemon.cli_ok(&["audit", "list", "--json"]);
    assert!(
        audit.contains("denied from a desktop notification"),
        "the audit trail says where the denial came from: {audit}"
    );
}

#[test]
fn a_decision_anywhere_else_closes_the_notification() {
    let server = fake_server();
    let daemon = daemon_on(&server, "3s", &[]);
    let agent = daemon.agent("closing-bot");

    // Approved with the CLI.
    let by_cli = ask(&agent, "n-cli", "40.00");
    let call = shown(&server, "closing-bot wants 40.00 USD");
    daemon.cli_ok(&["approve", by_cli["id"].as_str().unwrap()]);
    assert!(
        server.wait_for_closed(call.id, SHOWN),
        "approving with the CLI closes the notification; closed: {:?}",
        server.closed()
    );
    // A click on it now (a server that did not close it in time) changes nothing: the
    // request stays approved once.
    server.invoke_action(call.id, "deny").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (_, after) = agent.get(by_cli["id"].as_str().unwrap(), 0);
    assert_eq!(after["status"], "approved", "{after}");

    // Expired: nobody answered within approval_timeout (3 s).
    let expiring = ask(&agent, "n-expire", "41.00");
    let call = shown(&server, "closing-bot wants 41.00 USD");
    assert!(
        server.wait_for_closed(call.id, Duration::from_secs(15)),
        "an expired request's notification is closed"
    );
    let (_, expired) = agent.get(expiring["id"].as_str().unwrap(), 0);
    assert_eq!(expired["status"], "expired", "{expired}");

    // Cancelled by the kill switch, which is confirmed by a notice.
    ask(&agent, "n-kill", "42.00");
    let call = shown(&server, "closing-bot wants 42.00 USD");
    daemon.cli_ok(&["kill", "--reason", "test"]);
    assert!(
        server.wait_for_closed(call.id, SHOWN),
        "the kill switch closes the prompts of the requests it cancelled"
    );
    let notice = shown(&server, "All agent spending stopped");
    assert!(
        notice.body.contains("1 waiting request was cancelled"),
        "{}",
        notice.body
    );
    assert!(notice.actions.is_empty());
    daemon.cli_ok(&["resume"]);
    shown(&server, "Agent spending resumed");
}

#[test]
fn a_storm_becomes_one_summary_and_small_amounts_stay_quiet() {
    let server = fake_server();
    let daemon = daemon_on(&server, "10m", &["--notify-mute-below", "30.00 USD"]);
    let agent = daemon.agent("storm-bot");

    // Muted: below 30.00 USD (but still pending in the inbox). Other currencies are not.
    ask(&agent, "n-small", "26.00");
    let (_, euro) = agent.authorize(&{
        let mut body = payment("n-euro", "26.00", "api.example.com");
        body["currency"] = "EUR".into();
        body
    });
    assert_eq!(euro["status"], "pending", "{euro}");
    shown(&server, "storm-bot wants 26.00 EUR");

    // Six more within a second: two more single ones (three within 10 s), then the summary.
    for i in 0..6 {
        ask(&agent, &format!("n-storm-{i}"), &format!("{}.00", 50 + i));
    }
    let summary = shown(&server, "requests waiting");
    let deadline = Instant::now() + SHOWN;
    let last = loop {
        let summaries: Vec<NotifyCall> = server
            .calls()
            .into_iter()
            .filter(|call| call.summary.ends_with("requests waiting"))
            .collect();
        let last = summaries.last().cloned().unwrap();
        if last.summary == "8 requests waiting" || Instant::now() > deadline {
            assert!(
                summaries[1..]
                    .iter()
                    .all(|call| call.replaces_id == summary.id),
                "each update replaces the one summary in place: {summaries:#?}"
            );
            break last;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        last.summary, "8 requests waiting",
        "all 8 pending are counted"
    );
    let singles: Vec<String> = server
        .calls()
        .into_iter()
        .filter(|call| call.summary.starts_with("storm-bot wants"))
        .map(|call| call.summary)
        .collect();
    assert_eq!(
        singles.len(),
        3,
        "three prompts, then the summary: {singles:#?}"
    );
    assert!(
        !singles.iter().any(|s| s.contains("26.00 USD")),
        "muted: {singles:?}"
    );
    assert_eq!(daemon.approvals().len(), 8, "muted requests still wait");

    // Deciding everything closes the summary.
    daemon.cli_ok(&["kill"]);
    assert!(
        server.wait_for_closed(summary.id, SHOWN),
        "{:?}",
        server.closed()
    );
}

#[test]
fn with_no_notification_server_nothing_hangs_and_requests_still_expire() {
    let bus = FakeNotificationServer::bus_only().unwrap();
    let daemon = daemon_on(&bus, "2s", &[]);
    let agent = daemon.agent("lonely-bot");
    let started = Instant::now();
    let asked = ask(&agent, "n-alone", "40.00");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the request was answered without waiting for a notification"
    );
    let (status, expired) = agent.get(asked["id"].as_str().unwrap(), 20);
    assert_eq!(status, 200);
    assert_eq!(expired["status"], "expired", "{expired}");
    assert_eq!(reason_codes(&expired)[0], "approval_expired");
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "expired on time (2 s timeout), took {:?}",
        started.elapsed()
    );
    daemon.wait_until(SHOWN, "the missing server is logged", || {
        daemon.stderr().contains("no desktop notification")
    });
}

#[test]
fn at_most_ten_prompts_are_on_screen_the_rest_are_counted_in_the_summary() {
    let server = fake_server();
    // No storm rule in the way: only the cap on prompts on screen.
    let daemon = daemon_on(&server, "10m", &["--notify-storm-max", "1000"]);
    let agent = daemon.agent("busy-bot");
    for i in 0..12 {
        ask(&agent, &format!("n-cap-{i}"), &format!("{}.00", 30 + i));
    }
    let summary = shown(&server, "12 requests waiting");
    assert!(summary.actions.is_empty(), "headless: nothing to open");
    let singles = server
        .calls()
        .into_iter()
        .filter(|call| call.summary.starts_with("busy-bot wants"))
        .count();
    assert_eq!(singles, 10, "{:#?}", server.calls());
    // Deciding one closes its prompt and the summary counts what is left.
    let first = shown(&server, "busy-bot wants 30.00 USD");
    server.invoke_action(first.id, "deny").unwrap();
    shown(&server, "11 requests waiting");
}
