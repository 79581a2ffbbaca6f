//! Pending requests: approve, deny, expire, the re-check at approval, standing grants.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use purser_core::{AuthorizationStatus, ReasonCode};
use purser_store::{AuditFilter, AuditKind, DecidedBy, GrantChoice, Store, StoreError};

async fn setup() -> (
    tempfile::TempDir,
    std::sync::Arc<ManualClock>,
    purser_store::SqliteStore,
) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    // Above 25.00 asks; shared day budget 100.00.
    apply(&store, &policy("100.00", "25.00")).await;
    add_agent(&store, "bot").await;
    (dir, clock, store)
}

#[tokio::test]
async fn pending_then_approved_counts_against_budgets() {
    let (dir, clock, store) = setup().await;
    let pending = store
        .authorize(payment("bot", "big", "40.00", "USD"))
        .await
        .unwrap();
    assert_eq!(pending.status, AuthorizationStatus::Pending);
    assert_eq!(pending.reasons[0].code, ReasonCode::OverApprovalThreshold);
    assert_eq!(pending.decided_by, None);
    assert_eq!(
        pending.expires_at,
        Some(start() + chrono::Duration::minutes(10))
    );
    assert_eq!(store.next_expiry().await.unwrap(), pending.expires_at);
    // A pending request holds nothing.
    assert!(
        store.budget(&agent("bot"), None).await.unwrap()[0]
            .spent
            .is_zero()
    );
    assert_eq!(
        store.pending_approvals().await.unwrap(),
        vec![pending.clone()]
    );
    assert_eq!(store.status().await.unwrap().pending, 1);

    clock.advance(chrono::Duration::minutes(2));
    let approved = store.approve(&pending.id, GrantChoice::Once).await.unwrap();
    assert_eq!(approved.status, AuthorizationStatus::Approved);
    assert_eq!(approved.decided_by, Some(DecidedBy::Principal));
    assert_eq!(approved.reasons[0].code, ReasonCode::ApprovedByPrincipal);
    assert_eq!(
        approved.decided_at,
        Some(start() + chrono::Duration::minutes(2))
    );
    assert_eq!(
        store
            .get_authorization(&agent("bot"), &pending.id)
            .await
            .unwrap(),
        Some(approved.clone())
    );
    assert_eq!(
        store.budget(&agent("bot"), None).await.unwrap()[0]
            .spent
            .micros(),
        40_000_000
    );
    assert!(store.pending_approvals().await.unwrap().is_empty());
    assert_eq!(store.next_expiry().await.unwrap(), None);
    // Decided once only.
    assert!(matches!(
        store.approve(&pending.id, GrantChoice::Once).await,
        Err(StoreError::InvalidState(_))
    ));
    assert!(matches!(
        store.deny(&pending.id, None).await,
        Err(StoreError::InvalidState(_))
    ));
    assert!(matches!(
        store.approve("auth_nope", GrantChoice::Once).await,
        Err(StoreError::NotFound(_))
    ));

    let approvals = AuditFilter {
        kind: Some(AuditKind::Approval),
        ..AuditFilter::default()
    };
    let page = store.audit_page(&approvals, None, 10).await.unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(
        page.entries[0].authorization_id.as_deref(),
        Some(pending.id.as_str())
    );
    assert_ledger_matches_authorizations(dir.path()).await;
}

#[tokio::test]
async fn denied_by_the_principal_spends_nothing() {
    let (_dir, _clock, store) = setup().await;
    let pending = store
        .authorize(payment("bot", "big", "40.00", "USD"))
        .await
        .unwrap();
    let denied = store
        .deny(&pending.id, Some("not this month".into()))
        .await
        .unwrap();
    assert_eq!(denied.status, AuthorizationStatus::Denied);
    assert_eq!(denied.decided_by, Some(DecidedBy::Principal));
    assert_eq!(denied.reasons[0].code, ReasonCode::DeniedByPrincipal);
    assert!(denied.reasons[0].message.contains("not this month"));
    assert!(
        store.budget(&agent("bot"), None).await.unwrap()[0]
            .spent
            .is_zero()
    );
    // The agent sees the denial on its own id; another agent does not see it at all.
    assert_eq!(
        store
            .get_authorization(&agent("bot"), &pending.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AuthorizationStatus::Denied
    );
    assert_eq!(
        store
            .get_authorization(&agent("someone-else"), &pending.id)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn unanswered_approvals_expire_and_cannot_be_approved_late() {
    let (_dir, clock, store) = setup().await;
    let first = store
        .authorize(payment("bot", "a", "40.00", "USD"))
        .await
        .unwrap();
    clock.advance(chrono::Duration::minutes(1));
    let second = store
        .authorize(payment("bot", "b", "30.00", "USD"))
        .await
        .unwrap();
    assert_eq!(
        store
            .pending_approvals()
            .await
            .unwrap()
            .iter()
            .map(|a| a.id.clone())
            .collect::<Vec<_>>(),
        vec![first.id.clone(), second.id.clone()]
    );

    clock.advance(chrono::Duration::minutes(9)); // first is due now, second in a minute
    let expired = store.expire_due().await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, first.id);
    assert_eq!(expired[0].status, AuthorizationStatus::Expired);
    assert_eq!(expired[0].decided_by, Some(DecidedBy::Timeout));
    assert_eq!(expired[0].reasons[0].code, ReasonCode::ApprovalExpired);
    assert_eq!(store.next_expiry().await.unwrap(), second.expires_at);

    // Approving after the deadline but before the sweeper ran: refused, and expired.
    clock.advance(chrono::Duration::minutes(1));
    assert!(matches!(
        store.approve(&second.id, GrantChoice::Once).await,
        Err(StoreError::InvalidState(_))
    ));
    let second = store
        .get_authorization(&agent("bot"), &second.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.status, AuthorizationStatus::Expired);
    assert!(store.expire_due().await.unwrap().is_empty());
    assert!(
        store.budget(&agent("bot"), None).await.unwrap()[0]
            .spent
            .is_zero()
    );
}

#[tokio::test]
async fn approval_rechecks_budgets_used_meanwhile() {
    let (dir, _clock, store) = setup().await;
    let pending = store
        .authorize(payment("bot", "big", "40.00", "USD"))
        .await
        .unwrap();
    // Meanwhile 3 x 25.00 (not above the threshold) use 75 of the 100.
    for i in 0..3 {
        let ok = store
            .authorize(payment("bot", &format!("small-{i}"), "25.00", "USD"))
            .await
            .unwrap();
        assert_eq!(ok.status, AuthorizationStatus::Approved);
    }
    let answer = store
        .approve(&pending.id, GrantChoice::Always)
        .await
        .unwrap();
    assert_eq!(answer.status, AuthorizationStatus::Denied);
    assert_eq!(answer.reasons[0].code, ReasonCode::OverBudget);
    assert_eq!(answer.decided_by, Some(DecidedBy::Policy));
    assert_eq!(
        store.budget(&agent("bot"), None).await.unwrap()[0]
            .spent
            .micros(),
        75_000_000
    );
    // No grant came out of a refused approval: a later large request still asks.
    let later = store
        .authorize(payment("bot", "later", "20.00", "USD"))
        .await
        .unwrap();
    assert_eq!(
        later.status,
        AuthorizationStatus::Approved,
        "20 <= threshold, fits 25 left"
    );
    let denials = AuditFilter {
        kind: Some(AuditKind::Denial),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .audit_page(&denials, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        1
    );
    assert_ledger_matches_authorizations(dir.path()).await;
}

#[tokio::test]
async fn standing_grants_approve_later_matching_requests() {
    let (_dir, clock, store) = setup().await;
    apply(&store, &policy("1000.00", "25.00")).await;
    let pending = store
        .authorize(payment("bot", "g-1", "40.00", "USD"))
        .await
        .unwrap();
    store
        .approve(&pending.id, GrantChoice::For("1h".parse().unwrap()))
        .await
        .unwrap();

    let covered = store
        .authorize(payment("bot", "g-2", "26.00", "USD"))
        .await
        .unwrap();
    assert_eq!(covered.status, AuthorizationStatus::Approved);
    assert!(
        covered
            .reasons
            .iter()
            .any(|r| r.code == ReasonCode::StandingGrant),
        "{:?}",
        covered.reasons
    );
    assert!(
        covered
            .grant_id
            .as_deref()
            .is_some_and(|g| g.starts_with("grant_"))
    );

    // Above the granted amount, or another merchant: asks again.
    let bigger = store
        .authorize(payment("bot", "g-3", "41.00", "USD"))
        .await
        .unwrap();
    assert_eq!(bigger.status, AuthorizationStatus::Pending);
    let mut elsewhere = payment("bot", "g-4", "10.00", "USD");
    elsewhere.merchant = "other.example.com".parse().unwrap();
    elsewhere.amount = "26.00".parse().unwrap();
    assert_eq!(
        store.authorize(elsewhere).await.unwrap().status,
        AuthorizationStatus::Pending
    );

    // The grant survives a restart, and ends after its hour.
    let dir = _dir;
    drop(store);
    let store = open(dir.path(), &clock).await;
    let again = store
        .authorize(payment("bot", "g-5", "1.00", "USD"))
        .await
        .unwrap();
    assert_eq!(again.status, AuthorizationStatus::Approved);
    clock.advance(chrono::Duration::minutes(61));
    let after = store
        .authorize(payment("bot", "g-6", "26.00", "USD"))
        .await
        .unwrap();
    assert_eq!(after.status, AuthorizationStatus::Pending);
}

#[tokio::test]
async fn the_agent_can_withdraw_a_pending_request() {
    let (_dir, _clock, store) = setup().await;
    let pending = store
        .authorize(payment("bot", "w", "40.00", "USD"))
        .await
        .unwrap();
    assert!(matches!(
        store.void(&agent("intruder"), &pending.id).await,
        Err(StoreError::NotFound(_))
    ));
    let voided = store.void(&agent("bot"), &pending.id).await.unwrap();
    assert_eq!(voided.status, AuthorizationStatus::Voided);
    assert!(store.pending_approvals().await.unwrap().is_empty());
    assert!(matches!(
        store.approve(&pending.id, GrantChoice::Once).await,
        Err(StoreError::InvalidState(_))
    ));
}
