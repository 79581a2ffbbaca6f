//! The command layer against a real daemon: each test starts one in process on a
//! temporary data dir and port 0 (as the app does at launch), calls the same functions
//! the `#[tauri::command]`s call, and plays the agent over real HTTP on the agent API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failed step fails the test"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use purser_daemon::ServeConfig;
use purser_desktop::commands::audit::{self, AuditQuery};
use purser_desktop::commands::{agents, inbox, kill_switch, overview, policy};
use purser_desktop::startup::{Args, DesktopConsole, EmbeddedDaemon, Launch, Startup};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Approves up to 25 USD and asks above; 200 USD a day.
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
max = "200.00"
on_exceed = "deny"
"#;

struct App {
    dir: tempfile::TempDir,
    daemon: Arc<EmbeddedDaemon>,
    /// The version [`POLICY`] was applied as.
    policy_version: u32,
}

impl App {
    /// A daemon as the app starts it, on a new data dir, with [`POLICY`] applied.
    async fn start() -> App {
        let dir = tempfile::tempdir().unwrap();
        let daemon = match Startup::start(config(&dir)).await {
            Startup::Running(daemon) => daemon,
            Startup::Failed(failure) => panic!("the daemon did not start: {failure:?}"),
        };
        let applied = policy::policy_apply(daemon.console(), POLICY)
            .await
            .unwrap();
        App {
            dir,
            daemon,
            policy_version: applied.version,
        }
    }

    fn console(&self) -> &DesktopConsole {
        self.daemon.console()
    }

    fn agent_addr(&self) -> SocketAddr {
        self.console().listen()
    }

    async fn stop(self) {
        self.daemon.shutdown().await;
    }
}

fn config(dir: &tempfile::TempDir) -> ServeConfig {
    ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ServeConfig::new(dir.path())
    }
}

/// `POST /v1/authorizations[?wait=S]` for `amount` USD, as an agent does.
async fn ask(addr: SocketAddr, token: &str, request_id: &str, amount: &str, wait: u32) -> Value {
    let body = json!({
        "request_id": request_id,
        "amount": amount,
        "currency": "USD",
        "merchant": "api.example.com",
        "purpose": "Buy API credits for the report",
        "context": {"prompt": "finish the report"},
    })
    .to_string();
    let request = format!(
        "POST /v1/authorizations?wait={wait} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{body}",
        port = addr.port(),
        length = body.len(),
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    serde_json::from_str(body).unwrap()
}

async fn new_agent(app: &App, name: &str) -> String {
    agents::add_agent(app.console(), name, None)
        .await
        .unwrap()
        .token
}

#[tokio::test]
async fn status_describes_the_running_daemon() {
    let app = App::start().await;
    let status = serde_json::to_value(overview::status(app.console()).await.unwrap()).unwrap();
    assert_eq!(status["listen"], app.agent_addr().to_string());
    assert_eq!(status["data_dir"], app.dir.path().display().to_string());
    assert_eq!(status["kill_switch"]["engaged"], false);
    assert_eq!(status["pending"], 0);
    assert_eq!(status["policy_version"], app.policy_version);
    assert_eq!(
        overview::agent_url(app.console()),
        format!("http://{}", app.agent_addr())
    );
    app.stop().await;
}

#[tokio::test]
async fn a_new_agent_gets_its_token_once_and_never_again() {
    let app = App::start().await;
    let created = agents::add_agent(app.console(), "research-bot", Some(""))
        .await
        .unwrap();
    assert_eq!(created.name.as_str(), "research-bot");
    assert!(created.token.len() > 20, "a real token: {}", created.token);

    let listed = serde_json::to_string(&agents::list_agents(app.console()).await.unwrap()).unwrap();
    assert!(listed.contains("research-bot"));
    assert!(
        !listed.contains(&created.token),
        "the list never shows a token"
    );
    let budget = overview::budget(app.console(), "research-bot")
        .await
        .unwrap();
    assert_eq!(budget.budgets.len(), 1);

    let again = agents::add_agent(app.console(), "research-bot", None)
        .await
        .unwrap_err();
    assert_eq!(
        (again.code.as_str(), again.field.as_deref()),
        ("invalid_request", Some("name"))
    );
    let bad = agents::add_agent(app.console(), "no spaces", None)
        .await
        .unwrap_err();
    assert_eq!(bad.field.as_deref(), Some("name"));

    let frozen = agents::set_agent_status(app.console(), "research-bot", "frozen")
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&frozen).unwrap()["status"], "frozen");
    let unknown = agents::set_agent_status(app.console(), "nobody", "frozen")
        .await
        .unwrap_err();
    assert_eq!(unknown.code, "not_found");
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_policy_is_refused_with_the_engines_messages_and_changes_nothing() {
    let app = App::start().await;
    assert!(policy::policy_check(POLICY).unwrap().ok);

    let broken = POLICY.replace("approval_timeout = \"10m\"", "approval_timeout = \"soon\"");
    let error = serde_json::to_value(policy::policy_check(&broken).unwrap_err()).unwrap();
    assert_eq!(error["code"], "policy_invalid");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("nothing was changed")
    );
    let errors = error["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    assert!(
        errors[0]
            .as_str()
            .unwrap()
            .starts_with("policy.toml:4:20: invalid `approval_timeout`"),
        "file:line:col: message, got {errors:?}"
    );
    assert!(error.get("field").is_none());

    let refused = policy::policy_apply(app.console(), &broken)
        .await
        .unwrap_err();
    assert_eq!(refused.code, "policy_invalid");
    let running = policy::policy_show(app.console()).await.unwrap();
    assert_eq!(
        (running.version, running.text.as_str()),
        (app.policy_version, POLICY)
    );
    let history = policy::policy_history(app.console()).await.unwrap();
    assert_eq!(
        history[0].version, app.policy_version,
        "newest first, nothing added"
    );

    let preview = policy::policy_preview(app.console(), POLICY, 0)
        .await
        .unwrap_err();
    assert_eq!(preview.field.as_deref(), Some("days"));
    app.stop().await;
}

#[tokio::test]
async fn approving_answers_the_waiting_agent_and_denying_refuses_the_next() {
    let app = App::start().await;
    let token = new_agent(&app, "research-bot").await;
    let addr = app.agent_addr();
    let waiting = {
        let token = token.clone();
        tokio::spawn(async move { ask(addr, &token, "big-1", "42.00", 30).await })
    };
    let pending = wait_for_pending(app.console(), 1).await;
    let id = pending[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        pending[0]["amount"], "42.00",
        "money stays a decimal string"
    );
    assert_eq!(pending[0]["purpose"], "Buy API credits for the report");
    assert_eq!(pending[0]["reason"]["code"], "over_approval_threshold");

    let approved = inbox::approve(app.console(), &id, "once", None)
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&approved).unwrap()["status"],
        "approved"
    );
    let answer = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the long-poll answered after the approval")
        .unwrap();
    assert_eq!(answer["id"], id.as_str());
    assert_eq!(answer["status"], "approved");

    let twice = inbox::approve(app.console(), &id, "once", None)
        .await
        .unwrap_err();
    assert_eq!(twice.code, "invalid_state");
    let unknown = inbox::deny(app.console(), "auth_nope", None)
        .await
        .unwrap_err();
    assert_eq!(unknown.code, "not_found");

    let second = ask(addr, &token, "big-2", "30.00", 0).await;
    assert_eq!(second["status"], "pending");
    let id = second["id"].as_str().unwrap();
    let denied = inbox::deny(app.console(), id, Some("not this month"))
        .await
        .unwrap();
    let denied = serde_json::to_value(&denied).unwrap();
    assert_eq!(denied["status"], "denied");
    assert_eq!(denied["reason"]["code"], "denied_by_principal");
    assert!(inbox::approvals(app.console()).await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_kill_switch_cancels_what_waits_and_denies_until_resumed() {
    let app = App::start().await;
    let token = new_agent(&app, "research-bot").await;
    let addr = app.agent_addr();
    let pending = ask(addr, &token, "big-1", "42.00", 0).await;
    assert_eq!(pending["status"], "pending");

    let killed = kill_switch::kill(app.console(), Some("  ")).await.unwrap();
    assert_eq!(
        serde_json::to_value(killed).unwrap(),
        json!({"engaged": true, "cancelled": 1})
    );
    let status = overview::status(app.console()).await.unwrap();
    assert!(status.kill_switch.engaged);
    assert_eq!(status.pending, 0);
    let refused = ask(addr, &token, "small-1", "5.00", 0).await;
    assert_eq!(refused["status"], "denied");
    assert_eq!(refused["reason"]["code"], "kill_switch_engaged");

    let resumed = kill_switch::resume(app.console()).await.unwrap();
    assert_eq!(
        serde_json::to_value(resumed).unwrap(),
        json!({"engaged": false})
    );
    let allowed = ask(addr, &token, "small-2", "5.00", 0).await;
    assert_eq!(allowed["status"], "approved");
    app.stop().await;
}

#[tokio::test]
async fn the_audit_trail_pages_exports_and_verifies() {
    let app = App::start().await;
    let token = new_agent(&app, "research-bot").await;
    for n in 0..3 {
        let answer = ask(app.agent_addr(), &token, &format!("small-{n}"), "1.50", 0).await;
        assert_eq!(answer["status"], "approved");
    }
    let verification = audit::audit_verify(app.console()).await.unwrap();
    assert!(verification.intact, "{verification:?}");
    assert!(
        verification.rows >= 5,
        "policy, agent and three requests: {verification:?}"
    );

    let requests = AuditQuery {
        kind: Some("request".into()),
        agent: Some("research-bot".into()),
        ..AuditQuery::default()
    };
    let first = audit::audit_page(app.console(), &requests, None, 2)
        .await
        .unwrap();
    assert_eq!(first.entries.len(), 2);
    assert!(first.entries[0].seq > first.entries[1].seq, "newest first");
    let rest = audit::audit_page(app.console(), &requests, first.next_before, 2)
        .await
        .unwrap();
    assert_eq!(rest.entries.len(), 1);
    let too_many = audit::audit_page(app.console(), &requests, None, 0)
        .await
        .unwrap_err();
    assert_eq!(too_many.field.as_deref(), Some("limit"));

    let path = app.dir.path().join("export.csv");
    let exported = audit::audit_export(app.console(), &requests, "csv", path.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(exported.rows, 3);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4, "a header and three rows:\n{text}");
    assert!(!app.dir.path().join(".export.csv.partial").exists());
    let relative = audit::audit_export(app.console(), &requests, "csv", "export.csv")
        .await
        .unwrap_err();
    assert_eq!(relative.field.as_deref(), Some("path"));
    app.stop().await;
}

#[tokio::test]
async fn a_held_data_dir_is_a_startup_state_naming_the_holder() {
    let app = App::start().await;
    let second = Startup::start(config(&app.dir)).await;
    let state = serde_json::to_value(second.state()).unwrap();
    assert_eq!(state["ok"], false);
    assert_eq!(state["code"], "data_dir_locked");
    assert_eq!(state["pid"], std::process::id());
    assert_eq!(state["data_dir"], app.dir.path().display().to_string());
    let unavailable = second.console().unwrap_err();
    assert_eq!(unavailable.code, "unavailable");

    let running = serde_json::to_value(Startup::Running(Arc::clone(&app.daemon)).state()).unwrap();
    assert_eq!(running["ok"], true);
    assert_eq!(running["agent_url"], format!("http://{}", app.agent_addr()));
    app.stop().await;
}

async fn wait_for_pending(console: &DesktopConsole, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let pending = inbox::approvals(console).await.unwrap();
        if pending.len() >= count {
            return pending
                .iter()
                .map(|detail| serde_json::to_value(detail).unwrap())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {count} pending approvals within 2 s");
}

#[tokio::test]
async fn checking_again_starts_the_daemon_once_the_other_one_has_quit() {
    let app = App::start().await;
    let args = Args {
        data_dir: Some(app.dir.path().to_owned()),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database: None,
        no_notify: true,
        notifications: purser_notify::NotifyArgs::default(),
        kill_shortcut: "off".to_owned(),
    };
    let launch = Launch::start(args).await;
    assert!(
        launch.retry().await.is_none(),
        "still held by the first daemon"
    );
    let state = serde_json::to_value(launch.current().state()).unwrap();
    assert_eq!(state["code"], "data_dir_locked");
    assert_eq!(launch.console().unwrap_err().code, "unavailable");

    app.daemon.shutdown().await;
    let started = launch.retry().await.expect("the data dir is free now");
    assert!(launch.retry().await.is_none(), "never a second daemon");
    let state = serde_json::to_value(launch.current().state()).unwrap();
    assert_eq!(state["ok"], true);
    assert_eq!(state["agent_url"], started.agent_url());
    let status = overview::status(&launch.console().unwrap()).await.unwrap();
    assert_eq!(
        status.policy_version, app.policy_version,
        "the same data dir, its policy kept"
    );
    started.shutdown().await;
}
