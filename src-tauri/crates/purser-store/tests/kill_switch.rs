//! Invariant 2: the kill switch is atomic and durable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use purser_core::{AuthorizationStatus, ReasonCode};
use purser_store::{AuditFilter, AuditKind, DecidedBy, GrantChoice, Store, StoreError};

#[tokio::test]
async fn kill_cancels_pending_denies_new_and_survives_restart_until_resume() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("100.00", "25.00")).await;
    add_agent(&store, "bot").await;
    let p1 = store
        .authorize(payment("bot", "p1", "40.00", "USD"))
        .await
        .unwrap();
    let p2 = store
        .authorize(payment("bot", "p2", "30.00", "USD"))
        .await
        .unwrap();
    assert_eq!(store.pending_approvals().await.unwrap().len(), 2);

    let cancelled = store
        .engage_kill_switch(Some("runaway agent".into()))
        .await
        .unwrap();
    let ids: Vec<_> = cancelled.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, vec![p1.id.clone(), p2.id.clone()]);
    for record in &cancelled {
        assert_eq!(record.status, AuthorizationStatus::Cancelled);
        assert_eq!(record.decided_by, Some(DecidedBy::KillSwitch));
        assert_eq!(record.reasons[0].code, ReasonCode::KillSwitchEngaged);
    }
    assert!(store.pending_approvals().await.unwrap().is_empty());
    let state = store.kill_switch().await.unwrap();
    assert!(state.engaged);
    assert_eq!(state.reason.as_deref(), Some("runaway agent"));
    assert!(matches!(
        store.approve(&p1.id, GrantChoice::Once).await,
        Err(StoreError::InvalidState(_))
    ));

    let denied = store
        .authorize(payment("bot", "n1", "1.00", "USD"))
        .await
        .unwrap();
    assert_eq!(denied.status, AuthorizationStatus::Denied);
    assert_eq!(denied.reasons[0].code, ReasonCode::KillSwitchEngaged);

    // Durable: a restart keeps it engaged.
    drop(store);
    let store = open(dir.path(), &clock).await;
    assert!(store.kill_switch().await.unwrap().engaged);
    assert!(store.status().await.unwrap().kill_switch.engaged);
    let denied = store
        .authorize(payment("bot", "n2", "1.00", "USD"))
        .await
        .unwrap();
    assert_eq!(denied.reasons[0].code, ReasonCode::KillSwitchEngaged);

    let resumed = store.resume().await.unwrap();
    assert!(!resumed.engaged);
    let ok = store
        .authorize(payment("bot", "n3", "1.00", "USD"))
        .await
        .unwrap();
    assert_eq!(ok.status, AuthorizationStatus::Approved);

    for (kind, count) in [
        (AuditKind::Kill, 1),
        (AuditKind::Cancel, 2),
        (AuditKind::Resume, 1),
    ] {
        let filter = AuditFilter {
            kind: Some(kind),
            ..AuditFilter::default()
        };
        assert_eq!(
            store
                .audit_page(&filter, None, 10)
                .await
                .unwrap()
                .entries
                .len(),
            count,
            "{kind}"
        );
    }
    assert!(store.verify_audit().await.unwrap().intact);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_is_approved_after_the_kill_switch_returns() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("1000000.00", "1000.00")).await;
    add_agent(&store, "bot").await;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for r in 0..50 {
                answers.push(
                    store
                        .authorize(payment("bot", &format!("{t}-{r}"), "1.00", "USD"))
                        .await
                        .unwrap(),
                );
            }
            answers
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.engage_kill_switch(None).await.unwrap();
    let mut conn = raw(dir.path()).await;
    let kill_seq: i64 = sqlx::query_scalar("SELECT seq FROM audit WHERE kind = 'kill'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    // Every approval's audit row precedes the kill row.
    let approved_after: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit WHERE kind = 'request' AND seq > ?1 AND json_extract(body, '$.status') = 'approved'",
    )
    .bind(kill_seq)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(approved_after, 0);
}
