//! Invariant 4: when the database cannot record, callers get Unavailable and nothing is
//! approved; the store recovers when the database does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use common::*;
use purser_store::{Store, StoreError, StoreOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_database_answers_unavailable_and_approves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("1000000.00", "1000.00")).await;
    add_agent(&store, "bot").await;
    drop(store);

    // Reopen with the file capped at its current size: the first write that needs a new
    // page fails as on a full disk.
    let full = StoreOptions {
        max_size_bytes: Some(1),
        ..StoreOptions::default()
    };
    let store = open_with(dir.path(), &clock, full).await;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for r in 0..20 {
                let mut request = payment("bot", &format!("{t}-{r}"), "1.00", "USD");
                let mut context = serde_json::Map::new();
                context.insert("padding".into(), "x".repeat(2000).into());
                request.context = Some(context);
                answers.push((format!("{t}-{r}"), store.authorize(request).await));
            }
            answers
        }));
    }
    let mut answered = HashMap::new();
    let mut unavailable = Vec::new();
    for task in tasks {
        for (request_id, answer) in task.await.unwrap() {
            match answer {
                Ok(record) => {
                    answered.insert(request_id, record);
                }
                Err(StoreError::Unavailable(_)) => unavailable.push(request_id),
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
    }
    assert!(!unavailable.is_empty(), "the cap must have been hit");
    assert!(matches!(
        store.engage_kill_switch(None).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(
        !store.kill_switch().await.unwrap().engaged,
        "a failed kill changes nothing in memory either"
    );

    // On disk: exactly the answered requests, nothing for the unavailable ones.
    let mut conn = raw(dir.path()).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT request_id, status FROM authorizations")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(rows.len(), answered.len());
    for (request_id, status) in rows {
        assert_eq!(answered[&request_id].status.as_str(), status);
    }
    drop(store);

    // With room again, the refused requests are decided afresh and the trail is whole.
    let store = open(dir.path(), &clock).await;
    let retried = store
        .authorize(payment("bot", &unavailable[0], "1.00", "USD"))
        .await
        .unwrap();
    assert_eq!(retried.status, purser_core::AuthorizationStatus::Approved);
    assert!(store.verify_audit().await.unwrap().intact);
    assert_ledger_matches_authorizations(dir.path()).await;
}
