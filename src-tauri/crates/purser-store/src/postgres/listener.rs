//! The listener: this daemon's ear on the team database. It `LISTEN`s on the channel
//! every writer announces its commits on, and for each commit of *another* daemon reads
//! the audit rows it appended, brings this daemon's writer up to date (so the published
//! policy and kill switch are the team's at once) and passes the rows on as
//! [`RemoteChange::Appended`].
//!
//! When its connection is lost it reconnects (every second until it can) and sends
//! [`RemoteChange::Resync`]: commits announced meanwhile were not heard. It ends when
//! the store's writer does. Nothing here decides anything: a missed announcement delays
//! a console or a long-poll, never a decision (see the backend's module header).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgNotification, PgPoolOptions};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::commands::Command;
use super::{CHANNEL, Pool, audit};
use crate::StoreError;
use crate::records::RemoteChange;

/// Wait before reconnecting.
const RETRY: Duration = Duration::from_secs(1);
/// Longest wait for the writer to catch up before the change is passed on anyway.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(5);

/// The listener's own pool (it holds its connection for good: not a reader's).
pub(super) fn pool(connect: PgConnectOptions) -> Pool {
    PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .connect_lazy_with(connect)
}

/// Listens from `first` (subscribed before the store loaded its state, so no commit
/// falls between the two) and after that from new subscriptions.
pub(super) async fn run(
    first: PgListener,
    pool: Pool,
    reads: Pool,
    node: String,
    remote: broadcast::Sender<RemoteChange>,
    writer: mpsc::WeakSender<Command>,
) {
    let mut next = Some(first);
    loop {
        if writer.upgrade().is_none() {
            return;
        }
        let mut listener = match next.take() {
            Some(listener) => listener,
            None => match subscribe(&pool).await {
                Ok(listener) => {
                    tracing::info!("team database: listening again; resynchronizing");
                    refresh(&writer).await;
                    let _ = remote.send(RemoteChange::Resync);
                    listener
                }
                Err(error) => {
                    tracing::warn!(%error, "team database: cannot listen for other daemons' commits; retrying");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            },
        };
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Err(error) = relay(&notification, &node, &reads, &writer, &remote).await
                    {
                        tracing::warn!(%error, "team database: cannot read another daemon's commit; resynchronizing");
                        let _ = remote.send(RemoteChange::Resync);
                    }
                }
                Ok(None) => {
                    tracing::warn!("team database: the listening connection was lost");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "team database: listening failed");
                    break;
                }
            }
            if writer.upgrade().is_none() {
                return;
            }
        }
        drop(listener);
        tokio::time::sleep(RETRY).await;
    }
}

pub(super) async fn subscribe(pool: &Pool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Passes on one announcement unless this daemon made it.
async fn relay(
    notification: &PgNotification,
    node: &str,
    reads: &Pool,
    writer: &mpsc::WeakSender<Command>,
    remote: &broadcast::Sender<RemoteChange>,
) -> Result<(), StoreError> {
    let Some((from, first, last)) = parse(notification.payload()) else {
        return Err(StoreError::Corrupt(format!(
            "unexpected announcement {:?}",
            notification.payload()
        )));
    };
    if from == node {
        return Ok(());
    }
    let entries = audit::range(reads, first, last).await?;
    refresh(writer).await;
    // An error only means nobody is subscribed right now.
    let _ = remote.send(RemoteChange::Appended(entries));
    Ok(())
}

/// `node first_seq last_seq`.
fn parse(payload: &str) -> Option<(&str, i64, i64)> {
    let mut parts = payload.split(' ');
    let node = parts.next()?;
    let first = parts.next()?.parse().ok()?;
    let last = parts.next()?.parse().ok()?;
    (parts.next().is_none() && first <= last).then_some((node, first, last))
}

/// Has the writer run a batch (which catches up with the database) and waits for it.
async fn refresh(writer: &mpsc::WeakSender<Command>) {
    let Some(commands) = writer.upgrade() else {
        return;
    };
    let (reply, answer) = oneshot::channel();
    if commands.send(Command::Refresh { reply }).await.is_err() {
        return;
    }
    drop(commands);
    match tokio::time::timeout(REFRESH_TIMEOUT, answer).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => tracing::warn!(%error, "team database: catching up failed"),
        Ok(Err(_)) | Err(_) => tracing::warn!("team database: the writer did not catch up in time"),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn announcements_parse_exactly() {
        assert_eq!(parse("node_1 4 9"), Some(("node_1", 4, 9)));
        assert_eq!(parse("node_1 9 4"), None);
        assert_eq!(parse("node_1 4"), None);
        assert_eq!(parse("node_1 4 9 1"), None);
        assert_eq!(parse("node_1 x 9"), None);
    }
}
