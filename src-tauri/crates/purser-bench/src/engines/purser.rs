//! Purser's engine as the benchmark runs it: the parsed policy, each request with a
//! ledger view answering the spend the case carries (shared scope: the month; agent
//! scope: the day), and `now`.

use purser_core::engine::decide;
use purser_core::policy::parse_policy;
use purser_core::{
    AgentName, Amount, BudgetScope, Committed, Currency, DecisionStatus, LedgerView, Policy,
    ReasonEffect, StandingGrant, Timestamp,
};

use super::spec::{Case, Spec};
use super::{Explained, Status};

/// What the store's in-transaction view would answer for one case.
#[derive(Debug, Clone, Copy)]
struct CaseLedger {
    day: Committed,
    month: Committed,
}

impl LedgerView for CaseLedger {
    fn kill_switch_engaged(&self) -> bool {
        false
    }

    fn agent_frozen(&self, _agent: &AgentName) -> bool {
        false
    }

    fn committed(
        &self,
        scope: BudgetScope<'_>,
        _currency: &Currency,
        _since: Option<Timestamp>,
    ) -> Committed {
        // The spec's only shared limits are monthly and its only profile budgets daily.
        match scope {
            BudgetScope::Shared => self.month,
            BudgetScope::Agent(_) => self.day,
            BudgetScope::Session(_, _) => Committed::default(),
        }
    }

    fn approvals_since(&self, _agent: &AgentName, _since: Timestamp) -> u32 {
        0
    }

    fn standing_grants(&self, _agent: &AgentName) -> &[StandingGrant] {
        &[]
    }
}

#[derive(Debug)]
pub struct PurserEngine {
    policy: Policy,
    ledgers: Vec<CaseLedger>,
}

impl PurserEngine {
    pub fn new(spec: &Spec, cases: &[Case]) -> anyhow::Result<PurserEngine> {
        let text = spec.to_purser_toml();
        let policy = parse_policy("engines.toml", &text).map_err(|errors| {
            anyhow::anyhow!("the benchmark policy does not parse:\n{errors}\n{text}")
        })?;
        let spent = |micros: i64| Committed {
            spent: Amount::from_micros(micros).unwrap_or(Amount::ZERO),
            held: Amount::ZERO,
        };
        let ledgers = cases
            .iter()
            .map(|case| CaseLedger {
                day: spent(case.spent_day),
                month: spent(case.spent_month),
            })
            .collect();
        Ok(PurserEngine { policy, ledgers })
    }

    /// The timed call: one decision.
    #[inline]
    pub fn status(&self, cases: &[Case], index: usize) -> Status {
        let (Some(case), Some(ledger)) = (cases.get(index), self.ledgers.get(index)) else {
            return Status::Denied;
        };
        match decide(&self.policy, &case.request, ledger, case.now).status {
            DecisionStatus::Approved => Status::Approved,
            DecisionStatus::Pending => Status::Pending,
            DecisionStatus::Denied => Status::Denied,
        }
    }

    pub fn explain(&self, cases: &[Case], index: usize) -> Explained {
        let (Some(case), Some(ledger)) = (cases.get(index), self.ledgers.get(index)) else {
            return Explained::missing();
        };
        let decision = decide(&self.policy, &case.request, ledger, case.now);
        let (status, effect) = match decision.status {
            DecisionStatus::Approved => (Status::Approved, None),
            DecisionStatus::Pending => (Status::Pending, Some(ReasonEffect::Ask)),
            DecisionStatus::Denied => (Status::Denied, Some(ReasonEffect::Deny)),
        };
        let codes = decision
            .reasons
            .iter()
            .filter(|reason| Some(reason.code.effect()) == effect)
            .map(|reason| reason.code.as_str().to_owned())
            .collect();
        Explained { status, codes }
    }
}
