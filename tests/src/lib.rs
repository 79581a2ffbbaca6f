//! The harness of Purser's cross-process system tests: the real `purser serve` binary on
//! a temporary data dir and its own port ([`TestDaemon`]), an agent speaking plain HTTP
//! to it ([`Agent`]), and the principal using the real `purser` CLI
//! ([`TestDaemon::cli`]) and its live event stream ([`Watch`]); and the real desktop app
//! under WebDriver ([`desktop::DesktopApp`]) for the end-to-end tests of the console.
//!
//! The tests themselves are `tests/*.rs`, one file per topic of the contract
//! (agent-api.md, admin-api.md). This crate must not reach into the daemon's crates: what
//! it checks is what an agent, a principal and a script can observe from outside.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness: a failed step is a failed test, with its message"
)]

pub mod agent;
pub mod binary;
pub mod daemon;
pub mod desktop;
pub mod http;
pub mod peers;
pub mod rails;
pub mod reliability;
pub mod watch;

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub use agent::{Agent, budget_line, hold, micros, money, payment, reason_codes, spent_and_held};
pub use daemon::{ServeOptions, TestDaemon};
pub use watch::Watch;

/// Asserts an agent API error: the HTTP status and `{"error": {"code", "message"}}`.
pub fn assert_error(answer: &(u16, Value), status: u16, code: &str) {
    let (got_status, body) = answer;
    assert_eq!(*got_status, status, "expected {status} {code}, got {body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(!message.is_empty(), "an error says what is wrong: {body}");
}

/// A profile's `hours` (UTC) that exclude the present moment by 11 hours or more, so a
/// request now is `outside_schedule` whenever the test runs.
pub fn hours_excluding_now() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    let hour = (seconds / 3_600) % 24;
    // 12 hours ahead, kept inside one day: the window [start, start + 1h] is 11–12
    // hours away from `hour`.
    let start = (hour + 12) % 23;
    format!(
        "{{ days = \"mon-sun\", from = \"{start:02}:00\", to = \"{:02}:00\" }}",
        start + 1
    )
}

/// An RFC 3339 UTC time string of the API (e.g. `created_at`); panics otherwise.
pub fn assert_rfc3339(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 time, found {value}"));
    let well_formed = text.len() >= 20
        && text.as_bytes()[4] == b'-'
        && text.as_bytes()[10] == b'T'
        && (text.ends_with('Z') || text.ends_with("+00:00"));
    assert!(well_formed, "not an RFC 3339 UTC time: {text:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_hours_are_a_valid_single_day_window() {
        let hours = hours_excluding_now();
        assert!(
            hours.starts_with("{ days = \"mon-sun\", from = \""),
            "{hours}"
        );
        let quoted: Vec<&str> = hours.split('"').collect();
        let hour = |text: &str| -> u32 { text.strip_suffix(":00").unwrap().parse().unwrap() };
        let (from, to) = (hour(quoted[3]), hour(quoted[5]));
        assert_eq!(to, from + 1, "{hours}");
        assert!(to <= 23, "{hours}");
    }
}
