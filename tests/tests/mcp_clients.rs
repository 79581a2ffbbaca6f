//! Purser's MCP server as the clients agents really use see it: the official Python SDK
//! (`mcp` from PyPI) and the official TypeScript SDK (`@modelcontextprotocol/sdk` from
//! npm), each over stdio (`purser mcp`, the token in `PURSER_TOKEN`) and over HTTP (the
//! daemon's `/mcp`, the token as a bearer header). The peers are
//! `tests/peers/mcp_client.{py,mjs}`; they report what the server answered and this file
//! judges it.
//!
//! Each client lists the tools (exactly the six agent tools: no principal action is
//! reachable), gets one request approved, one pending that the principal approves with
//! the real CLI while the client waits in `get_authorization`, one denied with its
//! reason, and a float amount refused naming the field. A missing token and a foreign
//! `Origin` are refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::process::Command;
use std::sync::LazyLock;
use std::time::Duration;

use purser_system_tests::binary;
use purser_system_tests::peers::{self, PeerOutput};
use purser_system_tests::{TestDaemon, assert_error};
use serde_json::{Value, json};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }
blocked_merchants = ["*casino*"]

[[profiles.default.limit]]
currency = "USD"
window = "transaction"
max = "100.00"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "500.00"
on_exceed = "deny"
"#;

/// The tools, sorted: agent operations only.
const TOOLS: [&str; 6] = [
    "capture_authorization",
    "get_authorization",
    "get_budget",
    "record_usage",
    "request_payment_authorization",
    "void_authorization",
];

/// A peer's whole run, waits for the principal included.
const PEER_TIMEOUT: Duration = Duration::from_secs(150);

static DAEMON: LazyLock<TestDaemon> = LazyLock::new(|| TestDaemon::start(POLICY));

/// The pending request `request_id` of `agent`, once `purser approvals` lists it. The
/// peer starts an interpreter and connects first, so this allows a slow, busy machine a
/// minute.
fn listed_pending(agent: &str, request_id: &str) -> Value {
    let mut found = None;
    DAEMON.wait_until(
        Duration::from_secs(60),
        &format!("{agent}'s request {request_id} in `purser approvals`"),
        || {
            found = DAEMON
                .approvals()
                .into_iter()
                .find(|p| p["agent"] == agent && p["request_id"] == request_id);
            found.is_some()
        },
    );
    found.expect("found by wait_until")
}

#[derive(Clone, Copy, Debug)]
enum Sdk {
    Python,
    TypeScript,
}

/// The peer's command for `transport` and `scenario`, as agent `token`.
fn peer(sdk: Sdk, transport: &str, scenario: &str, token: &str, prefix: &str) -> Command {
    let mut command = match sdk {
        Sdk::Python => peers::python_script("mcp_client.py"),
        Sdk::TypeScript => peers::node_script("mcp_client.mjs"),
    };
    command
        .args([transport, scenario])
        .env("PURSER_URL", DAEMON.url())
        .env("PURSER_TOKEN", token)
        .env("PURSER_BIN", binary::purser())
        .env("PURSER_PREFIX", prefix)
        .env_remove("PURSER_DATA_DIR");
    command
}

/// A tool result's structured content, which must not be an error.
fn decision<'a>(report: &'a Value, step: &str) -> &'a Value {
    let result = &report[step];
    assert_eq!(result["isError"], false, "{step}: {result}");
    &result["structuredContent"]
}

/// The `decisions` scenario, the principal approving the pending request with the CLI.
fn decisions(sdk: Sdk, transport: &str) {
    let agent = format!("mcp-{sdk:?}-{transport}").to_lowercase();
    let token = DAEMON.add_agent(&agent);
    let prefix = format!("{agent}-run");
    let running = peers::spawn(peer(sdk, transport, "decisions", &token, &prefix));
    // The principal, through the admin API: approve the pending request once listed.
    let pending = listed_pending(&agent, &format!("{prefix}-big"));
    let id = pending["id"].as_str().unwrap().to_owned();
    DAEMON.cli_ok(&["approve", &id]);
    let report = running.finish(PEER_TIMEOUT).json();

    let tools: Vec<&str> = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tools, TOOLS, "{sdk:?}/{transport}: only agent operations");
    let description = report["descriptions"]["request_payment_authorization"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(description.contains("do not retry"), "{description}");
    assert!(description.contains("split"), "{description}");

    let approved = decision(&report, "approved");
    assert_eq!(approved["status"], "approved", "{approved}");
    assert_eq!(approved["reason"]["code"], "within_policy", "{approved}");
    assert_eq!(approved["agent"], agent.as_str());
    assert_eq!(approved["amount"], "12.50");
    assert_eq!(approved["decided_by"], "policy");

    let asked = decision(&report, "pending");
    assert_eq!(asked["status"], "pending", "{asked}");
    assert_eq!(
        asked["reason"]["code"], "over_approval_threshold",
        "{asked}"
    );
    assert_eq!(asked["id"], id.as_str());
    let next = report["pending"]["text"].to_string();
    assert!(next.contains("get_authorization"), "{next}");

    let after = decision(&report, "after_wait");
    assert_eq!(after["id"], id.as_str());
    assert_eq!(after["status"], "approved", "{after}");
    assert_eq!(after["decided_by"], "principal", "{after}");
    assert_eq!(after["reason"]["code"], "approved_by_principal", "{after}");

    let denied = decision(&report, "denied");
    assert_eq!(denied["status"], "denied", "{denied}");
    assert_eq!(denied["reason"]["code"], "merchant_blocked", "{denied}");
    assert!(!denied["reason"]["message"].as_str().unwrap().is_empty());
    let next = report["denied"]["text"].to_string();
    assert!(next.contains("Do not pay"), "{next}");

    let float = &report["number_amount"];
    assert_eq!(float["isError"], true, "{float}");
    assert_eq!(
        float["structuredContent"]["error"]["code"],
        "invalid_request"
    );
    assert_eq!(float["structuredContent"]["error"]["field"], "amount");

    let budget = decision(&report, "budget");
    assert_eq!(budget["agent"], agent.as_str());
    let day = budget["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["window"] == "day")
        .unwrap_or_else(|| panic!("a day line: {budget}"));
    // 12.50 within policy, 42.00 approved by the principal: nothing else was spent.
    assert_eq!(day["spent"], "54.50", "{budget}");

    // Every MCP decision is in the audit trail, like an HTTP one.
    let trail = DAEMON.cli_json(&["audit", "list", "--agent", &agent]);
    let entries = trail["entries"].as_array().map_or(0, Vec::len);
    assert!(entries >= 4, "{trail}");
    DAEMON.assert_audit_intact();
}

/// A refusal scenario: the client must not get to list the tools.
fn refused(sdk: Sdk, transport: &str, scenario: &str, token: &str) -> Value {
    let output: PeerOutput = peers::run(
        peer(sdk, transport, scenario, token, "refused"),
        Duration::from_secs(60),
    );
    let report = output.json();
    assert_eq!(
        report["refused"], true,
        "{sdk:?}/{transport}/{scenario} was let in: {report}\nstderr: {}",
        output.stderr
    );
    report
}

fn statuses(report: &Value) -> Vec<u64> {
    report["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect()
}

fn refusals(sdk: Sdk) {
    let token = DAEMON.add_agent(&format!("mcp-{sdk:?}-refused").to_lowercase());
    let report = refused(sdk, "http", "missing-token", "");
    let seen = statuses(&report);
    assert!(
        seen.contains(&401) && seen.iter().all(|s| *s == 401),
        "{report}"
    );
    let report = refused(sdk, "http", "foreign-origin", &token);
    let seen = statuses(&report);
    assert!(
        seen.contains(&403) && seen.iter().all(|s| *s == 403),
        "{report}"
    );
    // stdio: `purser mcp` refuses to serve without a token; the client cannot connect.
    refused(sdk, "stdio", "missing-token", "");
}

#[test]
fn python_sdk_over_stdio() {
    decisions(Sdk::Python, "stdio");
}

#[test]
fn python_sdk_over_http() {
    decisions(Sdk::Python, "http");
}

#[test]
fn typescript_sdk_over_stdio() {
    decisions(Sdk::TypeScript, "stdio");
}

#[test]
fn typescript_sdk_over_http() {
    decisions(Sdk::TypeScript, "http");
}

#[test]
fn python_sdk_is_refused_without_token_or_from_a_web_origin() {
    refusals(Sdk::Python);
}

#[test]
fn typescript_sdk_is_refused_without_token_or_from_a_web_origin() {
    refusals(Sdk::TypeScript);
}

/// The `/mcp` route keeps every gate of the agent API, checked on the wire.
#[test]
fn mcp_endpoint_has_the_agent_api_gates() {
    let agent = DAEMON.agent("mcp-gates");
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let mcp = |request: purser_system_tests::http::Request<'_>| {
        agent.send(
            &request
                .header("Accept", "application/json, text/event-stream")
                .json(&list),
        )
    };
    let ok = mcp(agent.request("POST", "/mcp"));
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["result"]["tools"].as_array().unwrap().len(), 6);

    // DNS rebinding: a foreign Host, even with a valid token.
    let rebound = purser_system_tests::http::Request::new("POST", "/mcp")
        .header("Host", &format!("evil.example:{}", agent.addr().port()))
        .header("Authorization", &format!("Bearer {}", agent.token()));
    let answer = mcp(rebound);
    assert_error(&(answer.status, answer.json()), 403, "forbidden_host");

    let web = agent
        .request("POST", "/mcp")
        .header("Origin", "https://evil.example");
    let answer = mcp(web);
    assert_error(&(answer.status, answer.json()), 403, "forbidden_origin");

    let anonymous =
        purser_system_tests::http::Request::new("POST", "/mcp").header("Host", &agent.host());
    let answer = mcp(anonymous);
    assert_error(&(answer.status, answer.json()), 401, "unauthenticated");

    // Stateless: no event stream to GET, no session to DELETE.
    for method in ["GET", "DELETE"] {
        let answer = agent.send(
            &agent
                .request(method, "/mcp")
                .header("Accept", "text/event-stream"),
        );
        assert_error(&(answer.status, answer.json()), 405, "method_not_allowed");
    }

    // Bodies are bounded like the agent API's, chunked or not.
    let huge = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"pad": "x".repeat(70 * 1024)}});
    let answer = agent.send(
        &agent
            .request("POST", "/mcp")
            .header("Accept", "application/json, text/event-stream")
            .json(&huge)
            .chunked(),
    );
    assert_error(&(answer.status, answer.json()), 413, "payload_too_large");
}
