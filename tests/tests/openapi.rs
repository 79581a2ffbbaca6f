//! The agent API's OpenAPI 3.1 document, as served by a live daemon at
//! `/v1/openapi.json`:
//!
//! - it is the committed `docs/openapi.json` (regenerate with
//!   `cargo run -q -p purser-cli -- openapi > docs/openapi.json`);
//! - it says what docs/agent-api.md says: the same endpoints, error codes with their
//!   statuses, request fields, statuses and reason codes;
//! - schemathesis (PyPI) generates requests from it against the live daemon, a bounded
//!   number per operation: no 5xx, every status documented, every answer conforming to
//!   its schema (content type, headers, body).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::LazyLock;
use std::time::Duration;

use purser_system_tests::binary::workspace_root;
use purser_system_tests::peers;
use purser_system_tests::{TestDaemon, payment};
use serde_json::Value;

/// Pending requests lapse after two seconds: schemathesis long-polls them
/// (`?wait=` up to 120) and must not sit out the whole wait.
const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "2s"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD", "EUR"]
approve_above = { USD = "25.00" }

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "100000.00"
on_exceed = "deny"
"#;

/// Examples schemathesis generates per operation and phase: enough to cover every
/// parameter and body field, small enough for CI.
const MAX_EXAMPLES: &str = "15";

static DAEMON: LazyLock<TestDaemon> = LazyLock::new(|| TestDaemon::start(POLICY));

/// `GET /v1/openapi.json`, without a token.
fn served() -> Value {
    let agent = DAEMON.agent_with_token("nobody", "none");
    let response = agent.send(
        &purser_system_tests::http::Request::new("GET", "/v1/openapi.json")
            .header("Host", &agent.host()),
    );
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        response.headers
    );
    response.json()
}

fn agent_api_md() -> String {
    std::fs::read_to_string(workspace_root().join("docs/agent-api.md")).unwrap()
}

/// The `` `word` `` tokens of `text`.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn section<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("agent-api.md has {from:?}"));
    let rest = &text[start..];
    let end = rest
        .find(to)
        .unwrap_or_else(|| panic!("agent-api.md has {to:?} after {from:?}"));
    &rest[..end]
}

fn enum_values(document: &Value, schema: &str) -> BTreeSet<String> {
    document["components"]["schemas"][schema]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{schema} is an enum"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_served_document_is_the_committed_one() {
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("docs/openapi.json")).unwrap(),
    )
    .unwrap();
    assert!(
        served() == committed,
        "docs/openapi.json differs from what the daemon serves: run `cargo run -q -p purser-cli -- openapi > docs/openapi.json`"
    );
    // `purser openapi` prints the same document.
    let printed: Value = serde_json::from_str(&DAEMON.cli_ok(&["openapi"])).unwrap();
    assert_eq!(printed, committed);
}

#[test]
fn the_document_says_what_agent_api_md_says() {
    let document = served();
    let doc = agent_api_md();
    assert_eq!(document["openapi"], "3.1.0");

    // Endpoints: the table of §1, `METHOD /path[?query]`.
    let table = section(&doc, "### Endpoints", "`wait` is 0");
    let documented: BTreeSet<(String, String)> = backticked(table)
        .into_iter()
        .filter_map(|cell| {
            let (method, path) = cell.split_once(' ')?;
            let path = path.split('[').next()?;
            (method.chars().all(|c| c.is_ascii_uppercase()) && path.starts_with("/v1/"))
                .then(|| (method.to_lowercase(), path.to_owned()))
        })
        .collect();
    let mut generated = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            generated.insert((method.clone(), path.clone()));
        }
    }
    assert_eq!(
        generated, documented,
        "paths: the document vs agent-api.md's table"
    );

    // Error codes and their statuses: every `NNN `code`` (or `NNN `a` / `b``) of §1's
    // rules and error list.
    let rules = section(&doc, "Every request:", "### Endpoints");
    let mut codes: BTreeSet<(u16, String)> = BTreeSet::new();
    let bytes = rules.as_bytes();
    // The text after `from` with leading spaces and line breaks skipped.
    let skip_space = |from: usize| from + rules[from..].len() - rules[from..].trim_start().len();
    for at in 0..bytes.len().saturating_sub(4) {
        let is_status = bytes[at..at + 3].iter().all(u8::is_ascii_digit)
            && (at == 0 || !bytes[at - 1].is_ascii_digit())
            && bytes[at + 3].is_ascii_whitespace();
        if !is_status {
            continue;
        }
        // Digits are ASCII: these are char boundaries.
        let status: u16 = rules[at..at + 3].parse().unwrap();
        let mut next = skip_space(at + 3);
        while rules[next..].starts_with('`') {
            let Some((code, _)) = rules[next + 1..].split_once('`') else {
                break;
            };
            if code.is_empty() || !code.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                break;
            }
            codes.insert((status, code.to_owned()));
            let after = skip_space(next + code.len() + 2);
            if !rules[after..].starts_with('/') {
                break;
            }
            next = skip_space(after + 1);
        }
    }
    let documented_codes: BTreeSet<String> = codes.iter().map(|(_, code)| code.clone()).collect();
    assert_eq!(
        enum_values(&document, "ErrorCode"),
        documented_codes,
        "error codes"
    );
    let documented_statuses: BTreeSet<u16> = codes.iter().map(|(status, _)| *status).collect();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for status in operation["responses"].as_object().unwrap().keys() {
                let status: u16 = status.parse().unwrap();
                assert!(
                    status == 200 || documented_statuses.contains(&status),
                    "{method} {path} answers {status}, which agent-api.md does not list"
                );
                if status != 200 {
                    let schema = &operation["responses"][status.to_string()]["content"]["application/json"]
                        ["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/Error",
                        "{method} {path} {status}: the error shape"
                    );
                }
            }
        }
    }
    let error = &document["components"]["schemas"]["Error"];
    assert_eq!(error["required"], serde_json::json!(["error"]));

    // The authorization request's fields, from the JSON example.
    let example = section(&doc, "Authorization request:", "Decision (HTTP 200");
    let fields: BTreeSet<String> = example
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let rest = line.strip_prefix('"')?;
            let (name, after) = rest.split_once('"')?;
            after.starts_with(':').then(|| name.to_owned())
        })
        .collect();
    let properties: BTreeSet<String> =
        document["components"]["schemas"]["AuthorizationRequest"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
    assert_eq!(properties, fields, "AuthorizationRequest fields");

    // The decision's fields are all in the Authorization schema; its statuses are the doc's.
    let decision = section(
        &doc,
        "Decision (HTTP 200",
        "The same `request_id` with different",
    );
    let answer: BTreeSet<String> = document["components"]["schemas"]["Authorization"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for line in decision.lines() {
        // Top-level keys only: drop nested objects and arrays (`"reason": {…}`).
        let mut depth = 0_u32;
        let top: String = line
            .chars()
            .filter(|c| {
                match c {
                    '{' | '[' => depth += 1,
                    '}' | ']' => depth = depth.saturating_sub(1),
                    _ => return depth == 0,
                }
                false
            })
            .collect();
        for part in top.split(", ") {
            if let Some(name) = part
                .trim_start_matches(['{', ' '])
                .strip_prefix('"')
                .and_then(|r| r.split_once("\":"))
            {
                assert!(
                    answer.contains(name.0),
                    "the decision field {} is not in the schema",
                    name.0
                );
            }
        }
    }
    let statuses_line = decision.lines().find(|l| l.contains("\"status\"")).unwrap();
    let statuses: BTreeSet<String> = statuses_line
        .split("//")
        .nth(1)
        .unwrap()
        .split('|')
        .map(|s| s.trim().to_owned())
        .collect();
    assert_eq!(enum_values(&document, "AuthorizationStatus"), statuses);

    // Reason codes.
    let reasons = section(&doc, "Reason codes. Deny:", "Decision order is fixed");
    let reason_codes: BTreeSet<String> =
        backticked(reasons).into_iter().map(str::to_owned).collect();
    assert_eq!(enum_values(&document, "ReasonCode"), reason_codes);
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_schema() {
    let agent = DAEMON.agent("schemathesis");
    // Something to find: an approved and a pending (soon expired) request of this agent.
    agent.decide(&payment("seed-1", "1.00", "api.example.com"));
    agent.decide(&payment("seed-2", "30.00", "api.example.com"));
    let output = peers::run(
        {
            let mut command = Command::new(peers::python());
            command
                .args(["-m", "schemathesis.cli", "run"])
                .arg(format!("{}/v1/openapi.json", DAEMON.url()))
                .args(["--header", &format!("Authorization: Bearer {}", agent.token())])
                .args([
                    "--checks",
                    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
                ])
                .args(["--max-examples", MAX_EXAMPLES, "--seed", "7"])
                .args(["--request-timeout", "10"])
                .env("NO_COLOR", "1")
                .env("SCHEMATHESIS_HOOKS", "")
                .current_dir(std::env::temp_dir());
            command
        },
        Duration::from_secs(240),
    );
    assert!(
        output.status.success(),
        "schemathesis found problems ({}):\n{}\n{}",
        output.status,
        output.stdout,
        output.stderr
    );
    assert!(
        output.stdout.contains("passed") && !output.stdout.contains("failures"),
        "{}",
        output.stdout
    );
    // The daemon is still well after all that.
    DAEMON.assert_audit_intact();
}
