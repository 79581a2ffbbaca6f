//! What `GET /v1/budget` shows an agent: one [`BudgetLine`] per limit that applies to it
//! (the shared ones, then its profile's), with what its current window has spent, held
//! and has left. Read-only; the same scopes and window starts as the budget rule, so the
//! agent sees exactly what the engine will judge.

use serde::{Serialize, Serializer};

use super::limits::{self, Owner};
use super::local_time::LocalClock;
use crate::policy::{OnExceed, Policy};
use crate::{AgentName, Amount, BudgetScope, Currency, LedgerView, SessionId, Timestamp, Window};

/// Whose spending a [`BudgetLine`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetLineScope {
    /// All agents together (the policy's shared limits).
    Shared,
    /// This agent (its profile's limits).
    Agent,
    /// This agent's session (`session` windows).
    Session,
}

impl BudgetLineScope {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetLineScope::Shared => "shared",
            BudgetLineScope::Agent => "agent",
            BudgetLineScope::Session => "session",
        }
    }
}

/// One limit as it stands now. For a `transaction` window nothing accumulates: `spent`
/// and `held` are zero and `remaining` is the most one request may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetLine {
    pub scope: BudgetLineScope,
    pub currency: Currency,
    pub window: Window,
    pub limit: Amount,
    #[serde(serialize_with = "on_exceed_str")]
    pub on_exceed: OnExceed,
    pub spent: Amount,
    pub held: Amount,
    /// `limit - spent - held`, never below zero.
    pub remaining: Amount,
    /// Start of the current window; `None` for total, session and transaction.
    pub window_start: Option<Timestamp>,
}

/// What /v1/budget shows: one line per limit that applies to this agent (shared + its profile's), with
/// scope ("shared"|"agent"|"session"), currency, window, limit, spent, held, remaining (saturating), window start (None for total/session/transaction).
pub fn budget_lines<L: LedgerView + ?Sized>(
    policy: &Policy,
    agent: &AgentName,
    session: Option<&SessionId>,
    ledger: &L,
    now: Timestamp,
) -> Vec<BudgetLine> {
    let mut clock = LocalClock::new(now, policy.timezone);
    limits::applicable(
        policy,
        policy.profile_for(agent, ledger.assigned_profile(agent)),
    )
    .map(|(owner, limit)| {
        let scope = limits::scope_for(owner, limit.window, agent, session);
        let window_start = clock.since(limit.window);
        let (spent, held) = if limit.window == Window::Transaction {
            (Amount::ZERO, Amount::ZERO)
        } else {
            let committed = ledger.committed(scope, &limit.currency, window_start);
            (committed.spent, committed.held)
        };
        let committed = spent.checked_add(held).unwrap_or(Amount::MAX);
        BudgetLine {
            scope: line_scope(owner, scope),
            currency: limit.currency.clone(),
            window: limit.window,
            limit: limit.max,
            on_exceed: limit.on_exceed,
            spent,
            held,
            remaining: limit.max.saturating_sub(committed),
            window_start,
        }
    })
    .collect()
}

fn line_scope(owner: Owner<'_>, scope: BudgetScope<'_>) -> BudgetLineScope {
    match (scope, owner) {
        (BudgetScope::Session(_, _), _) => BudgetLineScope::Session,
        (_, Owner::Shared) => BudgetLineScope::Shared,
        (_, Owner::Profile(_)) => BudgetLineScope::Agent,
    }
}

fn on_exceed_str<S: Serializer>(on_exceed: &OnExceed, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(match on_exceed {
        OnExceed::Deny => "deny",
        OnExceed::Ask => "ask",
    })
}
