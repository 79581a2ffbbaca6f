//! Team mode, in process: two daemons on one PostgreSQL database (a throwaway cluster),
//! each publishing on its own event bus what the *other* one did, with the payloads of
//! the local path: `policy_applied`, `agent_changed`, `pending` for a request the other
//! node received, `approval_decided` when the other node approves, `kill_switch` with the
//! cancelled ids; and the long-polling agent on one node woken by an approval on the
//! other. Needs the PostgreSQL server binaries (`cargo xtask test` installs them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod live;

use std::sync::Arc;
use std::time::Duration;

use live::{agent_call, payment, policy};
use purser_daemon::events::{EventKind, Subscription};
use purser_daemon::{Daemon, RunningDaemon, ServeConfig};
use purser_store::{GrantChoice, SystemClock};
use purser_testpg::TestPostgres;
use serde_json::Value;

async fn start(url: &str, dir: &tempfile::TempDir) -> RunningDaemon {
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: Some(url.to_owned()),
        ..ServeConfig::new(dir.path())
    };
    Daemon::start(config, Arc::new(SystemClock)).await.unwrap()
}

/// The next event of `kind` on `events` (others are skipped), within 10 s.
async fn next_of(events: &mut Subscription, kind: EventKind) -> Value {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.next().await.expect("the bus is open");
            if event.kind == kind {
                return event.json();
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {} event within 10 s", kind.as_str()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_daemon_publishes_what_the_other_did() {
    let cluster = tokio::task::spawn_blocking(TestPostgres::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{}", e.message()));
    let url = cluster.create_database("relay").unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(&url, &dir_a).await;
    let b = start(&url, &dir_b).await;
    let mut heard_by_a = a.events().subscribe();
    let mut heard_by_b = b.events().subscribe();

    // Policy and agents applied on A reach B's listeners.
    let version = a
        .console()
        .apply_policy("team.toml", &policy("10m"), "test")
        .await
        .unwrap();
    let applied = next_of(&mut heard_by_b, EventKind::PolicyApplied).await;
    assert_eq!(applied["version"], version, "{applied}");
    assert_eq!(b.console().status().await.unwrap().policy_version, version);
    let token = a
        .console()
        .add_agent("research-bot".parse().unwrap(), None)
        .await
        .unwrap()
        .token;
    let added = next_of(&mut heard_by_b, EventKind::AgentChanged).await;
    assert_eq!(added["action"], "add", "{added}");
    assert_eq!(added["name"], "research-bot", "{added}");

    // A request A receives waits in B's inbox; B approves it; the agent parked on A
    // hears at once.
    let asked = agent_call(
        a.agent_addr(),
        &token,
        "POST",
        "/v1/authorizations",
        Some(payment("team-1", "40.00")),
    )
    .await;
    assert_eq!(asked.json["status"], "pending", "{asked:?}");
    let id = asked.json["id"].as_str().unwrap().to_owned();
    let pending = next_of(&mut heard_by_b, EventKind::Pending).await;
    assert_eq!(pending["id"], id.as_str(), "{pending}");
    let waiting = {
        let (addr, token, path) = (
            a.agent_addr(),
            token.clone(),
            format!("/v1/authorizations/{id}?wait=20"),
        );
        tokio::spawn(async move { agent_call(addr, &token, "GET", &path, None).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.console().approve(&id, GrantChoice::Once).await.unwrap();
    let decided = next_of(&mut heard_by_a, EventKind::ApprovalDecided).await;
    assert_eq!(decided["id"], id.as_str(), "{decided}");
    assert_eq!(decided["status"], "approved", "{decided}");
    let woken = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the agent parked on A is woken by B's approval")
        .unwrap();
    assert_eq!(woken.json["status"], "approved", "{woken:?}");

    // B's kill switch cancels what waits on A and A's listeners are told which.
    let asked = agent_call(
        a.agent_addr(),
        &token,
        "POST",
        "/v1/authorizations",
        Some(payment("team-2", "41.00")),
    )
    .await;
    let waiting_id = asked.json["id"].as_str().unwrap().to_owned();
    let killed = b.console().kill(Some("drill".into())).await.unwrap();
    assert_eq!(killed.cancelled.len(), 1);
    let kill = next_of(&mut heard_by_a, EventKind::KillSwitch).await;
    assert_eq!(kill["engaged"], true, "{kill}");
    assert_eq!(kill["cancelled_ids"][0], waiting_id.as_str(), "{kill}");
    assert!(a.console().status().await.unwrap().kill_switch.engaged);
    let denied = agent_call(
        a.agent_addr(),
        &token,
        "POST",
        "/v1/authorizations",
        Some(payment("team-3", "1.00")),
    )
    .await;
    assert_eq!(
        denied.json["reason"]["code"], "kill_switch_engaged",
        "{denied:?}"
    );
    a.console().resume().await.unwrap();
    // B heard its own kill first (published locally), then A's resume (relayed).
    let own = next_of(&mut heard_by_b, EventKind::KillSwitch).await;
    assert_eq!(own["engaged"], true, "{own}");
    let resumed = next_of(&mut heard_by_b, EventKind::KillSwitch).await;
    assert_eq!(resumed["engaged"], false, "{resumed}");

    let status_b = b.console().status().await.unwrap();
    assert!(
        status_b.database.ends_with("(team mode)"),
        "{}",
        status_b.database
    );
    assert!(!status_b.database.contains("password"));
    a.shutdown().await;
    b.shutdown().await;
}
