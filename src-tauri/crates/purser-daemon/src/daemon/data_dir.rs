//! The data dir and the right to use it: the directory is created (or tightened) to
//! 0700, and a daemon holds an exclusive `flock` on `DATA_DIR/purser.lock`, which also
//! names its pid, for as long as it runs. A second daemon on the same dir is refused with
//! that pid, so two writers can never share one database or one admin socket.
//!
//! The lock is the kernel's: it is released when the process dies however it dies, so
//! a stale lock file left by a crash never blocks the next start.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use super::StartError;

/// The lock file's name inside the data dir.
pub const LOCK_FILE: &str = "purser.lock";

/// Creates `dir` with mode 0700, or restricts an existing one to 0700 (with a warning):
/// it holds the money records and the admin socket.
pub(crate) fn prepare(dir: &Path) -> Result<(), StartError> {
    let io = |what: &str, source| StartError::Io {
        what: format!("{what} {}", dir.display()),
        source,
    };
    match fs::metadata(dir) {
        Ok(metadata) if !metadata.is_dir() => {
            return Err(StartError::Config(format!(
                "the data dir {} is not a directory: pass --data-dir with a directory",
                dir.display()
            )));
        }
        Ok(metadata) => {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| io("cannot restrict the data dir", e))?;
                tracing::warn!(
                    dir = %dir.display(),
                    was = format!("{mode:o}"),
                    "the data dir was accessible to other users; restricted it to 0700"
                );
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io("cannot create the data dir", e))?;
            // The mode is filtered by the umask; make sure it is exactly 0700.
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| io("cannot restrict the data dir", e))?;
            tracing::info!(dir = %dir.display(), "created the data dir");
        }
        Err(error) => return Err(io("cannot read the data dir", error)),
    }
    Ok(())
}

/// The exclusive right to a data dir, held until dropped (or released at shutdown).
#[derive(Debug)]
pub struct DataDirLock {
    file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock of `dir` and writes our pid into it, or says who holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DataDirLock, StartError> {
        let path = dir.join(LOCK_FILE);
        let io = |what: &str, source| StartError::Io {
            what: format!("{what} {}", path.display()),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io("cannot open the lock file", e))?;
        if let Err(errno) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
            if errno == rustix::io::Errno::WOULDBLOCK {
                let mut text = String::new();
                // The holder may be writing its pid right now; what we read is a hint.
                let _ = file.read_to_string(&mut text);
                return Err(StartError::Locked {
                    pid: text.trim().parse().ok(),
                    data_dir: dir.to_owned(),
                });
            }
            return Err(io("cannot lock", std::io::Error::from(errno)));
        }
        let pid = std::process::id();
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{pid}"))
            .and_then(|()| file.sync_all())
            .map_err(|e| io("cannot write the pid into", e))?;
        Ok(DataDirLock { file, path })
    }

    /// Removes the lock file, then releases the lock (closing the file).
    pub(crate) fn release(self) {
        if let Err(error) = fs::remove_file(&self.path) {
            tracing::warn!(%error, path = %self.path.display(), "cannot remove the lock file");
        }
        drop(self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_data_dir_is_0700_and_a_loose_one_is_tightened() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("a/b");
        prepare(&dir).unwrap();
        let mode = |dir: &Path| fs::metadata(dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        prepare(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn a_file_is_not_a_data_dir() {
        let parent = tempfile::tempdir().unwrap();
        let file = parent.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(matches!(prepare(&file), Err(StartError::Config(_))));
    }

    #[test]
    fn the_lock_is_exclusive_names_its_holder_and_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let lock = DataDirLock::acquire(dir.path()).unwrap();
        match DataDirLock::acquire(dir.path()) {
            Err(StartError::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected a lock conflict, got {other:?}"),
        }
        lock.release();
        assert!(!dir.path().join(LOCK_FILE).exists());
        DataDirLock::acquire(dir.path()).unwrap().release();
    }
}
