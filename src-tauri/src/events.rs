//! Forwards every daemon event to the UI as the Tauri event `purser://event` with the
//! payload `{event: KIND, data: JSON}` (the admin API's event stream, one Tauri event per
//! `event:`/`data:` pair), and refreshes the tray after those that change what it shows.
//!
//! One subscription per daemon, taken as soon as it runs (before the window loads). A UI that
//! falls behind gets the bus's `lagged` event (`{missed: N}`) and should reload its
//! lists. What this module must not do: filter, reorder or interpret events for the UI.

use purser_daemon::{Event, EventKind};
use serde::Serialize;
use tauri::{AppHandle, Emitter};

use crate::startup::EmbeddedDaemon;
use crate::tray;

/// The Tauri event name (`ui/src/lib/events.ts` `EVENT_NAME`).
pub const EVENT_NAME: &str = "purser://event";

/// One daemon event as the UI receives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPayload {
    pub event: &'static str,
    pub data: serde_json::Value,
}

impl From<&Event> for EventPayload {
    fn from(event: &Event) -> EventPayload {
        EventPayload {
            event: event.kind.as_str(),
            data: event.json(),
        }
    }
}

/// Whether the tray's count or kill switch picture may have changed.
pub fn changes_tray(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Pending
            | EventKind::ApprovalDecided
            | EventKind::Expired
            | EventKind::Void
            | EventKind::KillSwitch
            | EventKind::Lagged
    )
}

/// Forwards `daemon`'s events to the window until the daemon is gone.
pub fn forward(app: &AppHandle, daemon: &EmbeddedDaemon) {
    let mut subscription = daemon.console().events().subscribe();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(event) = subscription.next().await {
            if let Err(error) = app.emit(EVENT_NAME, EventPayload::from(&event)) {
                tracing::warn!(%error, kind = event.kind.as_str(), "cannot forward an event to the window");
            }
            if changes_tray(event.kind) {
                tray::refresh(&app).await;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn the_payload_names_the_kind_and_carries_the_json() {
        let event = Event {
            kind: EventKind::ApprovalDecided,
            data: Arc::from(r#"{"id":"auth_1","status":"approved","amount":"42.00"}"#),
        };
        assert_eq!(
            serde_json::to_value(EventPayload::from(&event)).unwrap(),
            json!({
                "event": "approval_decided",
                "data": {"id": "auth_1", "status": "approved", "amount": "42.00"}
            })
        );
    }

    #[test]
    fn decisions_by_policy_leave_the_tray_alone() {
        assert!(changes_tray(EventKind::Pending));
        assert!(changes_tray(EventKind::KillSwitch));
        assert!(!changes_tray(EventKind::Decision));
        assert!(!changes_tray(EventKind::Usage));
    }
}
