//! Agents (add, freeze, revoke, token lookup), policy versions and the empty start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use purser_core::{AuthorizationStatus, Policy, ReasonCode};
use purser_store::{AgentStatus, AuditFilter, AuditKind, BOOTSTRAP_PRINCIPAL, Store, StoreError};

#[tokio::test]
async fn an_empty_database_starts_with_deny_all() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    let (version, policy) = store.current_policy().await.unwrap();
    assert_eq!((version, &*policy), (1, &Policy::deny_all()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(db_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the database is readable by its owner only"
        );
    }
    let history = store.policy_history().await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].applied_by, BOOTSTRAP_PRINCIPAL);
    add_agent(&store, "bot").await;
    let denied = store
        .authorize(payment("bot", "r", "1.00", "USD"))
        .await
        .unwrap();
    assert_eq!(denied.status, AuthorizationStatus::Denied);
    assert_eq!(denied.reasons[0].code, ReasonCode::CurrencyNotAllowed);
    let changes = AuditFilter {
        kind: Some(AuditKind::PolicyChange),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .audit_page(&changes, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        1
    );
    // Reopening does not seed again.
    drop(store);
    let store = open(dir.path(), &clock).await;
    assert_eq!(store.policy_history().await.unwrap().len(), 1);
}

#[tokio::test]
async fn policy_versions_are_kept_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    let text = policy("100.00", "25.00");
    assert_eq!(apply(&store, &text).await, 2);
    assert_eq!(
        store.policy_text(2).await.unwrap().as_deref(),
        Some(text.as_str())
    );
    assert_eq!(store.policy_text(9).await.unwrap(), None);
    let other = purser_core::policy::parse_policy("x", &policy("5.00", "1.00")).unwrap();
    assert!(matches!(
        store.apply_policy(&text, other, "me").await,
        Err(StoreError::InvalidInput(_))
    ));
    drop(store);
    let store = open(dir.path(), &clock).await;
    let (version, current) = store.current_policy().await.unwrap();
    assert_eq!(version, 2);
    assert_eq!(
        *current,
        purser_core::policy::parse_policy("x", &text).unwrap()
    );
    add_agent(&store, "bot").await;
    let ok = store
        .authorize(payment("bot", "r", "1.00", "USD"))
        .await
        .unwrap();
    assert_eq!(ok.policy_version, 2);
}

#[tokio::test]
async fn agents_are_added_frozen_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("100.00", "25.00")).await;
    let added = store
        .add_agent(agent("bot"), Some("default".parse().unwrap()), token("bot"))
        .await
        .unwrap();
    assert_eq!(added.status, AgentStatus::Active);
    assert!(matches!(
        store.add_agent(agent("bot"), None, token("x")).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store.add_agent(agent("bot2"), None, token("bot")).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(
        store
            .agent_by_token_hash(&token("bot"))
            .await
            .unwrap()
            .unwrap()
            .name,
        agent("bot")
    );
    assert_eq!(
        store.agent_by_token_hash(&token("nobody")).await.unwrap(),
        None
    );
    assert!(matches!(
        store.authorize(payment("ghost", "r", "1.00", "USD")).await,
        Err(StoreError::NotFound(_))
    ));

    store
        .set_agent_status(&agent("bot"), AgentStatus::Frozen)
        .await
        .unwrap();
    let frozen = store
        .authorize(payment("bot", "r1", "1.00", "USD"))
        .await
        .unwrap();
    assert_eq!(frozen.reasons[0].code, ReasonCode::AgentFrozen);
    store
        .set_agent_status(&agent("bot"), AgentStatus::Active)
        .await
        .unwrap();
    assert_eq!(
        store
            .authorize(payment("bot", "r2", "1.00", "USD"))
            .await
            .unwrap()
            .status,
        AuthorizationStatus::Approved
    );

    let profiled = store.set_agent_profile(&agent("bot"), None).await.unwrap();
    assert_eq!(profiled.profile, None);
    store
        .set_agent_status(&agent("bot"), AgentStatus::Revoked)
        .await
        .unwrap();
    assert_eq!(
        store.agent_by_token_hash(&token("bot")).await.unwrap(),
        None
    );
    assert!(matches!(
        store
            .set_agent_status(&agent("bot"), AgentStatus::Active)
            .await,
        Err(StoreError::InvalidState(_))
    ));
    let revoked = store
        .authorize(payment("bot", "r3", "1.00", "USD"))
        .await
        .unwrap();
    assert_eq!(revoked.status, AuthorizationStatus::Denied);

    let agents = store.list_agents().await.unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].status, AgentStatus::Revoked);
    let status = store.status().await.unwrap();
    assert_eq!((status.agents.active, status.agents.revoked), (0, 1));
    assert_eq!(status.today.len(), 1);
    assert_eq!(status.today[0].spent.to_string(), "1.00");
    let changes = AuditFilter {
        kind: Some(AuditKind::AgentChange),
        agent: Some(agent("bot")),
        ..AuditFilter::default()
    };
    // add, freeze, unfreeze, profile, revoke
    assert_eq!(
        store
            .audit_page(&changes, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        5
    );
}

#[tokio::test]
async fn a_stricter_velocity_policy_counts_history_from_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("1000.00", "500.00")).await; // no velocity rule yet: nothing kept
    add_agent(&store, "bot").await;
    for i in 0..3 {
        store
            .authorize(payment("bot", &format!("v{i}"), "1.00", "USD"))
            .await
            .unwrap();
    }
    let with_velocity = format!(
        "{}velocity = {{ count = 3, window = \"1h\" }}\n",
        policy("1000.00", "500.00")
    );
    apply(&store, &with_velocity).await;
    let fourth = store
        .authorize(payment("bot", "v3", "1.00", "USD"))
        .await
        .unwrap();
    assert_eq!(fourth.status, AuthorizationStatus::Denied);
    assert_eq!(fourth.reasons[0].code, ReasonCode::VelocityExceeded);
    clock.advance(chrono::Duration::minutes(61));
    assert_eq!(
        store
            .authorize(payment("bot", "v4", "1.00", "USD"))
            .await
            .unwrap()
            .status,
        AuthorizationStatus::Approved
    );
}
