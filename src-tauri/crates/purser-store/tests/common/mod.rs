//! Shared helpers for the store's integration tests: a clock the test moves, policies
//! from TOML, agents and requests, and a raw read-only look at the database file.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::TimeZone;
use purser_core::policy::parse_policy;
use purser_core::{AgentName, AuthorizationRequest, CaptureMode, Clock, RequestKind, Timestamp};
use purser_store::{SqliteStore, Store, StoreOptions};
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};

/// A clock that only moves when the test says so.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(start)))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// Monday 2 March 2026, noon UTC.
pub fn start() -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("purser.db")
}

pub async fn open(dir: &Path, clock: &Arc<ManualClock>) -> SqliteStore {
    open_with(dir, clock, StoreOptions::default()).await
}

pub async fn open_with(dir: &Path, clock: &Arc<ManualClock>, options: StoreOptions) -> SqliteStore {
    let clock: Arc<dyn Clock> = clock.clone();
    SqliteStore::open(&db_path(dir), clock, options)
        .await
        .unwrap()
}

pub async fn apply(store: &impl Store, text: &str) -> u32 {
    let policy = parse_policy("test.toml", text).unwrap();
    store.apply_policy(text, policy, "test").await.unwrap()
}

pub fn token(name: &str) -> [u8; 32] {
    Sha256::digest(format!("token-of-{name}").as_bytes()).into()
}

pub async fn add_agent(store: &impl Store, name: &str) {
    store
        .add_agent(name.parse().unwrap(), None, token(name))
        .await
        .unwrap();
}

pub fn agent(name: &str) -> AgentName {
    name.parse().unwrap()
}

pub fn payment(
    agent: &str,
    request_id: &str,
    amount: &str,
    currency: &str,
) -> AuthorizationRequest {
    AuthorizationRequest {
        agent: agent.parse().unwrap(),
        request_id: request_id.parse().unwrap(),
        kind: RequestKind::Payment,
        amount: amount.parse().unwrap(),
        currency: currency.parse().unwrap(),
        merchant: "api.example.com".parse().unwrap(),
        category: None,
        rail: None,
        capture: CaptureMode::Auto,
        session_id: None,
        purpose: "buy API credits for the report".into(),
        context: None,
    }
}

pub fn hold(agent: &str, request_id: &str, amount: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        capture: CaptureMode::Manual,
        ..payment(agent, request_id, amount, "USD")
    }
}

pub fn usage(
    agent: &str,
    request_id: &str,
    units: &str,
    unit_cost: &str,
    session: &str,
) -> AuthorizationRequest {
    let units = units.parse().unwrap();
    let unit_cost: purser_core::Amount = unit_cost.parse().unwrap();
    AuthorizationRequest {
        kind: RequestKind::Usage {
            action: "web_search".parse().unwrap(),
            units,
            unit_cost,
        },
        amount: unit_cost.checked_mul_quantity(units).unwrap(),
        merchant: "web_search".parse().unwrap(),
        session_id: Some(session.parse().unwrap()),
        ..payment(agent, request_id, "1", "USD")
    }
}

/// A policy: USD for everyone, a shared USD day budget, approval above `approve_above`.
pub fn policy(day_max: &str, approve_above: &str) -> String {
    format!(
        r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[[limit]]
currency = "USD"
window = "day"
max = "{day_max}"
on_exceed = "deny"

[profiles.default]
currencies = ["USD", "EUR"]
approve_above = {{ USD = "{approve_above}" }}
"#
    )
}

/// A raw read-only connection to the store's file, for checking what is on disk.
pub async fn raw(dir: &Path) -> SqliteConnection {
    SqliteConnectOptions::new()
        .filename(db_path(dir))
        .read_only(true)
        .connect()
        .await
        .unwrap()
}

/// A raw writable connection, for tampering.
pub async fn raw_writable(dir: &Path) -> SqliteConnection {
    SqliteConnectOptions::new()
        .filename(db_path(dir))
        .connect()
        .await
        .unwrap()
}

/// Ledger sums on disk must equal what the authorizations say was spent and held.
pub async fn assert_ledger_matches_authorizations(dir: &Path) {
    let mut conn = raw(dir).await;
    let (ledger_spent, ledger_held): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(spent_micros), 0), COALESCE(SUM(held_micros), 0) FROM ledger",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let (auth_spent, auth_held): (i64, i64) = sqlx::query_as(
        "SELECT \
           COALESCE(SUM(CASE WHEN status = 'approved' AND capture = 'auto' THEN amount_micros \
                             WHEN status = 'captured' THEN captured_micros ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN status = 'approved' AND capture = 'manual' THEN amount_micros ELSE 0 END), 0) \
         FROM authorizations",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (ledger_spent, ledger_held),
        (auth_spent, auth_held),
        "ledger vs authorizations"
    );
    // The bucket summary the store opens from is the ledger, summed.
    let summed: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT agent, currency, at / 900000000, SUM(spent_micros), SUM(held_micros) FROM ledger \
         GROUP BY 1, 2, 3 HAVING SUM(spent_micros) + SUM(held_micros) > 0 ORDER BY 1, 2, 3",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let buckets: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT agent, currency, bucket, spent_micros, held_micros FROM ledger_buckets \
         WHERE spent_micros + held_micros > 0 ORDER BY 1, 2, 3",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(summed, buckets, "ledger_buckets vs ledger");
}
