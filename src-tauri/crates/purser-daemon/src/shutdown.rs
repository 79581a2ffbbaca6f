//! [`Shutdown`]: how every task of the daemon learns that it must stop (mini-redis's
//! pattern: one notifier, a listener per task).
//!
//! Built on a `watch` channel rather than a `broadcast` one so that a listener created
//! *after* the signal (an event stream opened during shutdown) still sees it at once.
//! The signal is one-way: once given it stays given.

use tokio::sync::watch;

/// The notifier: whoever holds it (the daemon, its [`ShutdownHandle`]s) may start the
/// graceful shutdown.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    sender: watch::Sender<bool>,
}

/// One task's listener.
#[derive(Debug, Clone)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

impl ShutdownHandle {
    pub fn new() -> ShutdownHandle {
        ShutdownHandle {
            sender: watch::Sender::new(false),
        }
    }

    /// Asks every task to stop. Idempotent.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// A listener for one more task.
    pub fn listener(&self) -> Shutdown {
        Shutdown {
            receiver: self.sender.subscribe(),
        }
    }
}

impl Default for ShutdownHandle {
    fn default() -> ShutdownHandle {
        ShutdownHandle::new()
    }
}

impl Shutdown {
    pub fn is_shutdown(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Resolves once shutdown was asked for (at once if it already was).
    pub async fn recv(&mut self) {
        // An error means every notifier is gone: nobody can ask any more, so stop too.
        let _ = self.receiver.wait_for(|stopping| *stopping).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn listeners_created_before_or_after_the_signal_both_see_it() {
        let handle = ShutdownHandle::new();
        let mut early = handle.listener();
        assert!(!early.is_shutdown());
        assert!(
            tokio::time::timeout(Duration::from_secs(1), early.recv())
                .await
                .is_err()
        );
        handle.trigger();
        tokio::time::timeout(Duration::from_millis(1), early.recv())
            .await
            .unwrap();
        let mut late = handle.listener();
        assert!(late.is_shutdown());
        tokio::time::timeout(Duration::from_millis(1), late.recv())
            .await
            .unwrap();
    }
}
