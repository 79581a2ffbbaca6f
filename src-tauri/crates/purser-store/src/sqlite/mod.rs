//! The embedded SQLite backend: [`SqliteStore`], Purser's state in one file on the
//! principal's machine, and what SQL it speaks where the backends differ.
//!
//! The writer, the commands, the audit trail and the reads are the backend-neutral
//! modules of `src/backend/`, compiled here against SQLite's driver. This module adds
//! opening the file (created private, WAL with `synchronous=FULL`, migrated, seeded), the
//! WAL checkpointer, and the dialect hooks the shared modules call: how a batch begins
//! (`BEGIN IMMEDIATE`: one process writes, so nothing else needs checking) and what a
//! commit announces (nothing: no other daemon listens).

#[path = "../backend/audit.rs"]
pub(crate) mod audit;
#[path = "../backend/audit_verify.rs"]
mod audit_verify;
#[path = "../backend/bulk.rs"]
mod bulk;
mod checkpoint;
#[path = "../backend/commands/mod.rs"]
mod commands;
#[path = "../backend/handle.rs"]
mod handle;
#[path = "../backend/rows.rs"]
mod rows;
#[path = "../backend/session_totals.rs"]
mod session_totals;
#[path = "../backend/state.rs"]
mod state;
#[path = "../backend/velocity.rs"]
mod velocity;
#[path = "../backend/writer.rs"]
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use purser_core::Clock;
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::{mpsc, watch};

pub use handle::{BOOTSTRAP_PRINCIPAL, Handle as SqliteStore};

use crate::StoreError;
use crate::options::StoreOptions;
use state::State;
use writer::Writer;

pub(crate) type Db = sqlx::Sqlite;
pub(crate) type Conn = sqlx::SqliteConnection;
pub(crate) type Pool = sqlx::SqlitePool;
pub(crate) type DbRow = sqlx::sqlite::SqliteRow;
pub(crate) type DbOptions = SqliteConnectOptions;

/// How the handle prints itself.
const STORE_NAME: &str = "SqliteStore";
/// One process writes the file (the data dir's lock sees to it).
const SHARED_WRITERS: bool = false;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a connection waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and starts its writer task on
    /// the current tokio runtime.
    pub async fn open(
        path: &Path,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
    ) -> Result<SqliteStore, StoreError> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let write_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Statement journals (multi-row INSERTs) stay in memory instead of temp files.
            .pragma("temp_store", "MEMORY")
            .pragma(
                "wal_autocheckpoint",
                checkpoint::WRITER_AUTOCHECKPOINT_PAGES,
            );
        let checkpoint_options = base.clone();
        create_private(path)?;
        let mut conn = write_options.connect().await?;
        configure(&mut conn, &options).await?;
        MIGRATOR.run(&mut conn).await?;
        handle::seed(&mut conn, clock.now()).await?;
        let state = State::load(&mut conn, clock.now()).await?;
        let read_options = base.read_only(true);
        let reads = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .min_connections(0)
            .idle_timeout(Some(Duration::from_secs(60)))
            .connect_lazy_with(read_options.clone());
        let (published_tx, published) = watch::channel(Arc::new(state.gov.published()));
        let (commands, receiver) = mpsc::channel(options.queue_capacity.max(1));
        let writer = Writer {
            conn: Some(conn),
            connect: write_options,
            state: Some(state),
            clock,
            options,
            published: published_tx,
            commands: receiver,
            node: String::new(),
        };
        tokio::spawn(checkpoint::run(checkpoint_options, published.clone()));
        tokio::spawn(writer.run());
        Ok(SqliteStore {
            commands,
            reads,
            read_options,
            published,
            remote: None,
            location: path.display().to_string(),
        })
    }
}

/// Begins a batch: takes SQLite's write lock at once, so the batch never meets
/// SQLITE_BUSY halfway.
pub(crate) async fn begin_batch(conn: &mut Conn) -> Result<(), sqlx::Error> {
    sqlx::query("BEGIN IMMEDIATE").execute(conn).await.map(drop)
}

/// Tells other daemons about a commit: nobody else writes this file.
pub(crate) async fn announce(
    _conn: &mut Conn,
    _node: &str,
    _first_seq: i64,
    _last_seq: i64,
) -> Result<(), sqlx::Error> {
    Ok(())
}

/// The audit walk's chunk: count, min seq, max seq, then at, kind, agent,
/// authorization_id, the NULL digits (1 when agent is NULL, plus 2 when
/// authorization_id is NULL), body, prev_hash, hash, each concatenated in seq order (a
/// range of the table's rowid is read in order).
const AUDIT_CHUNK_QUERY: &str = "SELECT count(*), min(seq), max(seq), \
     group_concat(at, ','), group_concat(kind, ','), \
     group_concat(coalesce(agent, ''), ','), group_concat(coalesce(authorization_id, ''), ','), \
     group_concat((agent IS NULL) + 2 * (authorization_id IS NULL), ''), \
     group_concat(body, char(30)), group_concat(prev_hash, ''), group_concat(hash, '') \
     FROM audit WHERE seq > $1 AND seq <= $2";

/// The text field `name` of an audit row's JSON body.
fn body_field(name: &str) -> String {
    format!("json_extract(body, '$.{name}')")
}

/// `FIND_TEXT(haystack, needle)`: the needle's 1-based position, 0 when absent.
const FIND_TEXT: &str = "instr";

/// A read transaction is a snapshot already.
const SNAPSHOT_SETUP: Option<&str> = None;

/// How much of the file the audit walk may memory-map (SQLite's own ceiling on Linux).
const MMAP_BYTES: &str = "2147418112";

/// The audit walk's own connection, memory-mapping the file (reading pages without
/// copying them); closed at the end so the mapping does not outlive the walk.
async fn walk_connection(options: DbOptions) -> Result<Conn, sqlx::Error> {
    options.pragma("mmap_size", MMAP_BYTES).connect().await
}

/// Applies per-connection settings the connect options cannot carry.
pub(crate) async fn configure(conn: &mut Conn, options: &StoreOptions) -> Result<(), sqlx::Error> {
    if let Some(max_bytes) = options.max_size_bytes {
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut *conn)
            .await?;
        let pages = max_bytes / u64::try_from(page_size.max(512)).unwrap_or(4096);
        sqlx::query(&format!("PRAGMA max_page_count = {}", pages.max(1)))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The database holds money records: a new file is created readable by its owner only
/// (SQLite gives its WAL and shared-memory files the same mode).
fn create_private(path: &Path) -> Result<(), StoreError> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(StoreError::Unavailable(format!(
            "cannot create {}: {error}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::rows::AUTHORIZATION_COLUMNS;
    use super::*;

    /// The hot paths must search an index, never scan a table that grows with traffic.
    #[tokio::test]
    async fn hot_queries_use_indexes() {
        let mut conn = SqliteConnectOptions::new()
            .in_memory(true)
            .connect()
            .await
            .unwrap();
        MIGRATOR.run(&mut conn).await.unwrap();
        let queries = [
            format!(
                "SELECT {AUTHORIZATION_COLUMNS}, params_hash FROM authorizations \
                 WHERE (agent, request_id) IN (VALUES ('a', 'r1'), ('b', 'r2'))"
            ),
            "SELECT params_hash FROM authorizations WHERE agent = 'a' AND request_id = 'r'"
                .to_owned(),
            "SELECT id FROM authorizations WHERE status = 'pending' ORDER BY created_at, id"
                .to_owned(),
            "SELECT MIN(expires_at) FROM authorizations \
             WHERE status IN ('pending', 'approved') AND expires_at IS NOT NULL"
                .to_owned(),
            "SELECT id FROM authorizations WHERE status IN ('pending', 'approved') \
             AND expires_at IS NOT NULL AND expires_at <= 5 ORDER BY expires_at"
                .to_owned(),
            "SELECT currency, SUM(spent_micros), SUM(held_micros) FROM ledger \
             WHERE agent = 'a' AND session_key = '' GROUP BY currency"
                .to_owned(),
            "SELECT at, held_micros FROM ledger WHERE authorization_id = 'x'".to_owned(),
        ];
        for query in queries {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {query}"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            for (_, _, _, detail) in &plan {
                let scans_table =
                    detail.starts_with("SCAN authorizations") || detail.starts_with("SCAN ledger");
                assert!(
                    !scans_table || detail.contains("USING"),
                    "{query}\n{plan:?}"
                );
            }
        }
    }
}
