//! Manual capture: holds count against budgets until captured (≤ held, the rest
//! released), voided, or lapsed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use purser_core::{Amount, AuthorizationStatus};
use purser_store::{AuditFilter, AuditKind, Store, StoreError};

fn amount(text: &str) -> Amount {
    text.parse().unwrap()
}

async fn spent_held(store: &purser_store::SqliteStore) -> (i64, i64) {
    let line = &store.budget(&agent("bot"), None).await.unwrap()[0];
    (line.spent.micros(), line.held.micros())
}

#[tokio::test]
async fn capture_at_most_the_hold_and_release_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("100.00", "50.00")).await;
    add_agent(&store, "bot").await;
    add_agent(&store, "other").await;

    let held = store.authorize(hold("bot", "h1", "40.00")).await.unwrap();
    assert_eq!(held.status, AuthorizationStatus::Approved);
    assert_eq!(
        held.expires_at,
        Some(start() + chrono::Duration::minutes(30))
    );
    assert_eq!(spent_held(&store).await, (0, 40_000_000));

    assert!(matches!(
        store
            .capture(&agent("bot"), &held.id, Some(amount("40.01")))
            .await,
        Err(StoreError::InvalidState(_))
    ));
    assert!(matches!(
        store.capture(&agent("other"), &held.id, None).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        spent_held(&store).await,
        (0, 40_000_000),
        "refusals change nothing"
    );

    let captured = store
        .capture(&agent("bot"), &held.id, Some(amount("12.50")))
        .await
        .unwrap();
    assert_eq!(captured.status, AuthorizationStatus::Captured);
    assert_eq!(captured.captured_amount, Some(amount("12.50")));
    assert_eq!(
        spent_held(&store).await,
        (12_500_000, 0),
        "the 27.50 not captured is released"
    );
    assert!(matches!(
        store.capture(&agent("bot"), &held.id, None).await,
        Err(StoreError::InvalidState(_))
    ));
    assert!(matches!(
        store.void(&agent("bot"), &held.id).await,
        Err(StoreError::InvalidState(_))
    ));

    // Auto-captured payments cannot be captured or voided.
    let auto = store
        .authorize(payment("bot", "a1", "5.00", "USD"))
        .await
        .unwrap();
    assert!(matches!(
        store.capture(&agent("bot"), &auto.id, None).await,
        Err(StoreError::InvalidState(_))
    ));
    assert!(matches!(
        store.void(&agent("bot"), &auto.id).await,
        Err(StoreError::InvalidState(_))
    ));

    let capture_rows = AuditFilter {
        kind: Some(AuditKind::Capture),
        ..AuditFilter::default()
    };
    let page = store.audit_page(&capture_rows, None, 10).await.unwrap();
    assert_eq!(page.entries[0].body["released"], "27.50");
    assert_ledger_matches_authorizations(dir.path()).await;

    // Rebuilt from disk, the same.
    drop(store);
    let store = open(dir.path(), &clock).await;
    assert_eq!(spent_held(&store).await, (17_500_000, 0));
}

#[tokio::test]
async fn void_and_lapse_release_holds() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("100.00", "50.00")).await;
    add_agent(&store, "bot").await;

    let h1 = store.authorize(hold("bot", "h1", "30.00")).await.unwrap();
    let h2 = store.authorize(hold("bot", "h2", "20.00")).await.unwrap();
    assert_eq!(spent_held(&store).await, (0, 50_000_000));
    // Holds count: 60 more does not fit.
    assert_eq!(
        store
            .authorize(payment("bot", "x", "50.01", "USD"))
            .await
            .unwrap()
            .status,
        AuthorizationStatus::Denied
    );

    let voided = store.void(&agent("bot"), &h1.id).await.unwrap();
    assert_eq!(voided.status, AuthorizationStatus::Voided);
    assert_eq!(spent_held(&store).await, (0, 20_000_000));

    clock.advance(chrono::Duration::minutes(29));
    assert!(store.expire_due().await.unwrap().is_empty());
    assert_eq!(store.next_expiry().await.unwrap(), h2.expires_at);
    clock.advance(chrono::Duration::minutes(1));
    let lapsed = store.expire_due().await.unwrap();
    assert_eq!(lapsed.len(), 1);
    assert_eq!(lapsed[0].id, h2.id);
    assert_eq!(lapsed[0].status, AuthorizationStatus::Voided);
    assert_eq!(spent_held(&store).await, (0, 0));
    assert!(matches!(
        store.capture(&agent("bot"), &h2.id, None).await,
        Err(StoreError::InvalidState(_))
    ));
    let lapses = AuditFilter {
        kind: Some(AuditKind::Lapse),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .audit_page(&lapses, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        1
    );
    assert_ledger_matches_authorizations(dir.path()).await;
}

#[tokio::test]
async fn a_capture_after_the_deadline_lapses_the_hold_instead() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("100.00", "50.00")).await;
    add_agent(&store, "bot").await;
    let h = store.authorize(hold("bot", "late", "30.00")).await.unwrap();
    clock.advance(chrono::Duration::minutes(31));
    assert!(matches!(
        store.capture(&agent("bot"), &h.id, None).await,
        Err(StoreError::InvalidState(_))
    ));
    let now = store
        .get_authorization(&agent("bot"), &h.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.status, AuthorizationStatus::Voided);
    assert_eq!(spent_held(&store).await, (0, 0));
}
