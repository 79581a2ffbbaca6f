//! Reliability scenario 2, idempotency storm (docs/reliability.md): every request is sent
//! up to five times at once from different threads with random delays, as a flaky
//! network and an impatient agent would, and some of the copies carry altered parameters
//! (another amount or merchant). Whichever copy the daemon records first is *the*
//! request: every copy with its parameters gets the same decision (same id), every
//! altered copy gets 409 `idempotency_conflict`, and the trail and the ledger count it
//! once. Usage metering is in the storm too.
//!
//! Sizes: short (default) 200 requests; `PURSER_RELIABILITY=full` 1,000.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use purser_system_tests::reliability::trail::Trail;
use purser_system_tests::reliability::{Mode, Rng, Row, decimal, run_parallel};
use purser_system_tests::{TestDaemon, money, spent_and_held};
use serde_json::{Value, json};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "2h"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "1000.00" }

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "1000000.00"
on_exceed = "deny"
"#;

/// One copy of a request as sent: its body, whether it was altered, and the answer.
#[derive(Debug, Clone)]
struct Copy {
    body: Value,
    usage: bool,
    status: u16,
    answer: Value,
}

/// The copies of request `n`: the original body and up to four more, some altered.
fn copies(n: usize, rng: &mut Rng) -> Vec<(Value, bool)> {
    let usage = n % 5 == 0;
    let original = if usage {
        json!({"request_id": format!("storm-{n}"), "action": "web_search",
               "units": rng.range(1, 9).to_string(), "unit_cost": "0.01", "currency": "USD"})
    } else {
        json!({"request_id": format!("storm-{n}"),
               "amount": decimal(rng.range(1_000_000, 20_000_000) as i64),
               "currency": "USD", "merchant": "api.example.com",
               "purpose": "storm of retries"})
    };
    let count = rng.range(2, 5) as usize;
    (0..count)
        .map(|copy| {
            let mut body = original.clone();
            let altered = copy > 0 && rng.chance(25);
            if altered {
                if usage {
                    body["units"] = json!("10");
                } else if rng.chance(50) {
                    body["amount"] = json!("99.99");
                } else {
                    body["merchant"] = json!("other.example.com");
                }
            }
            (body, usage)
        })
        .collect()
}

#[test]
fn retries_never_spend_twice_and_altered_retries_conflict() {
    let mode = Mode::from_env();
    let requests: usize = mode.size(200, 1_000);
    let seed = Rng::seed_from_env();
    let daemon = TestDaemon::start(POLICY);
    let agent = Arc::new(daemon.agent("retry-bot"));
    let mut row = Row::new("2 idempotency storm");

    // Every request's copies go out at once, each from its own thread after a random
    // delay; 16 requests are in flight together.
    let storm_agent = Arc::clone(&agent);
    let storms: Vec<Vec<Copy>> = run_parallel(16, requests, move |n| {
        let mut rng = Rng::new(seed ^ (n as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let threads: Vec<_> = copies(n, &mut rng)
            .into_iter()
            .enumerate()
            .map(|(copy, (body, usage))| {
                let agent = Arc::clone(&storm_agent);
                let mut rng = Rng::new(rng.next_u64() ^ copy as u64);
                std::thread::spawn(move || {
                    rng.sleep_up_to(Duration::from_millis(15));
                    let (status, answer) = if usage {
                        agent.usage(&body)
                    } else {
                        agent.authorize(&body)
                    };
                    Copy {
                        body,
                        usage,
                        status,
                        answer,
                    }
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });

    let trail = Trail::export(&daemon);
    let finals = trail.finals();
    let by_request: BTreeMap<&str, Vec<&str>> =
        finals.values().fold(BTreeMap::new(), |mut map, a| {
            map.entry(a.request_id.as_str())
                .or_insert_with(Vec::new)
                .push(a.id.as_str());
            map
        });
    let (mut sent, mut replays, mut conflicts, mut altered_sent) = (0, 0, 0, 0);
    let mut expected_spent = 0_i64;
    for (n, copies) in storms.iter().enumerate() {
        let request_id = format!("storm-{n}");
        let ids = by_request
            .get(request_id.as_str())
            .unwrap_or_else(|| panic!("{request_id} is not in the trail (seed {seed})"));
        assert_eq!(
            ids.len(),
            1,
            "{request_id} recorded twice: {ids:?} (seed {seed})"
        );
        let recorded = &finals[ids[0]];
        // The recorded parameters: those of the copies answered 200.
        let winners: Vec<&Copy> = copies.iter().filter(|c| c.status == 200).collect();
        assert!(
            !winners.is_empty(),
            "some copy of {request_id} was answered"
        );
        let winner_body = &winners[0].body;
        for copy in copies {
            sent += 1;
            if copy.body != copies[0].body {
                altered_sent += 1;
            }
            if copy.body == *winner_body {
                assert_eq!(copy.status, 200, "{request_id}: {}", copy.answer);
                assert_eq!(
                    copy.answer["id"], ids[0],
                    "one id for every copy: {}",
                    copy.answer
                );
                assert_eq!(copy.answer["status"], winners[0].answer["status"]);
                replays += 1;
            } else {
                assert_eq!(
                    copy.status, 409,
                    "{request_id}: an altered copy must conflict: {} vs {} → {}",
                    copy.body, winner_body, copy.answer
                );
                assert_eq!(copy.answer["error"]["code"], "idempotency_conflict");
                conflicts += 1;
            }
        }
        let amount = if copies[0].usage {
            money(&winners[0].answer["metering"]["cost"])
        } else {
            money(&winners[0].answer["amount"])
        };
        assert_eq!(
            recorded.amount, amount,
            "{request_id}: the trail has the winner's amount"
        );
        if recorded.status == "approved" {
            expected_spent += amount;
        }
    }
    replays -= requests; // the first answer of each request is not a replay
    assert!(conflicts > 0, "the storm had altered copies (seed {seed})");
    let recorded_spent: i64 = finals.values().map(|a| a.sums().spent).sum();
    assert_eq!(
        recorded_spent, expected_spent,
        "the trail counts every request once"
    );
    let (spent, held) = spent_and_held(&agent.budget_ok(), "agent", "day", "USD");
    assert_eq!(
        (spent, held),
        (expected_spent, 0),
        "the ledger counts every request once"
    );
    let rows = daemon.assert_audit_intact();
    row.figure("requests", requests)
        .figure("copies sent", sent)
        .figure("altered copies", altered_sent)
        .figure("identical replays", replays)
        .figure("409 conflicts", conflicts)
        .figure("double spends", 0)
        .figure("spent = Σ distinct approved", decimal(spent))
        .figure("audit rows", rows);
    row.report();
}
