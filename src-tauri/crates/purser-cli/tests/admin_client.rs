//! The real `purser` binary against a fake admin API on a temporary unix socket: checks
//! the requests it sends (method, path, JSON body), what it prints and its exit codes.
//!
//! The fake answers canned JSON per route and records every request; it knows nothing
//! about Purser. Tests of the real daemon behind the socket belong to the daemon crate
//! and the top-level system tests.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed setup step fails the test"
)]

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tempfile::TempDir;

/// One canned answer: for `method path` (the query is not matched), reply `status` with
/// `body` of `content_type`.
#[derive(Debug, Clone)]
struct Route {
    method: &'static str,
    path: &'static str,
    status: u16,
    content_type: &'static str,
    body: String,
    /// Keep the answer open after `body`, like a live event stream.
    stays_open: bool,
}

fn route(method: &'static str, path: &'static str, status: u16, body: Value) -> Route {
    Route {
        method,
        path,
        status,
        content_type: "application/json",
        body: body.to_string(),
        stays_open: false,
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    /// Path and query, as sent.
    target: String,
    /// The JSON body, or `Null` when there was none.
    body: Value,
    host: Option<String>,
}

/// A fake admin API serving a temporary data dir's `admin.sock`.
struct FakeDaemon {
    data_dir: TempDir,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeDaemon {
    fn start(routes: Vec<Route>) -> FakeDaemon {
        let data_dir = tempfile::tempdir().unwrap();
        // Bound before the binary runs, so there is no race with the first request.
        let listener = StdUnixListener::bind(data_dir.path().join("admin.sock")).unwrap();
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(serve(listener, routes, recorded));
        });
        FakeDaemon { data_dir, requests }
    }

    fn dir(&self) -> &Path {
        self.data_dir.path()
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The one request the binary sent.
    fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "{requests:#?}");
        requests.into_iter().next().unwrap()
    }

    fn purser(&self, args: &[&str]) -> Output {
        purser(self.dir(), args)
    }
}

async fn serve(listener: StdUnixListener, routes: Vec<Route>, requests: Arc<Mutex<Vec<Recorded>>>) {
    let listener = tokio::net::UnixListener::from_std(listener).unwrap();
    let routes = Arc::new(routes);
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let routes = Arc::clone(&routes);
        let requests = Arc::clone(&requests);
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let routes = Arc::clone(&routes);
                let requests = Arc::clone(&requests);
                async move { Ok::<_, hyper::Error>(answer(request, &routes, &requests).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    routes: &[Route],
    requests: &Mutex<Vec<Recorded>>,
) -> Response<BoxBody<Bytes, Infallible>> {
    let method = request.method().to_string();
    let target = request.uri().to_string();
    let path = request.uri().path().to_owned();
    let host = request
        .headers()
        .get("host")
        .and_then(|host| host.to_str().ok())
        .map(str::to_owned);
    let bytes = request.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    requests.lock().unwrap().push(Recorded {
        method: method.clone(),
        target,
        body,
        host,
    });
    let found = routes
        .iter()
        .find(|route| route.method == method && route.path == path);
    let (status, content_type, body) = match found {
        Some(route) if route.stays_open => (
            route.status,
            route.content_type,
            OpenBody(Some(Bytes::from(route.body.clone()))).boxed(),
        ),
        Some(route) => (
            route.status,
            route.content_type,
            Full::new(Bytes::from(route.body.clone())).boxed(),
        ),
        None => (
            404,
            "application/json",
            Full::new(Bytes::from(
                json!({"error": {"code": "not_found", "message": format!("no route {method} {path}")}})
                    .to_string(),
            ))
            .boxed(),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(body)
        .unwrap()
}

/// A body that sends its bytes and then stays open, never ending.
struct OpenBody(Option<Bytes>);

impl Body for OpenBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.0.take() {
            Some(bytes) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            None => Poll::Pending,
        }
    }
}

fn purser(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_purser"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("PURSER_DATA_DIR")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

fn authorization(id: &str, status: &str) -> Value {
    json!({
        "id": id, "request_id": "order-1", "agent": "research-bot", "status": status,
        "amount": "40.00", "currency": "USD", "merchant": "api.example.com",
        "purpose": "Buy 1 month of API credits",
        "reason": {"code": "over_approval_threshold", "message": "40.00 USD is above 25.00 USD"},
        "reasons": [], "decided_by": null,
        "expires_at": "2999-01-01T00:00:00Z", "created_at": "2025-05-01T09:00:00Z", "decided_at": null
    })
}

#[test]
fn agent_add_prints_the_token_once() {
    let created =
        json!({"name": "research-bot", "profile": "default", "token": "psr_tok_0123456789"});
    let daemon = FakeDaemon::start(vec![route("POST", "/admin/agents", 201, created)]);

    let output = daemon.purser(&["agent", "add", "research-bot", "--profile", "default"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let printed = stdout(&output);
    assert_eq!(
        printed.matches("psr_tok_0123456789").count(),
        1,
        "{printed}"
    );
    assert_eq!(printed.lines().last(), Some("psr_tok_0123456789"));
    assert!(
        !stderr(&output).contains("psr_tok"),
        "the token goes to stdout only"
    );
    let request = daemon.only_request();
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/admin/agents")
    );
    assert_eq!(
        request.body,
        json!({"name": "research-bot", "profile": "default"})
    );
    assert_eq!(request.host.as_deref(), Some("localhost"));

    let output = daemon.purser(&["agent", "add", "research-bot", "--json"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let printed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        printed,
        json!({"name": "research-bot", "token": "psr_tok_0123456789"})
    );
    assert_eq!(daemon.requests()[1].body, json!({"name": "research-bot"}));
}

#[test]
fn agent_list_is_a_table_and_freeze_posts_to_the_agent() {
    let agent = |status: &str| {
        json!({"name": "research-bot", "profile": "default", "status": status,
               "created_at": "2025-05-01T09:00:00Z", "last_seen_at": null, "spent_today": []})
    };
    let daemon = FakeDaemon::start(vec![
        route("GET", "/admin/agents", 200, json!([agent("active")])),
        route(
            "POST",
            "/admin/agents/research-bot/freeze",
            200,
            agent("frozen"),
        ),
    ]);
    let output = daemon.purser(&["agent", "list"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "NAME          PROFILE  STATUS  LAST SEEN\nresearch-bot  default  active  never\n"
    );
    let output = daemon.purser(&["agent", "freeze", "research-bot"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("agent research-bot is frozen"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        daemon.requests()[1].target,
        "/admin/agents/research-bot/freeze"
    );
}

#[test]
fn approvals_are_a_table_oldest_first() {
    let mut second = authorization("auth_2", "pending");
    second["agent"] = json!("ci-bot");
    second["amount"] = json!("0.000001");
    second["currency"] = json!("USDC");
    let daemon = FakeDaemon::start(vec![route(
        "GET",
        "/admin/approvals",
        200,
        json!([authorization("auth_1", "pending"), second]),
    )]);
    let output = daemon.purser(&["approvals"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let printed = stdout(&output);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    let columns = |line: &str| {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .count()
    };
    assert!(
        lines[0].starts_with("ID      AGENT         AMOUNT         MERCHANT         PURPOSE"),
        "{printed}"
    );
    assert!(lines[0].ends_with("EXPIRES IN"), "{printed}");
    assert!(
        lines[1].starts_with(
            "auth_1  research-bot  40.00 USD      api.example.com  Buy 1 month of API credits"
        ),
        "{printed}"
    );
    assert!(
        lines[2].starts_with("auth_2  ci-bot        0.000001 USDC  api.example.com"),
        "{printed}"
    );
    assert!(lines.iter().all(|line| columns(line) == 6), "{printed}");

    let output = daemon.purser(&["approvals", "--json"]);
    let printed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(printed[1]["amount"], "0.000001", "amounts stay strings");
}

#[test]
fn approve_for_15m_asks_for_a_standing_grant() {
    let daemon = FakeDaemon::start(vec![route(
        "POST",
        "/admin/approvals/auth_1/approve",
        200,
        authorization("auth_1", "approved"),
    )]);
    let output = daemon.purser(&["approve", "auth_1", "--for", "15m"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("approved auth_1: 40.00 USD"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("for 15m"), "{}", stdout(&output));
    let request = daemon.only_request();
    assert_eq!(request.target, "/admin/approvals/auth_1/approve");
    assert_eq!(request.body, json!({"grant": "for", "for": "15m"}));
}

#[test]
fn approve_once_and_other_grants_send_their_body() {
    let daemon = FakeDaemon::start(vec![route(
        "POST",
        "/admin/approvals/auth_1/approve",
        200,
        authorization("auth_1", "approved"),
    )]);
    for (flags, body) in [
        (&[][..], json!({"grant": "once"})),
        (&["--session"], json!({"grant": "session"})),
        (&["--always"], json!({"grant": "always"})),
        (&["--for", "1h30m"], json!({"grant": "for", "for": "1h30m"})),
    ] {
        let args: Vec<&str> = ["approve", "auth_1"].iter().chain(flags).copied().collect();
        let output = daemon.purser(&args);
        assert_eq!(code(&output), 0, "{args:?}: {}", stderr(&output));
        assert_eq!(daemon.requests().last().unwrap().body, body, "{args:?}");
    }
}

#[test]
fn an_approval_refused_at_decision_time_exits_1() {
    let mut denied = authorization("auth_1", "denied");
    denied["reason"] =
        json!({"code": "kill_switch_engaged", "message": "the kill switch is engaged"});
    let daemon = FakeDaemon::start(vec![route(
        "POST",
        "/admin/approvals/auth_1/approve",
        200,
        denied,
    )]);
    let output = daemon.purser(&["approve", "auth_1"]);
    assert_eq!(code(&output), 1);
    assert_eq!(
        stderr(&output),
        "purser: auth_1 was not approved, it is denied: the kill switch is engaged (kill_switch_engaged)\n"
    );
}

#[test]
fn bad_grant_flags_are_usage_errors_before_any_request() {
    let daemon = FakeDaemon::start(vec![]);
    for args in [
        &["approve", "auth_1", "--for", "15x"][..],
        &["approve", "auth_1", "--for", "15m", "--always"],
        &["approve", "auth_1", "--session", "--always"],
    ] {
        let output = daemon.purser(args);
        assert_eq!(code(&output), 2, "{args:?}");
        assert!(
            stderr(&output).contains("error:"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert!(daemon.requests().is_empty());
}

#[test]
fn deny_sends_the_reason() {
    let daemon = FakeDaemon::start(vec![route(
        "POST",
        "/admin/approvals/auth_1/deny",
        200,
        authorization("auth_1", "denied"),
    )]);
    let output = daemon.purser(&["deny", "auth_1", "--reason", "not this month"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("denied auth_1: 40.00 USD"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        daemon.only_request().body,
        json!({"reason": "not this month"})
    );
}

#[test]
fn kill_and_resume() {
    let daemon = FakeDaemon::start(vec![
        route(
            "POST",
            "/admin/kill",
            200,
            json!({"engaged": true, "cancelled": 2}),
        ),
        route("POST", "/admin/resume", 200, json!({"engaged": false})),
    ]);
    let output = daemon.purser(&["kill", "--reason", "runaway loop"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "kill switch engaged: every agent request is denied until `purser resume` (2 pending approvals cancelled)\n"
    );
    let output = daemon.purser(&["resume"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("kill switch lifted"),
        "{}",
        stdout(&output)
    );
    let requests = daemon.requests();
    assert_eq!(requests[0].target, "/admin/kill");
    assert_eq!(requests[0].body, json!({"reason": "runaway loop"}));
    assert_eq!(
        (requests[1].method.as_str(), requests[1].target.as_str()),
        ("POST", "/admin/resume")
    );
}

#[test]
fn audit_verify_exits_1_naming_the_first_broken_row() {
    let broken = FakeDaemon::start(vec![route(
        "POST",
        "/admin/audit/verify",
        200,
        json!({"rows": 10, "intact": false, "first_broken": {"seq": 7, "problem": "prev_hash does not match row 6"}}),
    )]);
    let output = broken.purser(&["audit", "verify"]);
    assert_eq!(code(&output), 1);
    assert_eq!(
        stderr(&output),
        "purser: audit trail broken at seq 7: prev_hash does not match row 6 (10 rows)\n"
    );
    let output = broken.purser(&["audit", "verify", "--json"]);
    assert_eq!(code(&output), 1, "--json still exits 1");
    let printed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(printed["first_broken"]["seq"], 7);

    let intact = FakeDaemon::start(vec![route(
        "POST",
        "/admin/audit/verify",
        200,
        json!({"rows": 10, "intact": true, "first_broken": null}),
    )]);
    let output = intact.purser(&["audit", "verify"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "audit trail intact: 10 rows verified\n");
}

#[test]
fn audit_list_sends_its_filters() {
    let daemon = FakeDaemon::start(vec![route(
        "GET",
        "/admin/audit",
        200,
        json!({"entries": [{"seq": 3, "at": "2025-05-01T09:30:00Z", "kind": "decision", "agent": "research-bot",
                            "authorization_id": "auth_1", "body": {"status": "approved", "amount": "12.50", "currency": "USD"},
                            "hash": "ab"}],
               "next_before": null}),
    )]);
    let output = daemon.purser(&[
        "audit",
        "list",
        "--agent",
        "research-bot",
        "--since",
        "2025-05-01T00:00:00Z",
        "--limit",
        "5",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        daemon.only_request().target,
        "/admin/audit?agent=research-bot&since=2025-05-01T00%3A00%3A00Z&limit=5"
    );
    assert_eq!(
        stdout(&output),
        "SEQ  TIME                  KIND      AGENT         AUTH    STATUS    AMOUNT\n\
         3    2025-05-01T09:30:00Z  decision  research-bot  auth_1  approved  12.50 USD\n"
    );
}

#[test]
fn audit_export_streams_to_a_file() {
    let lines = "{\"seq\":1}\n{\"seq\":2}\n";
    let daemon = FakeDaemon::start(vec![Route {
        method: "GET",
        path: "/admin/audit/export",
        status: 200,
        content_type: "application/jsonl",
        body: lines.to_owned(),
        stays_open: false,
    }]);
    let file = daemon.dir().join("trail.jsonl");
    let output = daemon.purser(&[
        "audit",
        "export",
        "--format",
        "jsonl",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), lines);
    assert_eq!(
        daemon.requests()[0].target,
        "/admin/audit/export?format=jsonl"
    );

    let output = daemon.purser(&["audit", "export", "--format", "jsonl"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), lines);
}

#[test]
fn status_prints_a_few_lines() {
    let daemon = FakeDaemon::start(vec![route(
        "GET",
        "/admin/status",
        200,
        json!({"version": "0.1.0", "listen": "127.0.0.1:7402", "data_dir": "/d",
               "kill_switch": {"engaged": false, "reason": null, "changed_at": null},
               "pending": 1, "agents": 2, "policy_version": 3,
               "today": [{"currency": "USD", "spent": "12.50"}]}),
    )]);
    let output = daemon.purser(&["status"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(
        printed.starts_with("daemon       running, version 0.1.0"),
        "{printed}"
    );
    assert!(printed.contains("kill switch  off\n"), "{printed}");
    assert!(
        printed.contains("pending      1 approval waits for you"),
        "{printed}"
    );
    assert!(printed.contains("spent today  12.50 USD\n"), "{printed}");
}

#[test]
fn watch_prints_one_line_per_event() {
    let events = format!(
        ": keep-alive\n\nevent: pending\ndata: {}\n\nevent: kill_switch\ndata: {}\n\n",
        authorization("auth_1", "pending"),
        json!({"engaged": true, "cancelled": 1})
    );
    let daemon = FakeDaemon::start(vec![Route {
        method: "GET",
        path: "/admin/events",
        status: 200,
        content_type: "text/event-stream",
        body: events,
        stays_open: false,
    }]);
    let output = daemon.purser(&["watch"]);
    // The fake ends the stream after its events; a real daemon keeps it open.
    assert_eq!(code(&output), 1);
    assert_eq!(
        stderr(&output),
        "purser: the daemon closed the event stream (did it stop?)\n"
    );
    let printed = stdout(&output);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 2, "{printed}");
    assert!(
        lines[0]
            .contains("pending           auth_1 research-bot pending 40.00 USD api.example.com"),
        "{printed}"
    );
    assert!(lines[1].ends_with("kill_switch       engaged"), "{printed}");

    let output = daemon.purser(&["watch", "--json"]);
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        lines[1],
        json!({"event": "kill_switch", "data": {"engaged": true, "cancelled": 1}})
    );
}

#[test]
fn watch_runs_until_ctrl_c_and_then_exits_0() {
    let daemon = FakeDaemon::start(vec![Route {
        method: "GET",
        path: "/admin/events",
        status: 200,
        content_type: "text/event-stream",
        body: "event: policy_applied\ndata: {\"version\":2}\n\n".to_owned(),
        stays_open: true,
    }]);
    let mut watch = Command::new(env!("CARGO_BIN_EXE_purser"))
        .arg("--data-dir")
        .arg(daemon.dir())
        .arg("watch")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.ends_with("policy_applied    version 2"), "{first}");
    assert!(
        watch.try_wait().unwrap().is_none(),
        "still watching an open stream"
    );

    let interrupt = Command::new("kill")
        .args(["-INT", &watch.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success());
    let status = watch.wait().unwrap();
    assert_eq!(status.code(), Some(0), "Ctrl-C is how a watch ends");
}

#[test]
fn api_errors_print_their_message_and_field() {
    let daemon = FakeDaemon::start(vec![route(
        "POST",
        "/admin/agents",
        422,
        json!({"error": {"code": "invalid_request", "message": "an agent name is 1-64 of [a-z0-9-]", "field": "name"}}),
    )]);
    let output = daemon.purser(&["agent", "add", "Bad Name"]);
    assert_eq!(code(&output), 2, "an input error");
    assert_eq!(
        stderr(&output),
        "purser: an agent name is 1-64 of [a-z0-9-] (field: name)\n"
    );
    assert!(stdout(&output).is_empty());

    let output = daemon.purser(&["agent", "revoke", "ghost"]);
    assert_eq!(code(&output), 1, "the thing asked failed");
    assert_eq!(
        stderr(&output),
        "purser: no route POST /admin/agents/ghost/revoke\n"
    );
}

#[test]
fn without_a_daemon_admin_commands_exit_1_saying_how_to_start_it() {
    let data_dir = tempfile::tempdir().unwrap();
    let socket = data_dir.path().join("admin.sock");
    for args in [
        &["status"][..],
        &["approvals"],
        &["kill"],
        &["audit", "verify"],
    ] {
        let output = purser(data_dir.path(), args);
        assert_eq!(code(&output), 1, "{args:?}");
        assert_eq!(
            stderr(&output),
            format!(
                "purser: the daemon is not running (no socket at {}): start it with `purser serve` or the desktop app\n",
                socket.display()
            ),
            "{args:?}"
        );
    }
    // A socket left behind by a daemon that stopped.
    drop(StdUnixListener::bind(&socket).unwrap());
    let output = purser(data_dir.path(), &["status"]);
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).starts_with("purser: the daemon is not running (nothing answers at"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_data_dir_comes_from_the_environment_too() {
    let daemon = FakeDaemon::start(vec![route(
        "POST",
        "/admin/resume",
        200,
        json!({"engaged": false}),
    )]);
    let output = Command::new(env!("CARGO_BIN_EXE_purser"))
        .arg("resume")
        .env("PURSER_DATA_DIR", daemon.dir())
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(daemon.only_request().target, "/admin/resume");
}

const VALID_POLICY: &str = r#"version = 1
timezone = "UTC"
approval_timeout = "10m"

[[limit]]
currency = "USD"
window = "month"
max = "2000.00"
on_exceed = "deny"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }

[agents]
research-bot = "default"
"#;

fn policy_file(dir: &Path, text: &str) -> PathBuf {
    let file = dir.join("policy.toml");
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn policy_check_works_without_a_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(dir.path(), VALID_POLICY);
    let output = purser(dir.path(), &["policy", "check", file.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stdout(&output).contains("valid policy"),
        "{}",
        stdout(&output)
    );

    let bad = VALID_POLICY
        .replace("max = \"2000.00\"", "max = \"lots\"")
        .replace("approval_timeout", "aproval_timeout");
    let file = policy_file(dir.path(), &bad);
    let output = purser(dir.path(), &["policy", "check", file.to_str().unwrap()]);
    assert_eq!(code(&output), 2, "an invalid file is an input error");
    let errors = stderr(&output);
    let prefix = format!("{}:3:1: ", file.display());
    assert!(
        errors.starts_with(&prefix),
        "file:line:col of the unknown key expected: {errors}"
    );

    let file = policy_file(
        dir.path(),
        &VALID_POLICY.replace("max = \"2000.00\"", "max = \"lots\""),
    );
    let output = purser(
        dir.path(),
        &["policy", "check", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(code(&output), 2);
    let printed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(printed["ok"], false);
    let first = printed["errors"][0].as_str().unwrap();
    assert!(
        first.starts_with(&format!("{}:8:", file.display())),
        "{first}"
    );

    let output = purser(dir.path(), &["policy", "check", "/no/such/policy.toml"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).starts_with("purser: cannot read /no/such/policy.toml: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn policy_apply_sends_the_file_and_reports_errors_by_line() {
    let daemon = FakeDaemon::start(vec![route(
        "POST",
        "/admin/policy/apply",
        200,
        json!({"version": 4}),
    )]);
    let file = policy_file(daemon.dir(), VALID_POLICY);
    let output = daemon.purser(&["policy", "apply", file.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!("applied {} as policy version 4\n", file.display())
    );
    assert_eq!(
        daemon.only_request().body,
        json!({"file": file.to_str().unwrap(), "text": VALID_POLICY})
    );

    let refused = FakeDaemon::start(vec![route(
        "POST",
        "/admin/policy/apply",
        422,
        json!({"error": {"code": "policy_invalid", "message": "the policy is invalid",
                         "errors": ["p.toml:3:1: unknown key", "p.toml:9:7: bad amount"]}}),
    )]);
    let file = policy_file(refused.dir(), VALID_POLICY);
    let output = refused.purser(&["policy", "apply", file.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert_eq!(
        stderr(&output),
        "p.toml:3:1: unknown key\np.toml:9:7: bad amount\n"
    );
}

#[test]
fn policy_show_prints_the_text_as_written() {
    let daemon = FakeDaemon::start(vec![route(
        "GET",
        "/admin/policy",
        200,
        json!({"version": 2, "text": VALID_POLICY, "applied_at": "2025-05-01T09:00:00Z"}),
    )]);
    let output = daemon.purser(&["policy", "show"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), VALID_POLICY);
}

#[test]
fn serve_refuses_a_remote_address_without_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let output = purser(dir.path(), &["serve", "--listen", "0.0.0.0:7402"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).starts_with("purser: --listen 0.0.0.0:7402 is not a loopback address"),
        "{}",
        stderr(&output)
    );
}
