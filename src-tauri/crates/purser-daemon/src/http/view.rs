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
use utoipa::ToSchema;

use crate::authorizer::{Authorization, DecidedBy, UsageTotals};

/// A decision, for a new request, a replay, a read or a capture/void.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Authorization)]
pub struct AuthorizationView {
    /// Purser's id of this authorization (for get, capture, void).
    #[schema(example = "auth_01M8BVMC4GGE4YHATK2B124180")]
    pub id: String,
    /// The agent's idempotency key.
    #[schema(value_type = String, example = "order-8812-attempt")]
    pub request_id: RequestId,
    /// The agent that asked.
    #[schema(value_type = String, example = "research-bot")]
    pub agent: AgentName,
    #[schema(value_type = crate::http::openapi::AuthorizationStatusSchema)]
    pub status: AuthorizationStatus,
    #[schema(value_type = crate::http::openapi::AmountSchema)]
    pub amount: Amount,
    #[schema(value_type = crate::http::openapi::CurrencySchema)]
    pub currency: Currency,
    #[schema(value_type = String, example = "api.example.com")]
    pub merchant: Merchant,
    /// The headline: the first of `reasons`.
    #[schema(value_type = Option<crate::http::openapi::ReasonSchema>, required = true)]
    pub reason: Option<Reason>,
    /// Every rule that spoke, deny reasons first.
    #[schema(value_type = Vec<crate::http::openapi::ReasonSchema>)]
    pub reasons: Vec<Reason>,
    /// `null` while pending.
    #[schema(value_type = Option<crate::http::openapi::DecidedBySchema>, required = true)]
    pub decided_by: Option<DecidedBy>,
    /// Pending: when the approval lapses (then expired, i.e. denied). Manual hold: when
    /// the hold lapses.
    #[schema(value_type = Option<crate::http::openapi::TimestampSchema>, required = true)]
    pub expires_at: Option<String>,
    #[schema(value_type = crate::http::openapi::TimestampSchema)]
    pub created_at: String,
    #[schema(value_type = Option<crate::http::openapi::TimestampSchema>, required = true)]
    pub decided_at: Option<String>,
    /// What a manual hold captured; `null` otherwise.
    #[schema(value_type = Option<crate::http::openapi::AmountSchema>, required = true)]
    pub captured_amount: Option<Amount>,
    #[schema(value_type = Option<String>, required = true)]
    pub category: Option<Slug>,
    #[schema(value_type = Option<String>, required = true)]
    pub rail: Option<Slug>,
    #[schema(value_type = crate::http::openapi::CaptureModeSchema)]
    pub capture: CaptureMode,
    #[schema(value_type = Option<String>, required = true)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = UsageReceipt)]
pub struct UsageView {
    #[schema(example = "auth_01M8BVMC4GGE4YHATK2B124180")]
    pub id: String,
    #[schema(value_type = String, example = "search-1")]
    pub request_id: RequestId,
    /// `approved` or `denied`; never pending.
    #[schema(value_type = crate::http::openapi::AuthorizationStatusSchema)]
    pub status: AuthorizationStatus,
    #[schema(value_type = Option<crate::http::openapi::ReasonSchema>, required = true)]
    pub reason: Option<Reason>,
    #[schema(value_type = Vec<crate::http::openapi::ReasonSchema>)]
    pub reasons: Vec<Reason>,
    pub metering: MeteringView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Metering)]
pub struct MeteringView {
    #[schema(example = "web_search")]
    pub action: String,
    #[schema(value_type = crate::http::openapi::AmountSchema)]
    pub units_consumed: Amount,
    #[schema(value_type = crate::http::openapi::AmountSchema)]
    pub unit_cost: Amount,
    /// `unit_cost × units`, exactly.
    #[schema(value_type = crate::http::openapi::AmountSchema)]
    pub cost: Amount,
    #[schema(value_type = crate::http::openapi::CurrencySchema)]
    pub currency: Currency,
    #[schema(value_type = Option<String>, required = true)]
    pub session_id: Option<SessionId>,
    /// What this session has metered in this currency so far.
    #[schema(value_type = crate::http::openapi::AmountSchema)]
    pub session_total: Amount,
    /// `null` when no budget limits this currency.
    #[schema(value_type = Option<crate::http::openapi::AmountSchema>, required = true)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Budget)]
pub struct BudgetView {
    #[schema(value_type = String, example = "research-bot")]
    pub agent: AgentName,
    #[schema(value_type = Option<String>, required = true)]
    pub session_id: Option<SessionId>,
    /// One line per limit that applies to this agent: shared ones, then its profile's.
    pub budgets: Vec<BudgetLineView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = BudgetLine)]
pub struct BudgetLineView {
    #[schema(value_type = crate::http::openapi::BudgetScopeSchema)]
    pub scope: BudgetLineScope,
    #[schema(value_type = crate::http::openapi::WindowSchema)]
    pub window: Window,
    #[schema(value_type = crate::http::openapi::CurrencySchema)]
    pub currency: Currency,
    #[schema(value_type = crate::http::openapi::AmountSchema)]
    pub limit: Amount,
    #[schema(value_type = crate::http::openapi::AmountSchema)]
    pub spent: Amount,
    /// Held by approved manual-capture holds.
    #[schema(value_type = crate::http::openapi::AmountSchema)]
    pub held: Amount,
    #[schema(value_type = crate::http::openapi::AmountSchema)]
    pub remaining: Amount,
    #[schema(value_type = crate::http::openapi::OnExceedSchema)]
    pub on_exceed: &'static str,
    /// When the current calendar window began; `null` for transaction, session, total.
    #[schema(value_type = Option<crate::http::openapi::TimestampSchema>, required = true)]
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
