//! Agents (add, freeze, revoke, token lookup), policy versions and the empty start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use purser_core::{AuthorizationStatus, Policy, ReasonCode};
use purser_store::{
    AgentStatus, AuditFilter, AuditKind, BOOTSTRAP_PRINCIPAL, DecidedBy, SqliteStore, Store,
    StoreError,
};

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

/// `default` asks above 100.00, `strict` above 10.00; `extra` is appended verbatim.
fn two_profile_policy(extra: &str) -> String {
    format!(
        r#"{}
[profiles.strict]
currencies = ["USD"]
approve_above = {{ USD = "10.00" }}
{extra}"#,
        policy("1000.00", "100.00")
    )
}

async fn add_with_profile(store: &impl Store, name: &str, profile: Option<&str>) {
    store
        .add_agent(
            agent(name),
            profile.map(|p| p.parse().unwrap()),
            token(name),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_stored_profile_decides_unless_the_policy_assigns_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &two_profile_policy("")).await;
    add_with_profile(&store, "careful", Some("strict")).await;
    add_with_profile(&store, "plain", None).await;
    add_with_profile(&store, "pinned", Some("strict")).await;
    add_with_profile(&store, "orphan", Some("gone")).await;

    let status = |store: &SqliteStore, name: &'static str, id: &'static str| {
        let store = store.clone();
        async move {
            store
                .authorize(payment(name, id, "20.00", "USD"))
                .await
                .unwrap()
        }
    };
    // Stored `strict` (no [agents] entry): 20.00 is above its 10.00 threshold.
    assert_eq!(
        status(&store, "careful", "c1").await.status,
        AuthorizationStatus::Pending
    );
    // No stored profile: `default`.
    assert_eq!(
        status(&store, "plain", "p1").await.status,
        AuthorizationStatus::Approved
    );
    // A stored profile the policy does not define: no profile, denied, and said so.
    let orphan = status(&store, "orphan", "o1").await;
    assert_eq!(orphan.status, AuthorizationStatus::Denied);
    assert_eq!(orphan.reasons[0].code, ReasonCode::CurrencyNotAllowed);
    assert!(
        orphan.reasons[0]
            .message
            .contains("assigned profile \"gone\", which the running policy does not define"),
        "{orphan:?}"
    );

    // The policy's [agents] entry overrides the stored profile.
    apply(
        &store,
        &two_profile_policy("[agents]\npinned = \"default\"\n"),
    )
    .await;
    assert_eq!(
        status(&store, "pinned", "x1").await.status,
        AuthorizationStatus::Approved
    );

    // Changing the stored profile takes effect at once...
    store
        .set_agent_profile(&agent("plain"), Some("strict".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        status(&store, "plain", "p2").await.status,
        AuthorizationStatus::Pending
    );
    store
        .set_agent_profile(&agent("careful"), None)
        .await
        .unwrap();
    assert_eq!(
        status(&store, "careful", "c2").await.status,
        AuthorizationStatus::Approved
    );

    // ...and is loaded again at open.
    drop(store);
    let store = open(dir.path(), &clock).await;
    assert_eq!(
        status(&store, "plain", "p3").await.status,
        AuthorizationStatus::Pending
    );
    assert_eq!(
        status(&store, "careful", "c3").await.status,
        AuthorizationStatus::Approved
    );
}

#[tokio::test]
async fn freezing_or_revoking_cancels_the_agents_pending_requests() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("1000.00", "10.00")).await;
    add_agent(&store, "bot").await;
    add_agent(&store, "other").await;
    let first = store
        .authorize(payment("bot", "b1", "20.00", "USD"))
        .await
        .unwrap();
    let second = store
        .authorize(payment("bot", "b2", "30.00", "USD"))
        .await
        .unwrap();
    let others = store
        .authorize(payment("other", "o1", "20.00", "USD"))
        .await
        .unwrap();
    for pending in [&first, &second, &others] {
        assert_eq!(pending.status, AuthorizationStatus::Pending);
    }

    let change = store
        .set_agent_status(&agent("bot"), AgentStatus::Revoked)
        .await
        .unwrap();
    assert_eq!(change.agent.status, AgentStatus::Revoked);
    let ids: Vec<&str> = change.cancelled.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [first.id.as_str(), second.id.as_str()]);
    for cancelled in &change.cancelled {
        assert_eq!(cancelled.status, AuthorizationStatus::Cancelled);
        assert_eq!(cancelled.decided_by, Some(DecidedBy::Principal));
        assert_eq!(cancelled.reasons[0].code, ReasonCode::DeniedByPrincipal);
        assert_eq!(
            cancelled.reasons[0].message,
            "agent bot was revoked by the principal"
        );
        let stored = store
            .get_authorization(&agent("bot"), &cancelled.id)
            .await
            .unwrap();
        assert_eq!(stored.as_ref(), Some(cancelled));
    }
    let waiting: Vec<String> = store
        .pending_approvals()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(waiting, vec![others.id]);
    let cancels = AuditFilter {
        kind: Some(AuditKind::Cancel),
        agent: Some(agent("bot")),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .audit_page(&cancels, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        2
    );

    // Freezing does the same, with its own words; unfreezing cancels nothing.
    let frozen = store
        .set_agent_status(&agent("other"), AgentStatus::Frozen)
        .await
        .unwrap();
    assert_eq!(frozen.cancelled.len(), 1);
    assert_eq!(
        frozen.cancelled[0].reasons[0].message,
        "agent other was frozen by the principal"
    );
    let thawed = store
        .set_agent_status(&agent("other"), AgentStatus::Active)
        .await
        .unwrap();
    assert!(thawed.cancelled.is_empty());
    assert!(store.pending_approvals().await.unwrap().is_empty());

    // A revoked agent's new request says revoked, not frozen.
    let refused = store
        .authorize(payment("bot", "b3", "1.00", "USD"))
        .await
        .unwrap();
    assert_eq!(refused.reasons[0].code, ReasonCode::AgentFrozen);
    assert!(
        refused.reasons[0].message.contains("is revoked"),
        "{refused:?}"
    );
}
