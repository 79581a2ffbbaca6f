//! What the daemon logs: one line per decision with its id, agent, status, reason code,
//! amount and currency, and never a token, a purpose or a context.
//!
//! Alone in its test binary: tracing caches per call site whether anyone listens, so a
//! thread-local subscriber only sees everything when no other test runs beside it.

mod live;

use live::{Live, payment};
use serde_json::json;

#[tokio::test]
async fn logs_have_one_line_per_decision_and_never_a_token_purpose_or_context() {
    let captured = live::Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut live = Live::start().await;
    let token = live.add_agent("bot").await;
    let approved = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations",
            Some(payment("r1", "10.00")),
        )
        .await;
    let pending = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations",
            Some(payment("r2", "40.00")),
        )
        .await;
    let id = pending.json["id"].as_str().unwrap();
    live.admin("POST", &format!("/admin/approvals/{id}/deny"), None)
        .await;
    live.admin("POST", "/admin/kill", Some(json!({"reason": "test"})))
        .await;
    live.stop().await;

    let logs = captured.text();
    let approved_id = approved.json["id"].as_str().unwrap();
    let decision_lines: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains(approved_id) && line.contains(" decision "))
        .collect();
    assert_eq!(decision_lines.len(), 1, "{logs}");
    let line = decision_lines[0];
    for field in [
        "agent=bot",
        "status=approved",
        "reason=within_policy",
        "amount=10.00",
        "currency=USD",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert!(logs.contains(id), "the principal's decision is logged");
    assert!(!logs.contains(&token), "a token was logged");
    assert!(
        !logs.contains(&token["purser_".len()..]),
        "a token was logged"
    );
    assert!(!logs.contains("secret purpose"), "a purpose was logged");
    assert!(!logs.contains("secret context"), "a context was logged");
}
