//! The deadline keeper: expires pending approvals nobody answered (→ `expired`, a
//! denial: fail closed) and lapses manual holds nobody captured, on time.
//!
//! One task sleeps until the store's earliest deadline ([`Store::next_expiry`]), at most
//! [`MAX_SLEEP`] at a time, then asks the store to [`Store::expire_due`], wakes the
//! agents long-polling on what changed and publishes it. An [`ExpiryAlarm`] rung by
//! whoever creates a deadline (a new pending request, a new hold) makes it look again at
//! once, so a short `approval_timeout` is honoured even when the task was asleep for a
//! later deadline. Deadlines live in the store, so after a restart the first look finds
//! the ones that passed while the daemon was down.
//!
//! What this task must not do: decide anything itself. Whether a deadline passed is the
//! store's judgement, against the injected clock.

use std::sync::Arc;
use std::time::Duration;

use purser_core::{AuthorizationStatus, Clock};
use purser_store::Store;
use tokio::sync::Notify;

use crate::broker::log_authorization;
use crate::console::view::AuthorizationDetail;
use crate::events::{EventBus, EventKind};
use crate::shutdown::Shutdown;
use crate::waiters::Waiters;

/// The longest the task sleeps before looking at the deadlines again.
pub const MAX_SLEEP: Duration = Duration::from_secs(1);
/// The pause after a look that found nothing due after all.
const IDLE_AFTER_NOTHING_DUE: Duration = Duration::from_millis(50);

/// Wakes the expiry task: a deadline earlier than the one it sleeps for may exist.
/// Cheap to clone; ringing while the task is busy is remembered.
#[derive(Debug, Clone, Default)]
pub struct ExpiryAlarm {
    notify: Arc<Notify>,
}

impl ExpiryAlarm {
    pub fn new() -> ExpiryAlarm {
        ExpiryAlarm::default()
    }

    pub fn ring(&self) {
        self.notify.notify_one();
    }

    async fn rung(&self) {
        self.notify.notified().await;
    }
}

/// What the expiry task works with.
#[derive(Debug)]
pub(crate) struct ExpiryTask<S> {
    pub store: S,
    pub clock: Arc<dyn Clock>,
    pub waiters: Arc<Waiters>,
    pub events: EventBus,
    pub alarm: ExpiryAlarm,
    pub shutdown: Shutdown,
}

impl<S: Store> ExpiryTask<S> {
    /// Runs until shutdown.
    pub(crate) async fn run(mut self) {
        while !self.shutdown.is_shutdown() {
            let wait = self.time_to_next_deadline().await;
            if !wait.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = self.alarm.rung() => {}
                    () = self.shutdown.recv() => return,
                }
                continue;
            }
            self.expire_due().await;
        }
    }

    /// Zero when a deadline has passed; otherwise how long to sleep (at most
    /// [`MAX_SLEEP`]). A store error is logged and retried after [`MAX_SLEEP`].
    async fn time_to_next_deadline(&self) -> Duration {
        match self.store.next_expiry().await {
            Ok(Some(deadline)) => (deadline - self.clock.now())
                .to_std()
                .map_or(Duration::ZERO, |left| left.min(MAX_SLEEP)),
            Ok(None) => MAX_SLEEP,
            Err(error) => {
                tracing::warn!(%error, "cannot read the next deadline; retrying");
                MAX_SLEEP
            }
        }
    }

    async fn expire_due(&self) {
        match self.store.expire_due().await {
            Ok(changed) if changed.is_empty() => {
                // The deadline seen has gone (answered meanwhile): do not spin on it.
                tokio::time::sleep(IDLE_AFTER_NOTHING_DUE).await;
            }
            Ok(changed) => {
                for authorization in &changed {
                    self.waiters.notify(&authorization.id);
                    let kind = if authorization.status == AuthorizationStatus::Expired {
                        log_authorization("expired", authorization);
                        EventKind::Expired
                    } else {
                        log_authorization("hold lapsed", authorization);
                        EventKind::Void
                    };
                    self.events
                        .publish(kind, &AuthorizationDetail::from(authorization));
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot expire due deadlines; retrying");
                // Do not spin on a failing store.
                tokio::time::sleep(MAX_SLEEP).await;
            }
        }
    }
}
