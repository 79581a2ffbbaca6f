//! [`StoreOptions`]: the knobs of the SQLite store, with safe defaults.

/// How the store batches and bounds its work.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Commit a batch of queued commands in one transaction (one fsync for all of them).
    /// `false` commits every command on its own; only benchmarks want that.
    pub group_commit: bool,
    /// At most this many commands share one transaction.
    pub max_batch: usize,
    /// At most this many commands wait for the writer; callers beyond it wait to enqueue.
    pub queue_capacity: usize,
    /// At most this many read-only connections (queries, audit export, verify).
    pub read_connections: u32,
    /// Refuse to grow the database file beyond this many bytes: writes then fail with
    /// [`crate::StoreError::Unavailable`] (as on a full disk). `None`: no limit.
    pub max_size_bytes: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            group_commit: true,
            max_batch: 256,
            queue_capacity: 1024,
            read_connections: 4,
            max_size_bytes: None,
        }
    }
}
