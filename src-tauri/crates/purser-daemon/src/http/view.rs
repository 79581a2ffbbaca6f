//! The JSON an agent receives for a decision, a usage receipt and a budget: the shapes of
//! agent-api.md §1, built from the store's records. Money is a decimal string, time RFC
//! 3339 in UTC with milliseconds, absent times `null`.

use chrono::SecondsFormat;
use purser_core::policy::OnExceed;
use purser_core::{
    AgentName, Amount, AuthorizationStatus, BudgetLine, BudgetLineScope, CaptureMode, Currency,
    Merchant, Reason, RequestId, RequestKind, SessionId, Slug, Timestamp, Window,
};
use serde::Serialize;

use crate::authorizer::{Authorization, DecidedBy, UsageTotals};

/// A decision, for a new request, a replay, a read or a capture/void.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationView {
    pub id: String,
    pub request_id: RequestId,
    pub agent: AgentName,
    pub status: AuthorizationStatus,
    pub amount: Amount,
    pub currency: Currency,
    pub merchant: Merchant,
    /// The headline: the first of `reasons`.
    pub reason: Option<Reason>,
    pub reasons: Vec<Reason>,
    pub decided_by: Option<DecidedBy>,
    pub expires_at: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
    pub captured_amount: Option<Amount>,
    pub category: Option<Slug>,
    pub rail: Option<Slug>,
    pub capture: CaptureMode,
    pub session_id: Option<SessionId>,
}

impl From<&Authorization> for AuthorizationView {
    fn from(authorization: &Authorization) -> AuthorizationView {
        AuthorizationView {
            id: authorization.id.clone(),
            request_id: authorization.request_id.clone(),
            agent: authorization.agent.clone(),
            status: authorization.status,
            amount: authorization.amount,
            currency: authorization.currency.clone(),
            merchant: authorization.merchant.clone(),
            reason: authorization.reasons.first().cloned(),
            reasons: authorization.reasons.clone(),
            decided_by: authorization.decided_by,
            expires_at: authorization.expires_at.map(rfc3339),
            created_at: rfc3339(authorization.created_at),
            decided_at: authorization.decided_at.map(rfc3339),
            captured_amount: authorization.captured_amount,
            category: authorization.category.clone(),
            rail: authorization.rail.clone(),
            capture: authorization.capture,
            session_id: authorization.session_id.clone(),
        }
    }
}

/// `POST /v1/usage`'s answer: the contract's `status` and `metering`, plus the record's
/// id and reasons (why a usage was denied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageView {
    pub id: String,
    pub request_id: RequestId,
    pub status: AuthorizationStatus,
    pub reason: Option<Reason>,
    pub reasons: Vec<Reason>,
    pub metering: MeteringView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeteringView {
    pub action: String,
    pub units_consumed: Amount,
    pub unit_cost: Amount,
    pub cost: Amount,
    pub currency: Currency,
    pub session_id: Option<SessionId>,
    pub session_total: Amount,
    /// `null` when no budget limits this currency.
    pub budget_remaining: Option<Amount>,
}

impl UsageView {
    pub fn new(authorization: &Authorization, totals: &UsageTotals) -> UsageView {
        let (action, units, unit_cost) = match &authorization.kind {
            RequestKind::Usage {
                action,
                units,
                unit_cost,
            } => (action.to_string(), *units, *unit_cost),
            // Only a replayed request_id that named a payment lands here; it is shown
            // as one unit of its amount.
            RequestKind::Payment => (
                authorization.merchant.to_string(),
                one_unit(),
                authorization.amount,
            ),
        };
        UsageView {
            id: authorization.id.clone(),
            request_id: authorization.request_id.clone(),
            status: authorization.status,
            reason: authorization.reasons.first().cloned(),
            reasons: authorization.reasons.clone(),
            metering: MeteringView {
                action,
                units_consumed: units,
                unit_cost,
                cost: authorization.amount,
                currency: authorization.currency.clone(),
                session_id: authorization.session_id.clone(),
                session_total: totals.session_total,
                budget_remaining: totals.budget_remaining,
            },
        }
    }
}

fn one_unit() -> Amount {
    Amount::from_micros(purser_core::money::MICROS_PER_UNIT).unwrap_or(Amount::ZERO)
}

/// `GET /v1/budget`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetView {
    pub agent: AgentName,
    pub session_id: Option<SessionId>,
    pub budgets: Vec<BudgetLineView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetLineView {
    pub scope: BudgetLineScope,
    pub window: Window,
    pub currency: Currency,
    pub limit: Amount,
    pub spent: Amount,
    pub held: Amount,
    pub remaining: Amount,
    pub on_exceed: &'static str,
    /// When the current calendar window began; `null` for transaction, session, total.
    pub window_start: Option<String>,
}

impl From<&BudgetLine> for BudgetLineView {
    fn from(line: &BudgetLine) -> BudgetLineView {
        BudgetLineView {
            scope: line.scope,
            window: line.window,
            currency: line.currency.clone(),
            limit: line.limit,
            spent: line.spent,
            held: line.held,
            remaining: line.remaining,
            on_exceed: match line.on_exceed {
                OnExceed::Deny => "deny",
                OnExceed::Ask => "ask",
            },
            window_start: line.window_start.map(rfc3339),
        }
    }
}

/// RFC 3339 in UTC with millisecond precision: `2026-11-26T10:39:11.123Z`.
pub fn rfc3339(at: Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
