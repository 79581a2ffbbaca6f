//! Reliability scenario 1, racing overspend (docs/reliability.md): many agents race for
//! budgets tight enough that most requests must be denied: a shared `total` and a shared
//! `day` window, a `day` window per agent and a `session` window per agent and session;
//! auto capture, manual holds that are captured (fully or partly), voided or left held,
//! and metered usage, all at once. Afterwards, the ledger is recomputed from the exported
//! audit trail alone and every window must hold approved + held ≤ max, exactly (integer
//! micro-units), and the daemon's own `/v1/budget` must equal the recomputation.
//!
//! Sizes: short (default) 1,500 requests from 16 agents; `PURSER_RELIABILITY=full`
//! 10,000 requests from 64 agents.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use purser_system_tests::reliability::trail::Trail;
use purser_system_tests::reliability::{Mode, Rng, Row, decimal, run_parallel};
use purser_system_tests::{Agent, TestDaemon, budget_line, money};
use serde_json::json;

/// What one request turned into, as the agent was told.
#[derive(Debug, Clone)]
struct Acknowledged {
    id: String,
    status: String,
    reason: String,
}

struct Limits {
    shared_total: i64,
    shared_day: i64,
    agent_day: i64,
    session: i64,
}

fn policy(limits: &Limits) -> String {
    format!(
        r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "2h"

[[limit]]
currency = "USD"
window = "total"
max = "{}"
on_exceed = "deny"

[[limit]]
currency = "USD"
window = "day"
max = "{}"
on_exceed = "deny"

[profiles.default]
currencies = ["USD"]
approve_above = {{ USD = "1000.00" }}

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "{}"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "session"
max = "{}"
on_exceed = "deny"
"#,
        decimal(limits.shared_total),
        decimal(limits.shared_day),
        decimal(limits.agent_day),
        decimal(limits.session),
    )
}

const SESSIONS_PER_AGENT: u64 = 4;

/// One agent's share of the race: its requests one after the other, as fast as the
/// daemon answers, every one of them checked for a well-formed answer.
fn race(agent: &Agent, index: usize, requests: usize, seed: u64) -> Vec<Acknowledged> {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0x9E37_79B9));
    let mut acknowledged = Vec::with_capacity(requests);
    for n in 0..requests {
        let request_id = format!("race-{index}-{n}");
        let session = rng
            .chance(70)
            .then(|| format!("s{}", rng.below(SESSIONS_PER_AGENT)));
        let kind = rng.below(100);
        let (status, decision) = if kind < 20 {
            // Usage: 1–5 units at 0.01–0.50 each, so the cost is exact.
            let mut body = json!({
                "request_id": request_id, "action": "web_search",
                "units": rng.range(1, 5).to_string(),
                "unit_cost": decimal(rng.range(1, 50) as i64 * 10_000),
                "currency": "USD",
            });
            if let Some(session) = &session {
                body["session_id"] = json!(session);
            }
            agent.usage(&body)
        } else {
            // Any micro-unit amount from 0.50 to 10.00: exactness is part of the test.
            let amount = decimal(rng.range(500_000, 10_000_000) as i64);
            let mut body = json!({
                "request_id": request_id, "amount": amount, "currency": "USD",
                "merchant": "api.example.com", "purpose": "race for the budget",
            });
            if kind < 45 {
                body["capture"] = json!("manual");
            }
            if let Some(session) = &session {
                body["session_id"] = json!(session);
            }
            agent.authorize(&body)
        };
        assert_eq!(status, 200, "{}: {request_id}: {decision}", agent.name);
        let answer = Acknowledged {
            id: decision["id"].as_str().unwrap().to_owned(),
            status: decision["status"].as_str().unwrap().to_owned(),
            reason: decision["reason"]["code"].as_str().unwrap_or("").to_owned(),
        };
        assert!(
            matches!(answer.status.as_str(), "approved" | "denied"),
            "no request of this policy waits for a human: {decision}"
        );
        if answer.status == "approved" && decision["capture"] == "manual" {
            // Settle most holds at once, racing with everyone else's requests.
            let full = money(&decision["amount"]);
            match rng.below(5) {
                0 | 1 => {
                    let part = decimal(rng.range(1, full as u64) as i64);
                    let (status, captured) = agent.capture(&answer.id, Some(&part));
                    assert_eq!(status, 200, "{captured}");
                    assert_eq!(captured["status"], "captured", "{captured}");
                }
                2 => {
                    let (status, captured) = agent.capture(&answer.id, None);
                    assert_eq!(status, 200, "{captured}");
                }
                3 => {
                    let (status, voided) = agent.void(&answer.id);
                    assert_eq!(status, 200, "{voided}");
                    assert_eq!(voided["status"], "voided", "{voided}");
                }
                _ => {}
            }
        }
        acknowledged.push(answer);
    }
    acknowledged
}

#[test]
fn racing_agents_never_overspend_any_window() {
    let mode = Mode::from_env();
    let agents_count: usize = mode.size(16, 64);
    let requests: usize = mode.size(1_500, 10_000);
    let per_agent = requests.div_ceil(agents_count);
    let seed = Rng::seed_from_env();
    // About 5.4 asked per request on average: the shared total allows roughly a fifth,
    // each agent's day 1.6× its fair share of it, each session a quarter of that.
    let agent_day = (per_agent as i64) * 1_600_000;
    let limits = Limits {
        shared_total: requests as i64 * 1_000_000,
        shared_day: requests as i64 * 1_100_000,
        agent_day,
        session: agent_day / 4 + 333_333,
    };
    let daemon = TestDaemon::start(&policy(&limits));
    let agents: Arc<Vec<Agent>> = Arc::new(
        (0..agents_count)
            .map(|n| daemon.agent(&format!("racer-{n}")))
            .collect(),
    );

    let mut row = Row::new("1 racing overspend");
    let started = std::time::Instant::now();
    let racers = Arc::clone(&agents);
    let answers: Vec<Vec<Acknowledged>> = run_parallel(agents_count, agents_count, move |n| {
        race(&racers[n], n, per_agent, seed)
    });
    let elapsed = started.elapsed();
    let acknowledged: BTreeMap<String, Acknowledged> = answers
        .into_iter()
        .flatten()
        .map(|answer| (answer.id.clone(), answer))
        .collect();
    assert_eq!(
        acknowledged.len(),
        agents_count * per_agent,
        "every request got its own authorization (seed {seed})"
    );

    // The trail, exported and verified, is the only source of the recomputation.
    let rows = daemon.assert_audit_intact();
    let trail = Trail::export(&daemon);
    let finals = trail.finals();
    for (id, answer) in &acknowledged {
        let recorded = finals
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged {id} is not in the audit trail"));
        let first = trail
            .rows
            .iter()
            .find(|row| row["authorization_id"] == id.as_str())
            .unwrap();
        assert_eq!(
            first["body"]["status"], answer.status,
            "the agent was told what the trail records for {id}"
        );
        assert!(
            answer.status == "approved" || recorded.status == "denied",
            "a denial stays a denial: {id}"
        );
    }

    let shared_total = trail.sums_by(|a| Some(a.currency.clone()));
    let shared_day = trail.sums_by(|a| Some((a.currency.clone(), a.day()?.to_owned())));
    let agent_day = trail.sums_by(|a| Some((a.agent.clone(), a.day()?.to_owned())));
    let session = trail.sums_by(|a| Some((a.agent.clone(), a.session_id.clone()?)));
    let mut windows = 0;
    let mut tightest = 0.0_f64;
    let mut check = |what: String, used: i64, max: i64| {
        windows += 1;
        assert!(
            used <= max,
            "OVERSPEND in {what}: approved + held {} > max {} (seed {seed})",
            decimal(used),
            decimal(max)
        );
        tightest = tightest.max(used as f64 / max as f64);
    };
    for (currency, sums) in &shared_total {
        check(
            format!("shared total {currency}"),
            sums.total(),
            limits.shared_total,
        );
    }
    for ((currency, day), sums) in &shared_day {
        check(
            format!("shared day {day} {currency}"),
            sums.total(),
            limits.shared_day,
        );
    }
    for ((agent, day), sums) in &agent_day {
        check(
            format!("{agent}'s day {day}"),
            sums.total(),
            limits.agent_day,
        );
    }
    for ((agent, session), sums) in &session {
        check(
            format!("{agent}'s session {session}"),
            sums.total(),
            limits.session,
        );
    }

    // The daemon's ledger says exactly what the trail says.
    let now_day = finals
        .values()
        .filter_map(|a| a.decided_at.clone())
        .max()
        .unwrap()[..10]
        .to_owned();
    for agent in agents.iter() {
        let budget = agent.budget_ok();
        let line = budget_line(&budget, "shared", "total", "USD");
        let sums = shared_total.get("USD").copied().unwrap_or_default();
        assert_eq!(
            (money(&line["spent"]), money(&line["held"])),
            (sums.spent, sums.held),
            "shared total: ledger vs trail"
        );
        let line = budget_line(&budget, "agent", "day", "USD");
        let sums = agent_day
            .get(&(agent.name.clone(), now_day.clone()))
            .copied()
            .unwrap_or_default();
        assert_eq!(
            (money(&line["spent"]), money(&line["held"])),
            (sums.spent, sums.held),
            "{}'s day: ledger vs trail",
            agent.name
        );
        for s in 0..SESSIONS_PER_AGENT {
            let name = format!("s{s}");
            let (status, budget) = agent.get_path(&format!("/v1/budget?session_id={name}"));
            assert_eq!(status, 200, "{budget}");
            let line = budget_line(&budget, "session", "session", "USD");
            let sums = session
                .get(&(agent.name.clone(), name.clone()))
                .copied()
                .unwrap_or_default();
            assert_eq!(
                (money(&line["spent"]), money(&line["held"])),
                (sums.spent, sums.held),
                "{}'s session {name}: ledger vs trail",
                agent.name
            );
        }
    }

    let count = |status: &str| acknowledged.values().filter(|a| a.status == status).count();
    let over_budget = acknowledged
        .values()
        .filter(|a| a.reason == "over_budget")
        .count();
    let approved = count("approved");
    assert!(
        over_budget * 2 > acknowledged.len(),
        "the budgets must be tight enough that most requests are denied: {over_budget} of {}",
        acknowledged.len()
    );
    let statuses: BTreeSet<&str> = finals.values().map(|a| a.status.as_str()).collect();
    for status in ["approved", "captured", "voided", "denied"] {
        assert!(
            statuses.contains(status),
            "the mix has {status}: {statuses:?}"
        );
    }
    let total = shared_total.get("USD").copied().unwrap_or_default();
    row.figure("requests", acknowledged.len())
        .figure("agents", agents_count)
        .figure("approved", approved)
        .figure("denied over budget", over_budget)
        .figure("windows checked", windows)
        .figure("overspent windows", 0)
        .figure("fullest window", format!("{:.2} %", tightest * 100.0))
        .figure(
            "shared total used",
            format!(
                "{} of {}",
                decimal(total.total()),
                decimal(limits.shared_total)
            ),
        )
        .figure("ledger = trail", "exact")
        .figure("audit rows", rows)
        .figure(
            "throughput",
            format!(
                "{:.0} req/s",
                acknowledged.len() as f64 / elapsed.as_secs_f64()
            ),
        );
    row.report();
}
