//! Team mode (issue #11): several `purser serve --database postgres://…` daemons share one
//! PostgreSQL database, and together they must behave as one authorizer:
//!
//! - budgets are exact across daemons: 64 agents racing over three nodes never spend past
//!   a shared cap or their own, and every node reports what was approved;
//! - one `(agent, request_id)` is decided once, whichever nodes it is sent to at once;
//! - `purser kill` on one node stops the next request on every other, and `resume` on any
//!   node lifts it; an approval asked on one node is listed, answered and woken up across
//!   nodes;
//! - while PostgreSQL is down every decision fails closed (503 `unavailable`, nothing
//!   approved), and once it is back the same daemons decide again by themselves, with
//!   nothing acknowledged lost;
//! - `purser audit verify` on every node checks the one shared chain: intact, same head.
//!
//! Each test has a database of its own on one throwaway cluster for the file
//! (purser-testpg); the outage test stops PostgreSQL, so it has a cluster of its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, LazyLock, Mutex};
use std::time::{Duration, Instant};

use purser_system_tests::reliability::trail::Trail;
use purser_system_tests::reliability::{Rng, decimal, run_parallel};
use purser_system_tests::{
    Agent, ServeOptions, TestDaemon, assert_error, budget_line, money, payment, spent_and_held,
};
use purser_testpg::TestPostgres;
use serde_json::{Value, json};

/// The cluster the file's tests share, one database each.
static CLUSTER: LazyLock<TestPostgres> =
    LazyLock::new(|| TestPostgres::start().unwrap_or_else(|error| panic!("{error}")));

/// How soon a long-poll on one node must hear a decision taken on another.
const PROMPTLY: Duration = Duration::from_secs(5);
/// How soon `purser status` on another node must show the kill switch engaged.
const KILL_SEEN_WITHIN: Duration = Duration::from_millis(100);
/// How long the daemons may take to decide again once PostgreSQL is back.
const RECOVERY_LIMIT: Duration = Duration::from_secs(30);

/// Nothing waits for a human below 25.00; a day of 500.00 per agent.
const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "500.00"
on_exceed = "deny"
"#;

/// The race's budgets: 100.00 a day for all agents together, 4.00 a day for each.
const SHARED_DAY_MICROS: i64 = 100_000_000;
const AGENT_DAY_MICROS: i64 = 4_000_000;
const RACE_POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[[limit]]
currency = "USD"
window = "day"
max = "100.00"
on_exceed = "deny"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "1000.00" }

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "4.00"
on_exceed = "deny"
"#;

/// `count` daemons on the new database `database` of `cluster`, started one after the
/// other (the first migrates the empty database), `policy` applied on the first and in
/// force on every one.
fn team(cluster: &TestPostgres, database: &str, count: usize, policy: &str) -> Vec<TestDaemon> {
    let url = cluster
        .create_database(database)
        .unwrap_or_else(|error| panic!("{error}"));
    let nodes: Vec<TestDaemon> = (0..count)
        .map(|_| TestDaemon::start_with(ServeOptions::default().arg("--database").arg(&url)))
        .collect();
    let version = nodes[0].apply_policy(policy);
    for (n, node) in nodes.iter().enumerate() {
        node.wait_until(
            Duration::from_secs(10),
            &format!("node {n} to run policy version {version} applied on node 0"),
            || node.cli_json(&["status"])["policy_version"] == version,
        );
    }
    nodes
}

/// Agent `name`, added on `nodes[added_on]`, as a client of every node: one token.
fn agent_everywhere(nodes: &[TestDaemon], added_on: usize, name: &str) -> Vec<Agent> {
    let token = nodes[added_on].add_agent(name);
    nodes
        .iter()
        .map(|node| node.agent_with_token(name, &token))
        .collect()
}

/// `purser audit verify` on every node: intact, the same number of rows, and the same
/// newest row (seq and hash) everywhere. The number of rows.
fn assert_one_intact_chain(nodes: &[TestDaemon]) -> u64 {
    let heads: Vec<(u64, Value, Value)> = nodes
        .iter()
        .map(|node| {
            let rows = node.assert_audit_intact();
            let newest = node.cli_json(&["audit", "list", "--limit", "1"]);
            let head = &newest["entries"][0];
            assert!(
                head["hash"].is_string(),
                "the newest audit row has a hash: {newest}"
            );
            (rows, head["seq"].clone(), head["hash"].clone())
        })
        .collect();
    for (n, head) in heads.iter().enumerate() {
        assert_eq!(
            head, &heads[0],
            "node {n} verifies another chain than node 0: (rows, seq, hash) {heads:?}"
        );
    }
    heads[0].0
}

/// The log tails of every node, for failure messages.
fn logs(nodes: &[TestDaemon]) -> String {
    nodes
        .iter()
        .enumerate()
        .map(|(n, node)| format!("--- node {n} ({}):\n{}", node.url(), node.log_tail(20)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `POST /v1/authorizations` that must answer 200; the decision. A failure shows the
/// request, the answer and every node's log.
fn decide(nodes: &[TestDaemon], agent: &Agent, body: &Value) -> Value {
    let (status, decision) = agent.authorize(body);
    assert_eq!(
        status,
        200,
        "{} on {} asked {body}\nand was answered {status} {decision}\n{}",
        agent.name,
        agent.addr(),
        logs(nodes)
    );
    decision
}

/// What one racing request was told.
#[derive(Debug, Clone)]
struct Told {
    agent: String,
    id: String,
    status: String,
    reason: String,
    amount: i64,
    /// `YYYY-MM-DD` of `decided_at`: the day window it counts in.
    day: String,
}

#[test]
fn agents_racing_on_three_nodes_never_overspend_and_every_node_agrees() {
    const AGENTS: usize = 64;
    const REQUESTS_PER_AGENT: usize = 10;
    let started = Instant::now();
    let nodes = Arc::new(team(&CLUSTER, "race", 3, RACE_POLICY));
    let seed = Rng::seed_from_env();
    // Each agent is added on one node (8 at a time) and asks all three in turn.
    let adding = Arc::clone(&nodes);
    let agents: Arc<Vec<Vec<Agent>>> = Arc::new(run_parallel(8, AGENTS, move |n| {
        agent_everywhere(&adding, n % 3, &format!("racer-{n}"))
    }));

    let set_up = started.elapsed();
    let racers = Arc::clone(&agents);
    let racing_nodes = Arc::clone(&nodes);
    let told: Vec<Told> = run_parallel(AGENTS, AGENTS, move |n| {
        let mut rng = Rng::new(seed ^ (n as u64).wrapping_mul(0x9E37_79B9));
        (0..REQUESTS_PER_AGENT)
            .map(|k| {
                let node = (n + k) % 3;
                let agent = &racers[n][node];
                // Any micro-unit amount from 0.50 to 3.00: exactness is part of the test.
                let amount = rng.range(500_000, 3_000_000) as i64;
                let request_id = format!("race-{n}-{k}");
                let (status, decision) =
                    agent.authorize(&payment(&request_id, &decimal(amount), "api.example.com"));
                assert_eq!(
                    status,
                    200,
                    "{request_id} on node {node} (seed {seed}): {decision}\n{}",
                    logs(&racing_nodes)
                );
                let told = Told {
                    agent: agent.name.clone(),
                    id: decision["id"].as_str().unwrap().to_owned(),
                    status: decision["status"].as_str().unwrap().to_owned(),
                    reason: decision["reason"]["code"].as_str().unwrap_or("").to_owned(),
                    amount,
                    day: decision["decided_at"]
                        .as_str()
                        .and_then(|at| at.get(..10))
                        .unwrap_or_else(|| panic!("a decision has a decided_at: {decision}"))
                        .to_owned(),
                };
                match told.status.as_str() {
                    "approved" => assert_eq!(told.reason, "within_policy", "{decision}"),
                    "denied" => assert_eq!(
                        told.reason, "over_budget",
                        "only a budget denies in this race: {decision}"
                    ),
                    _ => panic!("nothing waits for a human in this race: {decision}"),
                }
                told
            })
            .collect::<Vec<Told>>()
    })
    .into_iter()
    .flatten()
    .collect();
    let raced = started.elapsed() - set_up;
    let ids: BTreeSet<&str> = told.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        AGENTS * REQUESTS_PER_AGENT,
        "every request has its own authorization"
    );

    // What the agents were told: no window past its max, exactly.
    let approved: Vec<&Told> = told.iter().filter(|t| t.status == "approved").collect();
    let mut shared_day: BTreeMap<&str, i64> = BTreeMap::new();
    let mut agent_day: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for t in &approved {
        *shared_day.entry(&t.day).or_default() += t.amount;
        *agent_day.entry((&t.agent, &t.day)).or_default() += t.amount;
    }
    for (day, spent) in &shared_day {
        assert!(
            *spent <= SHARED_DAY_MICROS,
            "OVERSPEND of the shared day {day}: {} approved > 100.00 (seed {seed})",
            decimal(*spent)
        );
    }
    for ((agent, day), spent) in &agent_day {
        assert!(
            *spent <= AGENT_DAY_MICROS,
            "OVERSPEND of {agent}'s day {day}: {} approved > 4.00 (seed {seed})",
            decimal(*spent)
        );
    }
    let denied = told.len() - approved.len();
    let total: i64 = shared_day.values().sum();
    assert!(
        denied > told.len() / 2 && total > SHARED_DAY_MICROS - 3_000_000,
        "the shared budget must be nearly used up and most requests denied: {} approved, {denied} of {} denied (seed {seed})",
        decimal(total),
        told.len()
    );

    // The shared trail records exactly what the agents were told.
    let trail = Trail::export(&nodes[1]);
    let finals = trail.finals();
    assert_eq!(
        finals.len(),
        told.len(),
        "the trail has every authorization, and no other"
    );
    for t in &told {
        let recorded = finals
            .get(&t.id)
            .unwrap_or_else(|| panic!("{} ({}) is not in the audit trail", t.id, t.agent));
        assert_eq!(recorded.status, t.status, "{}: trail vs answer", t.id);
        assert_eq!(recorded.amount, t.amount, "{}: trail vs answer", t.id);
    }

    // Every node reports what was approved: the shared day, and each agent's day.
    let today = told.iter().map(|t| t.day.as_str()).max().unwrap();
    for (n, clients) in agents.iter().enumerate() {
        let readers: Vec<&Agent> = if n == 0 {
            clients.iter().collect()
        } else {
            vec![&clients[n % 3]]
        };
        for agent in readers {
            let budget = agent.budget_ok();
            let line = budget_line(&budget, "shared", "day", "USD");
            assert_eq!(
                (money(&line["spent"]), money(&line["held"])),
                (shared_day.get(today).copied().unwrap_or(0), 0),
                "the shared day as node {} reports it to {}: {budget}",
                agent.addr(),
                agent.name
            );
            assert_eq!(
                spent_and_held(&budget, "agent", "day", "USD"),
                (
                    agent_day
                        .get(&(agent.name.as_str(), today))
                        .copied()
                        .unwrap_or(0),
                    0
                ),
                "{}'s day as node {} reports it",
                agent.name,
                agent.addr()
            );
        }
    }

    // One chain, verified by every node.
    let rows = assert_one_intact_chain(&nodes);
    assert!(
        rows as usize >= told.len(),
        "at least one audit row per decision: {rows} rows for {} decisions",
        told.len()
    );
    println!(
        "team race: {} requests from {AGENTS} agents on 3 nodes, {} approved ({} of 100.00), {denied} denied over budget, {rows} audit rows (seed {seed}); set-up {:.1} s, race {:.1} s, checks {:.1} s",
        told.len(),
        approved.len(),
        decimal(total),
        set_up.as_secs_f64(),
        raced.as_secs_f64(),
        (started.elapsed() - set_up - raced).as_secs_f64()
    );
}

#[test]
fn one_request_id_sent_to_two_nodes_at_once_is_decided_once() {
    const ROUNDS: usize = 24;
    let nodes = Arc::new(team(&CLUSTER, "idempotency", 3, POLICY));
    let clients = Arc::new(agent_everywhere(&nodes, 0, "twice-bot"));
    let seed = Rng::seed_from_env();
    let mut rng = Rng::new(seed);

    /// The same body, on nodes `first` and `second` at the same instant; both answers.
    fn at_once(
        clients: &Arc<Vec<Agent>>,
        bodies: [Value; 2],
        nodes: [usize; 2],
    ) -> [(u16, Value); 2] {
        let barrier = Arc::new(Barrier::new(2));
        let [a, b] = [0, 1].map(|i| {
            let clients = Arc::clone(clients);
            let barrier = Arc::clone(&barrier);
            let body = bodies[i].clone();
            let node = nodes[i];
            std::thread::spawn(move || {
                barrier.wait();
                clients[node].authorize(&body)
            })
        });
        [a.join().unwrap(), b.join().unwrap()]
    }

    let mut expected: i64 = 0;
    let mut ids = BTreeSet::new();
    for round in 0..ROUNDS {
        let amount = rng.range(1_000_000, 5_000_000) as i64;
        let body = payment(
            &format!("twice-{round}"),
            &decimal(amount),
            "api.example.com",
        );
        let pair = [round % 3, (round + 1) % 3];
        let [(status_a, a), (status_b, b)] = at_once(&clients, [body.clone(), body], pair);
        assert_eq!(
            (status_a, status_b),
            (200, 200),
            "round {round} on nodes {pair:?}: {a} / {b}\n{}",
            logs(&nodes)
        );
        assert_eq!(
            a["id"], b["id"],
            "round {round}: one authorization, whichever node answers: {a} / {b}"
        );
        assert_eq!(a["status"], "approved", "{a}");
        assert_eq!(b["status"], "approved", "{b}");
        assert_eq!(a["amount"], b["amount"]);
        expected += amount;
        ids.insert(a["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), ROUNDS);
    for (n, client) in clients.iter().enumerate() {
        assert_eq!(
            spent_and_held(&client.budget_ok(), "agent", "day", "USD"),
            (expected, 0),
            "node {n}: each request spent once"
        );
    }

    // Above the approval threshold: one pending request, listed once.
    let body = payment("twice-pending", "40.00", "api.example.com");
    let [(_, a), (_, b)] = at_once(&clients, [body.clone(), body], [0, 2]);
    assert_eq!(a["id"], b["id"], "{a} / {b}");
    assert_eq!(a["status"], "pending", "{a}");
    assert_eq!(b["status"], "pending", "{b}");
    let listed = nodes[1]
        .approvals()
        .into_iter()
        .filter(|pending| pending["request_id"] == "twice-pending")
        .count();
    assert_eq!(listed, 1, "one pending approval for one request_id");

    // The same request_id with other parameters, at once: one decision, one 409.
    for round in 0..4 {
        let request_id = format!("conflict-{round}");
        let bodies = [
            payment(&request_id, "1.00", "api.example.com"),
            payment(&request_id, "2.00", "api.example.com"),
        ];
        let [a, b] = at_once(&clients, bodies, [round % 3, (round + 2) % 3]);
        let (decided, refused) = if a.0 == 200 { (a, b) } else { (b, a) };
        assert_eq!(decided.0, 200, "one of them is decided: {}", decided.1);
        assert_eq!(decided.1["status"], "approved", "{}", decided.1);
        assert_error(&refused, 409, "idempotency_conflict");
        expected += money(&decided.1["amount"]);
    }
    assert_eq!(
        spent_and_held(&clients[1].budget_ok(), "agent", "day", "USD"),
        (expected, 0),
        "a conflict spends nothing"
    );

    let trail = Trail::export(&nodes[2]);
    let mut per_request: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for authorization in trail.finals().values() {
        per_request
            .entry(authorization.request_id.clone())
            .or_default()
            .insert(authorization.id.clone());
    }
    assert_eq!(per_request.len(), ROUNDS + 1 + 4, "{per_request:?}");
    for (request_id, ids) in &per_request {
        assert_eq!(ids.len(), 1, "{request_id} has one authorization: {ids:?}");
    }
    assert_one_intact_chain(&nodes);
}

/// `purser status` of `node` until it shows the kill switch engaged; fails when a read
/// begun `KILL_SEEN_WITHIN` after `killed` still shows it off.
fn assert_kill_seen(node: &TestDaemon, killed: Instant) {
    loop {
        let began = Instant::now();
        let status = node.cli_json(&["status"]);
        if status["kill_switch"]["engaged"] == true {
            return;
        }
        assert!(
            began.duration_since(killed) < KILL_SEEN_WITHIN,
            "{:?} after `purser kill` returned on another node, `purser status` here still says: {status}\n{}",
            began.duration_since(killed),
            node.log_tail(20)
        );
    }
}

#[test]
fn kill_on_one_node_stops_the_next_request_on_another_and_resume_anywhere_lifts_it() {
    let nodes = team(&CLUSTER, "kill_switch", 2, POLICY);
    let [a, b] = [&nodes[0], &nodes[1]];
    let clients = agent_everywhere(&nodes, 0, "runaway-bot");
    let [on_a, on_b] = [&clients[0], &clients[1]];
    let before = decide(
        &nodes,
        on_b,
        &payment("before-kill", "5.00", "api.example.com"),
    );
    assert_eq!(before["status"], "approved", "{before}");

    // A request waits for the principal on node B.
    let pending = decide(&nodes, on_b, &payment("waits", "40.00", "api.example.com"));
    assert_eq!(pending["status"], "pending", "{pending}");
    let pending_id = pending["id"].as_str().unwrap().to_owned();
    let waiting = {
        let agent = on_b.clone();
        let id = pending_id.clone();
        std::thread::spawn(move || (agent.get(&id, 30), Instant::now()))
    };
    std::thread::sleep(Duration::from_millis(300));

    let killed = a.cli_json(&["kill", "--reason", "team: runaway loop"]);
    let killed_at = Instant::now();
    let next = decide(
        &nodes,
        on_b,
        &payment("after-kill", "1.00", "api.example.com"),
    );
    assert_eq!(
        next["status"],
        "denied",
        "the very next request on node B: {next}\n{}",
        logs(&nodes)
    );
    assert_eq!(next["reason"]["code"], "kill_switch_engaged", "{next}");
    assert_kill_seen(b, killed_at);
    assert_eq!(killed["engaged"], true, "{killed}");
    assert_eq!(
        killed["cancelled"], 1,
        "the approval pending on node B is cancelled: {killed}"
    );

    // The agent waiting on node B hears it.
    let ((status, cancelled), answered_at) = waiting.join().unwrap();
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(
        cancelled["reason"]["code"], "kill_switch_engaged",
        "{cancelled}"
    );
    assert!(
        answered_at.duration_since(killed_at) < PROMPTLY,
        "the long-poll on node B returned {:?} after the kill on node A",
        answered_at.duration_since(killed_at)
    );
    assert!(b.approvals().is_empty(), "nothing is left to approve");
    assert_eq!(
        b.cli(&["approve", &pending_id]).status.code(),
        Some(1),
        "a cancelled request cannot be approved on another node"
    );

    // Everything is denied on every node, usage included.
    let denied = decide(
        &nodes,
        on_a,
        &payment("after-kill-a", "1.00", "api.example.com"),
    );
    assert_eq!(denied["reason"]["code"], "kill_switch_engaged", "{denied}");
    let (status, usage) = on_b.usage(&json!({
        "request_id": "usage-after-kill", "action": "web_search", "units": "1",
        "unit_cost": "0.01", "currency": "USD"
    }));
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["reason"]["code"], "kill_switch_engaged", "{usage}");
    let status = b.cli_json(&["status"]);
    assert_eq!(
        status["kill_switch"]["reason"], "team: runaway loop",
        "{status}"
    );

    // Resume on node B lifts it on node A.
    let resumed = b.cli_json(&["resume"]);
    assert_eq!(resumed["engaged"], false, "{resumed}");
    a.wait_until(PROMPTLY, "node A to show the kill switch off", || {
        a.cli_json(&["status"])["kill_switch"]["engaged"] == false
    });
    let approved = decide(
        &nodes,
        on_a,
        &payment("after-resume", "1.00", "api.example.com"),
    );
    assert_eq!(approved["status"], "approved", "{approved}");
    for client in &clients {
        assert_eq!(
            spent_and_held(&client.budget_ok(), "agent", "day", "USD"),
            (6_000_000, 0),
            "5.00 before the kill, 1.00 after resume"
        );
    }

    let trail = Trail::export(b);
    assert_eq!(trail.of_kind("kill").count(), 1);
    assert_eq!(trail.of_kind("resume").count(), 1);
    assert_one_intact_chain(&nodes);
}

#[test]
fn an_approval_asked_on_one_node_is_answered_on_another_and_wakes_the_agent() {
    let nodes = team(&CLUSTER, "approvals", 2, POLICY);
    let [a, b] = [&nodes[0], &nodes[1]];
    let clients = agent_everywhere(&nodes, 1, "waiting-bot");
    let on_a = &clients[0];

    // The agent waits on its POST to node A; the principal answers on node B.
    let body = payment("gpu-hours", "40.00", "cloud.example.com");
    let waiting = {
        let agent = on_a.clone();
        let body = body.clone();
        std::thread::spawn(move || {
            let answer = agent.authorize_waiting(&body, 30);
            (answer, Instant::now())
        })
    };
    let listed = b.pending_approval("waiting-bot", "gpu-hours");
    assert_eq!(listed["status"], "pending", "{listed}");
    assert_eq!(listed["amount"], "40.00", "{listed}");
    assert_eq!(listed["purpose"], body["purpose"], "{listed}");
    let id = listed["id"].as_str().unwrap().to_owned();
    let approved_at = Instant::now();
    let approved = b.cli_json(&["approve", &id]);
    assert_eq!(approved["status"], "approved", "{approved}");
    let ((status, decision), answered_at) = waiting.join().unwrap();
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["id"], id.as_str(), "{decision}");
    assert_eq!(
        decision["status"],
        "approved",
        "the agent waiting on node A: {decision}\n{}",
        logs(&nodes)
    );
    assert_eq!(
        decision["reason"]["code"], "approved_by_principal",
        "{decision}"
    );
    assert_eq!(decision["decided_by"], "principal", "{decision}");
    assert!(
        answered_at.duration_since(approved_at) < PROMPTLY,
        "the long-poll on node A returned {:?} after the approval on node B",
        answered_at.duration_since(approved_at)
    );
    assert!(
        !a.approvals()
            .iter()
            .any(|pending| pending["id"] == id.as_str()),
        "node A's inbox no longer lists it"
    );

    // A GET long-poll on node A hears a denial on node B.
    let pending = decide(
        &nodes,
        on_a,
        &payment("yacht", "99.00", "boats.example.com"),
    );
    assert_eq!(pending["status"], "pending", "{pending}");
    let yacht = pending["id"].as_str().unwrap().to_owned();
    let polling = {
        let agent = on_a.clone();
        let id = yacht.clone();
        std::thread::spawn(move || agent.get(&id, 30))
    };
    std::thread::sleep(Duration::from_millis(300));
    b.cli_ok(&["deny", &yacht, "--reason", "not this quarter"]);
    let (status, denied) = polling.join().unwrap();
    assert_eq!(status, 200, "{denied}");
    assert_eq!(denied["status"], "denied", "{denied}");
    assert_eq!(denied["reason"]["code"], "denied_by_principal", "{denied}");

    for client in &clients {
        assert_eq!(
            spent_and_held(&client.budget_ok(), "agent", "day", "USD"),
            (40_000_000, 0),
            "the approved 40.00, seen from every node"
        );
    }
    assert_one_intact_chain(&nodes);
}

/// One request of the outage test, as its agent lived it.
#[derive(Debug, Clone)]
struct Exchange {
    node: usize,
    agent: String,
    request_id: String,
    sent: Instant,
    answered: Instant,
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// 200 approved, with the authorization id.
    Approved(String),
    /// 503 `unavailable`: "nothing was approved", or (`outcome_unknown`) "the database
    /// was lost while recording: retry with the same request_id to learn the outcome".
    Unavailable { outcome_unknown: bool },
    /// Anything else: a failure of the test.
    Other(String),
}

#[test]
fn postgres_down_fails_closed_and_the_same_daemons_recover_when_it_is_back() {
    const AGENTS: usize = 3;
    const THREADS: usize = 6;
    let mut cluster = TestPostgres::start().unwrap_or_else(|error| panic!("{error}"));
    let policy = POLICY.replace("max = \"500.00\"", "max = \"100000.00\"");
    let nodes = Arc::new(team(&cluster, "outage", 2, &policy));
    let clients: Arc<Vec<Vec<Agent>>> = Arc::new(
        (0..AGENTS)
            .map(|n| agent_everywhere(&nodes, n % 2, &format!("steady-{n}")))
            .collect(),
    );

    // Agents keep asking, each on both nodes in turn, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let approvals = Arc::new(AtomicUsize::new(0));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let exchanges: Arc<Mutex<Vec<Exchange>>> = Arc::new(Mutex::new(Vec::new()));
    let load: Vec<_> = (0..THREADS)
        .map(|t| {
            let clients = Arc::clone(&clients);
            let stop = Arc::clone(&stop);
            let approvals = Arc::clone(&approvals);
            let unavailable = Arc::clone(&unavailable);
            let exchanges = Arc::clone(&exchanges);
            std::thread::spawn(move || {
                let mut k = 0;
                while !stop.load(Ordering::SeqCst) {
                    let node = (t + k) % 2;
                    let agent = &clients[t % AGENTS][node];
                    let request_id = format!("steady-{t}-{k}");
                    let sent = Instant::now();
                    let answer =
                        agent.try_authorize(&payment(&request_id, "1.00", "api.example.com"));
                    let outcome = match answer {
                        Ok((200, decision)) if decision["status"] == "approved" => {
                            approvals.fetch_add(1, Ordering::SeqCst);
                            Outcome::Approved(decision["id"].as_str().unwrap_or("").to_owned())
                        }
                        Ok((503, error)) if error["error"]["code"] == "unavailable" => {
                            unavailable.fetch_add(1, Ordering::SeqCst);
                            // Fail-closed answers come fast: do not spin on them.
                            std::thread::sleep(Duration::from_millis(20));
                            let message = error["error"]["message"].as_str().unwrap_or("");
                            Outcome::Unavailable {
                                outcome_unknown: message.contains("outcome is not known"),
                            }
                        }
                        Ok((status, body)) => Outcome::Other(format!("{status} {body}")),
                        Err(error) => Outcome::Other(error),
                    };
                    exchanges.lock().unwrap().push(Exchange {
                        node,
                        agent: agent.name.clone(),
                        request_id,
                        sent,
                        answered: Instant::now(),
                        outcome,
                    });
                    k += 1;
                }
            })
        })
        .collect();
    let wait_for = |counter: &AtomicUsize, at_least: usize, what: &str| {
        let deadline = Instant::now() + RECOVERY_LIMIT;
        while counter.load(Ordering::SeqCst) < at_least {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                logs(&nodes)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    wait_for(&approvals, 40, "approvals before the outage");
    let stopping = Instant::now();
    cluster.stop().unwrap_or_else(|error| panic!("{error}"));
    let down = Instant::now();
    let unavailable_before = unavailable.load(Ordering::SeqCst);
    wait_for(
        &unavailable,
        unavailable_before + 12,
        "503 unavailable answers while PostgreSQL is down",
    );
    std::thread::sleep(Duration::from_millis(500));
    let restarting = Instant::now();
    cluster
        .start_again()
        .unwrap_or_else(|error| panic!("{error}"));

    // Each node decides again by itself: a fresh request is approved.
    for (n, client) in clients[0].iter().enumerate() {
        let mut attempt = 0;
        loop {
            let request_id = format!("recovery-{n}-{attempt}");
            match client.try_authorize(&payment(&request_id, "1.00", "api.example.com")) {
                Ok((200, decision)) => {
                    assert_eq!(decision["status"], "approved", "{decision}");
                    break;
                }
                Ok((503, error)) => assert_eq!(error["error"]["code"], "unavailable", "{error}"),
                other => panic!(
                    "node {n} after PostgreSQL came back: {other:?}\n{}",
                    logs(&nodes)
                ),
            }
            assert!(
                restarting.elapsed() < RECOVERY_LIMIT,
                "node {n} did not decide again within {RECOVERY_LIMIT:?} of PostgreSQL's restart\n{}",
                logs(&nodes)
            );
            attempt += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let recovered_in = restarting.elapsed();
    let recovered = approvals.load(Ordering::SeqCst);
    wait_for(&approvals, recovered + 40, "approvals after the restart");
    stop.store(true, Ordering::SeqCst);
    for thread in load {
        thread.join().unwrap();
    }
    let exchanges = exchanges.lock().unwrap().clone();

    // Every answer was a decision or a fail-closed 503, and nothing was approved while
    // PostgreSQL was down.
    let others: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| matches!(e.outcome, Outcome::Other(_)))
        .collect();
    assert!(
        others.is_empty(),
        "{} answers were neither 200 approved nor 503 unavailable, e.g. {:?}\n{}",
        others.len(),
        &others[..others.len().min(5)],
        logs(&nodes)
    );
    let approved_while_down: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| {
            matches!(e.outcome, Outcome::Approved(_)) && e.sent >= down && e.answered <= restarting
        })
        .collect();
    assert!(
        approved_while_down.is_empty(),
        "approved while PostgreSQL was down: {approved_while_down:?}"
    );
    let refused_while_down = exchanges
        .iter()
        .filter(|e| {
            matches!(e.outcome, Outcome::Unavailable { .. })
                && e.sent >= down
                && e.answered <= restarting
        })
        .count();
    assert!(refused_while_down > 0, "the outage was seen by the agents");
    for node in nodes.iter() {
        let stderr = node.stderr();
        assert!(
            !stderr.contains("panicked"),
            "a daemon panicked during the outage:\n{stderr}"
        );
    }

    // Nothing acknowledged is lost: every approval the agents heard is in the shared
    // trail, and each node's ledger equals the trail.
    let trail = Trail::export(&nodes[0]);
    let finals = trail.finals();
    let mut approved_before_stop = 0;
    for exchange in &exchanges {
        if let Outcome::Approved(id) = &exchange.outcome {
            let recorded = finals.get(id).unwrap_or_else(|| {
                panic!(
                    "{} ({}, node {}) was approved but is not in the audit trail",
                    exchange.request_id, id, exchange.node
                )
            });
            assert_eq!(recorded.status, "approved", "{id}");
            if exchange.answered < stopping {
                approved_before_stop += 1;
            }
        }
    }
    assert!(approved_before_stop >= 40);
    let recorded_by_request: BTreeMap<(String, String), &str> = finals
        .values()
        .map(|a| ((a.agent.clone(), a.request_id.clone()), a.status.as_str()))
        .collect();
    // 503 means "nothing was approved" (agent-api.md), as it does on SQLite
    // (reliability_store_faults.rs): a request answered so must not be recorded. The one
    // exception says so: a COMMIT cut off by the stop may have landed, and when the
    // daemon cannot ask the database it answers that the outcome is unknown (retrying
    // with the same request_id tells). Checked last, once the retries, the ledger and
    // the chain have been checked.
    let refused: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| matches!(e.outcome, Outcome::Unavailable { .. }))
        .collect();
    let outcome_unknown = refused
        .iter()
        .filter(|e| {
            e.outcome
                == Outcome::Unavailable {
                    outcome_unknown: true,
                }
        })
        .count();
    let mut recorded_although_refused = Vec::new();
    for exchange in refused.iter().filter(|e| {
        e.outcome
            == Outcome::Unavailable {
                outcome_unknown: false,
            }
    }) {
        let key = (exchange.agent.clone(), exchange.request_id.clone());
        if let Some(status) = recorded_by_request.get(&key) {
            let since_stop = |at: Instant| {
                if at >= stopping {
                    format!("+{:.3} s", (at - stopping).as_secs_f64())
                } else {
                    format!("-{:.3} s", (stopping - at).as_secs_f64())
                }
            };
            recorded_although_refused.push(format!(
                "{} on node {} (sent {}, answered 503 {} from the stop; recorded {status})",
                exchange.request_id,
                exchange.node,
                since_stop(exchange.sent),
                since_stop(exchange.answered)
            ));
        }
    }
    for exchange in refused.iter().take(10) {
        let client = clients
            .iter()
            .flatten()
            .find(|c| c.name == exchange.agent && c.addr() == nodes[exchange.node].addr())
            .unwrap();
        let retry = decide(
            &nodes,
            client,
            &payment(&exchange.request_id, "1.00", "api.example.com"),
        );
        assert_eq!(
            retry["status"], "approved",
            "a request refused during the outage is decided when retried: {retry}"
        );
    }
    let trail = Trail::export(&nodes[1]);
    let mut spent_by_agent: BTreeMap<String, i64> = BTreeMap::new();
    for authorization in trail.finals().values() {
        *spent_by_agent
            .entry(authorization.agent.clone())
            .or_default() += authorization.sums().spent;
    }
    for client in clients.iter().flatten() {
        assert_eq!(
            spent_and_held(&client.budget_ok(), "agent", "day", "USD"),
            (spent_by_agent.get(&client.name).copied().unwrap_or(0), 0),
            "{}'s day as node {} reports it: ledger vs trail",
            client.name,
            client.addr()
        );
    }
    let rows = assert_one_intact_chain(&nodes);
    let failed_commits: Vec<String> = nodes
        .iter()
        .enumerate()
        .flat_map(|(n, node)| {
            node.stderr()
                .lines()
                .filter(|line| line.contains("commit_failed=true"))
                .map(|line| format!("node {n}: {line}"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        recorded_although_refused.is_empty(),
        "answered 503 unavailable (\"nothing was approved\") but recorded in the shared trail: \
         {recorded_although_refused:#?}\nthe daemons' failed commits: {failed_commits:#?}"
    );
    let slowest_503 = refused
        .iter()
        .map(|e| e.answered - e.sent)
        .max()
        .unwrap_or_default();
    println!(
        "team outage: {} requests, {approved_before_stop} approved before the stop, PostgreSQL down {:.1} s, {refused_while_down} answered 503 while down (slowest 503 {:.2} s), none approved while down, {} 503s in all, none of those saying \"nothing was approved\" recorded ({outcome_unknown} said the outcome was unknown), recovered in {:.1} s; {rows} audit rows intact on both nodes",
        exchanges.len(),
        (restarting - down).as_secs_f64(),
        slowest_503.as_secs_f64(),
        refused.len(),
        recovered_in.as_secs_f64()
    );
}
