//! The single writer: the one task that owns the write connection and the
//! authoritative in-memory state, and runs every mutation with group commit.
//!
//! It takes the first queued command, drains up to `max_batch - 1` more that are
//! already waiting (never waiting for more), runs them one after the other in one
//! transaction begun by the backend (`BEGIN IMMEDIATE` on SQLite; `BEGIN` and the
//! writers' advisory lock on PostgreSQL, then a catch-up with what other daemons
//! committed) against a [`Scratch`] of the state, and only after COMMIT returns
//! (durable) folds the scratch into the state, publishes it and answers the callers. If
//! anything fails, the transaction rolls back, the scratch is dropped and every caller
//! of the batch gets [`StoreError::Unavailable`]: nothing is approved that is not on
//! disk. A COMMIT that itself reports an error may still have landed: the batch's last
//! audit row is looked for on a new connection, and the answers stand if it is there,
//! or are [`StoreError::OutcomeUnknown`] if the database cannot be asked.
//!
//! Because this task decides every request in sequence against the committed state plus
//! the batch so far, budget checks are exact under any concurrency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use purser_core::{Clock, Timestamp};
use sqlx::ConnectOptions;
use tokio::sync::{mpsc, watch};

use super::audit::{self, AuditHead};
use super::commands::{Batch, Command};
use super::state::{Published, State};
use super::velocity::{VelocityBounds, VelocityIndex};
use super::{Conn, DbOptions};
use crate::StoreError;
use crate::options::StoreOptions;

#[derive(Debug)]
pub(crate) struct Writer {
    pub conn: Option<Conn>,
    pub connect: DbOptions,
    /// `None` when the database may hold something the memory does not (a COMMIT whose
    /// outcome is unknown): reloaded before the next batch.
    pub state: Option<State>,
    pub clock: Arc<dyn Clock>,
    pub options: StoreOptions,
    pub published: watch::Sender<Arc<Published>>,
    pub commands: mpsc::Receiver<Command>,
    /// This daemon's id in commit announcements (team mode).
    pub node: String,
}

impl Writer {
    pub(crate) async fn run(mut self) {
        while let Some(first) = self.commands.recv().await {
            let mut commands = Vec::with_capacity(self.batch_limit().min(64));
            commands.push(first);
            self.top_up(&mut commands);
            self.run_batch(commands).await;
        }
        tracing::debug!("store writer stopped: every handle was dropped");
    }

    /// Most commands in one transaction.
    fn batch_limit(&self) -> usize {
        if self.options.group_commit {
            self.options.max_batch.max(1)
        } else {
            1
        }
    }

    /// Adds the commands already waiting, never waiting for more, up to the batch limit
    /// and never past a command that closes its batch.
    fn top_up(&mut self, commands: &mut Vec<Command>) {
        let limit = self.batch_limit();
        while commands.len() < limit && !commands.last().is_some_and(Command::closes_batch) {
            match self.commands.try_recv() {
                Ok(command) => commands.push(command),
                Err(_) => break,
            }
        }
    }

    /// Reconnects and reloads whatever a failure left unknown.
    async fn ready(&mut self) -> Result<(), StoreError> {
        if self.conn.is_none() {
            let mut conn = self.connect.connect().await?;
            super::configure(&mut conn, &self.options).await?;
            self.conn = Some(conn);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(StoreError::Unavailable("no database connection".into()));
        };
        let now = self.clock.now();
        if self.state.is_none() {
            let state = State::load(conn, now).await?;
            self.published.send_replace(Arc::new(state.gov.published()));
            self.state = Some(state);
        }
        if let Some(state) = self
            .state
            .as_mut()
            .filter(|state| state.velocity_is_stale())
        {
            let bounds = VelocityBounds::of(&state.gov.policy);
            state.velocity = VelocityIndex::load(conn, bounds, now.timestamp_micros()).await?;
        }
        Ok(())
    }

    /// Reconnects if needed and begins the batch's transaction. A connection that
    /// fails to begin (the server restarted since it was opened) is replaced and the
    /// begin tried once more: nothing was begun, so the state is still exact.
    async fn begin(&mut self) -> Result<(), StoreError> {
        let mut attempts_left = 2;
        loop {
            self.ready().await?;
            let Some(conn) = self.conn.as_mut() else {
                return Err(StoreError::Unavailable("no database connection".into()));
            };
            match super::begin_batch(conn).await {
                Ok(()) => return Ok(()),
                Err(error) => {
                    // See below why a failed connection is never reused.
                    self.conn = None;
                    attempts_left -= 1;
                    if attempts_left == 0 {
                        return Err(error.into());
                    }
                    tracing::warn!(%error, "cannot begin a transaction; reconnecting");
                }
            }
        }
    }

    async fn run_batch(&mut self, mut commands: Vec<Command>) {
        if let Err(error) = self.begin().await {
            tracing::error!(%error, "store not ready; refusing a batch");
            let error = StoreError::Unavailable(error.to_string());
            for command in commands {
                command.fail(error.clone());
            }
            return;
        }
        if super::SHARED_WRITERS {
            // What queued while this daemon waited for the writers' lock joins the batch:
            // under contention batches grow, and fewer of them pay for a catch-up.
            self.top_up(&mut commands);
        }
        let (Some(conn), Some(state)) = (self.conn.as_mut(), self.state.as_mut()) else {
            for command in commands {
                command.fail(StoreError::Unavailable("the store is not ready".into()));
            }
            return;
        };
        if super::SHARED_WRITERS {
            // Other daemons write to this database too: under the writers' lock, the
            // state is checked against the audit head (every change appends to the
            // trail) and reloaded if another daemon committed since. The kill switch,
            // budgets and policy are thus always decided as they stand now, whether or
            // not that daemon's notification has arrived.
            match catch_up(conn, state, self.clock.now()).await {
                Ok(true) => {
                    self.published.send_replace(Arc::new(state.gov.published()));
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(%error, "cannot read the shared state; reconnecting for the next batch");
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                    self.conn = None;
                    let error = StoreError::Unavailable(error.to_string());
                    for command in commands {
                        command.fail(error.clone());
                    }
                    return;
                }
            }
        }
        let committed_seq = state.gov.audit_head.seq;
        let mut batch = Batch::new(&mut *conn, &mut *state, self.clock.as_ref());
        let mut answers = Vec::with_capacity(commands.len());
        let mut failure = batch.prefetch_replays(&commands).await.err();
        if failure.is_none() {
            failure = batch.prefetch_sessions(&commands).await.err();
        }
        let mut queue = commands.into_iter();
        if failure.is_none() {
            for command in queue.by_ref() {
                let (answer, fatal) = command.execute(&mut batch).await;
                answers.push(answer);
                if fatal.is_some() {
                    failure = fatal;
                    break;
                }
            }
        }
        if failure.is_none() {
            failure = batch.finish().await.err().map(StoreError::from);
        }
        let scratch = batch.into_scratch();
        let written_head = scratch.gov.audit_head;
        let written_seq = written_head.seq;
        if failure.is_none() && written_seq > committed_seq {
            failure = super::announce(conn, &self.node, committed_seq + 1, written_seq)
                .await
                .err()
                .map(StoreError::from);
        }
        let commit_failed = match failure {
            None => match sqlx::query("COMMIT").execute(&mut *conn).await {
                Ok(_) => {
                    state.commit(scratch, self.clock.now());
                    self.published.send_replace(Arc::new(state.gov.published()));
                    for answer in answers {
                        answer.send(None);
                    }
                    return;
                }
                Err(error) => {
                    failure = Some(error.into());
                    true
                }
            },
            Some(_) => false,
        };
        let error = failure.unwrap_or_else(|| StoreError::Unavailable("the batch failed".into()));
        tracing::error!(%error, commit_failed, "batch rolled back; answering every caller unavailable");
        if let Err(rollback) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
            // After a failed COMMIT SQLite may already have rolled back.
            tracing::warn!(%rollback, "rollback failed");
        }
        // The connection is replaced, so no transaction can be left open and the next
        // batch sees the database as it is now: a connection that met a read-only or
        // unopenable file (EPERM, EROFS) stays read-only for good after the file is
        // writable again (SQLITE_READONLY), and only a new one recovers by itself.
        self.conn = None;
        let mut unavailable = StoreError::Unavailable(error.to_string());
        if commit_failed {
            self.state = None;
            if written_seq > committed_seq {
                match self.commit_outcome(written_head).await {
                    Some(true) => {
                        tracing::warn!(
                            "the COMMIT reported an error, yet the batch is in the database: answering it as committed"
                        );
                        for answer in answers {
                            answer.send(None);
                        }
                        return;
                    }
                    Some(false) => {}
                    None => unavailable = StoreError::OutcomeUnknown(error.to_string()),
                }
            }
        }
        for answer in answers {
            answer.send(Some(unavailable.clone()));
        }
        for command in queue {
            command.fail(unavailable.clone());
        }
    }
}

impl Writer {
    /// After a COMMIT that reported an error (the connection died, the server stopped):
    /// did the batch land anyway? Its last audit row (seq and hash belong to it alone)
    /// says, asked on a new connection for up to [`RESOLVE_FOR`]. `None`: the database
    /// could not be asked.
    async fn commit_outcome(&self, written: AuditHead) -> Option<bool> {
        let deadline = Instant::now() + RESOLVE_FOR;
        loop {
            let asked = match self.connect.connect().await {
                Ok(mut conn) => audit::head_at(&mut conn, written.seq).await.ok(),
                Err(_) => None,
            };
            if let Some(found) = asked {
                return Some(found == Some(written));
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(RESOLVE_RETRY).await;
        }
    }
}

/// How long a failed COMMIT's outcome is looked for before the callers are told it is
/// unknown.
const RESOLVE_FOR: Duration = Duration::from_secs(3);
const RESOLVE_RETRY: Duration = Duration::from_millis(250);

/// Reloads `state` if the database's audit head is not the one it knows (another
/// daemon committed); inside the writers' lock. Returns whether it reloaded.
async fn catch_up(conn: &mut Conn, state: &mut State, now: Timestamp) -> Result<bool, StoreError> {
    let head = audit::load_head(conn).await?;
    if head == state.gov.audit_head {
        return Ok(false);
    }
    *state = State::load(conn, now).await?;
    Ok(true)
}
