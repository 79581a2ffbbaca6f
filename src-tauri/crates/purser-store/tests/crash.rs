//! Crash consistency: a store process killed with SIGKILL mid-run loses nothing it
//! acknowledged. The test re-runs its own binary as the child (`crash_child`), which
//! prints `ACK <agent> <id> <status>` after each answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::*;
use purser_core::Clock;
use purser_store::{SqliteStore, Store, StoreOptions};

const CHILD_ENV: &str = "PURSER_STORE_CRASH_CHILD_DB";
const ACKS_BEFORE_KILL: usize = 400;

/// The child: decides requests as fast as it can until it is killed.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let clock: Arc<dyn Clock> = ManualClock::new(start());
        let store = SqliteStore::open(&PathBuf::from(path), clock, StoreOptions::default())
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for t in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for r in 0..100_000 {
                    let agent = if t % 2 == 0 { "bot" } else { "other" };
                    let request = match r % 4 {
                        0 => hold(agent, &format!("{t}-{r}"), "2.00"),
                        1 => payment(agent, &format!("{t}-{r}"), "30.00", "USD"), // pending
                        _ => payment(agent, &format!("{t}-{r}"), "1.00", "USD"),
                    };
                    let answer = store.authorize(request).await.unwrap();
                    println!("ACK {agent} {} {}", answer.id, answer.status.as_str());
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

fn parse(line: &str, acks: &mut Vec<(String, String, String)>) {
    let mut words = line.split_whitespace();
    if words.next() == Some("ACK") {
        if let (Some(agent), Some(id), Some(status)) = (words.next(), words.next(), words.next()) {
            acks.push((agent.to_owned(), id.to_owned(), status.to_owned()));
        }
    }
}

#[tokio::test]
async fn acknowledged_decisions_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    // A shared budget that runs out mid-run, so denials are in the mix too.
    apply(&store, &policy("500.00", "25.00")).await;
    add_agent(&store, "bot").await;
    add_agent(&store, "other").await;
    drop(store);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, db_path(dir.path()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks: Vec<(String, String, String)> = Vec::new();
    for line in lines.by_ref() {
        parse(&line.unwrap(), &mut acks);
        if acks.len() >= ACKS_BEFORE_KILL {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    // Whatever the child printed before dying was acknowledged too.
    for line in lines.map_while(Result::ok) {
        parse(&line, &mut acks);
    }
    let exit = child.wait().unwrap();
    assert!(
        !exit.success(),
        "the child must have been killed, not finished"
    );
    assert!(acks.len() >= ACKS_BEFORE_KILL);

    let store = open(dir.path(), &clock).await;
    let mut statuses = std::collections::HashMap::new();
    for (agent_name, id, status) in &acks {
        let record = store
            .get_authorization(&agent(agent_name), id)
            .await
            .unwrap();
        let record =
            record.unwrap_or_else(|| panic!("acknowledged {id} is missing after the crash"));
        assert_eq!(record.status.as_str(), status, "{id}");
        *statuses.entry(status.clone()).or_insert(0) += 1;
    }
    assert!(
        statuses.contains_key("approved") && statuses.contains_key("pending"),
        "{statuses:?}"
    );
    let verification = store.verify_audit().await.unwrap();
    assert!(verification.intact, "{verification:?}");
    assert_ledger_matches_authorizations(dir.path()).await;

    // The rebuilt budget equals what the ledger says, and never exceeds the limit.
    let line = &store.budget(&agent("bot"), None).await.unwrap()[0];
    let mut conn = raw(dir.path()).await;
    let on_disk: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(spent_micros + held_micros), 0) FROM ledger")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(line.spent.micros() + line.held.micros(), on_disk);
    assert!(on_disk <= 500_000_000);
}
