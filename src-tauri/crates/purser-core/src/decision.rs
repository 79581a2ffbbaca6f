//! [`Decision`] and [`Reason`]: what the engine answers, and why.
//!
//! A decision carries every reason that spoke, deny reasons first, then ask reasons,
//! then the approving one; the first is the headline shown to agents and principals.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// The engine's verdict on a new request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionStatus {
    Approved,
    Denied,
    /// Waits for the principal until the approval expires.
    Pending,
}

/// Where an authorization is in its life (the `status` of agent-api.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationStatus {
    Approved,
    Denied,
    Pending,
    /// The principal did not answer within `approval_timeout` (a denial).
    Expired,
    /// Withdrawn by the kill switch while pending (a denial).
    Cancelled,
    /// A manual hold that was captured (spent).
    Captured,
    /// A hold that was released, or a pending request the agent withdrew.
    Voided,
}

impl AuthorizationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizationStatus::Approved => "approved",
            AuthorizationStatus::Denied => "denied",
            AuthorizationStatus::Pending => "pending",
            AuthorizationStatus::Expired => "expired",
            AuthorizationStatus::Cancelled => "cancelled",
            AuthorizationStatus::Captured => "captured",
            AuthorizationStatus::Voided => "voided",
        }
    }
}

impl From<DecisionStatus> for AuthorizationStatus {
    fn from(status: DecisionStatus) -> AuthorizationStatus {
        match status {
            DecisionStatus::Approved => AuthorizationStatus::Approved,
            DecisionStatus::Denied => AuthorizationStatus::Denied,
            DecisionStatus::Pending => AuthorizationStatus::Pending,
        }
    }
}

/// Every reason code of the contract, grouped by what it does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    // Deny.
    KillSwitchEngaged,
    AgentFrozen,
    OutsideSchedule,
    CurrencyNotAllowed,
    RailNotAllowed,
    CategoryNotAllowed,
    MerchantBlocked,
    OverTransactionLimit,
    VelocityExceeded,
    OverBudget,
    DeniedByPrincipal,
    ApprovalExpired,
    // Ask (→ pending).
    OverApprovalThreshold,
    MerchantNotListed,
    OverBudgetNeedsApproval,
    // Approve.
    WithinPolicy,
    ApprovedByPrincipal,
    StandingGrant,
}

/// What a reason does to the request it speaks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReasonEffect {
    Deny,
    Ask,
    Approve,
}

impl ReasonCode {
    pub fn effect(self) -> ReasonEffect {
        use ReasonCode::*;
        match self {
            KillSwitchEngaged | AgentFrozen | OutsideSchedule | CurrencyNotAllowed
            | RailNotAllowed | CategoryNotAllowed | MerchantBlocked | OverTransactionLimit
            | VelocityExceeded | OverBudget | DeniedByPrincipal | ApprovalExpired => {
                ReasonEffect::Deny
            }
            OverApprovalThreshold | MerchantNotListed | OverBudgetNeedsApproval => {
                ReasonEffect::Ask
            }
            WithinPolicy | ApprovedByPrincipal | StandingGrant => ReasonEffect::Approve,
        }
    }

    pub fn as_str(self) -> &'static str {
        use ReasonCode::*;
        match self {
            KillSwitchEngaged => "kill_switch_engaged",
            AgentFrozen => "agent_frozen",
            OutsideSchedule => "outside_schedule",
            CurrencyNotAllowed => "currency_not_allowed",
            RailNotAllowed => "rail_not_allowed",
            CategoryNotAllowed => "category_not_allowed",
            MerchantBlocked => "merchant_blocked",
            OverTransactionLimit => "over_transaction_limit",
            VelocityExceeded => "velocity_exceeded",
            OverBudget => "over_budget",
            DeniedByPrincipal => "denied_by_principal",
            ApprovalExpired => "approval_expired",
            OverApprovalThreshold => "over_approval_threshold",
            MerchantNotListed => "merchant_not_listed",
            OverBudgetNeedsApproval => "over_budget_needs_approval",
            WithinPolicy => "within_policy",
            ApprovedByPrincipal => "approved_by_principal",
            StandingGrant => "standing_grant",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule that spoke, with a message a principal understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub message: String,
}

/// The engine's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub status: DecisionStatus,
    /// Never empty: deny reasons first, then ask reasons, then the approving reason.
    pub reasons: Vec<Reason>,
    /// The standing grant that approved it, if one did.
    pub grant_id: Option<String>,
    /// Pending: when the approval lapses. Approved with manual capture: when the hold
    /// lapses. Otherwise `None`.
    pub expires_at: Option<Timestamp>,
}

impl Decision {
    /// The headline reason (the first one).
    pub fn reason(&self) -> &Reason {
        // INVARIANT: the engine never builds a decision without a reason.
        &self.reasons[0]
    }
}
