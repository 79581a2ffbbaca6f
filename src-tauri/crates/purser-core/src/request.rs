//! [`AuthorizationRequest`]: one validated ask to spend, as the engine sees it.
//!
//! The daemon decodes agent JSON into this type (all validation happens in the field
//! types' parsers), so the engine never sees a malformed amount, currency or name.

use serde::{Deserialize, Serialize};

use crate::{AgentName, Amount, Currency, Merchant, RequestId, SessionId, Slug};

/// How an approval turns into spending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    /// Approval is spending (the default).
    #[default]
    Auto,
    /// Approval places a hold; the agent captures (≤ the held amount) or voids it, or it
    /// lapses after the policy's `hold_ttl`.
    Manual,
}

/// What is being asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RequestKind {
    /// A payment to a merchant (`POST /v1/authorizations`).
    Payment,
    /// A metered per-action cost (`POST /v1/usage`): checked against the same budgets,
    /// denied when it would exceed one, never pending, not counted by velocity and not
    /// subject to merchant, category, rail or approval-threshold rules.
    Usage {
        action: Slug,
        units: Amount,
        unit_cost: Amount,
    },
}

/// A validated request. `amount` is what would be spent (for usage: `units * unit_cost`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub agent: AgentName,
    pub request_id: RequestId,
    pub kind: RequestKind,
    pub amount: Amount,
    pub currency: Currency,
    /// For usage: the action's name.
    pub merchant: Merchant,
    pub category: Option<Slug>,
    pub rail: Option<Slug>,
    pub capture: CaptureMode,
    pub session_id: Option<SessionId>,
    /// Why the agent wants to spend, 1-1000 characters, shown to the principal.
    pub purpose: String,
    /// Free JSON object (≤ 16 KiB) kept in the audit trail; the engine ignores it.
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
}

impl AuthorizationRequest {
    pub fn is_usage(&self) -> bool {
        matches!(self.kind, RequestKind::Usage { .. })
    }
}
