//! What a click on a notification's Approve / Deny does, against a real daemon in
//! process: it decides like the console does, and a click that comes after the request
//! was decided elsewhere (the race the notifier cannot close: the principal clicks while
//! the CLI's approval is on its way) changes nothing and says it was already decided.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failed step is a failed test"
)]

use std::sync::Arc;

use purser_daemon::{Daemon, RunningDaemon, ServeConfig, SystemClock};
use purser_notify::{Choice, PendingRequest, decide_on_click};
use purser_store::Store as _;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }
"#;

struct Running {
    daemon: RunningDaemon,
    token: String,
    _dir: tempfile::TempDir,
}

async fn daemon() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::new(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    let daemon = Daemon::start(config, Arc::new(SystemClock)).await.unwrap();
    let console = daemon.console();
    console
        .apply_policy("policy.toml", POLICY, "test")
        .await
        .unwrap();
    let token = console
        .add_agent("research-bot".parse().unwrap(), None)
        .await
        .unwrap()
        .token;
    Running {
        daemon,
        token,
        _dir: dir,
    }
}

/// The agent asks over HTTP, as agents do; the pending request as a notification reads it.
async fn ask(running: &Running, request_id: &str) -> PendingRequest {
    let addr = running.daemon.agent_addr();
    let body = format!(
        r#"{{"request_id":"{request_id}","amount":"42.00","currency":"USD","merchant":"api.example.com","purpose":"click test"}}"#
    );
    let request = format!(
        "POST /v1/authorizations HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        running.token,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let json = answer.split("\r\n\r\n").nth(1).unwrap();
    let decision: Value = serde_json::from_str(json).unwrap();
    assert_eq!(decision["status"], "pending", "{decision}");
    PendingRequest::from_event(json).unwrap()
}

/// The request's status as the store has it now.
async fn status(running: &Running, id: &str) -> String {
    let authorization = running
        .daemon
        .console()
        .store()
        .get_authorization(&"research-bot".parse().unwrap(), id)
        .await
        .unwrap()
        .expect("the agent's own request");
    authorization.status.as_str().to_owned()
}

#[tokio::test]
async fn approve_and_deny_clicks_decide_like_the_console() {
    let running = daemon().await;
    let console = running.daemon.console();
    let first = ask(&running, "click-approve").await;
    assert_eq!(
        decide_on_click(console, &first, Choice::Approve).await,
        None,
        "approved as asked: nothing more to say"
    );
    let second = ask(&running, "click-deny").await;
    assert_eq!(decide_on_click(console, &second, Choice::Deny).await, None);
    assert_eq!(status(&running, &first.id).await, "approved");
    assert_eq!(status(&running, &second.id).await, "denied");
    running.daemon.shutdown().await;
}

#[tokio::test]
async fn a_click_after_a_decision_elsewhere_changes_nothing_and_says_so() {
    let running = daemon().await;
    let console = running.daemon.console();
    let request = ask(&running, "click-stale").await;
    // The principal approved it in the console (or the CLI)...
    let approved = console
        .approve(&request.id, purser_store::GrantChoice::Once)
        .await
        .unwrap();
    assert_eq!(approved.status.as_str(), "approved");
    // ...and then clicks Deny on the notification still on screen.
    let notice = decide_on_click(console, &request, Choice::Deny)
        .await
        .expect("a stale click is answered with a notice");
    assert_eq!(
        notice.summary,
        "Already decided: research-bot wants 42.00 USD at api.example.com"
    );
    assert!(notice.body.contains("approved"), "{}", notice.body);
    assert!(notice.actions.is_empty());
    // Approve again: still one approval, nothing spent twice.
    let again = decide_on_click(console, &request, Choice::Approve)
        .await
        .expect("a stale click is answered with a notice");
    assert!(again.summary.starts_with("Already decided"), "{again:?}");
    assert_eq!(status(&running, &request.id).await, "approved");
    let status = console.store().status().await.unwrap();
    assert_eq!(status.pending, 0);
    let spent: Vec<_> = status.today.iter().map(|t| t.spent.to_string()).collect();
    assert_eq!(spent, ["42.00"], "approved once, spent once");
    running.daemon.shutdown().await;
}
