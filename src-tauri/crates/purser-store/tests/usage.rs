//! Usage metering: counted against the same budgets, never pending.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use purser_core::{AuthorizationStatus, ReasonCode};
use purser_store::{Store, StoreError};

const POLICY: &str = r#"
version = 1
timezone = "UTC"

[[limit]]
currency = "USD"
window = "day"
max = "1.00"
on_exceed = "ask"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "0.001" }

[[profiles.default.limit]]
currency = "USD"
window = "session"
max = "0.50"
on_exceed = "deny"
"#;

#[tokio::test]
async fn usage_is_metered_per_session_and_denied_past_a_budget() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, POLICY).await;
    add_agent(&store, "bot").await;

    let (first, totals) = store
        .record_usage(usage("bot", "u1", "3", "0.002", "run-1"))
        .await
        .unwrap();
    assert_eq!(
        first.status,
        AuthorizationStatus::Approved,
        "above approve_above, still never pending"
    );
    assert_eq!(totals.session_total.to_string(), "0.006");
    assert_eq!(
        totals.budget_remaining.map(|a| a.to_string()).as_deref(),
        Some("0.494")
    );

    // A replay reports without spending again.
    let (replay, _) = store
        .record_usage(usage("bot", "u1", "3", "0.002", "run-1"))
        .await
        .unwrap();
    assert_eq!(replay, first);

    let (big, _) = store
        .record_usage(usage("bot", "u2", "125", "0.004", "run-1"))
        .await
        .unwrap();
    assert_eq!(big.status, AuthorizationStatus::Denied);
    assert_eq!(big.reasons[0].code, ReasonCode::OverBudget);
    let (ok, totals) = store
        .record_usage(usage("bot", "u3", "125", "0.004", "run-2"))
        .await
        .unwrap();
    assert_eq!(
        ok.status,
        AuthorizationStatus::Approved,
        "another session has its own budget"
    );
    assert_eq!(totals.session_total.to_string(), "0.50");
    // The shared day budget (on_exceed = ask) still denies usage: 0.506 + 0.5 > 1.
    let (over_day, _) = store
        .record_usage(usage("bot", "u4", "125", "0.004", "run-3"))
        .await
        .unwrap();
    assert_eq!(over_day.status, AuthorizationStatus::Denied);
    assert_eq!(over_day.reasons[0].code, ReasonCode::OverBudget);

    // Session totals survive a restart (loaded from the ledger on demand).
    drop(store);
    let store = open(dir.path(), &clock).await;
    let (_, totals) = store
        .record_usage(usage("bot", "u5", "1", "0.004", "run-1"))
        .await
        .unwrap();
    assert_eq!(totals.session_total.to_string(), "0.01");

    // Kinds are checked.
    assert!(matches!(
        store
            .authorize(usage("bot", "u6", "1", "0.004", "run-1"))
            .await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store
            .record_usage(payment("bot", "u7", "1.00", "USD"))
            .await,
        Err(StoreError::InvalidInput(_))
    ));
    let mut wrong = usage("bot", "u8", "1", "0.004", "run-1");
    wrong.amount = "0.005".parse().unwrap();
    assert!(matches!(
        store.record_usage(wrong).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_ledger_matches_authorizations(dir.path()).await;
}
