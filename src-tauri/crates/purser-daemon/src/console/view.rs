//! The JSON the principal sees (docs/admin-api.md): authorizations with everything the
//! agent said, agents, the kill switch, policy versions, audit rows and the daemon's
//! status. The admin API answers with these and the event stream carries them.
//!
//! Money is a decimal string and times RFC 3339 UTC, as on the agent API. Nothing here
//! ever holds a token.

use purser_core::{AgentName, Amount, Currency, ProfileName};
use purser_store::{AuditEntry, KillSwitchState};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::authorizer::{AgentRecord, AgentStatus, Authorization};
use crate::http::view::{AuthorizationView, rfc3339};

/// An authorization as the principal sees it: the agent API's decision shape plus what
/// the agent said (`purpose`, `context`) and which policy version decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationDetail {
    #[serde(flatten)]
    pub decision: AuthorizationView,
    pub purpose: String,
    pub context: Option<Map<String, Value>>,
    pub policy_version: u32,
    pub grant_id: Option<String>,
}

impl From<&Authorization> for AuthorizationDetail {
    fn from(authorization: &Authorization) -> AuthorizationDetail {
        AuthorizationDetail {
            decision: AuthorizationView::from(authorization),
            purpose: authorization.purpose.clone(),
            context: authorization.context.clone(),
            policy_version: authorization.policy_version,
            grant_id: authorization.grant_id.clone(),
        }
    }
}

/// Money of one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmountView {
    pub currency: Currency,
    pub amount: Amount,
}

/// One agent in the principal's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentView {
    pub name: AgentName,
    /// The profile given when the agent was created, else the one the running policy
    /// assigns (its `[agents]` entry, else `default`); `null` when neither exists.
    pub profile: Option<ProfileName>,
    pub status: AgentStatus,
    pub created_at: String,
    /// When it last asked to spend or meter usage; `null` if never.
    pub last_seen_at: Option<String>,
    /// Spent since the start of today in the policy's zone, per currency.
    pub spent_today: Vec<AmountView>,
}

impl AgentView {
    /// The record alone, for answers about one change (no activity looked up).
    pub fn of(record: &AgentRecord, profile: Option<ProfileName>) -> AgentView {
        AgentView {
            name: record.name.clone(),
            profile,
            status: record.status,
            created_at: rfc3339(record.created_at),
            last_seen_at: None,
            spent_today: Vec::new(),
        }
    }
}

/// A newly created agent: its token, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAgentView {
    pub name: AgentName,
    pub profile: Option<ProfileName>,
    pub token: String,
}

/// The emergency stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KillSwitchView {
    pub engaged: bool,
    pub reason: Option<String>,
    pub changed_at: Option<String>,
}

impl From<&KillSwitchState> for KillSwitchView {
    fn from(state: &KillSwitchState) -> KillSwitchView {
        KillSwitchView {
            engaged: state.engaged,
            reason: state.reason.clone(),
            changed_at: state.changed_at.map(rfc3339),
        }
    }
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: String,
    pub kind: &'static str,
    pub agent: Option<String>,
    pub authorization_id: Option<String>,
    pub body: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(entry: AuditEntry) -> AuditEntryView {
        AuditEntryView {
            seq: entry.seq,
            at: rfc3339(entry.at),
            kind: entry.kind.as_str(),
            agent: entry.agent,
            authorization_id: entry.authorization_id,
            body: entry.body,
            prev_hash: entry.prev_hash,
            hash: entry.hash,
        }
    }
}
