//! The PostgreSQL backend (team mode): [`PostgresStore`], one database shared by every
//! daemon of a team, and what SQL it speaks where the backends differ.
//!
//! The writer, the commands, the audit trail and the reads are the backend-neutral
//! modules of `src/backend/`, compiled here against PostgreSQL's driver. What makes them
//! correct with several daemons on one database:
//!
//! - **One writers' lock.** Every batch begins with `pg_advisory_xact_lock`, held until
//!   COMMIT: the daemons' batches run one after another, as one SQLite writer's do. Each
//!   batch then checks the audit head (every change appends to the trail) against its
//!   in-memory state and reloads that state if another daemon committed since. Budgets,
//!   idempotency keys, approvals, the kill switch and policy are therefore decided as the
//!   database holds them at that instant, under any concurrency, and the audit trail
//!   stays one hash chain. Why not row locks or SERIALIZABLE: a decision reads many rows
//!   (agent, profile and session budgets in every window, velocity, grants, the kill
//!   switch), so row locks would have to cover all of them in a fixed order, and
//!   SERIALIZABLE would abort and retry exactly the hot, contended budgets; one lock per
//!   batch of up to 256 decisions costs one round trip and never retries.
//! - **Announcements.** Each commit sends `NOTIFY purser_audit` (delivered only if the
//!   transaction commits) with the daemon's id and the audit rows it appended; the
//!   [`listener`] of every other daemon reads those rows and passes them on as
//!   [`RemoteChange`]s, so their agents, consoles and notifications learn at once.
//!   Correctness never depends on a notification arriving: the check above does.
//! - **Failing closed.** Statements time out; a lost connection fails the batch (every
//!   caller gets `Unavailable`, nothing approved) and the next batch reconnects.

#[path = "../backend/audit.rs"]
mod audit;
#[path = "../backend/audit_verify.rs"]
mod audit_verify;
#[path = "../backend/bulk.rs"]
mod bulk;
#[path = "../backend/commands/mod.rs"]
mod commands;
#[path = "../backend/handle.rs"]
mod handle;
mod listener;
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

use std::sync::Arc;
use std::time::Duration;

use purser_core::Clock;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::{broadcast, mpsc, watch};

pub use handle::Handle as PostgresStore;

use crate::StoreError;
use crate::ids::new_id;
use crate::options::StoreOptions;
use state::State;
use writer::Writer;

pub(crate) type Db = sqlx::Postgres;
pub(crate) type Conn = sqlx::PgConnection;
pub(crate) type Pool = sqlx::PgPool;
pub(crate) type DbRow = sqlx::postgres::PgRow;
pub(crate) type DbOptions = PgConnectOptions;

/// How the handle prints itself.
const STORE_NAME: &str = "PostgresStore";
/// Several daemons write the database: each batch checks what the others committed.
const SHARED_WRITERS: bool = true;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations_postgres");

/// The advisory lock every writer takes for its batch ("purser" in ASCII).
const WRITERS_LOCK: i64 = 0x7075_7273_6572;
/// The channel commits are announced on.
const CHANNEL: &str = "purser_audit";
/// Longest a statement (the writers' lock included) may take before the batch fails.
const STATEMENT_TIMEOUT_MS: &str = "10000";
/// A session idle inside a transaction this long is ended by the server, so a stuck
/// daemon cannot hold the writers' lock.
const IDLE_IN_TRANSACTION_TIMEOUT_MS: &str = "30000";
/// Longest wait for a connection from the read pool.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// Remote changes kept for slow subscribers.
const REMOTE_CAPACITY: usize = 1024;

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/name`),
    /// creates or migrates its tables, seeds an empty one with the deny-all policy, and
    /// starts this daemon's writer and listener tasks on the current tokio runtime.
    pub async fn open(
        url: &str,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
    ) -> Result<PostgresStore, StoreError> {
        let connect: PgConnectOptions = url.parse().map_err(|error| {
            StoreError::InvalidInput(format!(
                "{} is not a PostgreSQL URL ({error}); expected postgres://user:password@host:port/database",
                redact(url)
            ))
        })?;
        let connect = connect
            .application_name("purser")
            .options([
                ("statement_timeout", STATEMENT_TIMEOUT_MS),
                (
                    "idle_in_transaction_session_timeout",
                    IDLE_IN_TRANSACTION_TIMEOUT_MS,
                ),
                // Statements are prepared once per connection; a generic plan chosen
                // while a new database's tables were empty would keep scanning them
                // as they grow (the idempotency lookup went from 0.03 to 6 ms per
                // batch in seconds). Custom plans see the tables as they are.
                ("plan_cache_mode", "force_custom_plan"),
            ])
            .log_statements(tracing::log::LevelFilter::Trace);
        let unreachable = |error: sqlx::Error| {
            StoreError::Unavailable(format!("cannot connect to {}: {error}", redact(url)))
        };
        let mut conn = connect.connect().await.map_err(unreachable)?;
        MIGRATOR.run(&mut conn).await?;
        // Listening before the state is loaded: every later commit is announced to us.
        let listen_pool = listener::pool(connect.clone());
        let first = listener::subscribe(&listen_pool)
            .await
            .map_err(unreachable)?;
        handle::seed(&mut conn, clock.now()).await?;
        // Loaded under the writers' lock, so what it reads is one consistent state.
        begin_batch(&mut conn).await?;
        let state = State::load(&mut conn, clock.now()).await;
        sqlx::query("COMMIT").execute(&mut conn).await?;
        let state = state?;
        let reads = PgPoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(Some(Duration::from_secs(60)))
            .connect_lazy_with(connect.clone());
        let node = new_id("node_", clock.now())?;
        let (published_tx, published) = watch::channel(Arc::new(state.gov.published()));
        let (commands, receiver) = mpsc::channel(options.queue_capacity.max(1));
        let (remote, _) = broadcast::channel(REMOTE_CAPACITY);
        let writer = Writer {
            conn: Some(conn),
            connect: connect.clone(),
            state: Some(state),
            clock,
            options,
            published: published_tx,
            commands: receiver,
            node: node.clone(),
        };
        tokio::spawn(writer.run());
        tokio::spawn(listener::run(
            first,
            listen_pool,
            reads.clone(),
            node,
            remote.clone(),
            commands.downgrade(),
        ));
        Ok(PostgresStore {
            commands,
            reads,
            read_options: connect,
            published,
            remote: Some(remote),
            location: format!("{} (team mode)", redact(url)),
        })
    }
}

/// A PostgreSQL URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url.parse::<PgConnectOptions>() {
        Ok(options) => format!(
            "postgres://{}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("")
        ),
        Err(_) => "the database URL".to_owned(),
    }
}

/// Begins a batch under the writers' lock: every daemon's batches on this database run
/// one after another.
pub(crate) async fn begin_batch(conn: &mut Conn) -> Result<(), sqlx::Error> {
    sqlx::query("BEGIN").execute(&mut *conn).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITERS_LOCK)
        .execute(&mut *conn)
        .await
        .map(drop)
}

/// Announces, inside the committing transaction, the audit rows this daemon (`node`)
/// appended: the other daemons' listeners read them once it commits.
pub(crate) async fn announce(
    conn: &mut Conn,
    node: &str,
    first_seq: i64,
    last_seq: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{node} {first_seq} {last_seq}"))
        .execute(conn)
        .await
        .map(drop)
}

/// Per-connection settings travel in the connect options.
pub(crate) async fn configure(
    _conn: &mut Conn,
    _options: &StoreOptions,
) -> Result<(), sqlx::Error> {
    Ok(())
}

/// The audit walk's chunk: count, min seq, max seq, then at, kind, agent,
/// authorization_id, the NULL digits (1 when agent is NULL, plus 2 when
/// authorization_id is NULL), body, prev_hash, hash, each concatenated in seq order.
const AUDIT_CHUNK_QUERY: &str = "SELECT count(*), min(seq), max(seq), \
     string_agg(at::text, ',' ORDER BY seq), string_agg(kind, ',' ORDER BY seq), \
     string_agg(coalesce(agent, ''), ',' ORDER BY seq), \
     string_agg(coalesce(authorization_id, ''), ',' ORDER BY seq), \
     string_agg(((agent IS NULL)::int + 2 * (authorization_id IS NULL)::int)::text, '' ORDER BY seq), \
     string_agg(body, chr(30) ORDER BY seq), string_agg(prev_hash, '' ORDER BY seq), \
     string_agg(hash, '' ORDER BY seq) \
     FROM audit WHERE seq > $1 AND seq <= $2";

/// The text field `name` of an audit row's JSON body.
fn body_field(name: &str) -> String {
    format!("(body::jsonb ->> '{name}')")
}

/// `FIND_TEXT(haystack, needle)`: the needle's 1-based position, 0 when absent.
const FIND_TEXT: &str = "strpos";

/// The walk reads one snapshot of the whole trail.
const SNAPSHOT_SETUP: Option<&str> =
    Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");

/// The audit walk's own connection.
async fn walk_connection(options: DbOptions) -> Result<Conn, sqlx::Error> {
    options.connect().await
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn urls_lose_their_password_in_messages() {
        let shown = redact("postgres://purser:s3cret@db.internal:5433/team?sslmode=require");
        assert_eq!(shown, "postgres://purser@db.internal:5433/team");
        assert!(!redact("postgresql://a:s3cret@h/d").contains("s3cret"));
        assert_eq!(redact("not a url"), "the database URL");
    }
}
