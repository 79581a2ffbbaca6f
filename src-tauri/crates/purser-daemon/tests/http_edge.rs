//! The agent API's edge, driven through the real router against an in-memory store:
//! every bad input gets the contract's status and code and records nothing; the happy
//! paths answer in the contract's shape; long-polls wake on a decision.
#![cfg(test)]

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use purser_core::{AuthorizationStatus, ReasonCode};
use purser_daemon::HttpConfig;
use purser_daemon::authorizer::AgentStatus;
use serde_json::{Value, json};
use support::{Harness, from_peer, is_rfc3339, payment, payment_with};

/// Asserts an error reply and that the store recorded nothing.
#[track_caller]
fn assert_refused(
    harness: &Harness,
    reply: &support::Reply,
    status: u16,
    code: &str,
    field: Option<&str>,
) {
    assert_eq!(reply.status.as_u16(), status, "{reply:?}");
    let (got_code, got_field) = reply.error();
    assert_eq!(got_code, code, "{reply:?}");
    assert_eq!(got_field.as_deref(), field, "{reply:?}");
    assert_eq!(
        harness.store.mutations(),
        0,
        "a refused request reached the store"
    );
    assert_eq!(harness.store.recorded(), 0);
}

// ---------------------------------------------------------------- happy paths

#[tokio::test]
async fn health_needs_no_token() {
    let harness = Harness::new();
    let request = Request::get("/v1/health")
        .header(header::HOST, support::HOST)
        .body(Body::empty());
    let reply = harness.send(request.unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
}

#[tokio::test]
async fn an_approval_has_the_contract_shape() {
    let harness = Harness::new();
    let reply = harness
        .send(harness.post_json("/v1/authorizations", &payment()))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    let body = &reply.json;
    for key in [
        "id",
        "request_id",
        "agent",
        "status",
        "amount",
        "currency",
        "merchant",
        "reason",
        "reasons",
        "decided_by",
        "expires_at",
        "created_at",
        "decided_at",
    ] {
        assert!(body.get(key).is_some(), "missing {key}: {body}");
    }
    assert!(body["id"].as_str().unwrap().starts_with("auth_"));
    assert_eq!(body["request_id"], "order-8812-attempt");
    assert_eq!(body["agent"], "research-bot");
    assert_eq!(body["status"], "approved");
    assert_eq!(body["amount"], "12.50");
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["merchant"], "api.example.com");
    assert_eq!(body["reason"]["code"], "within_policy");
    assert!(body["reason"]["message"].is_string());
    assert_eq!(body["reasons"], json!([body["reason"]]));
    assert_eq!(body["decided_by"], "policy");
    assert_eq!(body["expires_at"], Value::Null);
    assert!(is_rfc3339(&body["created_at"]), "{body}");
    assert!(is_rfc3339(&body["decided_at"]), "{body}");
    assert_eq!(body["created_at"], "2026-11-26T10:00:00.000Z");
    assert_eq!(body["capture"], "auto");
    assert_eq!(harness.store.recorded(), 1);
}

#[tokio::test]
async fn a_pending_request_has_no_decider_yet_and_an_expiry() {
    let harness = Harness::new();
    let body = payment_with("merchant", json!("ask.example.com"));
    let reply = harness
        .send(harness.post_json("/v1/authorizations", &body))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["status"], "pending");
    assert_eq!(reply.json["decided_by"], Value::Null);
    assert_eq!(reply.json["decided_at"], Value::Null);
    assert!(is_rfc3339(&reply.json["expires_at"]));
}

#[tokio::test]
async fn a_denial_is_a_200_answer() {
    let harness = Harness::new();
    let body = payment_with("amount", json!("5000.00"));
    let reply = harness
        .send(harness.post_json("/v1/authorizations", &body))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["status"], "denied");
    assert_eq!(reply.json["reason"]["code"], "over_budget");
}

#[tokio::test]
async fn a_replay_returns_the_same_decision_and_changed_params_conflict() {
    let harness = Harness::new();
    let first = harness
        .send(harness.post_json("/v1/authorizations", &payment()))
        .await;
    let again = harness
        .send(harness.post_json("/v1/authorizations", &payment()))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json, first.json);
    let changed = payment_with("amount", json!("13.00"));
    let reply = harness
        .send(harness.post_json("/v1/authorizations", &changed))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error(), ("idempotency_conflict".into(), None));
    assert_eq!(harness.store.recorded(), 1);
}

#[tokio::test]
async fn charset_parameter_is_accepted() {
    let harness = Harness::new();
    let request = harness
        .request("POST", "/v1/authorizations")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(payment().to_string()))
        .unwrap();
    assert_eq!(harness.send(request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn reading_an_own_authorization_works() {
    let harness = Harness::new();
    let created = harness
        .send(harness.post_json("/v1/authorizations", &payment()))
        .await;
    let id = created.json["id"].as_str().unwrap();
    let reply = harness
        .send(harness.get(&format!("/v1/authorizations/{id}")))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json, created.json);
}

#[tokio::test]
async fn manual_hold_capture_and_void() {
    let harness = Harness::new();
    let hold = |request_id: &str| {
        let mut body = payment_with("capture", json!("manual"));
        body["request_id"] = json!(request_id);
        body
    };
    let created = harness
        .send(harness.post_json("/v1/authorizations", &hold("h-1")))
        .await;
    assert_eq!(created.json["capture"], "manual");
    assert!(is_rfc3339(&created.json["expires_at"]), "a hold lapses");
    let id = created.json["id"].as_str().unwrap().to_owned();

    let partial = harness
        .send(harness.post_json(
            &format!("/v1/authorizations/{id}/capture"),
            &json!({"amount": "10.00"}),
        ))
        .await;
    assert_eq!(partial.status, StatusCode::OK, "{partial:?}");
    assert_eq!(partial.json["status"], "captured");
    assert_eq!(partial.json["captured_amount"], "10.00");

    let again = harness
        .send(
            harness
                .request("POST", &format!("/v1/authorizations/{id}/capture"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.error().0, "invalid_state");

    let second = harness
        .send(harness.post_json("/v1/authorizations", &hold("h-2")))
        .await;
    let id = second.json["id"].as_str().unwrap().to_owned();
    let all = harness
        .send(
            harness
                .request("POST", &format!("/v1/authorizations/{id}/capture"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        all.status,
        StatusCode::OK,
        "an empty body captures the whole hold: {all:?}"
    );
    assert_eq!(all.json["captured_amount"], "12.50");

    let third = harness
        .send(harness.post_json("/v1/authorizations", &hold("h-3")))
        .await;
    let id = third.json["id"].as_str().unwrap().to_owned();
    let over = harness
        .send(harness.post_json(
            &format!("/v1/authorizations/{id}/capture"),
            &json!({"amount": "99.00"}),
        ))
        .await;
    assert_eq!(
        over.status,
        StatusCode::CONFLICT,
        "the store refuses capturing above the hold"
    );
    assert_eq!(over.error().0, "invalid_state");
    let voided = harness
        .send(
            harness
                .request("POST", &format!("/v1/authorizations/{id}/void"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(voided.status, StatusCode::OK);
    assert_eq!(voided.json["status"], "voided");
}

#[tokio::test]
async fn capturing_an_auto_approval_is_invalid_state() {
    let harness = Harness::new();
    let created = harness
        .send(harness.post_json("/v1/authorizations", &payment()))
        .await;
    let id = created.json["id"].as_str().unwrap();
    let reply = harness
        .send(
            harness
                .request("POST", &format!("/v1/authorizations/{id}/capture"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error(), ("invalid_state".into(), None));
}

#[tokio::test]
async fn usage_has_the_contract_shape() {
    let harness = Harness::new();
    let body = json!({
        "request_id": "use-1", "action": "web_search", "units": "3", "unit_cost": "0.002",
        "currency": "USD", "session_id": "run-42"
    });
    let reply = harness.send(harness.post_json("/v1/usage", &body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.json["status"], "approved");
    let metering = &reply.json["metering"];
    assert_eq!(metering["action"], "web_search");
    assert_eq!(metering["units_consumed"], "3.00");
    assert_eq!(metering["unit_cost"], "0.002");
    assert_eq!(metering["cost"], "0.006");
    assert_eq!(metering["currency"], "USD");
    assert_eq!(metering["session_total"], "0.006");
    assert_eq!(metering["budget_remaining"], "99.994");
}

#[tokio::test]
async fn budget_lists_limits_per_window() {
    let harness = Harness::new();
    let reply = harness
        .send(harness.get("/v1/budget?session_id=run-42"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.json["agent"], "research-bot");
    assert_eq!(reply.json["session_id"], "run-42");
    let day = &reply.json["budgets"][0];
    assert_eq!(
        *day,
        json!({
            "scope": "agent", "window": "day", "currency": "USD", "limit": "200.00",
            "spent": "12.50", "held": "0.00", "remaining": "187.50", "on_exceed": "ask",
            "window_start": "2026-11-26T00:00:00.000Z"
        })
    );
    assert_eq!(reply.json["budgets"].as_array().unwrap().len(), 2);
    let bad = harness
        .send(harness.get("/v1/budget?session_id=run%2042"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error().1.as_deref(), Some("session_id"));
}

#[tokio::test]
async fn a_frozen_agent_still_authenticates() {
    let harness = Harness::new();
    let frozen = harness.store.add_agent("frozen-bot", AgentStatus::Frozen);
    let request = Request::get("/v1/budget")
        .header(header::HOST, support::HOST)
        .header(header::AUTHORIZATION, format!("Bearer {frozen}"))
        .body(Body::empty())
        .unwrap();
    let reply = harness.send(request).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the engine, not the edge, denies frozen agents"
    );
    assert_eq!(reply.json["agent"], "frozen-bot");
}

// ---------------------------------------------------------------- malformed bodies

#[tokio::test]
async fn malformed_json_is_400() {
    let harness = Harness::new();
    let request = harness
        .request("POST", "/v1/authorizations")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"request_id\": \"a\", "))
        .unwrap();
    let reply = harness.send(request).await;
    assert_refused(&harness, &reply, 400, "invalid_json", None);
}

#[tokio::test]
async fn empty_body_is_400() {
    let harness = Harness::new();
    let request = harness
        .request("POST", "/v1/authorizations")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::empty())
        .unwrap();
    assert_refused(
        &harness,
        &harness.send(request).await,
        400,
        "invalid_json",
        None,
    );
}

#[tokio::test]
async fn duplicate_keys_are_400() {
    let harness = Harness::new();
    let text = r#"{"request_id":"a","amount":"1.00","amount":"900.00","currency":"USD","merchant":"m","purpose":"p"}"#;
    let request = harness
        .request("POST", "/v1/authorizations")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(text))
        .unwrap();
    assert_refused(
        &harness,
        &harness.send(request).await,
        400,
        "invalid_json",
        None,
    );
}

#[tokio::test]
async fn a_non_object_body_is_422() {
    let harness = Harness::new();
    let reply = harness
        .send(harness.post_json("/v1/authorizations", &json!([payment()])))
        .await;
    assert_refused(&harness, &reply, 422, "invalid_request", None);
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_415() {
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let harness = Harness::new();
        let mut builder = harness.request("POST", "/v1/authorizations");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        let reply = harness
            .send(builder.body(Body::from(payment().to_string())).unwrap())
            .await;
        assert_refused(&harness, &reply, 415, "unsupported_media_type", None);
    }
}

#[tokio::test]
async fn an_oversized_body_is_413_with_or_without_content_length() {
    let mut body = payment();
    body["context"] = json!({"blob": "x".repeat(70 * 1024)});
    let text = body.to_string();

    let harness = Harness::new();
    let declared = harness
        .request("POST", "/v1/authorizations")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, text.len())
        .body(Body::from(text.clone()))
        .unwrap();
    assert_refused(
        &harness,
        &harness.send(declared).await,
        413,
        "payload_too_large",
        None,
    );

    let undeclared = harness
        .request("POST", "/v1/authorizations")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(text))
        .unwrap();
    assert_refused(
        &harness,
        &harness.send(undeclared).await,
        413,
        "payload_too_large",
        None,
    );
}

#[tokio::test]
async fn an_oversized_context_is_422_naming_context() {
    let harness = Harness::new();
    let body = payment_with("context", json!({"blob": "x".repeat(17 * 1024)}));
    let reply = harness
        .send(harness.post_json("/v1/authorizations", &body))
        .await;
    assert_refused(&harness, &reply, 422, "invalid_request", Some("context"));
}

// ---------------------------------------------------------------- bad fields

#[tokio::test]
async fn money_must_be_an_exact_positive_decimal_string() {
    let cases = [
        (json!(12.5), "float"),
        (json!(12), "integer"),
        (json!(1e3), "JSON exponent"),
        (json!("-5.00"), "negative"),
        (json!("0"), "zero"),
        (json!("1.0000001"), "over-precise"),
        (json!("1e3"), "exponent"),
        (json!("NaN"), "NaN"),
        (json!("1,000"), "comma"),
        (json!("+5"), "sign"),
        (json!("1000000000000"), "13 integer digits"),
    ];
    for (amount, what) in cases {
        let harness = Harness::new();
        let reply = harness
            .send(harness.post_json("/v1/authorizations", &payment_with("amount", amount)))
            .await;
        assert_refused(&harness, &reply, 422, "invalid_request", Some("amount"));
        if what == "float" || what == "integer" {
            let message = reply.json["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("send the amount as a decimal string such as \"12.50\""),
                "{what}: {message}"
            );
        }
    }
}

#[tokio::test]
async fn bad_fields_are_422_naming_the_field() {
    let cases = [
        ("request_id", json!("has spaces")),
        ("request_id", json!("")),
        ("request_id", json!("r".repeat(129))),
        ("request_id", json!("order/1")),
        ("currency", json!("usd")),
        ("currency", json!("US")),
        ("merchant", json!("")),
        ("category", json!("Software")),
        ("rail", json!(7)),
        ("capture", json!("maybe")),
        ("session_id", json!("run 42")),
        ("purpose", json!("")),
        ("purpose", json!("p".repeat(1001))),
        ("context", json!(["not", "an", "object"])),
        ("surprise", json!("x")),
    ];
    for (field, value) in cases {
        let harness = Harness::new();
        let reply = harness
            .send(harness.post_json("/v1/authorizations", &payment_with(field, value)))
            .await;
        assert_refused(&harness, &reply, 422, "invalid_request", Some(field));
    }
}

#[tokio::test]
async fn a_missing_purpose_is_422() {
    let harness = Harness::new();
    let mut body = payment();
    body.as_object_mut().unwrap().remove("purpose");
    let reply = harness
        .send(harness.post_json("/v1/authorizations", &body))
        .await;
    assert_refused(&harness, &reply, 422, "invalid_request", Some("purpose"));
}

#[tokio::test]
async fn bad_usage_is_refused() {
    let base = json!({
        "request_id": "use-1", "action": "web_search", "units": "3", "unit_cost": "0.002",
        "currency": "USD"
    });
    let cases = [
        ("units", json!(3), Some("units")),
        ("unit_cost", json!(0.002), Some("unit_cost")),
        ("units", json!("0"), Some("units")),
        ("action", json!("Web Search"), Some("action")),
        ("amount", json!("1.00"), Some("amount")),
        // 0.5 × 0.000001 is not a whole micro-unit: the product is at fault, not one field.
        ("units", json!("0.5"), None),
    ];
    for (field, value, named) in cases {
        let harness = Harness::new();
        let mut body = base.clone();
        body["unit_cost"] = if field == "units" && named.is_none() {
            json!("0.000001")
        } else {
            body["unit_cost"].clone()
        };
        body[field] = value;
        let reply = harness.send(harness.post_json("/v1/usage", &body)).await;
        assert_refused(&harness, &reply, 422, "invalid_request", named);
    }
}

#[tokio::test]
async fn a_float_capture_amount_is_422() {
    let harness = Harness::new();
    let reply = harness
        .send(harness.post_json("/v1/authorizations/auth_1/capture", &json!({"amount": 5.0})))
        .await;
    assert_refused(&harness, &reply, 422, "invalid_request", Some("amount"));
}

// ---------------------------------------------------------------- who may see what

#[tokio::test]
async fn an_unknown_authorization_is_404() {
    let harness = Harness::new();
    for path in [
        "/v1/authorizations/auth_00000000000000000000000042",
        "/v1/authorizations/no%20such",
    ] {
        let reply = harness.send(harness.get(path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.error(), ("not_found".into(), None));
    }
    let void = harness
        .send(
            harness
                .request("POST", "/v1/authorizations/auth_404/void")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(void.status, StatusCode::NOT_FOUND);
    assert_eq!(harness.store.recorded(), 0);
}

#[tokio::test]
async fn another_agents_authorization_is_404_not_403() {
    let harness = Harness::new();
    let created = harness
        .send(harness.post_json("/v1/authorizations", &payment()))
        .await;
    let id = created.json["id"].as_str().unwrap();
    let other = harness.store.add_agent("other-bot", AgentStatus::Active);
    let as_other = |method: &str, path: String| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, support::HOST)
            .header(header::AUTHORIZATION, format!("Bearer {other}"))
            .body(Body::empty())
            .unwrap()
    };
    for (method, path) in [
        ("GET", format!("/v1/authorizations/{id}")),
        ("POST", format!("/v1/authorizations/{id}/void")),
        ("POST", format!("/v1/authorizations/{id}/capture")),
    ] {
        let reply = harness.send(as_other(method, path.clone())).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(reply.error().0, "not_found");
    }
    let mine = harness
        .send(harness.get(&format!("/v1/authorizations/{id}")))
        .await;
    assert_eq!(
        mine.json["status"], "approved",
        "the other agent changed nothing"
    );
}

#[tokio::test]
async fn wrong_host_is_403_everywhere() {
    for host in [
        Some("evil.example:7402"),
        Some("127.0.0.1:7403"),
        Some("localhost"),
        None,
    ] {
        for path in ["/v1/health", "/v1/authorizations", "/nowhere"] {
            let harness = Harness::new();
            let mut builder = harness
                .request("POST", path)
                .header(header::CONTENT_TYPE, "application/json");
            builder.headers_mut().unwrap().remove(header::HOST);
            if let Some(host) = host {
                builder = builder.header(header::HOST, host);
            }
            let reply = harness
                .send(builder.body(Body::from(payment().to_string())).unwrap())
                .await;
            assert_refused(&harness, &reply, 403, "forbidden_host", None);
        }
    }
}

#[tokio::test]
async fn loopback_names_on_the_bound_port_are_hosts() {
    for host in [
        "127.0.0.1:7402",
        "localhost:7402",
        "LOCALHOST:7402",
        "[::1]:7402",
    ] {
        let harness = Harness::new();
        let request = Request::get("/v1/health")
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        assert_eq!(harness.send(request).await.status, StatusCode::OK, "{host}");
    }
    let mut config = HttpConfig::for_port(9000);
    config.extra_hosts.push("purser.internal:9000".into());
    let harness = Harness::with_config(config);
    for (host, status) in [
        ("purser.internal:9000", 200),
        ("127.0.0.1:9000", 200),
        ("127.0.0.1:7402", 403),
    ] {
        let request = Request::get("/v1/health")
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            harness.send(request).await.status.as_u16(),
            status,
            "{host}"
        );
    }
}

#[tokio::test]
async fn a_foreign_origin_is_403() {
    for origin in ["http://evil.example", "null", "http://127.0.0.1:7402"] {
        let harness = Harness::new();
        let mut request = harness.post_json("/v1/authorizations", &payment());
        request
            .headers_mut()
            .insert(header::ORIGIN, origin.parse().unwrap());
        assert_refused(
            &harness,
            &harness.send(request).await,
            403,
            "forbidden_origin",
            None,
        );
    }
    let mut config = HttpConfig::default();
    config.allowed_origins.push("http://localhost:5173".into());
    let harness = Harness::with_config(config);
    let mut request = harness.post_json("/v1/authorizations", &payment());
    request
        .headers_mut()
        .insert(header::ORIGIN, "http://localhost:5173".parse().unwrap());
    assert_eq!(harness.send(request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_unknown_malformed_and_revoked_tokens_are_401() {
    let harness = Harness::new();
    let revoked = harness.store.add_agent("revoked-bot", AgentStatus::Revoked);
    let unknown = purser_daemon::AgentToken::generate()
        .unwrap()
        .expose()
        .to_owned();
    let authorizations = [
        None,
        Some("Basic cmVzZWFyY2g6Ym90".to_owned()),
        Some("Bearer".to_owned()),
        Some(format!("Bearer {unknown}")),
        Some("Bearer purser_short".to_owned()),
        Some(format!("Bearer {revoked}")),
        Some(format!("Bearer {}x", harness.token)),
    ];
    for authorization in authorizations {
        let mut builder = Request::post("/v1/authorizations")
            .header(header::HOST, support::HOST)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(value) = &authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let reply = harness
            .send(builder.body(Body::from(payment().to_string())).unwrap())
            .await;
        assert_refused(&harness, &reply, 401, "unauthenticated", None);
    }
    for path in ["/v1/budget", "/v1/authorizations/auth_1"] {
        let request = Request::get(path)
            .header(header::HOST, support::HOST)
            .body(Body::empty());
        assert_eq!(
            harness.send(request.unwrap()).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn brute_force_is_rate_limited_per_peer() {
    let harness = Harness::new();
    let attacker = "127.0.0.1:50000";
    let guess = |peer: &str, token: &str| {
        let request = Request::get("/v1/budget")
            .header(header::HOST, support::HOST)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        from_peer(request, peer)
    };
    let wrong = purser_daemon::AgentToken::generate()
        .unwrap()
        .expose()
        .to_owned();
    for attempt in 0..20 {
        let reply = harness.send(guess(attacker, &wrong)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let limited = harness.send(guess(attacker, &wrong)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error(), ("rate_limited".into(), None));
    let retry_after: u64 = limited.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry_after), "Retry-After {retry_after}");

    let correct = harness.send(guess(attacker, &harness.token)).await;
    assert_eq!(
        correct.status,
        StatusCode::OK,
        "a valid token is served even from a limited address (agents share 127.0.0.1)"
    );
    let still_limited = harness.send(guess(attacker, &wrong)).await;
    assert_eq!(
        still_limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "bad tokens stay limited"
    );

    let bystander = harness.send(guess("127.0.0.2:40000", &wrong)).await;
    assert_eq!(
        bystander.status,
        StatusCode::UNAUTHORIZED,
        "other peers are not limited"
    );

    tokio::time::advance(Duration::from_secs(retry_after)).await;
    let later = harness.send(guess(attacker, &wrong)).await;
    assert_eq!(
        later.status,
        StatusCode::UNAUTHORIZED,
        "the limit lifts with time"
    );
}

// ---------------------------------------------------------------- routing

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let harness = Harness::new();
    let reply = harness.send(harness.get("/v2/nothing")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error().0, "not_found");
    let reply = harness
        .send(
            harness
                .request("DELETE", "/v1/authorizations")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.error().0, "method_not_allowed");
    let reply = harness
        .send(
            harness
                .request("POST", "/v1/health")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(harness.store.mutations(), 0);
}

#[tokio::test]
async fn store_unavailable_is_503_and_fails_closed() {
    let harness = Harness::new();
    harness.store.set_unavailable(true);
    let request = harness.post_json("/v1/authorizations", &payment());
    let reply = harness.send(request).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error(), ("unavailable".into(), None));
    assert!(
        !reply.json.to_string().contains("disk full"),
        "internal detail leaked"
    );
    assert_eq!(harness.store.recorded(), 0);
}

// ---------------------------------------------------------------- long-poll

#[tokio::test]
async fn wait_out_of_range_is_422_naming_wait() {
    for query in [
        "wait=121",
        "wait=-1",
        "wait=abc",
        "wait=1.5",
        "wait=",
        "wait=1&wait=2",
        "wiat=5",
    ] {
        let harness = Harness::new();
        let reply = harness
            .send(harness.post_json(&format!("/v1/authorizations?{query}"), &payment()))
            .await;
        let field = if query.starts_with("wiat") {
            "wiat"
        } else {
            "wait"
        };
        assert_refused(&harness, &reply, 422, "invalid_request", Some(field));
    }
    let harness = Harness::new();
    let reply = harness
        .send(harness.get("/v1/authorizations/auth_1?wait=500"))
        .await;
    assert_eq!(
        reply.error(),
        ("invalid_request".into(), Some("wait".into()))
    );
}

#[tokio::test(start_paused = true)]
async fn a_waiting_request_wakes_as_soon_as_the_principal_decides() {
    let harness = Harness::new();
    let start = tokio::time::Instant::now();
    let body = payment_with("merchant", json!("ask.example.com"));
    let router = harness.router.clone();
    let request = harness.post_json("/v1/authorizations?wait=60", &body);
    let waiting = tokio::spawn(async move { support::send(&router, request).await });

    let agent = "research-bot".parse().unwrap();
    while harness.state.waiters().parked(&agent) == 0 || harness.state.waiters().watched_ids() == 0
    {
        tokio::task::yield_now().await;
    }
    let id = harness.store.ids().pop().unwrap();
    harness.store.decide(
        &id,
        AuthorizationStatus::Approved,
        ReasonCode::ApprovedByPrincipal,
    );
    harness.state.waiters().notify(&id);

    let reply = waiting.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["status"], "approved");
    assert_eq!(reply.json["decided_by"], "principal");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "woke after {:?}",
        start.elapsed()
    );
    assert_eq!(
        harness.state.waiters().parked(&agent),
        0,
        "the slot is released"
    );
}

#[tokio::test(start_paused = true)]
async fn a_wait_that_elapses_answers_pending() {
    let harness = Harness::new();
    let start = tokio::time::Instant::now();
    let body = payment_with("merchant", json!("ask.example.com"));
    let reply = harness
        .send(harness.post_json("/v1/authorizations?wait=30", &body))
        .await;
    assert_eq!(reply.json["status"], "pending");
    assert!(start.elapsed() >= Duration::from_secs(30));
    assert!(start.elapsed() < Duration::from_secs(33));

    let id = reply.json["id"].as_str().unwrap();
    let start = tokio::time::Instant::now();
    let reply = harness
        .send(harness.get(&format!("/v1/authorizations/{id}?wait=5")))
        .await;
    assert_eq!(reply.json["status"], "pending");
    assert!(start.elapsed() >= Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_decision_no_one_announced_is_still_seen() {
    let harness = Harness::new();
    let body = payment_with("merchant", json!("ask.example.com"));
    let created = harness
        .send(harness.post_json("/v1/authorizations", &body))
        .await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let router = harness.router.clone();
    let request = harness.get(&format!("/v1/authorizations/{id}?wait=60"));
    let start = tokio::time::Instant::now();
    let waiting = tokio::spawn(async move { support::send(&router, request).await });
    let agent = "research-bot".parse().unwrap();
    while harness.state.waiters().parked(&agent) == 0 {
        tokio::task::yield_now().await;
    }
    // Decided elsewhere (another daemon): no notify.
    harness.store.decide(
        &id,
        AuthorizationStatus::Denied,
        ReasonCode::DeniedByPrincipal,
    );
    let reply = waiting.await.unwrap();
    assert_eq!(reply.json["status"], "denied");
    assert!(start.elapsed() <= harness.state.config().wait_recheck + Duration::from_millis(1));
}

#[tokio::test(start_paused = true)]
async fn too_many_waiters_is_429_and_records_nothing() {
    let config = HttpConfig {
        max_waiters_per_agent: 1,
        ..HttpConfig::default()
    };
    let harness = Harness::with_config(config);
    let body = payment_with("merchant", json!("ask.example.com"));
    let created = harness
        .send(harness.post_json("/v1/authorizations", &body))
        .await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let router = harness.router.clone();
    let request = harness.get(&format!("/v1/authorizations/{id}?wait=60"));
    let parked = tokio::spawn(async move { support::send(&router, request).await });
    let agent = "research-bot".parse().unwrap();
    while harness.state.waiters().parked(&agent) == 0 {
        tokio::task::yield_now().await;
    }

    let mutations = harness.store.mutations();
    let second = payment_with("request_id", json!("second"));
    let mut second = second;
    second["merchant"] = json!("ask.example.com");
    let reply = harness
        .send(harness.post_json("/v1/authorizations?wait=10", &second))
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.error().0, "rate_limited");
    assert!(reply.retry_after.is_some());
    assert_eq!(harness.store.mutations(), mutations, "nothing recorded");
    assert_eq!(harness.store.recorded(), 1);

    let without_wait = harness
        .send(harness.post_json("/v1/authorizations", &second))
        .await;
    assert_eq!(
        without_wait.status,
        StatusCode::OK,
        "polling without wait is not bounded"
    );
    harness.state.waiters().release_all();
    assert_eq!(parked.await.unwrap().json["status"], "pending");
}

#[tokio::test(start_paused = true)]
async fn voiding_a_pending_request_wakes_its_waiters() {
    let harness = Harness::new();
    let body = payment_with("merchant", json!("ask.example.com"));
    let created = harness
        .send(harness.post_json("/v1/authorizations", &body))
        .await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let router = harness.router.clone();
    let request = harness.get(&format!("/v1/authorizations/{id}?wait=60"));
    let start = tokio::time::Instant::now();
    let waiting = tokio::spawn(async move { support::send(&router, request).await });
    let agent = "research-bot".parse().unwrap();
    while harness.state.waiters().parked(&agent) == 0 {
        tokio::task::yield_now().await;
    }
    let void = harness
        .send(
            harness
                .request("POST", &format!("/v1/authorizations/{id}/void"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(void.json["status"], "voided");
    assert_eq!(waiting.await.unwrap().json["status"], "voided");
    assert!(start.elapsed() < Duration::from_millis(100));
}
