//! Team mode: what another daemon sharing the database did, told here as if it had
//! happened here. [`Console::relay`] takes the store's [`RemoteChange`]s (the audit rows
//! another daemon appended, in chain order) and, like the local controls, wakes the
//! agents long-polling on each authorization that changed, rings the expiry alarm for a
//! new deadline, and publishes the same events (`pending`, `decision`,
//! `approval_decided`, `kill_switch`…) the local path publishes, so this daemon's
//! console, notifications and event streams show every node's requests.
//!
//! Events carry the authorization as it stands when relayed (read from the shared
//! store), and a relayed `usage` event has no `metering` (the totals are the other
//! daemon's answer). A [`RemoteChange::Resync`] (the store lost its connection and may
//! have missed changes) wakes every parked agent to re-read and publishes `lagged`, on
//! which subscribers read the state again. Nothing here decides or records anything.

use purser_core::{AgentName, AuthorizationStatus};
use purser_store::{AuditEntry, AuditKind, RemoteChange, Store};
use serde_json::json;

use super::view::{AuthorizationDetail, KillSwitchView};
use super::{Console, KillSwitchEvent, PolicyAppliedEvent};
use crate::broker::log_authorization;
use crate::events::EventKind;

impl<S: Store + 'static> Console<S> {
    /// Tells this daemon's listeners what another daemon changed.
    pub async fn relay(&self, change: RemoteChange) {
        match change {
            RemoteChange::Resync => {
                self.shared.waiters.notify_all();
                self.events().publish(
                    EventKind::Lagged,
                    &json!({ "missed": null, "reason": "team database reconnected" }),
                );
            }
            RemoteChange::Appended(entries) => {
                // The kill switch's own row comes before the rows of what it cancelled:
                // those are told in its event (`cancelled_ids`), as locally.
                let kill = entries.iter().any(|entry| entry.kind == AuditKind::Kill);
                let cancelled_by_kill: Vec<&str> = entries
                    .iter()
                    .filter(|entry| kill && entry.kind == AuditKind::Cancel)
                    .filter_map(|entry| entry.authorization_id.as_deref())
                    .collect();
                for id in &cancelled_by_kill {
                    self.shared.waiters.notify(id);
                }
                for entry in &entries {
                    if kill && entry.kind == AuditKind::Cancel {
                        continue;
                    }
                    self.relay_entry(entry, &cancelled_by_kill).await;
                }
            }
        }
    }

    async fn relay_entry(&self, entry: &AuditEntry, cancelled_by_kill: &[&str]) {
        match entry.kind {
            AuditKind::Kill | AuditKind::Resume => {
                let Ok(state) = self.store().kill_switch().await else {
                    return;
                };
                let engaging = entry.kind == AuditKind::Kill;
                tracing::warn!(
                    engaged = state.engaged,
                    "kill switch changed by another daemon of the team"
                );
                self.events().publish(
                    EventKind::KillSwitch,
                    &KillSwitchEvent {
                        state: KillSwitchView::from(&state),
                        cancelled: engaging.then_some(cancelled_by_kill.len()),
                        cancelled_ids: engaging.then(|| cancelled_by_kill.to_vec()),
                    },
                );
            }
            AuditKind::PolicyChange => {
                let version = entry
                    .body
                    .get("version")
                    .and_then(serde_json::Value::as_u64);
                let applied_by = entry
                    .body
                    .get("applied_by")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("another daemon");
                if let Some(version) = version.and_then(|v| u32::try_from(v).ok()) {
                    self.events().publish(
                        EventKind::PolicyApplied,
                        &PolicyAppliedEvent {
                            version,
                            applied_by,
                        },
                    );
                }
            }
            AuditKind::AgentChange => {
                let action = entry
                    .body
                    .get("action")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("change");
                let Some(name) = entry.agent.as_deref() else {
                    return;
                };
                if let Ok(agents) = self.store().list_agents().await {
                    if let Some(record) = agents.iter().find(|a| a.name.as_str() == name) {
                        self.agent_changed(action, record).await;
                    }
                }
            }
            _ => self.relay_authorization(entry).await,
        }
    }

    /// An audit row about one authorization: wake, ring, publish.
    async fn relay_authorization(&self, entry: &AuditEntry) {
        let (Some(agent), Some(id)) = (
            entry
                .agent
                .as_deref()
                .and_then(|a| a.parse::<AgentName>().ok()),
            entry.authorization_id.as_deref(),
        ) else {
            return;
        };
        self.shared.waiters.notify(id);
        if !self.events().has_subscribers() {
            // Nobody to show it to: skip the read. (A new deadline is found by the
            // expiry task's next look, within a second.)
            return;
        }
        let authorization = match self.store().get_authorization(&agent, id).await {
            Ok(Some(authorization)) => authorization,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, id, "cannot read an authorization another daemon changed");
                return;
            }
        };
        if authorization.expires_at.is_some() {
            self.shared.alarm.ring();
        }
        let was_pending = entry.body.get("status").and_then(serde_json::Value::as_str)
            == Some(AuthorizationStatus::Pending.as_str());
        let kind = match entry.kind {
            AuditKind::Request if was_pending => EventKind::Pending,
            AuditKind::Request => EventKind::Decision,
            AuditKind::Usage => EventKind::Usage,
            AuditKind::Approval | AuditKind::Denial | AuditKind::Cancel => {
                EventKind::ApprovalDecided
            }
            AuditKind::Expiry => EventKind::Expired,
            AuditKind::Capture => EventKind::Capture,
            AuditKind::Void | AuditKind::Lapse => EventKind::Void,
            AuditKind::Kill
            | AuditKind::Resume
            | AuditKind::PolicyChange
            | AuditKind::AgentChange => return,
        };
        log_authorization("changed by another daemon", &authorization);
        self.events()
            .publish(kind, &AuthorizationDetail::from(&authorization));
    }
}
