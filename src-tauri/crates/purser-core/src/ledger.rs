//! [`LedgerView`]: what the engine may know about the world besides the policy and the
//! request: money already committed per budget scope, recent approvals (velocity),
//! standing grants, the kill switch and frozen agents.
//!
//! The store implements it over its authoritative in-transaction state; tests implement
//! it over plain vectors. The engine only reads it.

use serde::{Deserialize, Serialize};

use crate::{AgentName, Amount, Currency, Merchant, ProfileName, SessionId, Timestamp};

/// Whose spending a budget window counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BudgetScope<'a> {
    /// Every agent together (the policy's top-level `[[limit]]`s).
    Shared,
    /// One agent (its profile's limits).
    Agent(&'a AgentName),
    /// One agent's session; requests without a `session_id` share one session per agent.
    Session(&'a AgentName, Option<&'a SessionId>),
}

/// Money that counts against budgets: spent (approved auto, captured, metered usage)
/// and held (approved manual, not yet captured, voided or lapsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Committed {
    pub spent: Amount,
    pub held: Amount,
}

impl Committed {
    /// `spent + held`, saturating at [`Amount::MAX`] (a budget can never exceed it).
    pub fn total(self) -> Amount {
        self.spent.checked_add(self.held).unwrap_or(Amount::MAX)
    }
}

/// A principal's standing approval: requests of `agent` at `merchant` in `currency`
/// up to `max_amount` each are approved without asking, while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingGrant {
    pub id: String,
    pub agent: AgentName,
    pub merchant: Merchant,
    pub currency: Currency,
    pub max_amount: Amount,
    pub scope: GrantScope,
}

/// How long a standing grant lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum GrantScope {
    /// Until this instant (`approve --for 15m`).
    Until(Timestamp),
    /// For requests carrying this session id (`approve --session`).
    Session(Option<SessionId>),
    /// Until revoked (`approve --always`).
    Always,
}

/// The engine's read-only window on state.
pub trait LedgerView {
    fn kill_switch_engaged(&self) -> bool;
    fn agent_frozen(&self, agent: &AgentName) -> bool;
    /// Money of `currency` committed in `scope` at or after `since` (`None`: all time).
    fn committed(
        &self,
        scope: BudgetScope<'_>,
        currency: &Currency,
        since: Option<Timestamp>,
    ) -> Committed;
    /// Approved payment authorizations of `agent` at or after `since` (velocity).
    fn approvals_since(&self, agent: &AgentName, since: Timestamp) -> u32;
    /// The agent's standing grants that have not been revoked (expired ones may be
    /// included; the engine checks expiry against `now`).
    fn standing_grants(&self, agent: &AgentName) -> &[StandingGrant];
    /// Whether the agent is revoked (a revoked agent is also frozen; this only changes
    /// what the denial says).
    fn agent_revoked(&self, _agent: &AgentName) -> bool {
        false
    }
    /// The profile stored on the agent's record (`purser agent add --profile`), if any.
    /// The policy's `[agents]` table takes precedence over it.
    fn assigned_profile(&self, _agent: &AgentName) -> Option<&ProfileName> {
        None
    }
}
