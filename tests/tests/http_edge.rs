//! Bad input over real HTTP (agent-api.md §1 "Every request" and "Errors"): each refusal
//! has the contract's status and `{"error": {"code", "message", "field"?}}`, and nothing
//! is recorded: the budget is unchanged and the refused `request_id` is still free (a
//! valid request with it is decided afresh, not a 409 conflict).
//!
//! One daemon for the file; every test has an agent of its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::sync::LazyLock;

use purser_system_tests::http::Request;
use purser_system_tests::{Agent, TestDaemon, assert_error, payment, spent_and_held};
use serde_json::{Value, json};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "100.00"
on_exceed = "deny"
"#;

static DAEMON: LazyLock<TestDaemon> = LazyLock::new(|| TestDaemon::start(POLICY));

fn agent(name: &str) -> Agent {
    DAEMON.agent(name)
}

fn answer(agent: &Agent, request: &Request<'_>) -> (u16, Value) {
    let response = agent.send(request);
    (response.status, response.json())
}

/// Nothing was spent or held, and `request_id` was never recorded.
fn assert_nothing_recorded(agent: &Agent, request_id: &str) {
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (0, 0),
        "a refused request spends nothing"
    );
    let decision = agent.decide(&payment(request_id, "1.00", "api.example.com"));
    assert_eq!(
        decision["status"], "approved",
        "{request_id} was not recorded, so it is decided now: {decision}"
    );
}

#[test]
fn malformed_json_is_400_invalid_json() {
    let agent = agent("json-bot");
    let request = agent
        .request("POST", "/v1/authorizations")
        .header("Content-Type", "application/json")
        .body(r#"{"request_id": "broken-1", "amount": "1.00", "#);
    assert_error(&answer(&agent, &request), 400, "invalid_json");
    // A JSON value that is not an object is no request either.
    let request = agent
        .request("POST", "/v1/authorizations")
        .header("Content-Type", "application/json")
        .body(r#"["broken-1"]"#);
    let (status, _) = answer(&agent, &request);
    assert!(
        status == 400 || status == 422,
        "an array is refused, got {status}"
    );
    assert_nothing_recorded(&agent, "broken-1");
}

#[test]
fn a_body_that_is_not_declared_json_is_415() {
    let agent = agent("media-bot");
    let body = payment("media-1", "1.00", "api.example.com").to_string();
    let text = agent
        .request("POST", "/v1/authorizations")
        .header("Content-Type", "text/plain")
        .body(body.clone());
    assert_error(&answer(&agent, &text), 415, "unsupported_media_type");
    let form = agent
        .request("POST", "/v1/authorizations")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.clone());
    assert_error(&answer(&agent, &form), 415, "unsupported_media_type");
    let undeclared = agent.request("POST", "/v1/authorizations").body(body);
    assert_error(&answer(&agent, &undeclared), 415, "unsupported_media_type");
    assert_nothing_recorded(&agent, "media-1");
}

#[test]
fn a_body_over_64_kib_is_413() {
    let agent = agent("big-body-bot");
    let mut body = payment("huge-1", "1.00", "api.example.com");
    body["context"] = json!({ "blob": "x".repeat(70 * 1024) });
    let declared = agent.request("POST", "/v1/authorizations").json(&body);
    assert_error(&answer(&agent, &declared), 413, "payload_too_large");
    // Without a Content-Length the stream itself is bounded.
    let streamed = agent
        .request("POST", "/v1/authorizations")
        .json(&body)
        .chunked();
    assert_error(&answer(&agent, &streamed), 413, "payload_too_large");
    assert_nothing_recorded(&agent, "huge-1");
}

#[test]
fn money_that_is_not_an_exact_decimal_string_is_422_naming_the_field() {
    let agent = agent("float-bot");
    for amount in [
        json!(12.5),
        json!(12),
        json!("1e3"),
        json!("-5.00"),
        json!("+5.00"),
        json!("1,000.00"),
        json!("NaN"),
        json!("0"),
        json!("0.0000001"),
        json!("1234567890123.00"),
        json!(null),
    ] {
        let mut body = payment("float-1", "1.00", "api.example.com");
        body["amount"] = amount.clone();
        let refused = agent.authorize(&body);
        assert_error(&refused, 422, "invalid_request");
        assert_eq!(
            refused.1["error"]["field"], "amount",
            "amount {amount}: {}",
            refused.1
        );
    }
    let mut usage = json!({
        "request_id": "float-usage", "action": "web_search", "units": "3",
        "unit_cost": 0.002, "currency": "USD"
    });
    let refused = agent.usage(&usage);
    assert_error(&refused, 422, "invalid_request");
    assert_eq!(refused.1["error"]["field"], "unit_cost", "{}", refused.1);
    usage["unit_cost"] = json!("0.002");
    usage["units"] = json!(3);
    assert_eq!(agent.usage(&usage).1["error"]["field"], "units");
    assert_nothing_recorded(&agent, "float-1");
}

#[test]
fn missing_or_unknown_fields_are_422_naming_the_field() {
    let agent = agent("fields-bot");
    let body = payment("fields-1", "1.00", "api.example.com");
    for field in ["request_id", "amount", "currency", "merchant", "purpose"] {
        let mut missing = body.clone();
        missing.as_object_mut().unwrap().remove(field);
        let refused = agent.authorize(&missing);
        assert_error(&refused, 422, "invalid_request");
        assert_eq!(refused.1["error"]["field"], field, "{}", refused.1);
    }
    let mut extra = body.clone();
    extra["amount_usd"] = json!("1.00");
    let refused = agent.authorize(&extra);
    assert_error(&refused, 422, "invalid_request");
    assert_eq!(refused.1["error"]["field"], "amount_usd", "{}", refused.1);
    let mut lowercase = body.clone();
    lowercase["currency"] = json!("usd");
    assert_eq!(agent.authorize(&lowercase).1["error"]["field"], "currency");
    assert_nothing_recorded(&agent, "fields-1");
}

#[test]
fn a_foreign_origin_is_403_forbidden_origin() {
    let agent = agent("origin-bot");
    let request = agent
        .request("POST", "/v1/authorizations")
        .header("Origin", "https://evil.example")
        .json(&payment("origin-1", "1.00", "api.example.com"));
    assert_error(&answer(&agent, &request), 403, "forbidden_origin");
    let null_origin = agent.request("GET", "/v1/budget").header("Origin", "null");
    assert_error(&answer(&agent, &null_origin), 403, "forbidden_origin");
    assert_nothing_recorded(&agent, "origin-1");
}

#[test]
fn a_host_other_than_loopback_on_our_port_is_403_forbidden_host() {
    let agent = agent("host-bot");
    let port = agent.addr().port();
    let body = payment("host-1", "1.00", "api.example.com");
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("localhost.evil.example:{port}"),
    ] {
        // The agent's own request, its Host replaced (DNS rebinding).
        let request = Request::new("POST", "/v1/authorizations")
            .header("Host", &host)
            .header("Authorization", &format!("Bearer {}", agent.token()))
            .json(&body);
        assert_error(&answer(&agent, &request), 403, "forbidden_host");
    }
    // Every loopback name on the right port is fine.
    for host in [format!("localhost:{port}"), format!("[::1]:{port}")] {
        let request = Request::new("GET", "/v1/budget")
            .header("Host", &host)
            .header("Authorization", &format!("Bearer {}", agent.token()));
        assert_eq!(agent.send(&request).status, 200, "Host {host}");
    }
    assert_nothing_recorded(&agent, "host-1");
}

#[test]
fn a_missing_or_unknown_token_is_401() {
    let agent = agent("token-bot");
    let body = payment("token-1", "1.00", "api.example.com");
    let host = agent.host();
    let anonymous = Request::new("POST", "/v1/authorizations")
        .header("Host", &host)
        .json(&body);
    assert_error(&answer(&agent, &anonymous), 401, "unauthenticated");
    let forged = Request::new("POST", "/v1/authorizations")
        .header("Host", &host)
        .header(
            "Authorization",
            "Bearer psr_not_a_real_token_0000000000000000",
        )
        .json(&body);
    assert_error(&answer(&agent, &forged), 401, "unauthenticated");
    let basic = Request::new("GET", "/v1/budget")
        .header("Host", &host)
        .header("Authorization", "Basic dXNlcjpwYXNz");
    assert_error(&answer(&agent, &basic), 401, "unauthenticated");
    assert_nothing_recorded(&agent, "token-1");
}

#[test]
fn health_needs_no_token_and_unknown_routes_answer_in_the_error_shape() {
    let agent = agent("route-bot");
    let host = agent.host();
    let health = Request::new("GET", "/v1/health").header("Host", &host);
    let (status, body) = answer(&agent, &health);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok", "{body}");
    assert!(body["version"].is_string(), "{body}");

    assert_error(
        &answer(&agent, &agent.request("GET", "/v1/nothing-here")),
        404,
        "not_found",
    );
    assert_error(
        &answer(&agent, &agent.request("GET", "/admin/status")),
        404,
        "not_found",
    );
    assert_error(
        &answer(&agent, &agent.request("DELETE", "/v1/budget")),
        405,
        "method_not_allowed",
    );
    let wait = agent.request("GET", "/v1/authorizations/auth_x?wait=121");
    let (status, body) = answer(&agent, &wait);
    assert_eq!(status, 422, "wait is at most 120 s: {body}");
    assert_eq!(body["error"]["field"], "wait", "{body}");
}

#[test]
fn repeated_bad_tokens_are_rate_limited_with_retry_after() {
    // A daemon of its own: the limit is per peer, and every test here is 127.0.0.1.
    let daemon = TestDaemon::start(POLICY);
    let agent = daemon.agent("victim-bot");
    let host = agent.host();
    let mut limited = None;
    for n in 0..40 {
        let forged = Request::new("GET", "/v1/budget")
            .header("Host", &host)
            .header("Authorization", &format!("Bearer psr_guess_{n:040}"));
        let response = agent.send(&forged);
        if response.status == 429 {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status, 401, "guess {n}");
    }
    let limited = limited.expect("guessing tokens is rate limited within 40 tries");
    assert_eq!(limited.json()["error"]["code"], "rate_limited");
    let retry_after: u64 = limited
        .header("retry-after")
        .expect("a 429 says when to retry")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
}

#[test]
fn bad_tokens_from_one_local_process_do_not_lock_out_other_agents() {
    let daemon = TestDaemon::start(POLICY);
    let agent = daemon.agent("bystander-bot");
    let host = agent.host();
    for n in 0..40 {
        let forged = Request::new("GET", "/v1/budget")
            .header("Host", &host)
            .header("Authorization", &format!("Bearer psr_guess_{n:040}"));
        agent.send(&forged);
    }
    let (status, budget) = agent.budget();
    assert_eq!(status, 200, "a valid token is served: {budget}");
}
