//! Invariant 3: the same request_id never spends twice; different parameters conflict.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use purser_core::AuthorizationStatus;
use purser_store::{Store, StoreError};

#[tokio::test]
async fn a_replay_returns_the_stored_record_and_spends_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("100.00", "50.00")).await;
    add_agent(&store, "bot").await;

    let mut request = payment("bot", "order-1", "30.00", "USD");
    let mut context = serde_json::Map::new();
    context.insert("url".into(), "https://example.com".into());
    context.insert("prompt".into(), "buy credits".into());
    request.context = Some(context.clone());
    let first = store.authorize(request.clone()).await.unwrap();
    assert_eq!(first.status, AuthorizationStatus::Approved);

    clock.advance(chrono::Duration::seconds(5));
    let replay = store.authorize(request.clone()).await.unwrap();
    assert_eq!(
        replay, first,
        "a replay returns the stored record unchanged"
    );

    // Key order inside context is not a different request.
    let mut reordered = serde_json::Map::new();
    reordered.insert("prompt".into(), "buy credits".into());
    reordered.insert("url".into(), "https://example.com".into());
    let replay = store
        .authorize(payment_with_context("order-1", reordered))
        .await
        .unwrap();
    assert_eq!(replay.id, first.id);

    // Spent once: 30 of 100 used, 70 left.
    let usd = store.budget(&agent("bot"), None).await.unwrap();
    assert_eq!(usd[0].spent.micros(), 30_000_000);

    // Survives a restart.
    drop(store);
    let store = open(dir.path(), &clock).await;
    assert_eq!(store.authorize(request).await.unwrap(), first);
    let mut conn = raw(dir.path()).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM authorizations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let ledger: i64 = sqlx::query_scalar("SELECT SUM(spent_micros) FROM ledger")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!((rows, ledger), (1, 30_000_000));
}

fn payment_with_context(
    request_id: &str,
    context: serde_json::Map<String, serde_json::Value>,
) -> purser_core::AuthorizationRequest {
    let mut request = payment("bot", request_id, "30.00", "USD");
    request.context = Some(context);
    request
}

#[tokio::test]
async fn altered_parameters_conflict_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("100.00", "50.00")).await;
    add_agent(&store, "bot").await;
    add_agent(&store, "other").await;

    let first = store
        .authorize(payment("bot", "order-1", "10.00", "USD"))
        .await
        .unwrap();
    let altered = [
        payment("bot", "order-1", "10.01", "USD"),
        payment("bot", "order-1", "10.00", "EUR"),
        purser_core::AuthorizationRequest {
            purpose: "something else".into(),
            ..payment("bot", "order-1", "10.00", "USD")
        },
        hold("bot", "order-1", "10.00"),
    ];
    for request in altered {
        assert_eq!(
            store.authorize(request).await,
            Err(StoreError::IdempotencyConflict)
        );
    }
    // Another agent's request_id space is its own.
    let theirs = store
        .authorize(payment("other", "order-1", "10.00", "USD"))
        .await
        .unwrap();
    assert_ne!(theirs.id, first.id);

    let mut conn = raw(dir.path()).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM authorizations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 2);
    let usd = store.budget(&agent("bot"), None).await.unwrap();
    assert_eq!(usd[0].spent.micros(), 20_000_000);
}

#[tokio::test]
async fn concurrent_replays_of_one_request_spend_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("100.00", "50.00")).await;
    add_agent(&store, "bot").await;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .authorize(payment("bot", "same", "7.00", "USD"))
                .await
                .unwrap()
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap().id);
    }
    assert_eq!(ids.len(), 1);
    let usd = store.budget(&agent("bot"), None).await.unwrap();
    assert_eq!(usd[0].spent.micros(), 7_000_000);
}
