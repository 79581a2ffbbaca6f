//! The principal's live event stream (`purser --json watch` over `GET /admin/events`):
//! what the desktop notifications and console build on. A request that waits for the
//! principal must show up at once, and so must its answer, the kill switch, policy and
//! agent changes; no event ever carries an agent's token.
//!
//! One daemon of its own: the kill switch is part of what is watched.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::time::Duration;

use purser_system_tests::{TestDaemon, Watch, payment};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }
"#;

/// How soon an event must reach the watcher.
const AT_ONCE: Duration = Duration::from_secs(5);

#[test]
fn the_principal_sees_what_happens_as_it_happens() {
    let daemon = TestDaemon::start(POLICY);
    let agent = daemon.agent("watched-bot");
    let watch = Watch::start(daemon.data_dir());
    // The watcher is subscribed once it sees a decision made after it started.
    let mut subscribed = false;
    for n in 0..20 {
        let decision = agent.decide(&payment(&format!("sync-{n}"), "1.00", "api.example.com"));
        if watch.saw(
            "decision",
            decision["id"].as_str().unwrap(),
            Duration::from_millis(500),
        ) {
            subscribed = true;
            break;
        }
    }
    assert!(subscribed, "purser watch never showed a decision");

    let pending = agent.decide(&payment("needs-you", "40.00", "api.example.com"));
    let id = pending["id"].as_str().unwrap();
    let event = watch.expect("pending", id, AT_ONCE);
    assert!(
        event.to_string().contains("40.00"),
        "the principal sees how much: {event}"
    );
    daemon.cli_ok(&["approve", id]);
    watch.expect("approval_decided", id, AT_ONCE);

    daemon.cli_ok(&["kill", "--reason", "drill"]);
    watch.expect("kill_switch", "true", AT_ONCE);
    daemon.cli_ok(&["resume"]);
    watch.expect("kill_switch", "false", AT_ONCE);

    daemon.apply_policy(POLICY);
    watch.expect("policy_applied", "version", AT_ONCE);

    let token = daemon.add_agent("second-bot");
    let added = watch.expect("agent_changed", "second-bot", AT_ONCE);
    assert!(
        !added.to_string().contains(&token),
        "an event carries no token: {added}"
    );
    daemon.cli_ok(&["agent", "freeze", "second-bot"]);
    watch.expect("agent_changed", "frozen", AT_ONCE);
}
