//! The agent API over the real SQLite store: what an agent sees end to end, from token
//! to durable decision, with a real policy and the real engine.
#![cfg(test)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use purser_core::policy::parse_policy;
use purser_daemon::authorizer::AgentStatus;
use purser_daemon::{AgentToken, AppState, HttpConfig, Waiters};
use purser_store::{GrantChoice, SqliteStore, Store, StoreOptions};
use serde_json::json;
use support::{FixedClock, HOST, payment, payment_with, send, t0};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[[limit]]
currency = "USD"
window = "month"
max = "2000.00"
on_exceed = "deny"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "200.00"
on_exceed = "ask"
"#;

struct Live {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    state: AppState,
    router: axum::Router,
}

impl Live {
    async fn new() -> Live {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(
            &dir.path().join("purser.db"),
            Arc::new(FixedClock(t0())),
            StoreOptions::default(),
        )
        .await
        .unwrap();
        let policy = parse_policy("policy.toml", POLICY).unwrap();
        store.apply_policy(POLICY, policy, "test").await.unwrap();
        let config = HttpConfig::default();
        let waiters = Waiters::new(config.max_waiters_per_agent);
        let state = AppState::new(
            Arc::new(store.clone()),
            Arc::new(FixedClock(t0())),
            waiters,
            config,
        );
        let router = purser_daemon::http::router(state.clone());
        Live {
            _dir: dir,
            store,
            state,
            router,
        }
    }

    async fn agent(&self, name: &str) -> String {
        let token = AgentToken::generate().unwrap();
        self.store
            .add_agent(name.parse().unwrap(), None, token.hash().0)
            .await
            .unwrap();
        token.expose().to_owned()
    }

    fn request(
        token: &str,
        method: &str,
        uri: &str,
        body: Option<&serde_json::Value>,
    ) -> Request<Body> {
        let builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, HOST)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        }
    }

    async fn call(
        &self,
        token: &str,
        method: &str,
        uri: &str,
        body: Option<&serde_json::Value>,
    ) -> support::Reply {
        send(&self.router, Live::request(token, method, uri, body)).await
    }
}

#[tokio::test]
async fn decisions_replays_and_isolation_through_the_real_store() {
    let live = Live::new().await;
    let bot = live.agent("research-bot").await;

    let approved = live
        .call(&bot, "POST", "/v1/authorizations", Some(&payment()))
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{approved:?}");
    assert_eq!(approved.json["status"], "approved");
    assert_eq!(approved.json["reason"]["code"], "within_policy");
    assert_eq!(approved.json["decided_by"], "policy");
    assert_eq!(approved.json["amount"], "12.50");
    assert_eq!(approved.json["agent"], "research-bot");

    let replay = live
        .call(&bot, "POST", "/v1/authorizations", Some(&payment()))
        .await;
    assert_eq!(
        replay.json, approved.json,
        "an exact replay answers the recorded decision"
    );
    let changed = live
        .call(
            &bot,
            "POST",
            "/v1/authorizations",
            Some(&payment_with("amount", json!("12.51"))),
        )
        .await;
    assert_eq!(changed.status, StatusCode::CONFLICT);
    assert_eq!(changed.error().0, "idempotency_conflict");

    let id = approved.json["id"].as_str().unwrap();
    let other = live.agent("other-bot").await;
    let foreign = live
        .call(&other, "GET", &format!("/v1/authorizations/{id}"), None)
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let foreign_void = live
        .call(
            &other,
            "POST",
            &format!("/v1/authorizations/{id}/void"),
            None,
        )
        .await;
    assert_eq!(foreign_void.status, StatusCode::NOT_FOUND);
    let own = live
        .call(&bot, "GET", &format!("/v1/authorizations/{id}"), None)
        .await;
    assert_eq!(own.json, approved.json);

    let auto_capture = live
        .call(
            &bot,
            "POST",
            &format!("/v1/authorizations/{id}/capture"),
            None,
        )
        .await;
    assert_eq!(auto_capture.status, StatusCode::CONFLICT);
    assert_eq!(auto_capture.error().0, "invalid_state");
}

#[tokio::test]
async fn a_waiting_agent_is_woken_by_the_principals_approval() {
    let live = Live::new().await;
    let bot = live.agent("research-bot").await;
    let big = payment_with("amount", json!("30.00"));
    let pending = live
        .call(&bot, "POST", "/v1/authorizations", Some(&big))
        .await;
    assert_eq!(pending.json["status"], "pending", "{pending:?}");
    assert_eq!(pending.json["reason"]["code"], "over_approval_threshold");
    assert_eq!(pending.json["expires_at"], "2026-11-26T10:10:00.000Z");
    let id = pending.json["id"].as_str().unwrap().to_owned();

    let router = live.router.clone();
    let request = Live::request(
        &bot,
        "GET",
        &format!("/v1/authorizations/{id}?wait=20"),
        None,
    );
    let started = std::time::Instant::now();
    let waiting = tokio::spawn(async move { send(&router, request).await });
    let agent = "research-bot".parse().unwrap();
    while live.state.waiters().parked(&agent) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    live.store.approve(&id, GrantChoice::Once).await.unwrap();
    live.state.waiters().notify(&id);
    let reply = waiting.await.unwrap();
    assert_eq!(reply.json["status"], "approved", "{reply:?}");
    assert_eq!(reply.json["decided_by"], "principal");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woke after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn manual_holds_usage_and_budget_through_the_real_store() {
    let live = Live::new().await;
    let bot = live.agent("research-bot").await;

    let hold = payment_with("capture", json!("manual"));
    let held = live
        .call(&bot, "POST", "/v1/authorizations", Some(&hold))
        .await;
    assert_eq!(held.json["status"], "approved", "{held:?}");
    assert_eq!(held.json["capture"], "manual");
    let id = held.json["id"].as_str().unwrap();
    let over = live
        .call(
            &bot,
            "POST",
            &format!("/v1/authorizations/{id}/capture"),
            Some(&json!({"amount": "20.00"})),
        )
        .await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{over:?}");
    let captured = live
        .call(
            &bot,
            "POST",
            &format!("/v1/authorizations/{id}/capture"),
            Some(&json!({"amount": "10.00"})),
        )
        .await;
    assert_eq!(captured.json["status"], "captured", "{captured:?}");
    assert_eq!(captured.json["captured_amount"], "10.00");

    let usage = json!({
        "request_id": "use-1", "action": "web_search", "units": "3", "unit_cost": "0.002",
        "currency": "USD", "session_id": "run-42"
    });
    let metered = live.call(&bot, "POST", "/v1/usage", Some(&usage)).await;
    assert_eq!(metered.status, StatusCode::OK, "{metered:?}");
    assert_eq!(metered.json["status"], "approved");
    assert_eq!(metered.json["metering"]["cost"], "0.006");
    assert_eq!(metered.json["metering"]["session_total"], "0.006");

    let budget = live.call(&bot, "GET", "/v1/budget", None).await;
    assert_eq!(budget.status, StatusCode::OK, "{budget:?}");
    let lines = budget.json["budgets"].as_array().unwrap();
    let day = lines.iter().find(|line| line["window"] == "day").unwrap();
    assert_eq!(day["scope"], "agent");
    assert_eq!(day["limit"], "200.00");
    assert_eq!(
        day["spent"], "10.006",
        "captured 10.00 + metered 0.006: {day}"
    );
    assert_eq!(day["remaining"], "189.994");
    assert!(
        lines
            .iter()
            .any(|line| line["window"] == "month" && line["scope"] == "shared")
    );
}

#[tokio::test]
async fn revoked_and_frozen_agents_through_the_real_store() {
    let live = Live::new().await;
    let bot = live.agent("research-bot").await;
    let name = "research-bot".parse().unwrap();

    live.store
        .set_agent_status(&name, AgentStatus::Frozen)
        .await
        .unwrap();
    let frozen = live
        .call(&bot, "POST", "/v1/authorizations", Some(&payment()))
        .await;
    assert_eq!(frozen.status, StatusCode::OK);
    assert_eq!(frozen.json["status"], "denied");
    assert_eq!(frozen.json["reason"]["code"], "agent_frozen");

    live.store
        .set_agent_status(&name, AgentStatus::Revoked)
        .await
        .unwrap();
    let revoked = live.call(&bot, "GET", "/v1/budget", None).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoked.error().0, "unauthenticated");
}
