//! The daemon's life on a real data dir, in process: permissions, the lock, restarts,
//! the kill switch across a restart and under concurrent requests, graceful shutdown.

mod live;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use live::{Live, agent_call, instant, mode, payment, policy};
use purser_daemon::{Daemon, StartError};
use purser_store::SystemClock;
use serde_json::json;

#[tokio::test]
async fn the_data_dir_is_0700_and_the_admin_socket_0600() {
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("purser");
    let mut live = Live {
        dir: tempfile::tempdir().unwrap(),
        daemon: None,
    };
    let mut config = live.config();
    config.data_dir = data_dir.clone();
    let daemon = Daemon::start(config, Arc::new(SystemClock)).await.unwrap();
    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(daemon.admin_socket_path(), data_dir.join("admin.sock"));
    assert_eq!(mode(daemon.admin_socket_path()), 0o600);
    assert_eq!(mode(&data_dir.join("purser.db")), 0o600);
    let lock = std::fs::read_to_string(data_dir.join("purser.lock")).unwrap();
    assert_eq!(lock.trim(), std::process::id().to_string());
    daemon.shutdown().await;

    // A data dir others could read is tightened on start.
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = live.config();
    config.data_dir = data_dir.clone();
    live.daemon = Some(Daemon::start(config, Arc::new(SystemClock)).await.unwrap());
    assert_eq!(mode(&data_dir), 0o700);
    live.stop().await;
}

#[tokio::test]
async fn a_second_daemon_on_the_same_dir_is_refused_naming_the_first() {
    let mut live = Live::start().await;
    let error = Daemon::start(live.config(), Arc::new(SystemClock))
        .await
        .unwrap_err();
    assert!(matches!(error, StartError::Locked { .. }), "{error:?}");
    assert!(error.is_usage(), "the CLI exits 2 for it");
    let pid = std::process::id();
    assert_eq!(
        error.to_string(),
        format!(
            "another Purser daemon (pid {pid}) holds {}: stop it first (`kill {pid}`) or use --data-dir",
            live.data_dir().display()
        )
    );
    // The first daemon is unharmed.
    let status = live.admin("GET", "/admin/status", None).await;
    assert_eq!(status.status, 200);
    live.stop().await;
}

#[tokio::test]
async fn a_remote_address_needs_allow_remote() {
    let live = Live {
        dir: tempfile::tempdir().unwrap(),
        daemon: None,
    };
    let mut config = live.config();
    config.listen = "0.0.0.0:0".parse().unwrap();
    let error = Daemon::start(config, Arc::new(SystemClock))
        .await
        .unwrap_err();
    assert!(matches!(error, StartError::Config(_)), "{error:?}");
    assert!(error.to_string().contains("--allow-remote"), "{error}");
    assert!(error.is_usage());
}

#[tokio::test]
async fn the_admin_api_is_not_on_tcp() {
    let mut live = Live::start().await;
    let token = live.add_agent("bot").await;
    for path in ["/admin/status", "/admin/approvals", "/admin/agents"] {
        let reply = live.agent(&token, "GET", path, None).await;
        assert_eq!(reply.status, 404, "{path}: {reply:?}");
        assert_eq!(reply.json["error"]["code"], "not_found");
    }
    let kill = live
        .agent(&token, "POST", "/admin/kill", Some(json!({})))
        .await;
    assert_eq!(kill.status, 404);
    let status = live.admin("GET", "/admin/status", None).await;
    assert_eq!(status.json["kill_switch"]["engaged"], false);
    live.stop().await;
}

#[tokio::test]
async fn kill_cancels_pending_denies_new_requests_survives_a_restart_until_resumed() {
    let mut live = Live::start().await;
    let token = live.add_agent("bot").await;
    let addr = live.daemon().agent_addr();
    let waiting = {
        let token = token.clone();
        tokio::spawn(async move {
            agent_call(
                addr,
                &token,
                "POST",
                "/v1/authorizations?wait=60",
                Some(payment("big", "40.00")),
            )
            .await
        })
    };
    live.wait_for_pending(1).await;

    let killed = live
        .admin(
            "POST",
            "/admin/kill",
            Some(json!({"reason": "runaway loop"})),
        )
        .await;
    assert_eq!(killed.status, 200, "{killed:?}");
    assert_eq!(killed.json, json!({"engaged": true, "cancelled": 1}));
    // The kill answered only after waking the waiting agent.
    let cancelled = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("the long-poll was woken by the kill")
        .unwrap();
    assert_eq!(cancelled.json["status"], "cancelled", "{cancelled:?}");
    assert_eq!(cancelled.json["decided_by"], "kill_switch");
    assert_eq!(cancelled.json["reason"]["code"], "kill_switch_engaged");
    assert!(
        live.admin("GET", "/admin/approvals", None)
            .await
            .json
            .as_array()
            .unwrap()
            .is_empty()
    );

    let denied = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations",
            Some(payment("small", "1.00")),
        )
        .await;
    assert_eq!(denied.json["status"], "denied");
    assert_eq!(denied.json["reason"]["code"], "kill_switch_engaged");

    live.restart().await;
    let status = live.admin("GET", "/admin/status", None).await;
    assert_eq!(status.json["kill_switch"]["engaged"], true, "{status:?}");
    assert_eq!(status.json["kill_switch"]["reason"], "runaway loop");
    let still_denied = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations",
            Some(payment("after-restart", "1.00")),
        )
        .await;
    assert_eq!(still_denied.json["reason"]["code"], "kill_switch_engaged");

    let resumed = live.admin("POST", "/admin/resume", None).await;
    assert_eq!(resumed.status, 200, "{resumed:?}");
    assert_eq!(resumed.json, json!({"engaged": false}));
    let approved = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations",
            Some(payment("after-resume", "1.00")),
        )
        .await;
    assert_eq!(approved.json["status"], "approved", "{approved:?}");
    live.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_approval_is_decided_after_the_kill_returns() {
    let mut live = Live::start().await;
    let addr = live.daemon().agent_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut agents = Vec::new();
    for name in ["a1", "a2", "a3", "a4"] {
        let token = live.add_agent(name).await;
        let stop = Arc::clone(&stop);
        let answered = Arc::clone(&answered);
        agents.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for n in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let sent_at = Instant::now();
                let reply = agent_call(
                    addr,
                    &token,
                    "POST",
                    "/v1/authorizations",
                    Some(payment(&format!("{name}-{n}"), "0.01")),
                )
                .await;
                assert_eq!(reply.status, 200, "{reply:?}");
                results.push((sent_at, reply.json));
                answered.fetch_add(1, Ordering::SeqCst);
            }
            results
        }));
    }
    let answered_at_least = |count: usize| {
        let answered = Arc::clone(&answered);
        async move {
            while answered.load(Ordering::SeqCst) < count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    // Requests flow before, during and after the kill.
    answered_at_least(40).await;
    let killed = live.admin("POST", "/admin/kill", None).await;
    let kill_returned = Instant::now();
    assert_eq!(killed.json["engaged"], true);
    let after_kill = answered.load(Ordering::SeqCst);
    answered_at_least(after_kill + 40).await;
    stop.store(true, Ordering::SeqCst);
    let mut results = Vec::new();
    for agent in agents {
        results.extend(agent.await.unwrap());
    }
    let status = live.admin("GET", "/admin/status", None).await;
    let killed_at = instant(&status.json["kill_switch"]["changed_at"]);

    let (mut approved, mut refused_by_kill) = (0, 0);
    for (sent_at, decision) in &results {
        match decision["status"].as_str().unwrap() {
            "approved" => {
                approved += 1;
                assert!(
                    instant(&decision["decided_at"]) <= killed_at,
                    "approved after the kill: {decision}"
                );
                assert!(
                    *sent_at < kill_returned,
                    "a request sent after the kill returned was approved"
                );
            }
            "denied" => {
                assert_eq!(
                    decision["reason"]["code"], "kill_switch_engaged",
                    "{decision}"
                );
                refused_by_kill += 1;
            }
            other => panic!("unexpected status {other}: {decision}"),
        }
    }
    assert!(approved > 0, "some requests were decided before the kill");
    assert!(refused_by_kill > 0, "some requests met the kill switch");
    live.stop().await;
}

#[tokio::test]
async fn pending_requests_survive_a_restart_and_expire_after_it() {
    let mut live = Live::with_policy(&policy("2s")).await;
    let token = live.add_agent("bot").await;
    let pending = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations",
            Some(payment("slow", "40.00")),
        )
        .await;
    assert_eq!(pending.json["status"], "pending");
    let id = pending.json["id"].as_str().unwrap().to_owned();
    live.restart().await;
    let listed = live.wait_for_pending(1).await;
    assert_eq!(
        listed[0]["id"],
        id.as_str(),
        "still pending after the restart"
    );
    let started = Instant::now();
    let expired = live
        .agent(
            &token,
            "GET",
            &format!("/v1/authorizations/{id}?wait=10"),
            None,
        )
        .await;
    assert_eq!(expired.json["status"], "expired", "{expired:?}");
    assert_eq!(expired.json["decided_by"], "timeout");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "expired on time after the restart"
    );
    live.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_releases_long_polls_ends_streams_and_removes_the_socket_and_lock() {
    let mut live = Live::start().await;
    let token = live.add_agent("bot").await;
    let addr = live.daemon().agent_addr();
    let socket = live.daemon().admin_socket_path().to_owned();
    let mut events = live.events().await;
    let waiting = tokio::spawn(async move {
        agent_call(
            addr,
            &token,
            "POST",
            "/v1/authorizations?wait=60",
            Some(payment("big", "40.00")),
        )
        .await
    });
    live.wait_for_pending(1).await;

    let started = Instant::now();
    live.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let released = waiting.await.unwrap();
    assert_eq!(released.status, 200);
    assert_eq!(
        released.json["status"], "pending",
        "answered with what it had: {released:?}"
    );
    assert!(
        events.ends_within(Duration::from_secs(1)).await,
        "the event stream ended"
    );
    assert!(!socket.exists(), "admin.sock removed");
    assert!(
        !live.data_dir().join("purser.lock").exists(),
        "lock file removed"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
    // The next daemon on the dir starts cleanly.
    live.restart().await;
    assert_eq!(live.wait_for_pending(1).await.len(), 1);
    live.stop().await;
}

#[tokio::test]
async fn a_stale_socket_file_is_replaced() {
    let mut live = Live::start().await;
    let socket = live.daemon().admin_socket_path().to_owned();
    // Simulate a crash: the socket file stays behind, the lock is the kernel's.
    let daemon = live.daemon.take().unwrap();
    let handle = daemon.shutdown_handle();
    handle.trigger();
    drop(daemon);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(socket.exists());
    std::fs::remove_file(live.data_dir().join("purser.lock")).ok();
    live.restart().await;
    let status = live.admin("GET", "/admin/status", None).await;
    assert_eq!(status.status, 200);
    live.stop().await;
}
