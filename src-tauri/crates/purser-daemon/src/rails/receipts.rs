//! [`ReceiptBook`]: the rail's answer to each carried-out authorization, durable, so
//! that a retried call replays the answer instead of moving money again, even after a
//! restart and even against an upstream that ignores idempotency keys.
//!
//! One small JSON file per authorization (`DATA_DIR/rails/<rail>/receipts/<id>.json`),
//! written to a temporary file, fsynced and renamed into place. Per-authorization locks
//! make "read the receipt, else execute and write it" atomic within the daemon, which is
//! the only process serving its data dir (it holds the data dir's lock).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// What the rail answered, as it will be replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub outcome: ReceiptOutcome,
    /// The rail's HTTP status.
    pub status: u16,
    /// The rail's body (JSON text), already scrubbed of secrets.
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptOutcome {
    /// Carried out: money moved (or will, as the call intended).
    Done,
    /// Refused for good by the rail: nothing moved.
    Refused,
}

/// The receipts of one rail.
#[derive(Debug)]
pub struct ReceiptBook {
    dir: PathBuf,
    locks: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
}

/// Held while one authorization is being carried out.
#[derive(Debug)]
pub struct ReceiptLock {
    _guard: OwnedMutexGuard<()>,
}

impl ReceiptBook {
    /// The receipts under `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> ReceiptBook {
        ReceiptBook {
            dir: dir.into(),
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// `DATA_DIR/rails/<rail>/receipts`.
    pub fn in_data_dir(data_dir: &Path, rail: &str) -> ReceiptBook {
        ReceiptBook::new(data_dir.join("rails").join(rail).join("receipts"))
    }

    /// Waits for, then holds, authorization `id`'s lock.
    pub async fn lock(&self, id: &str) -> ReceiptLock {
        let mutex = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            if locks.len() > 1_024 {
                locks.retain(|_, weak| weak.strong_count() > 0);
            }
            match locks.get(id).and_then(Weak::upgrade) {
                Some(mutex) => mutex,
                None => {
                    let mutex = Arc::new(AsyncMutex::new(()));
                    locks.insert(id.to_owned(), Arc::downgrade(&mutex));
                    mutex
                }
            }
        };
        ReceiptLock {
            _guard: mutex.lock_owned().await,
        }
    }

    /// The recorded answer for `id`, if any. An unreadable receipt counts as none only
    /// when it does not exist; a corrupt one is logged and also treated as none (the
    /// order's idempotency key still protects against a second payment upstream).
    pub async fn read(&self, id: &str) -> Option<Receipt> {
        let path = self.path(id)?;
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "cannot read a rail receipt");
                return None;
            }
        };
        match serde_json::from_str(&text) {
            Ok(receipt) => Some(receipt),
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "a rail receipt is corrupt");
                None
            }
        }
    }

    /// Records `receipt` for `id` durably.
    pub async fn write(&self, id: &str, receipt: &Receipt) -> std::io::Result<()> {
        let path = self
            .path(id)
            .ok_or_else(|| std::io::Error::other("not an authorization id"))?;
        let dir = self.dir.clone();
        let text = serde_json::to_vec(receipt).map_err(std::io::Error::other)?;
        tokio::task::spawn_blocking(move || write_durably(&dir, &path, &text))
            .await
            .map_err(std::io::Error::other)?
    }

    /// The file of `id`; `None` for anything that is not an authorization id (no path
    /// tricks can come through here).
    fn path(&self, id: &str) -> Option<PathBuf> {
        let valid = id.starts_with("auth_")
            && id.len() <= 128
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        valid.then(|| self.dir.join(format!("{id}.json")))
    }
}

fn write_durably(dir: &Path, path: &Path, text: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension("json.tmp");
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(text)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn receipts_survive_and_refuse_odd_ids() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let book = ReceiptBook::in_data_dir(dir.path(), "stripe");
        assert_eq!(book.read("auth_01ABC").await, None);
        let receipt = Receipt {
            outcome: ReceiptOutcome::Done,
            status: 200,
            body: "{\"id\":\"pi_1\"}".into(),
        };
        book.write("auth_01ABC", &receipt)
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        let again = ReceiptBook::in_data_dir(dir.path(), "stripe");
        assert_eq!(again.read("auth_01ABC").await, Some(receipt.clone()));
        assert!(book.write("../etc/passwd", &receipt).await.is_err());
        assert_eq!(book.read("auth_../x").await, None);
    }

    #[tokio::test]
    async fn one_holder_per_authorization() {
        let book = Arc::new(ReceiptBook::new("/nonexistent"));
        let first = book.lock("auth_A").await;
        let other = book.lock("auth_B").await;
        let waiting = {
            let book = Arc::clone(&book);
            tokio::spawn(async move {
                let _second = book.lock("auth_A").await;
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "the second holder waits");
        drop(first);
        drop(other);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .unwrap_or_else(|e| unreachable!("{e}"))
            .unwrap_or_else(|e| unreachable!("{e}"));
    }
}
