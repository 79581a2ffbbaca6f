//! [`Waiters`]: wakes long-polling agents the moment their authorization changes.
//!
//! Whoever changes an authorization (the approval broker, the expiry task, the kill
//! switch, an agent's own void) calls [`Waiters::notify`] with its id after the change
//! is durable; every request parked on that id re-reads it from the store. A
//! notification carries no state, so a missed or spurious one costs at most a re-read.
//!
//! Bounded: an agent holds at most `max_per_agent` [`WaitSlot`]s at once, and entries
//! live only while someone waits. [`Waiters::release_all`] wakes everyone for shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use purser_core::AgentName;
use tokio::sync::watch;

/// The registry of parked requests, shared by the HTTP edge and whoever decides.
#[derive(Debug)]
pub struct Waiters {
    max_per_agent: usize,
    state: Mutex<Registry>,
    /// Flips to `true` once, on shutdown.
    closing: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct Registry {
    /// Authorization id → a counter bumped on every change.
    by_id: HashMap<String, watch::Sender<u64>>,
    slots_per_agent: HashMap<AgentName, usize>,
}

/// The agent already has as many parked requests as allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("agent {agent} already has {limit} requests waiting")]
pub struct TooManyWaiters {
    pub agent: AgentName,
    pub limit: usize,
}

/// The right to park one request of one agent; released on drop.
#[derive(Debug)]
pub struct WaitSlot {
    waiters: Arc<Waiters>,
    agent: AgentName,
}

/// A parked request watching one authorization.
#[derive(Debug)]
pub struct WaitTicket {
    slot: WaitSlot,
    id: String,
    changes: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
}

impl Waiters {
    pub fn new(max_per_agent: usize) -> Arc<Waiters> {
        Arc::new(Waiters {
            max_per_agent,
            state: Mutex::new(Registry::default()),
            closing: watch::Sender::new(false),
        })
    }

    /// Reserves a slot for `agent`, before anything is recorded, so that a refusal
    /// (429) leaves no trace.
    pub fn reserve(self: &Arc<Self>, agent: &AgentName) -> Result<WaitSlot, TooManyWaiters> {
        let mut state = self.lock();
        let count = state.slots_per_agent.entry(agent.clone()).or_insert(0);
        if *count >= self.max_per_agent {
            return Err(TooManyWaiters {
                agent: agent.clone(),
                limit: self.max_per_agent,
            });
        }
        *count += 1;
        Ok(WaitSlot {
            waiters: Arc::clone(self),
            agent: agent.clone(),
        })
    }

    /// Wakes every request parked on authorization `id`. Call after the change is durable.
    pub fn notify(&self, id: &str) {
        if let Some(sender) = self.lock().by_id.get(id) {
            sender.send_modify(|version| *version = version.wrapping_add(1));
        }
    }

    /// Wakes every parked request once, to re-read its authorization (changes may have
    /// been missed: team mode's listener reconnected).
    pub fn notify_all(&self) {
        for sender in self.lock().by_id.values() {
            sender.send_modify(|version| *version = version.wrapping_add(1));
        }
    }

    /// Wakes every parked request for good: they answer with what they have (shutdown).
    pub fn release_all(&self) {
        self.closing.send_replace(true);
    }

    /// Requests of `agent` parked right now.
    pub fn parked(&self, agent: &AgentName) -> usize {
        self.lock().slots_per_agent.get(agent).copied().unwrap_or(0)
    }

    /// Authorization ids with at least one parked request.
    pub fn watched_ids(&self) -> usize {
        self.lock().by_id.len()
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock cannot leave the maps inconsistent (each update
        // is a single insert/remove), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl WaitSlot {
    /// Starts watching authorization `id`. Changes notified from now on wake the ticket,
    /// so read the authorization *after* this to miss nothing.
    pub fn watch(self, id: &str) -> WaitTicket {
        let changes = {
            let mut state = self.waiters.lock();
            state
                .by_id
                .entry(id.to_owned())
                .or_insert_with(|| watch::Sender::new(0))
                .subscribe()
        };
        let closing = self.waiters.closing.subscribe();
        WaitTicket {
            id: id.to_owned(),
            changes,
            closing,
            slot: self,
        }
    }
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        let mut state = self.waiters.lock();
        if let Some(count) = state.slots_per_agent.get_mut(&self.agent) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.slots_per_agent.remove(&self.agent);
            }
        }
    }
}

impl WaitTicket {
    /// Resolves on the next change of the authorization, or at shutdown; never errs.
    pub async fn changed(&mut self) {
        let WaitTicket {
            changes, closing, ..
        } = self;
        let changed = async {
            if changes.changed().await.is_err() {
                // INVARIANT: the sender lives while any ticket for the id does.
                std::future::pending::<()>().await;
            }
        };
        let closed = async {
            // Ends at once when closing already; an error means the registry is gone.
            let _ = closing.wait_for(|closing| *closing).await;
        };
        tokio::select! {
            () = changed => {}
            () = closed => {}
        }
    }

    /// Has the daemon begun shutting down?
    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }
}

impl Drop for WaitTicket {
    fn drop(&mut self) {
        let mut state = self.slot.waiters.lock();
        // Our own receiver is still alive here, hence `<= 1`.
        if state
            .by_id
            .get(&self.id)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            state.by_id.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn agent(name: &str) -> AgentName {
        name.parse().unwrap()
    }

    #[test]
    fn slots_are_bounded_per_agent_and_released_on_drop() {
        let waiters = Waiters::new(2);
        let bot = agent("bot");
        let first = waiters.reserve(&bot).unwrap();
        let _second = waiters.reserve(&bot).unwrap();
        assert_eq!(waiters.reserve(&bot).unwrap_err().limit, 2);
        assert!(
            waiters.reserve(&agent("other")).is_ok(),
            "agents do not share a bound"
        );
        drop(first);
        assert!(waiters.reserve(&bot).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn notify_wakes_only_that_id_and_entries_are_cleaned_up() {
        let waiters = Waiters::new(8);
        let bot = agent("bot");
        let mut a = waiters.reserve(&bot).unwrap().watch("auth_a");
        let mut b = waiters.reserve(&bot).unwrap().watch("auth_b");
        waiters.notify("auth_a");
        tokio::time::timeout(Duration::from_millis(10), a.changed())
            .await
            .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_secs(1), b.changed())
                .await
                .is_err()
        );
        assert_eq!(waiters.watched_ids(), 2);
        drop(a);
        drop(b);
        assert_eq!(waiters.watched_ids(), 0);
        assert_eq!(waiters.parked(&bot), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_notification_before_waiting_is_not_lost() {
        let waiters = Waiters::new(8);
        let mut ticket = waiters.reserve(&agent("bot")).unwrap().watch("auth_a");
        waiters.notify("auth_a");
        tokio::time::timeout(Duration::from_millis(10), ticket.changed())
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn release_all_wakes_everyone_for_good() {
        let waiters = Waiters::new(8);
        let mut ticket = waiters.reserve(&agent("bot")).unwrap().watch("auth_a");
        waiters.release_all();
        tokio::time::timeout(Duration::from_millis(10), ticket.changed())
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_millis(10), ticket.changed())
            .await
            .unwrap();
        assert!(ticket.is_closing());
    }
}
