//! [`EventBus`]: every happening the principal may want to see at once (a decision, a
//! request waiting for them, an approval, an expiry, the kill switch, a policy or agent
//! change, a capture, a void, a usage), as named JSON events for `GET /admin/events`
//! and the desktop console.
//!
//! A bounded `broadcast` channel: publishing never waits for anyone, and a subscriber
//! that falls more than [`EVENT_CAPACITY`] events behind loses the oldest ones and is
//! told so with one `lagged` event (`{"missed": N}`), then goes on with what is left.
//! Events are serialized once, when published; a subscriber clones only a pointer.
//!
//! What this module must not do: carry tokens, or decide anything. Events are
//! notifications for the principal; the store stays the record.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast;

/// Events kept for slow subscribers before the oldest are dropped.
pub const EVENT_CAPACITY: usize = 1024;

/// The kinds of events (docs/admin-api.md), plus `lagged` for a subscriber that fell
/// behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A new request decided by policy (approved or denied).
    Decision,
    /// A new request waits for the principal.
    Pending,
    /// The principal approved or denied a pending request (the answer may be denied by
    /// the re-check at decision time).
    ApprovalDecided,
    /// A pending request nobody answered in time.
    Expired,
    KillSwitch,
    PolicyApplied,
    AgentChanged,
    Capture,
    /// A hold released or a pending request withdrawn by its agent, or a hold that
    /// lapsed uncaptured.
    Void,
    Usage,
    /// This subscriber missed events.
    Lagged,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Decision => "decision",
            EventKind::Pending => "pending",
            EventKind::ApprovalDecided => "approval_decided",
            EventKind::Expired => "expired",
            EventKind::KillSwitch => "kill_switch",
            EventKind::PolicyApplied => "policy_applied",
            EventKind::AgentChanged => "agent_changed",
            EventKind::Capture => "capture",
            EventKind::Void => "void",
            EventKind::Usage => "usage",
            EventKind::Lagged => "lagged",
        }
    }
}

/// One happening: its kind and its JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub data: Arc<str>,
}

impl Event {
    /// The data as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or(serde_json::Value::Null)
    }
}

/// Where events are published; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

/// One subscriber's view of the bus, from the moment it subscribed.
#[derive(Debug)]
pub struct Subscription {
    receiver: broadcast::Receiver<Event>,
}

impl EventBus {
    pub fn new(capacity: usize) -> EventBus {
        let (sender, _) = broadcast::channel(capacity.max(1));
        EventBus { sender }
    }

    /// Publishes `data` as an event of `kind`. Never waits; with nobody subscribed the
    /// event is simply dropped.
    pub fn publish<T: Serialize + ?Sized>(&self, kind: EventKind, data: &T) {
        match serde_json::to_string(data) {
            Ok(text) => {
                // An error only means nobody is subscribed right now.
                let _ = self.sender.send(Event {
                    kind,
                    data: Arc::from(text),
                });
            }
            Err(error) => {
                tracing::error!(%error, kind = kind.as_str(), "cannot serialize an event; dropped");
            }
        }
    }

    /// Whether anyone listens now (a console, a notifier, an event stream).
    pub fn has_subscribers(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.sender.subscribe(),
        }
    }

    /// Subscribers right now.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }
}

impl Default for EventBus {
    fn default() -> EventBus {
        EventBus::new(EVENT_CAPACITY)
    }
}

impl Subscription {
    /// The next event; `None` once the bus is gone. A subscriber that fell behind first
    /// gets one `lagged` event saying how many it missed.
    pub async fn next(&mut self) -> Option<Event> {
        match self.receiver.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Event {
                kind: EventKind::Lagged,
                data: Arc::from(json!({ "missed": missed }).to_string()),
            }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_see_events_published_after_they_subscribed() {
        let bus = EventBus::new(8);
        bus.publish(EventKind::Decision, &json!({"id": "before"}));
        let mut subscription = bus.subscribe();
        bus.publish(EventKind::Pending, &json!({"id": "auth_1"}));
        let event = subscription.next().await.unwrap();
        assert_eq!(event.kind, EventKind::Pending);
        assert_eq!(event.json(), json!({"id": "auth_1"}));
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_what_it_missed_and_blocks_nobody() {
        let bus = EventBus::new(2);
        let mut slow = bus.subscribe();
        for n in 0..5 {
            bus.publish(EventKind::Usage, &json!({ "n": n }));
        }
        let lagged = slow.next().await.unwrap();
        assert_eq!(lagged.kind, EventKind::Lagged);
        assert_eq!(lagged.json(), json!({"missed": 3}));
        assert_eq!(slow.next().await.unwrap().json(), json!({"n": 3}));
        assert_eq!(slow.next().await.unwrap().json(), json!({"n": 4}));
    }

    #[tokio::test]
    async fn the_stream_ends_when_the_bus_is_gone() {
        let bus = EventBus::new(2);
        let mut subscription = bus.subscribe();
        drop(bus);
        assert!(subscription.next().await.is_none());
    }

    #[test]
    fn kinds_have_the_documented_names() {
        for kind in [
            EventKind::Decision,
            EventKind::Pending,
            EventKind::ApprovalDecided,
            EventKind::Expired,
            EventKind::KillSwitch,
            EventKind::PolicyApplied,
            EventKind::AgentChanged,
            EventKind::Capture,
            EventKind::Void,
            EventKind::Usage,
            EventKind::Lagged,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
