//! Reliability scenario 3, kill switch race (docs/reliability.md): hundreds of pending
//! approvals are being approved by many concurrent admin calls when the principal
//! engages the kill switch. When `purser kill` returns: no approval commits after it (no
//! `approval` row after the `kill` row of the audit trail, and no approve call sent after
//! it succeeds), every request not approved before it is cancelled by the kill switch,
//! nothing is left pending, and the ledger holds exactly the approvals before the kill.
//!
//! Sizes: short (default) 200 pending approvals; `PURSER_RELIABILITY=full` 1,000.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use purser_system_tests::reliability::trail::Trail;
use purser_system_tests::reliability::{Mode, Rng, Row, admin, decimal, run_parallel};
use purser_system_tests::{TestDaemon, payment, spent_and_held};
use serde_json::json;

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "30m"
hold_ttl = "2h"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "0.50" }

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "1000000.00"
on_exceed = "deny"
"#;

/// One approve call: when it was sent and answered, and what it said.
#[derive(Debug, Clone)]
struct Approve {
    id: String,
    sent: Instant,
    status: u16,
    decision: String,
}

#[test]
fn no_approval_commits_after_kill_returns_and_every_pending_is_cancelled() {
    let mode = Mode::from_env();
    let pending: usize = mode.size(200, 1_000);
    let seed = Rng::seed_from_env();
    let daemon = TestDaemon::start(POLICY);
    let agents: Arc<Vec<_>> = Arc::new(
        (0..8)
            .map(|n| daemon.agent(&format!("eager-{n}")))
            .collect(),
    );
    let mut row = Row::new("3 kill switch race");

    let askers = Arc::clone(&agents);
    let mut ids: Vec<String> = run_parallel(16, pending, move |n| {
        let agent = &askers[n % askers.len()];
        let decision = agent.decide(&payment(&format!("ask-{n}"), "1.00", "api.example.com"));
        assert_eq!(decision["status"], "pending", "{decision}");
        decision["id"].as_str().unwrap().to_owned()
    });
    assert_eq!(daemon.approvals().len(), pending);
    // Approve in a random order, 32 calls at a time.
    let mut rng = Rng::new(seed);
    for i in (1..ids.len()).rev() {
        ids.swap(i, rng.below(i as u64 + 1) as usize);
    }

    let answered = Arc::new(AtomicUsize::new(0));
    let approvers = {
        let answered = Arc::clone(&answered);
        let data_dir = daemon.data_dir().to_owned();
        let ids = ids.clone();
        std::thread::spawn(move || {
            run_parallel(32, ids.len(), move |n| {
                let sent = Instant::now();
                let (status, answer) = admin::call(
                    &data_dir,
                    "POST",
                    &format!("/admin/approvals/{}/approve", ids[n]),
                    Some(&json!({"grant": "once"})),
                );
                answered.fetch_add(1, Ordering::SeqCst);
                Approve {
                    id: ids[n].clone(),
                    sent,
                    status,
                    decision: answer["status"].as_str().unwrap_or("").to_owned(),
                }
            })
        })
    };
    // Engage the kill switch once about a fifth of the approvals were answered: the rest
    // are in flight or still to be sent.
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.load(Ordering::SeqCst) < pending / 5 {
        assert!(Instant::now() < deadline, "the approvals do not progress");
        std::thread::sleep(Duration::from_millis(1));
    }
    let killed = daemon.cli_json(&["kill", "--reason", "reliability: kill switch race"]);
    let kill_returned = Instant::now();
    let approvals = approvers.join().unwrap();

    // What the principal's calls were told.
    let approved_calls: Vec<&Approve> = approvals
        .iter()
        .filter(|a| a.status == 200 && a.decision == "approved")
        .collect();
    let after_kill = approvals.iter().filter(|a| a.sent >= kill_returned).count();
    for call in &approvals {
        if call.sent >= kill_returned {
            assert!(
                call.decision != "approved",
                "approve of {} sent after `kill` returned succeeded",
                call.id
            );
        }
        assert!(
            matches!(call.status, 200 | 409),
            "approve of {} answered {} {}",
            call.id,
            call.status,
            call.decision
        );
    }

    // What the trail says: no approval row after the kill row.
    let trail = Trail::export(&daemon);
    let kill_rows: Vec<u64> = trail
        .of_kind("kill")
        .map(|row| row["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(kill_rows.len(), 1, "one kill");
    let kill_seq = kill_rows[0];
    let late_approvals: Vec<u64> = trail
        .of_kind("approval")
        .filter(|row| row["body"]["status"] == "approved")
        .map(|row| row["seq"].as_u64().unwrap())
        .filter(|seq| *seq > kill_seq)
        .collect();
    assert!(
        late_approvals.is_empty(),
        "approvals committed after the kill (seq {kill_seq}): {late_approvals:?}"
    );
    let finals = trail.finals();
    let (mut approved, mut cancelled) = (0, 0);
    for id in &ids {
        let final_ = &finals[id];
        match final_.status.as_str() {
            "approved" => {
                assert!(final_.last_seq < kill_seq, "{id} approved after the kill");
                approved += 1;
            }
            "cancelled" => {
                assert_eq!(final_.decided_by.as_deref(), Some("kill_switch"), "{id}");
                cancelled += 1;
            }
            other => panic!("{id} ended {other}: neither approved before the kill nor cancelled"),
        }
    }
    assert_eq!(
        approved,
        approved_calls.len(),
        "every approval the principal was told of, and no other"
    );
    assert_eq!(approved + cancelled, pending);
    assert_eq!(killed["cancelled"], cancelled, "{killed}");
    assert!(daemon.approvals().is_empty(), "nothing is left to approve");

    // The money: exactly the approvals before the kill; new requests are denied.
    let spent: i64 = agents
        .iter()
        .map(|agent| spent_and_held(&agent.budget_ok(), "agent", "day", "USD").0)
        .sum();
    assert_eq!(spent, approved as i64 * 1_000_000);
    let denied = agents[0].decide(&payment("after-kill", "1.00", "api.example.com"));
    assert_eq!(denied["reason"]["code"], "kill_switch_engaged", "{denied}");
    let rows = daemon.assert_audit_intact();
    row.figure("pending approvals", pending)
        .figure("concurrent approvers", 32)
        .figure("approved before kill", approved)
        .figure("cancelled by kill", cancelled)
        .figure("approve calls after kill returned", after_kill)
        .figure("approvals committed after kill", late_approvals.len())
        .figure("left pending", 0)
        .figure("spent", decimal(spent))
        .figure("audit rows", rows);
    row.report();
}
