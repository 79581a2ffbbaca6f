//! Reliability scenario 6, clock, in process (docs/reliability.md): the real daemon
//! (`Daemon::start` with its HTTP and admin servers) on an injected [`Clock`] that the
//! test moves at will: backward and forward across hour and day boundaries, to the
//! microsecond before and at each boundary, and past an approval's and a hold's
//! deadline with no time for the expiry task to run. No window resets before its
//! boundary (a clock moved back still counts what was spent "later"), and nothing is
//! approved or captured after its deadline, even when asked at once after the jump.
//!
//! The across-restarts half (libfaketime) is `tests/tests/reliability_clock.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failed step fails the test"
)]

mod live;

use std::sync::{Arc, Mutex};

use chrono::{Duration, TimeZone};
use live::{Live, Reply, payment};
use purser_core::{Clock, Timestamp};
use purser_daemon::{Daemon, ServeConfig};
use serde_json::json;

/// A clock that stands still until the test moves it.
#[derive(Debug)]
struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "30.00" }

[[profiles.default.limit]]
currency = "USD"
window = "hour"
max = "60.00"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "100.00"
on_exceed = "deny"
"#;

fn at(hour: u32, minute: u32, second: u32, day: u32) -> Timestamp {
    chrono::Utc
        .with_ymd_and_hms(2030, 1, day, hour, minute, second)
        .single()
        .unwrap()
}

async fn ask(live: &Live, token: &str, request_id: &str, amount: &str) -> Reply {
    let mut body = payment(request_id, amount);
    body["capture"] = json!("auto");
    let reply = live
        .agent(token, "POST", "/v1/authorizations", Some(body))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_jumps_reset_no_window_early_and_revive_no_deadline() {
    let clock = Arc::new(ManualClock(Mutex::new(at(23, 50, 0, 15))));
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServeConfig::new(dir.path())
    };
    let daemon = Daemon::start(config, Arc::clone(&clock) as Arc<dyn Clock>)
        .await
        .unwrap();
    let live = Live {
        dir,
        daemon: Some(daemon),
    };
    let applied = live
        .admin(
            "POST",
            "/admin/policy/apply",
            Some(json!({"file": "policy.toml", "text": POLICY})),
        )
        .await;
    assert_eq!(applied.status, 200, "{applied:?}");
    let token = live.add_agent("clocked-bot").await;
    let mut jumps = 0;

    // 23:50 on the 15th: 40 pending until 00:00, then 50 spent.
    let pending = ask(&live, &token, "ask", "40.00").await;
    assert_eq!(pending.json["status"], "pending");
    let pending_id = pending.json["id"].as_str().unwrap().to_owned();
    for n in 0..2 {
        let spent = ask(&live, &token, &format!("spend-{n}"), "25.00").await;
        assert_eq!(spent.json["status"], "approved", "{spent:?}");
    }

    // Backward within the hour, to the previous hour, and to the previous day: the spend
    // of 23:50 still counts against the hour (50 + 20 > 60) every time.
    for back in [at(23, 0, 0, 15), at(22, 59, 59, 15), at(12, 0, 0, 14)] {
        clock.set(back);
        jumps += 1;
        let denied = ask(&live, &token, &format!("back-{jumps}"), "20.00").await;
        assert_eq!(
            denied.json["status"], "denied",
            "at {back} the hour must not be fresh: {denied:?}"
        );
    }
    // The last microsecond of the hour still counts it; the first of the next is fresh.
    clock.set(at(0, 0, 0, 16) - Duration::microseconds(1));
    jumps += 1;
    let denied = ask(&live, &token, "last-micro", "20.00").await;
    assert_eq!(denied.json["status"], "denied", "{denied:?}");
    clock.set(at(0, 0, 0, 16) - Duration::microseconds(2));
    jumps += 1;
    // The approval's deadline is 00:00:00 + (the microseconds of its creation): at a
    // microsecond before midnight it can still be approved; the budgets are checked
    // again then, and the hour is full, so it is denied, not approved.
    let approve_early = live
        .admin(
            "POST",
            &format!("/admin/approvals/{pending_id}/approve"),
            Some(json!({"grant": "once"})),
        )
        .await;
    assert_eq!(approve_early.status, 200, "{approve_early:?}");
    assert_eq!(
        approve_early.json["status"], "denied",
        "re-checked against the full hour: {approve_early:?}"
    );

    clock.set(at(0, 0, 0, 16));
    jumps += 1;
    let fresh = ask(&live, &token, "new-hour", "20.00").await;
    assert_eq!(
        fresh.json["status"], "approved",
        "a new hour and day: {fresh:?}"
    );

    // A second pending request, and a hold; the clock then leaps past both deadlines
    // and the principal answers at once, before any expiry task could have run.
    let late = ask(&live, &token, "late", "35.00").await;
    assert_eq!(late.json["status"], "pending");
    let late_id = late.json["id"].as_str().unwrap().to_owned();
    let mut hold = payment("hold", "5.00");
    hold["capture"] = json!("manual");
    let held = live
        .agent(&token, "POST", "/v1/authorizations", Some(hold))
        .await;
    assert_eq!(held.json["status"], "approved", "{held:?}");
    let held_id = held.json["id"].as_str().unwrap().to_owned();
    clock.set(at(0, 40, 0, 16));
    jumps += 1;
    let approve_late = live
        .admin(
            "POST",
            &format!("/admin/approvals/{late_id}/approve"),
            Some(json!({"grant": "once"})),
        )
        .await;
    assert_ne!(
        approve_late.json["status"], "approved",
        "no approval after its deadline: {approve_late:?}"
    );
    let capture = live
        .agent(
            &token,
            "POST",
            &format!("/v1/authorizations/{held_id}/capture"),
            None,
        )
        .await;
    assert_eq!(
        capture.status, 409,
        "no capture after the hold lapsed: {capture:?}"
    );

    // And back again: what expired stays expired.
    clock.set(at(0, 5, 0, 16));
    jumps += 1;
    let approve_back = live
        .admin(
            "POST",
            &format!("/admin/approvals/{late_id}/approve"),
            Some(json!({"grant": "once"})),
        )
        .await;
    assert_ne!(approve_back.json["status"], "approved", "{approve_back:?}");
    let read = live
        .agent(
            &token,
            "GET",
            &format!("/v1/authorizations/{late_id}"),
            None,
        )
        .await;
    assert_eq!(read.json["status"], "expired", "{read:?}");
    let capture = live
        .agent(
            &token,
            "POST",
            &format!("/v1/authorizations/{held_id}/capture"),
            None,
        )
        .await;
    assert_eq!(capture.status, 409, "{capture:?}");
    let verified = live.admin("POST", "/admin/audit/verify", None).await;
    assert_eq!(verified.json["intact"], true, "{verified:?}");
    report_row(jumps);
}

/// Prints the table row, and appends it to `PURSER_RELIABILITY_REPORT` when set (what
/// `cargo xtask reliability` collects; the system tests' harness does the same).
fn report_row(jumps: usize) {
    let figures = [
        ("clock jumps", jumps.to_string()),
        ("windows reset early", "0".into()),
        ("approvals after deadline", "0".into()),
        ("captures after hold lapsed", "0".into()),
        ("audit", "intact".into()),
    ];
    let text: Vec<String> = figures.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    println!(
        "reliability | 6 clock: injected Clock, in process | {} | PASS",
        text.join("; ")
    );
    if let Some(path) = std::env::var_os("PURSER_RELIABILITY_REPORT") {
        let row = json!({
            "scenario": "6 clock: injected Clock, in process",
            "order": figures.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            "figures": figures.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect::<serde_json::Map<_, _>>(),
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        std::io::Write::write_all(&mut file, format!("{row}\n").as_bytes()).unwrap();
    }
}
