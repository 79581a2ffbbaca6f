//! The amount rules: per-transaction caps (rule 5), budgets (rule 7) and the approval
//! threshold (rule 8), plus what they share: which limits apply to a request and whose
//! spending each one counts ([`BudgetScope`]).
//!
//! Only limits in the request's currency apply: Purser never converts. Shared limits
//! (the policy's top-level `[[limit]]`s) are judged before the profile's. A `session`
//! window counts one agent session whoever set the limit.

use std::fmt;

use super::local_time::LocalClock;
use super::verdict::Verdict;
use super::{Pass, Subject};
use crate::decision::ReasonCode;
use crate::policy::{Limit, OnExceed, Policy, Profile};
use crate::{AgentName, BudgetScope, Currency, LedgerView, ProfileName, SessionId, Window};

/// Who set a limit.
#[derive(Debug, Clone, Copy)]
pub(super) enum Owner<'a> {
    /// The policy's shared limits (all agents together).
    Shared,
    /// The agent's profile (each agent separately).
    Profile(&'a ProfileName),
}

impl fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Shared => f.write_str("shared limit"),
            Owner::Profile(name) => write!(f, "profile {name}"),
        }
    }
}

/// Every limit that applies to an agent: the shared ones, then its profile's.
pub(super) fn applicable<'a>(
    policy: &'a Policy,
    profile: Option<(&'a ProfileName, &'a Profile)>,
) -> impl Iterator<Item = (Owner<'a>, &'a Limit)> {
    let shared = policy.limits.iter().map(|limit| (Owner::Shared, limit));
    let own = profile.into_iter().flat_map(|(name, profile)| {
        profile
            .limits
            .iter()
            .map(move |limit| (Owner::Profile(name), limit))
    });
    shared.chain(own)
}

/// `a == b`, inlined: the amount rules compare the request's currency with every limit's,
/// and codes are short and usually differ in their first byte, where a call into
/// `memcmp` would cost more than the comparison.
fn same_currency(a: &Currency, b: &Currency) -> bool {
    let (a, b) = (a.as_str().as_bytes(), b.as_str().as_bytes());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Whose spending a limit counts: the agent's session for `session` windows, otherwise
/// everyone's (shared) or the agent's own (profile).
pub(super) fn scope_for<'a>(
    owner: Owner<'_>,
    window: Window,
    agent: &'a AgentName,
    session: Option<&'a SessionId>,
) -> BudgetScope<'a> {
    match (window, owner) {
        (Window::Session, _) => BudgetScope::Session(agent, session),
        (_, Owner::Shared) => BudgetScope::Shared,
        (_, Owner::Profile(_)) => BudgetScope::Agent(agent),
    }
}

/// Rule 5: a single request above a `transaction` limit. `deny` → `over_transaction_limit`;
/// `ask` → `over_approval_threshold` (a new payment only: usage and the principal's
/// approval skip ask rules).
pub(super) fn check_transaction_caps(subject: &Subject<'_>, verdict: &mut Verdict) {
    let request = subject.request;
    let asks_speak = subject.pass == Pass::NewRequest && !request.is_usage();
    for (owner, limit) in applicable(subject.policy, subject.profile) {
        if limit.window != Window::Transaction
            || !same_currency(&limit.currency, &request.currency)
            || request.amount <= limit.max
        {
            continue;
        }
        let (amount, currency, max) = (request.amount, &request.currency, limit.max);
        match limit.on_exceed {
            OnExceed::Deny => verdict.deny(
                ReasonCode::OverTransactionLimit,
                format!(
                    "{amount} {currency} is over the per-transaction limit of {max} {currency} ({owner})"
                ),
            ),
            OnExceed::Ask if asks_speak => verdict.ask(
                ReasonCode::OverApprovalThreshold,
                format!(
                    "{amount} {currency} is over the per-transaction approval limit of {max} \
                     {currency} ({owner}): the principal must approve"
                ),
            ),
            OnExceed::Ask => {}
        }
    }
}

/// Rule 7: every other limit in the request's currency. Committed money in the window
/// (spent and held) plus this amount must stay within `max`; an overflow counts as over.
/// `deny` → `over_budget`; `ask` → `over_budget_needs_approval`, except that usage is
/// never pending (→ `over_budget`) and the principal's approval has answered the ask.
pub(super) fn check_budgets<L: LedgerView + ?Sized>(
    subject: &Subject<'_>,
    ledger: &L,
    clock: &mut LocalClock,
    verdict: &mut Verdict,
) {
    let request = subject.request;
    for (owner, limit) in applicable(subject.policy, subject.profile) {
        if limit.window == Window::Transaction || !same_currency(&limit.currency, &request.currency)
        {
            continue;
        }
        let code = match (limit.on_exceed, request.is_usage(), subject.pass) {
            (OnExceed::Deny, _, _) | (OnExceed::Ask, true, _) => ReasonCode::OverBudget,
            (OnExceed::Ask, false, Pass::NewRequest) => ReasonCode::OverBudgetNeedsApproval,
            (OnExceed::Ask, false, Pass::PrincipalApproval) => continue,
        };
        let scope = scope_for(
            owner,
            limit.window,
            &request.agent,
            request.session_id.as_ref(),
        );
        let since = clock.since(limit.window);
        let committed = ledger.committed(scope, &limit.currency, since).total();
        let after = committed.checked_add(request.amount);
        // INVARIANT: `None` (an overflow) is over any limit.
        if after.is_some_and(|after| after <= limit.max) {
            continue;
        }
        let spend = SpendLabel {
            scope,
            window: limit.window,
        };
        let (currency, max) = (&limit.currency, limit.max);
        let mut message = match after {
            Some(after) => {
                format!("this would bring {spend} to {after} of {max} {currency} ({owner})")
            }
            None => format!(
                "this would take {spend} past the largest amount Purser can count \
                 (limit {max} {currency}, {owner})"
            ),
        };
        if code == ReasonCode::OverBudgetNeedsApproval {
            message.push_str(": the principal must approve");
            verdict.ask(code, message);
        } else {
            verdict.deny(code, message);
        }
    }
}

/// Rule 8: above the profile's `approve_above` for this currency, the principal decides.
pub(super) fn check_approval_threshold(subject: &Subject<'_>, verdict: &mut Verdict) {
    let Some((profile_name, profile)) = subject.profile else {
        return;
    };
    let request = subject.request;
    let Some(&threshold) = profile.approve_above.get(&request.currency) else {
        return;
    };
    if request.amount > threshold {
        let (amount, currency) = (request.amount, &request.currency);
        verdict.ask(
            ReasonCode::OverApprovalThreshold,
            format!(
                "{amount} {currency} is above the approval threshold of {threshold} {currency} \
                 (profile {profile_name}): the principal must approve"
            ),
        );
    }
}

/// "the agent's day spend", "all agents' shared month spend", "the session's spend".
struct SpendLabel<'a> {
    scope: BudgetScope<'a>,
    window: Window,
}

impl fmt::Display for SpendLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whose = match self.scope {
            BudgetScope::Session(_, _) => return f.write_str("the session's spend"),
            BudgetScope::Shared => "all agents' shared",
            BudgetScope::Agent(_) => "the agent's",
        };
        let window = match self.window {
            Window::Total => "all-time",
            other => other.as_str(),
        };
        write!(f, "{whose} {window} spend")
    }
}
