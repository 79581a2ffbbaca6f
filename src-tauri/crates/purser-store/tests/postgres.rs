//! The PostgreSQL backend against the SQLite one: the same script of every store
//! operation (requests, usage, holds, approvals with standing grants, denials,
//! expiry, the kill switch, agents, policy versions, budgets, status, every audit filter,
//! export and verify), on the same manual clock, must give the same transcript on both,
//! ids aside. The backends share their decision code; this proves their SQL agrees.
//! It needs the PostgreSQL server binaries (Debian's `postgresql`; `cargo xtask test`
//! installs them) and starts a throwaway cluster of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use purser_core::policy::parse_policy;
use purser_core::{Clock, PolicyDuration};
use purser_store::{
    AgentStatus, AuditFilter, AuditKind, Authorization, ExportFormat, GrantChoice, PostgresStore,
    SqliteStore, Store, StoreOptions,
};
use purser_testpg::TestPostgres;

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[[limit]]
currency = "USD"
window = "day"
max = "500.00"
on_exceed = "deny"

[profiles.default]
currencies = ["USD", "EUR"]
approve_above = { USD = "25.00" }
velocity = { count = 12, window = "1h" }

[[profiles.default.limit]]
currency = "USD"
window = "transaction"
max = "100.00"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "session"
max = "300.00"
on_exceed = "deny"

[profiles.careful]
currencies = ["USD"]
approve_above = { USD = "5.00" }
"#;

fn cluster() -> &'static Mutex<TestPostgres> {
    static CLUSTER: OnceLock<Mutex<TestPostgres>> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        Mutex::new(TestPostgres::start().unwrap_or_else(|e| panic!("{}", e.message())))
    })
}

/// Ids are random: each becomes `#N` in order of first appearance, hashes `<hash>`.
fn normalize(text: &str) -> String {
    let mut ids: Vec<String> = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for prefix in ["auth_", "grant_"] {
            if let Some(tail) = rest.strip_prefix(prefix) {
                let len = tail.chars().take_while(char::is_ascii_alphanumeric).count();
                if len == 26 {
                    let id = &rest[..prefix.len() + 26];
                    let n = match ids.iter().position(|known| known == id) {
                        Some(n) => n,
                        None => {
                            ids.push(id.to_owned());
                            ids.len() - 1
                        }
                    };
                    out.push_str(&format!("#{n}"));
                    rest = &rest[prefix.len() + 26..];
                    continue 'scan;
                }
            }
        }
        let hex = rest
            .chars()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        if hex == 64 {
            out.push_str("<hash>");
            rest = &rest[64..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

fn line(authorization: &Authorization) -> String {
    format!(
        "{} {} {} {} {} {:?} captured={:?} decided_by={:?} grant={:?} expires={:?} reasons={:?}",
        authorization.id,
        authorization.agent,
        authorization.request_id,
        authorization.status.as_str(),
        authorization.amount,
        authorization.currency,
        authorization.captured_amount,
        authorization.decided_by,
        authorization.grant_id,
        authorization.expires_at,
        authorization
            .reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
    )
}

/// Every store operation, in one script; what each returned, one line each.
async fn script<S: Store>(store: &S, clock: &ManualClock) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |text: String| out.push(text);
    let policy = parse_policy("team.toml", POLICY).unwrap();
    note(format!(
        "policy v{}",
        store.apply_policy(POLICY, policy, "test").await.unwrap()
    ));
    for name in ["alice", "bob"] {
        let record = store
            .add_agent(agent(name), None, token(name))
            .await
            .unwrap();
        note(format!("agent {} {:?}", record.name, record.status));
    }
    let bob = store
        .set_agent_profile(&agent("bob"), Some("careful".parse().unwrap()))
        .await
        .unwrap();
    note(format!("bob profile {:?}", bob.profile));

    // Payments: approved, pending, denied, replayed, conflicting.
    let mut pending = Vec::new();
    for (agent_name, id, amount, currency) in [
        ("alice", "p1", "10.00", "USD"),
        ("alice", "p2", "30.00", "USD"),
        ("alice", "p3", "150.00", "USD"),
        ("alice", "p4", "7.00", "EUR"),
        ("alice", "p5", "40.00", "USD"),
        ("alice", "p6", "45.00", "USD"),
        ("alice", "p7", "26.00", "USD"),
        ("bob", "p1", "6.00", "USD"),
        ("bob", "p2", "3.00", "USD"),
    ] {
        let decided = store
            .authorize(payment(agent_name, id, amount, currency))
            .await
            .unwrap();
        if decided.status == purser_core::AuthorizationStatus::Pending {
            pending.push(decided.id.clone());
        }
        note(line(&decided));
        clock.advance(chrono::Duration::seconds(1));
    }
    let replay = store
        .authorize(payment("alice", "p1", "10.00", "USD"))
        .await
        .unwrap();
    note(format!("replay {}", line(&replay)));
    let conflict = store
        .authorize(payment("alice", "p1", "11.00", "USD"))
        .await
        .unwrap_err();
    note(format!("conflict {}", conflict.code()));

    // Usage in a session.
    for id in ["u1", "u2", "u3"] {
        match store
            .record_usage(usage("alice", id, "100", "0.008", "s1"))
            .await
        {
            Ok((authorization, totals)) => {
                note(format!("usage {} {totals:?}", line(&authorization)))
            }
            Err(error) => note(format!("usage error {}", error.code())),
        }
    }

    // Holds: capture part of one, void another.
    let held = store.authorize(hold("alice", "h1", "20.00")).await.unwrap();
    note(line(&held));
    let captured = store
        .capture(&agent("alice"), &held.id, Some("15.00".parse().unwrap()))
        .await
        .unwrap();
    note(format!("capture {}", line(&captured)));
    assert_eq!(captured.status.as_str(), "captured", "{}", line(&captured));
    let other = store.authorize(hold("alice", "h2", "5.00")).await.unwrap();
    let voided = store.void(&agent("alice"), &other.id).await.unwrap();
    note(format!("void {}", line(&voided)));
    let lapsing = store.authorize(hold("alice", "h3", "4.00")).await.unwrap();
    note(line(&lapsing));

    // The inbox, then each way out of it.
    let inbox = store.pending_approvals().await.unwrap();
    note(format!(
        "inbox {:?}",
        inbox.iter().map(|a| a.id.as_str()).collect::<Vec<_>>()
    ));
    note(format!(
        "next expiry {:?}",
        store.next_expiry().await.unwrap()
    ));
    let once = store.approve(&pending[0], GrantChoice::Once).await.unwrap();
    note(format!("approve once {}", line(&once)));
    let standing = store
        .approve(
            &pending[1],
            GrantChoice::For("1h".parse::<PolicyDuration>().unwrap()),
        )
        .await
        .unwrap();
    note(format!("approve for 1h {}", line(&standing)));
    let granted = store
        .authorize(payment("alice", "p8", "44.00", "USD"))
        .await
        .unwrap();
    note(format!("covered by the grant {}", line(&granted)));
    let denied = store
        .deny(&pending[2], Some("not this one".into()))
        .await
        .unwrap();
    note(format!("deny {}", line(&denied)));
    let again = store.deny(&pending[2], None).await.unwrap_err();
    note(format!("deny twice {}", again.code()));

    // Expiry: a pending request and a hold, once their deadlines pass.
    let late = store
        .authorize(payment("bob", "p3", "9.00", "USD"))
        .await
        .unwrap();
    note(line(&late));
    clock.advance(chrono::Duration::minutes(31));
    let expired = store.expire_due().await.unwrap();
    note(format!(
        "expired {:?}",
        expired.iter().map(line).collect::<Vec<_>>()
    ));
    note(format!(
        "next expiry {:?}",
        store.next_expiry().await.unwrap()
    ));

    // The kill switch cancels what waits and denies what comes.
    let waiting = store
        .authorize(payment("bob", "p4", "8.00", "USD"))
        .await
        .unwrap();
    note(line(&waiting));
    let cancelled = store.engage_kill_switch(Some("test".into())).await.unwrap();
    note(format!(
        "kill {:?} {:?}",
        cancelled.iter().map(line).collect::<Vec<_>>(),
        store.kill_switch().await.unwrap()
    ));
    let stopped = store
        .authorize(payment("alice", "p9", "1.00", "USD"))
        .await
        .unwrap();
    note(format!("while killed {}", line(&stopped)));
    note(format!("resume {:?}", store.resume().await.unwrap()));

    // Agents: freeze (cancels its pending), unfreeze, revoke.
    let waiting = store
        .authorize(payment("bob", "p5", "8.00", "USD"))
        .await
        .unwrap();
    note(line(&waiting));
    for status in [
        AgentStatus::Frozen,
        AgentStatus::Active,
        AgentStatus::Revoked,
    ] {
        let change = store.set_agent_status(&agent("bob"), status).await.unwrap();
        note(format!(
            "bob {:?}: {:?} cancelled {:?}",
            status,
            change.agent.status,
            change.cancelled.iter().map(line).collect::<Vec<_>>()
        ));
    }
    note(format!(
        "bob by token {:?}",
        store.agent_by_token_hash(&token("bob")).await.unwrap()
    ));
    let alice = store.agent_by_token_hash(&token("alice")).await.unwrap();
    note(format!("alice by token {:?}", alice.map(|a| a.name)));
    let agents = store.list_agents().await.unwrap();
    note(format!(
        "agents {:?}",
        agents
            .iter()
            .map(|a| (a.name.as_str(), a.status, a.profile.clone()))
            .collect::<Vec<_>>()
    ));

    // Velocity: the 12th payment approval within the hour is the last.
    for n in 0..4 {
        let decided = store
            .authorize(payment("alice", &format!("v{n}"), "1.00", "USD"))
            .await
            .unwrap();
        note(format!("velocity {}", line(&decided)));
    }

    // What the principal reads.
    note(format!(
        "budget {:?}",
        store.budget(&agent("alice"), None).await.unwrap()
    ));
    note(format!(
        "session budget {:?}",
        store
            .budget(&agent("alice"), Some(&"s1".parse().unwrap()))
            .await
            .unwrap()
    ));
    let mut status = store.status().await.unwrap();
    status.kill_switch.changed_at = None;
    note(format!("status {status:?}"));
    note(format!(
        "spent since {:?}",
        store.spent_by_agent_since(start()).await.unwrap()
    ));
    note(format!(
        "history {:?}",
        store
            .policy_history()
            .await
            .unwrap()
            .iter()
            .map(|v| (v.version, v.applied_by.clone()))
            .collect::<Vec<_>>()
    ));
    note(format!(
        "policy text {:?}",
        store.policy_text(2).await.unwrap().map(|t| t.len())
    ));
    let (version, _) = store.current_policy().await.unwrap();
    note(format!("current policy v{version}"));

    // The audit trail: every filter, paging, export, verify.
    let filters = [
        AuditFilter::default(),
        AuditFilter {
            agent: Some(agent("bob")),
            ..AuditFilter::default()
        },
        AuditFilter {
            kind: Some(AuditKind::Approval),
            ..AuditFilter::default()
        },
        AuditFilter {
            status: Some(purser_core::AuthorizationStatus::Denied),
            ..AuditFilter::default()
        },
        AuditFilter {
            merchant: Some("web_search".into()),
            ..AuditFilter::default()
        },
        AuditFilter {
            currency: Some("EUR".parse().unwrap()),
            ..AuditFilter::default()
        },
        AuditFilter {
            since: Some(start() + chrono::Duration::minutes(10)),
            until: Some(start() + chrono::Duration::hours(2)),
            ..AuditFilter::default()
        },
        AuditFilter {
            text: Some("NOT THIS".into()),
            ..AuditFilter::default()
        },
    ];
    for filter in &filters {
        let page = store.audit_page(filter, None, 500).await.unwrap();
        note(format!(
            "audit {filter:?}: {:?}",
            page.entries
                .iter()
                .map(|e| format!("{} {:?} {:?} {}", e.seq, e.kind, e.agent, e.body))
                .collect::<Vec<_>>()
        ));
    }
    let first = store
        .audit_page(&AuditFilter::default(), None, 5)
        .await
        .unwrap();
    let second = store
        .audit_page(&AuditFilter::default(), first.next_before_seq, 5)
        .await
        .unwrap();
    note(format!(
        "pages {:?} {:?}",
        first.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        second.entries.iter().map(|e| e.seq).collect::<Vec<_>>()
    ));
    for format in [ExportFormat::Jsonl, ExportFormat::Csv] {
        let mut exported = Vec::new();
        let rows = store
            .audit_export(&AuditFilter::default(), &mut exported, format)
            .await
            .unwrap();
        note(format!(
            "export {format:?} {rows} {}",
            String::from_utf8(exported).unwrap()
        ));
    }
    let verified = store.verify_audit().await.unwrap();
    note(format!("verify {verified:?}"));
    out
}

fn run<S: Store>(
    runtime: &tokio::runtime::Runtime,
    open: impl AsyncFnOnce(Arc<dyn Clock>) -> S,
) -> Vec<String> {
    runtime.block_on(async {
        let clock = ManualClock::new(start());
        let store = open(clock.clone()).await;
        let transcript = script(&store, &clock).await;
        transcript.iter().map(|line| normalize(line)).collect()
    })
}

#[test]
fn postgres_answers_every_operation_exactly_as_sqlite_does() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = run(&runtime, async |clock| {
        SqliteStore::open(&db_path(dir.path()), clock, StoreOptions::default())
            .await
            .unwrap()
    });
    let url = cluster()
        .lock()
        .unwrap()
        .create_database("differential")
        .unwrap();
    let postgres = run(&runtime, async |clock| {
        PostgresStore::open(&url, clock, StoreOptions::default())
            .await
            .unwrap()
    });
    assert!(sqlite.len() > 60, "the script ran: {sqlite:#?}");
    assert!(
        sqlite.iter().any(|l| l.contains("intact: true")),
        "{sqlite:#?}"
    );
    for (n, (left, right)) in sqlite.iter().zip(&postgres).enumerate() {
        assert_eq!(
            left, right,
            "line {n} differs (left SQLite, right PostgreSQL)"
        );
    }
    assert_eq!(sqlite.len(), postgres.len());
}

#[test]
fn two_postgres_stores_on_one_database_share_everything() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = cluster().lock().unwrap().create_database("shared").unwrap();
    runtime.block_on(async {
        let clock = ManualClock::new(start());
        let a = PostgresStore::open(&url, clock.clone(), StoreOptions::default())
            .await
            .unwrap();
        let b = PostgresStore::open(&url, clock.clone(), StoreOptions::default())
            .await
            .unwrap();
        let mut from_a = a.remote_changes().unwrap();
        apply(&a, &policy("50.00", "25.00")).await;
        add_agent(&b, "alice").await;
        // b decides under the policy a applied; a sees b's spending.
        let first = b
            .authorize(payment("alice", "r1", "20.00", "USD"))
            .await
            .unwrap();
        assert_eq!(first.status.as_str(), "approved", "{first:?}");
        let second = a
            .authorize(payment("alice", "r2", "24.00", "USD"))
            .await
            .unwrap();
        let third = a
            .authorize(payment("alice", "r3", "24.00", "USD"))
            .await
            .unwrap();
        assert_eq!(second.status.as_str(), "approved", "{second:?}");
        let second = third;
        assert_eq!(second.status.as_str(), "denied", "{second:?}");
        // The same key on the other store is a replay.
        let replay = a
            .authorize(payment("alice", "r1", "20.00", "USD"))
            .await
            .unwrap();
        assert_eq!(replay.id, first.id);
        // b's kill switch stops a's next decision and reaches a's listeners.
        b.engage_kill_switch(None).await.unwrap();
        let stopped = a
            .authorize(payment("alice", "r4", "1.00", "USD"))
            .await
            .unwrap();
        assert_eq!(stopped.reasons[0].code.as_str(), "kill_switch_engaged");
        let mut heard_kill = false;
        while let Ok(Ok(change)) =
            tokio::time::timeout(std::time::Duration::from_secs(5), from_a.recv()).await
        {
            if let purser_store::RemoteChange::Appended(entries) = change {
                if entries.iter().any(|e| e.kind == AuditKind::Kill) {
                    heard_kill = true;
                    break;
                }
            }
        }
        assert!(heard_kill, "a's listener relays b's kill switch");
        assert!(
            a.kill_switch().await.unwrap().engaged,
            "a's published state follows"
        );
        let verified = a.verify_audit().await.unwrap();
        assert!(verified.intact, "{verified:?}");
        assert_eq!(verified.rows, b.verify_audit().await.unwrap().rows);
    });
}
