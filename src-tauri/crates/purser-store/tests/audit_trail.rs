//! Invariant 5: the audit trail is append-only and hash-chained; edits and deletions
//! are found. Also paging and export.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use purser_core::AuthorizationStatus;
use purser_store::{AuditFilter, AuditKind, ExportFormat, GrantChoice, SqliteStore, Store};

/// A store with a varied trail: policy, agents, requests, an approval, a capture.
async fn busy_store(dir: &std::path::Path) -> SqliteStore {
    let clock = ManualClock::new(start());
    let store = open(dir, &clock).await;
    apply(&store, &policy("100.00", "25.00")).await;
    add_agent(&store, "bot").await;
    add_agent(&store, "other").await;
    for i in 0..10 {
        store
            .authorize(payment("bot", &format!("r{i}"), "1.00", "USD"))
            .await
            .unwrap();
    }
    let pending = store
        .authorize(payment("other", "big", "30.00", "USD"))
        .await
        .unwrap();
    store.approve(&pending.id, GrantChoice::Once).await.unwrap();
    let held = store.authorize(hold("bot", "h", "5.00")).await.unwrap();
    store.capture(&agent("bot"), &held.id, None).await.unwrap();
    store
}

#[tokio::test]
async fn an_edited_row_is_reported_at_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let store = busy_store(dir.path()).await;
    let clean = store.verify_audit().await.unwrap();
    assert!(clean.intact, "{clean:?}");
    // seed, policy, 2 agents, 10 requests, 1 request + approval, 1 hold + capture
    assert_eq!(clean.rows, 18);
    let mut conn = raw_writable(dir.path()).await;
    // The triggers refuse edits and deletions.
    assert!(
        sqlx::query("UPDATE audit SET body = '{}' WHERE seq = 7")
            .execute(&mut conn)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM audit WHERE seq = 7")
            .execute(&mut conn)
            .await
            .is_err()
    );
    // Someone with the file drops the trigger and makes a denial look like an approval.
    sqlx::query("DROP TRIGGER audit_no_update")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE audit SET body = replace(body, '\"1.00\"', '\"0.01\"') WHERE seq = 7")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = store.verify_audit().await.unwrap();
    assert!(!report.intact);
    let broken = report.first_broken.unwrap();
    assert_eq!(broken.seq, 7);
    assert!(broken.problem.contains("edited"), "{}", broken.problem);
    assert_eq!(report.rows, 6, "rows before the break checked");
}

#[tokio::test]
async fn a_deleted_row_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = busy_store(dir.path()).await;
    let mut conn = raw_writable(dir.path()).await;
    sqlx::query("DROP TRIGGER audit_no_delete")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit WHERE seq = 9")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = store.verify_audit().await.unwrap();
    assert!(!report.intact);
    let broken = report.first_broken.unwrap();
    assert_eq!(broken.seq, 9);
    assert!(broken.problem.contains("missing"), "{}", broken.problem);
}

#[tokio::test]
async fn deleting_the_newest_rows_is_reported_by_the_running_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = busy_store(dir.path()).await;
    let head = store.verify_audit().await.unwrap().rows;
    let mut conn = raw_writable(dir.path()).await;
    sqlx::query("DROP TRIGGER audit_no_delete")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit WHERE seq >= ?1")
        .bind(i64::try_from(head).unwrap() - 1)
        .execute(&mut conn)
        .await
        .unwrap();
    let report = store.verify_audit().await.unwrap();
    assert!(!report.intact);
    assert_eq!(
        report.first_broken.unwrap().seq,
        i64::try_from(head).unwrap() - 1
    );
}

#[tokio::test]
async fn pages_newest_first_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = busy_store(dir.path()).await;
    let requests = AuditFilter {
        kind: Some(AuditKind::Request),
        agent: Some(agent("bot")),
        ..AuditFilter::default()
    };
    let first = store.audit_page(&requests, None, 5).await.unwrap();
    assert_eq!(first.entries.len(), 5);
    assert!(
        first.entries.windows(2).all(|w| w[0].seq > w[1].seq),
        "newest first"
    );
    let second = store
        .audit_page(&requests, first.next_before_seq, 5)
        .await
        .unwrap();
    let third = store
        .audit_page(&requests, second.next_before_seq, 5)
        .await
        .unwrap();
    assert_eq!(third.entries.len(), 1, "11 requests by bot: 10 + the hold");
    assert_eq!(third.next_before_seq, None);
    let entry = &first.entries[0];
    assert_eq!(entry.agent.as_deref(), Some("bot"));
    assert_eq!(entry.body["purpose"], "buy API credits for the report");
    assert_eq!(entry.body["policy_version"], 2);
    assert_eq!(entry.prev_hash.len(), 64);

    let approved = AuditFilter {
        status: Some(AuthorizationStatus::Approved),
        currency: Some("USD".parse().unwrap()),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .audit_page(&approved, None, 100)
            .await
            .unwrap()
            .entries
            .len(),
        12,
        "10 + approval + hold"
    );
    let text = AuditFilter {
        text: Some("\"R3\"".into()),
        kind: Some(AuditKind::Request),
        ..AuditFilter::default()
    };
    let found = store.audit_page(&text, None, 100).await.unwrap();
    assert_eq!(found.entries.len(), 1);
    assert_eq!(found.entries[0].body["request_id"], "r3");
    let later = AuditFilter {
        since: Some(start() + chrono::Duration::hours(1)),
        ..AuditFilter::default()
    };
    assert!(
        store
            .audit_page(&later, None, 100)
            .await
            .unwrap()
            .entries
            .is_empty()
    );
}

#[tokio::test]
async fn exports_every_row_as_jsonl_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let store = busy_store(dir.path()).await;
    let mut jsonl = Vec::new();
    let rows = store
        .audit_export(&AuditFilter::default(), &mut jsonl, ExportFormat::Jsonl)
        .await
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, rows);
    assert_eq!(rows, store.verify_audit().await.unwrap().rows);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["prev_hash"], "0".repeat(64));
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);

    let mut csv = Vec::new();
    let only_other = AuditFilter {
        agent: Some(agent("other")),
        ..AuditFilter::default()
    };
    let rows = store
        .audit_export(&only_other, &mut csv, ExportFormat::Csv)
        .await
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(rows, 3, "add, request, approval");
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.starts_with(
        "seq,at,kind,agent,authorization_id,status,amount,currency,merchant,body,prev_hash,hash\n"
    ));
    assert!(csv.lines().nth(2).unwrap().contains(",request,other,auth_"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_is_found_exactly_across_chunks_and_with_separators_in_values() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("1000000.00", "1000.00")).await;
    add_agent(&store, "bot").await;
    let mut tasks = Vec::new();
    for t in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for r in 0..140 {
                store
                    .authorize(payment("bot", &format!("{t}-{r}"), "0.01", "USD"))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let clean = store.verify_audit().await.unwrap();
    assert!(clean.intact, "{clean:?}");
    assert_eq!(
        clean.rows,
        3 + 32 * 140,
        "more rows than one verification chunk"
    );

    let mut conn = raw_writable(dir.path()).await;
    sqlx::query("DROP TRIGGER audit_no_update")
        .execute(&mut conn)
        .await
        .unwrap();
    // A separator character inside a value, in the second chunk.
    sqlx::query("UPDATE audit SET body = body || char(30) || '{}' WHERE seq = 4400")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = store.verify_audit().await.unwrap();
    assert_eq!(
        report.first_broken.as_ref().map(|b| b.seq),
        Some(4400),
        "{report:?}"
    );
    assert_eq!(report.rows, 4399);
    sqlx::query("UPDATE audit SET body = substr(body, 1, length(body) - 3) WHERE seq = 4400")
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(store.verify_audit().await.unwrap().intact, "restored");
    // A NULL agent made empty is a different row.
    sqlx::query("UPDATE audit SET agent = '' WHERE seq = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        store
            .verify_audit()
            .await
            .unwrap()
            .first_broken
            .map(|b| b.seq),
        Some(1)
    );
}

#[tokio::test]
async fn a_page_that_ends_the_trail_names_no_older_page() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = open(dir.path(), &clock).await;
    apply(&store, &policy("100.00", "25.00")).await;
    add_agent(&store, "bot").await;
    for i in 0..5 {
        store
            .authorize(payment("bot", &format!("r{i}"), "1.00", "USD"))
            .await
            .unwrap();
    }
    let requests = AuditFilter {
        kind: Some(AuditKind::Request),
        agent: Some(agent("bot")),
        ..AuditFilter::default()
    };
    let exact = store.audit_page(&requests, None, 5).await.unwrap();
    assert_eq!(exact.entries.len(), 5);
    assert_eq!(exact.next_before_seq, None, "no older entry exists");
    let short = store.audit_page(&requests, None, 4).await.unwrap();
    assert_eq!(short.entries.len(), 4);
    assert_eq!(short.next_before_seq, Some(short.entries[3].seq));
    let rest = store
        .audit_page(&requests, short.next_before_seq, 4)
        .await
        .unwrap();
    assert_eq!(rest.entries.len(), 1);
    assert_eq!(rest.next_before_seq, None);
}
