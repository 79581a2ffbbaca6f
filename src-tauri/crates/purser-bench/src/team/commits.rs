//! [`CommitWatch`]: the team's write batches as the daemons announce them, to say what
//! bounds a team's throughput: how many decisions each COMMIT carried, and how often a
//! batch followed another daemon's (its writer then reloads its state before deciding).
//!
//! Every daemon's batch that appends audit rows sends `NOTIFY purser_audit` with `node
//! first_seq last_seq` inside its transaction (see the PostgreSQL backend's module
//! header), and notifications reach a listening session in commit order. This watch
//! listens on that channel from its own connection and ends on a notification of its own
//! on a second channel, sent once the load is over, so it has heard every commit before
//! it. It only listens: nothing here touches the daemons or their tables.

use anyhow::Context as _;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnection, PgListener};
use tokio::task::JoinHandle;

/// The daemons' announcement channel (the PostgreSQL backend's `CHANNEL`).
const ANNOUNCEMENTS: &str = "purser_audit";
/// This watch's own end-of-run signal.
const STOP: &str = "purser_bench_stop";

/// One committed write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Commit {
    node: String,
    rows: u64,
}

/// What the commits during a run add up to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Commits {
    pub(crate) count: u64,
    /// Audit rows the commits appended.
    pub(crate) rows: u64,
    /// Audit rows appended per commit (one per decision), mean.
    pub(crate) rows_per_commit: f64,
    /// Commits whose predecessor was another daemon's, as a share of all but the first.
    pub(crate) after_another_daemon: f64,
}

/// Listens until [`CommitWatch::finish`].
#[derive(Debug)]
pub(crate) struct CommitWatch {
    url: String,
    task: JoinHandle<anyhow::Result<Vec<Commit>>>,
}

impl CommitWatch {
    /// Listens on the database at `url`; returns once listening.
    pub(crate) async fn start(url: &str) -> anyhow::Result<CommitWatch> {
        let mut listener = PgListener::connect(url)
            .await
            .context("cannot connect to listen for the team's commits")?;
        listener.listen_all([ANNOUNCEMENTS, STOP]).await?;
        let task = tokio::spawn(async move {
            let mut commits = Vec::new();
            loop {
                let notification = listener.recv().await?;
                if notification.channel() == STOP {
                    return Ok(commits);
                }
                if let Some(commit) = parse(notification.payload()) {
                    commits.push(commit);
                }
            }
        });
        Ok(CommitWatch {
            url: url.to_owned(),
            task,
        })
    }

    /// Stops listening (after every commit made so far was heard) and sums up.
    pub(crate) async fn finish(self) -> anyhow::Result<Commits> {
        let mut conn = PgConnection::connect(&self.url).await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(STOP)
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let commits = tokio::time::timeout(std::time::Duration::from_secs(10), self.task)
            .await
            .context("the commit watch did not hear its own stop signal within 10 s")???;
        Ok(sum_up(&commits))
    }
}

/// `node first_seq last_seq`.
fn parse(payload: &str) -> Option<Commit> {
    let mut parts = payload.split(' ');
    let node = parts.next()?.to_owned();
    let first: i64 = parts.next()?.parse().ok()?;
    let last: i64 = parts.next()?.parse().ok()?;
    let rows = u64::try_from(last - first + 1).ok()?;
    Some(Commit { node, rows })
}

fn sum_up(commits: &[Commit]) -> Commits {
    let count = commits.len() as u64;
    let rows: u64 = commits.iter().map(|commit| commit.rows).sum();
    let switches = commits
        .windows(2)
        .filter(|pair| matches!(pair, [before, after] if before.node != after.node))
        .count();
    Commits {
        count,
        rows,
        rows_per_commit: rows as f64 / count.max(1) as f64,
        after_another_daemon: switches as f64 / count.saturating_sub(1).max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_add_up() {
        let commit = |node: &str, rows| Commit {
            node: node.to_owned(),
            rows,
        };
        assert_eq!(parse("node_a 5 9"), Some(commit("node_a", 5)));
        assert_eq!(parse("node_a 9 5"), None);
        assert_eq!(parse("node_a 5"), None);
        let summed = sum_up(&[
            commit("a", 4),
            commit("b", 2),
            commit("b", 2),
            commit("a", 4),
            commit("c", 3),
        ]);
        assert_eq!((summed.count, summed.rows), (5, 15));
        assert!((summed.rows_per_commit - 3.0).abs() < 1e-9);
        assert!((summed.after_another_daemon - 0.75).abs() < 1e-9);
        assert_eq!(sum_up(&[]).count, 0);
    }
}
