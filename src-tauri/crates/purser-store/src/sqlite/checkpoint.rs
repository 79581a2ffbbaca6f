//! The checkpointer: copies committed WAL frames back into the database file from its
//! own connection, once a second, so that the writer's COMMITs do not pay for it.
//!
//! The writer keeps SQLite's automatic checkpoint only as a backstop for a WAL grown
//! past [`WRITER_AUTOCHECKPOINT_PAGES`]. PASSIVE checkpoints never block the writer or
//! readers. The task ends when the writer does.

use std::sync::Arc;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::sync::watch;

use super::state::Published;

/// How often committed frames are copied back.
const INTERVAL: Duration = Duration::from_secs(1);
/// The writer checkpoints by itself only past this many WAL pages (~40 MB).
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: &str = "10000";

pub(crate) async fn run(
    options: SqliteConnectOptions,
    mut commits: watch::Receiver<Arc<Published>>,
) {
    let mut conn = None;
    loop {
        tokio::time::sleep(INTERVAL).await;
        match commits.has_changed() {
            Err(_) => break, // the writer is gone
            Ok(false) => continue,
            Ok(true) => commits.mark_unchanged(),
        }
        if conn.is_none() {
            conn = options
                .connect()
                .await
                .map_err(|error| tracing::warn!(%error, "checkpointer cannot connect"))
                .ok();
        }
        if let Some(connection) = conn.as_mut() {
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(connection)
                .await
            {
                tracing::warn!(%error, "WAL checkpoint failed; retrying later");
                conn = None;
            }
        }
    }
}
