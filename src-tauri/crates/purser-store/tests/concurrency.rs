//! Invariant 1 (no overspend) under heavy concurrency: 64 tasks race 640 requests
//! against a tight shared USD day budget and a tight per-agent EUR day budget.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use common::*;
use purser_core::{AuthorizationStatus, ReasonCode};
use purser_store::Store;

const POLICY: &str = r#"
version = 1
timezone = "UTC"

[[limit]]
currency = "USD"
window = "day"
max = "100.00"
on_exceed = "deny"

[profiles.default]
currencies = ["USD", "EUR"]

[[profiles.default.limit]]
currency = "EUR"
window = "day"
max = "10.00"
on_exceed = "deny"
"#;

const AGENTS: usize = 8;
const TASKS: usize = 64;
const REQUESTS_PER_TASK: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_requests_never_overspend_a_budget() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, POLICY).await;
    for a in 0..AGENTS {
        add_agent(&store, &format!("agent-{a}")).await;
    }

    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for r in 0..REQUESTS_PER_TASK {
                let agent = format!("agent-{}", (t + r) % AGENTS);
                // USD: 1.00 each against a shared 100.00; EUR: 0.50 each against 10.00 per agent.
                let (amount, currency) = if r % 2 == 0 {
                    ("1.00", "USD")
                } else {
                    ("0.50", "EUR")
                };
                let request = payment(&agent, &format!("t{t}-r{r}"), amount, currency);
                answers.push(store.authorize(request).await.unwrap());
            }
            answers
        }));
    }
    let mut approved_micros: HashMap<(String, String), i64> = HashMap::new();
    let mut denials = 0;
    for task in tasks {
        for answer in task.await.unwrap() {
            match answer.status {
                AuthorizationStatus::Approved => {
                    *approved_micros
                        .entry((answer.agent.to_string(), answer.currency.to_string()))
                        .or_default() += answer.amount.micros();
                }
                AuthorizationStatus::Denied => {
                    assert_eq!(answer.reasons[0].code, ReasonCode::OverBudget, "{answer:?}");
                    denials += 1;
                }
                other => panic!("unexpected status {other:?}"),
            }
        }
    }

    // 320 USD requests of 1.00 race for 100.00: exactly 100 win.
    let usd: i64 = approved_micros
        .iter()
        .filter(|((_, c), _)| c == "USD")
        .map(|(_, m)| m)
        .sum();
    assert_eq!(
        usd, 100_000_000,
        "shared USD day budget used exactly, never exceeded"
    );
    // Each agent sends 40 EUR requests of 0.50 against its own 10.00: exactly 20 win.
    for a in 0..AGENTS {
        let eur = approved_micros
            .get(&(format!("agent-{a}"), "EUR".to_owned()))
            .copied()
            .unwrap_or(0);
        assert_eq!(eur, 10_000_000, "agent-{a} EUR day budget used exactly");
    }
    assert_eq!(denials, TASKS * REQUESTS_PER_TASK - 100 - 20 * AGENTS);

    // What was answered is what is on disk.
    let mut conn = raw(dir.path()).await;
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT agent, currency, SUM(amount_micros) FROM authorizations WHERE status = 'approved' GROUP BY agent, currency",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let on_disk: HashMap<(String, String), i64> =
        rows.into_iter().map(|(a, c, m)| ((a, c), m)).collect();
    assert_eq!(on_disk, approved_micros);
    assert_ledger_matches_authorizations(dir.path()).await;

    // The budget an agent sees agrees.
    let lines = store.budget(&agent("agent-0"), None).await.unwrap();
    let usd_line = lines.iter().find(|l| l.currency.as_str() == "USD").unwrap();
    assert_eq!(usd_line.spent.micros(), 100_000_000);
    assert!(usd_line.remaining.is_zero());
    let eur_line = lines.iter().find(|l| l.currency.as_str() == "EUR").unwrap();
    assert_eq!(eur_line.spent.micros(), 10_000_000);

    // And so does the state rebuilt from disk after a restart.
    drop(store);
    let store = open(dir.path(), &clock).await;
    let lines = store.budget(&agent("agent-3"), None).await.unwrap();
    assert_eq!(
        lines
            .iter()
            .find(|l| l.currency.as_str() == "USD")
            .unwrap()
            .spent
            .micros(),
        100_000_000
    );
    assert_eq!(
        lines
            .iter()
            .find(|l| l.currency.as_str() == "EUR")
            .unwrap()
            .spent
            .micros(),
        10_000_000
    );
    let denied = store
        .authorize(payment("agent-3", "after-restart", "0.01", "USD"))
        .await
        .unwrap();
    assert_eq!(denied.status, AuthorizationStatus::Denied);
    assert!(store.verify_audit().await.unwrap().intact);
}
