//! Reliability scenario 4, crash (docs/reliability.md): the real daemon is killed with
//! SIGKILL at random moments while agents keep asking, and restarted each time on the
//! same data dir. Afterwards: every decision an agent was told is in the trail as told,
//! nothing it was not told is half-applied (each request id is recorded once or not at
//! all, and retrying it decides it once), `purser audit verify` is clean after every
//! restart, the ledger equals the trail's sums, and every pending approval is still
//! pending before its deadline or expired (by `timeout`, not before its deadline) after.
//!
//! Sizes: short (default) 8 crashes; `PURSER_RELIABILITY=full` 100 crashes (at most 10
//! minutes).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use purser_system_tests::reliability::trail::Trail;
use purser_system_tests::reliability::{Mode, Rng, Row, decimal, unix_micros};
use purser_system_tests::{Agent, TestDaemon, budget_line, money};
use serde_json::{Value, json};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "3s"
hold_ttl = "2h"

[[limit]]
currency = "USD"
window = "total"
max = "4000.00"
on_exceed = "deny"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "8.00" }
"#;

const AGENTS: usize = 6;

/// What the agents sent: answered (request id → decision) or not (request id → body).
#[derive(Debug, Default)]
struct Outcomes {
    acknowledged: BTreeMap<String, Value>,
    unanswered: BTreeMap<String, (usize, Value)>,
}

fn body(request_id: &str, rng: &mut Rng) -> Value {
    let mut body = json!({
        "request_id": request_id,
        "amount": decimal(rng.range(100_000, 10_000_000) as i64),
        "currency": "USD", "merchant": "api.example.com",
        "purpose": "crash test load",
    });
    if rng.chance(25) {
        body["capture"] = json!("manual");
    }
    body
}

/// Agents asking until `stop`, each request's outcome recorded.
fn load(
    agents: Vec<Agent>,
    round: usize,
    seed: u64,
    stop: Arc<AtomicBool>,
    outcomes: Arc<Mutex<Outcomes>>,
) -> Vec<std::thread::JoinHandle<()>> {
    agents
        .into_iter()
        .enumerate()
        .map(|(n, agent)| {
            let stop = Arc::clone(&stop);
            let outcomes = Arc::clone(&outcomes);
            std::thread::spawn(move || {
                let mut rng = Rng::new(seed ^ ((round * 1000 + n) as u64).wrapping_mul(0x9E37));
                let mut k = 0;
                while !stop.load(Ordering::SeqCst) {
                    let request_id = format!("crash-{round}-{n}-{k}");
                    k += 1;
                    let body = body(&request_id, &mut rng);
                    match agent.try_authorize(&body) {
                        Ok((200, decision)) => {
                            outcomes
                                .lock()
                                .unwrap()
                                .acknowledged
                                .insert(request_id, decision);
                        }
                        Ok((status, answer)) => {
                            assert_eq!(status, 503, "only 200, or 503 while dying: {answer}");
                            outcomes
                                .lock()
                                .unwrap()
                                .unanswered
                                .insert(request_id, (n, body));
                        }
                        Err(_) => {
                            outcomes
                                .lock()
                                .unwrap()
                                .unanswered
                                .insert(request_id, (n, body));
                            return;
                        }
                    }
                }
            })
        })
        .collect()
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_decision_and_half_applies_nothing() {
    let mode = Mode::from_env();
    let crashes: usize = mode.size(8, 100);
    let budget = mode.size(Duration::from_secs(60), Duration::from_secs(600));
    let seed = Rng::seed_from_env();
    let mut rng = Rng::new(seed);
    let mut daemon = TestDaemon::start(POLICY);
    let tokens: Vec<(String, String)> = (0..AGENTS)
        .map(|n| {
            let name = format!("crashy-{n}");
            let token = daemon.add_agent(&name);
            (name, token)
        })
        .collect();
    let agents = |daemon: &TestDaemon| -> Vec<Agent> {
        tokens
            .iter()
            .map(|(name, token)| daemon.agent_with_token(name, token))
            .collect()
    };
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let mut row = Row::new("4 crash (kill -9)");
    let started = Instant::now();
    let mut done = 0;
    let mut verified_rows = 0;
    while done < crashes && started.elapsed() < budget {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = load(
            agents(&daemon),
            done,
            seed,
            Arc::clone(&stop),
            Arc::clone(&outcomes),
        );
        std::thread::sleep(Duration::from_millis(rng.range(30, 300)));
        stop.store(true, Ordering::SeqCst);
        daemon.crash_and_restart();
        for thread in threads {
            thread.join().unwrap();
        }
        // After every restart the chain is whole.
        verified_rows = daemon.assert_audit_intact();
        done += 1;
    }
    assert!(done >= crashes.min(8), "only {done} crashes in {budget:?}");

    // Retry every unanswered request once: it is decided once, whether or not the
    // crash had recorded it.
    let agents = agents(&daemon);
    let unanswered = std::mem::take(&mut outcomes.lock().unwrap().unanswered);
    let mut retried = BTreeMap::new();
    for (request_id, (n, body)) in &unanswered {
        let (status, decision) = agents[*n].authorize(body);
        assert_eq!(status, 200, "retry of {request_id}: {decision}");
        retried.insert(request_id.clone(), decision);
    }

    // Wait for the expiry task to settle every pending approval whose deadline passed.
    std::thread::sleep(Duration::from_secs(4));
    let trail = Trail::export(&daemon);
    let finals = trail.finals();
    let mut per_request: BTreeMap<&str, usize> = BTreeMap::new();
    for authorization in finals.values() {
        *per_request
            .entry(authorization.request_id.as_str())
            .or_default() += 1;
    }
    assert!(
        per_request.values().all(|count| *count == 1),
        "a request id recorded twice: {:?}",
        per_request
            .iter()
            .filter(|(_, c)| **c > 1)
            .collect::<Vec<_>>()
    );
    let acknowledged = std::mem::take(&mut outcomes.lock().unwrap().acknowledged);
    let (mut approved, mut denied, mut pending, mut expired) = (0, 0, 0, 0);
    for (request_id, decision) in &acknowledged {
        let id = decision["id"].as_str().unwrap();
        let recorded = finals.get(id).unwrap_or_else(|| {
            panic!("acknowledged {request_id} ({id}) lost by a crash (seed {seed})")
        });
        let first = trail
            .rows
            .iter()
            .find(|row| row["authorization_id"] == id)
            .unwrap();
        assert_eq!(
            first["body"]["status"], decision["status"],
            "{request_id} as told"
        );
        match decision["status"].as_str().unwrap() {
            "approved" => approved += 1,
            "denied" => denied += 1,
            "pending" => {
                let deadline = decision["expires_at"].as_str().unwrap();
                match recorded.status.as_str() {
                    "expired" => {
                        expired += 1;
                        assert_eq!(recorded.decided_by.as_deref(), Some("timeout"), "{id}");
                        assert!(
                            unix_micros(recorded.decided_at.as_deref().unwrap())
                                >= unix_micros(deadline),
                            "{id} expired before its deadline {deadline}"
                        );
                    }
                    other => panic!("{id}: pending past its deadline {deadline} ended {other}"),
                }
                pending += 1;
            }
            other => panic!("{request_id}: {other}"),
        }
    }
    // A retried request was recorded once, whether the kill cut it before or after
    // its commit (the answer is then its current state, e.g. expired by now).
    for (request_id, decision) in &retried {
        let id = decision["id"].as_str().unwrap();
        let recorded = finals
            .get(id)
            .unwrap_or_else(|| panic!("retried {request_id} ({id}) is not in the trail"));
        assert_eq!(&recorded.request_id, request_id);
    }
    assert!(
        daemon.approvals().is_empty(),
        "every deadline passed: nothing pending"
    );

    // The ledger equals the trail's sums, shared and per agent.
    let total: i64 = finals.values().map(|a| a.sums().total()).sum();
    let budget_now = agents[0].budget_ok();
    let line = budget_line(&budget_now, "shared", "total", "USD");
    assert_eq!(
        money(&line["spent"]) + money(&line["held"]),
        total,
        "shared total: ledger vs trail"
    );
    assert!(total <= 4_000_000_000, "never over the shared total");
    verified_rows = verified_rows.max(daemon.assert_audit_intact());
    row.figure("crashes (kill -9)", done)
        .figure("acknowledged decisions", acknowledged.len())
        .figure("lost", 0)
        .figure("cut off by the kill", unanswered.len())
        .figure("half-applied", 0)
        .figure(
            "approved / denied / pending",
            format!("{approved} / {denied} / {pending}"),
        )
        .figure("pending expired on time", expired)
        .figure(
            "audit verify",
            format!("clean after each restart ({verified_rows} rows)"),
        )
        .figure("ledger = trail", decimal(total));
    row.report();
}
