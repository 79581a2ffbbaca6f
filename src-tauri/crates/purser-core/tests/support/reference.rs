//! A deliberately simple reference model of the decision rules of agent-api.md §1, for
//! the differential test. Written from the contract, not from the engine: no shared
//! helpers, sums by scanning every ledger entry in `i128`, merchants matched with
//! [`MerchantPattern::matches`]. Slow and obvious on purpose.

use chrono::{Datelike, Duration, Timelike};
use purser_core::policy::{OnExceed, Policy, Profile};
use purser_core::{
    AuthorizationRequest, CaptureMode, DecisionStatus, GrantScope, ReasonCode, Timestamp, Window,
};

use super::{Entry, VecLedger};

/// What the reference model decides: a status and the reason codes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: DecisionStatus,
    pub codes: Vec<ReasonCode>,
    pub grant_id: Option<String>,
}

/// The reference of `engine::decide`.
pub fn decide(
    policy: &Policy,
    request: &AuthorizationRequest,
    ledger: &VecLedger,
    now: Timestamp,
) -> Outcome {
    let (deny, ask) = rules(policy, request, ledger, now, now, false);
    if !deny.is_empty() {
        let mut codes = deny;
        codes.extend(ask);
        return Outcome {
            status: DecisionStatus::Denied,
            codes,
            grant_id: None,
        };
    }
    if !ask.is_empty() {
        let grantable = ask.iter().all(|code| {
            *code == ReasonCode::OverApprovalThreshold || *code == ReasonCode::MerchantNotListed
        });
        if grantable {
            for grant in ledger.grants.get(&request.agent).into_iter().flatten() {
                let valid = match &grant.scope {
                    GrantScope::Until(until) => now < *until,
                    GrantScope::Session(session) => *session == request.session_id,
                    GrantScope::Always => true,
                };
                if grant.agent == request.agent
                    && grant.merchant.as_str().to_lowercase()
                        == request.merchant.as_str().to_lowercase()
                    && grant.currency == request.currency
                    && request.amount <= grant.max_amount
                    && valid
                {
                    return Outcome {
                        status: DecisionStatus::Approved,
                        codes: vec![ReasonCode::StandingGrant],
                        grant_id: Some(grant.id.clone()),
                    };
                }
            }
        }
        return Outcome {
            status: DecisionStatus::Pending,
            codes: ask,
            grant_id: None,
        };
    }
    Outcome {
        status: DecisionStatus::Approved,
        codes: vec![ReasonCode::WithinPolicy],
        grant_id: None,
    }
}

/// The reference of `engine::decide_on_approval`.
pub fn decide_on_approval(
    policy: &Policy,
    request: &AuthorizationRequest,
    requested_at: Timestamp,
    ledger: &VecLedger,
    now: Timestamp,
) -> Outcome {
    let (deny, _) = rules(policy, request, ledger, requested_at, now, true);
    if deny.is_empty() {
        Outcome {
            status: DecisionStatus::Approved,
            codes: vec![ReasonCode::ApprovedByPrincipal],
            grant_id: None,
        }
    } else {
        Outcome {
            status: DecisionStatus::Denied,
            codes: deny,
            grant_id: None,
        }
    }
}

/// The profile of the agent: its assigned one, else the one named "default".
fn profile_of<'a>(policy: &'a Policy, request: &AuthorizationRequest) -> Option<&'a Profile> {
    match policy.agents.get(&request.agent) {
        Some(name) => policy.profiles.get(name),
        None => policy
            .profiles
            .iter()
            .find(|(name, _)| name.as_str() == "default")
            .map(|(_, p)| p),
    }
}

/// Every rule in order; returns (deny codes, ask codes). With `approval`, ask rules are
/// silent and ask budgets are skipped.
fn rules(
    policy: &Policy,
    request: &AuthorizationRequest,
    ledger: &VecLedger,
    schedule_at: Timestamp,
    now: Timestamp,
    approval: bool,
) -> (Vec<ReasonCode>, Vec<ReasonCode>) {
    let mut deny = Vec::new();
    let mut ask = Vec::new();
    let usage = request.is_usage();
    let profile = profile_of(policy, request);

    if ledger.kill_switch {
        deny.push(ReasonCode::KillSwitchEngaged);
    }
    if ledger.frozen.contains(&request.agent) {
        deny.push(ReasonCode::AgentFrozen);
    }
    if let Some(hours) = profile.and_then(|p| p.hours) {
        let local = schedule_at.with_timezone(&policy.timezone);
        let day_bit = 1u8 << local.weekday().num_days_from_monday();
        let minute = local.hour() * 60 + local.minute();
        let inside = hours.days.0 & day_bit != 0
            && minute >= u32::from(hours.from_minute)
            && minute < u32::from(hours.to_minute);
        if !inside {
            deny.push(ReasonCode::OutsideSchedule);
        }
    }
    match profile {
        None => deny.push(ReasonCode::CurrencyNotAllowed),
        Some(p) if !p.currencies.contains(&request.currency) => {
            deny.push(ReasonCode::CurrencyNotAllowed)
        }
        Some(_) => {}
    }
    if let (Some(p), false) = (profile, usage) {
        if !p.allowed_rails.is_empty()
            && !request
                .rail
                .as_ref()
                .is_some_and(|rail| p.allowed_rails.contains(rail))
        {
            deny.push(ReasonCode::RailNotAllowed);
        }
        if !p.allowed_categories.is_empty()
            && !request
                .category
                .as_ref()
                .is_some_and(|c| p.allowed_categories.contains(c))
        {
            deny.push(ReasonCode::CategoryNotAllowed);
        }
        if p.blocked_merchants
            .iter()
            .any(|glob| glob.matches(&request.merchant))
        {
            deny.push(ReasonCode::MerchantBlocked);
        }
    }

    let mut limits: Vec<(bool, &purser_core::policy::Limit)> =
        policy.limits.iter().map(|l| (true, l)).collect();
    if let Some(p) = profile {
        limits.extend(p.limits.iter().map(|l| (false, l)));
    }

    for (_, limit) in &limits {
        if limit.window == Window::Transaction
            && limit.currency == request.currency
            && request.amount > limit.max
        {
            match limit.on_exceed {
                OnExceed::Deny => deny.push(ReasonCode::OverTransactionLimit),
                OnExceed::Ask if !usage && !approval => ask.push(ReasonCode::OverApprovalThreshold),
                OnExceed::Ask => {}
            }
        }
    }

    if let (Some(velocity), false) = (profile.and_then(|p| p.velocity), usage) {
        let since = now - Duration::seconds(i64::from(velocity.window.seconds()));
        let recent = ledger
            .entries
            .iter()
            .filter(|e| e.payment && e.agent == request.agent && e.at >= since)
            .count();
        if recent + 1 > velocity.count as usize {
            deny.push(ReasonCode::VelocityExceeded);
        }
    }

    for (shared, limit) in &limits {
        if limit.window == Window::Transaction || limit.currency != request.currency {
            continue;
        }
        if limit.on_exceed == OnExceed::Ask && approval && !usage {
            continue;
        }
        let since = limit.window.current_start(now, policy.timezone);
        let counts = |e: &Entry| {
            let whose = if limit.window == Window::Session {
                e.agent == request.agent && e.session == request.session_id
            } else if *shared {
                true
            } else {
                e.agent == request.agent
            };
            whose && e.currency == request.currency && since.is_none_or(|since| e.at >= since)
        };
        let committed: i128 = ledger
            .entries
            .iter()
            .filter(|e| counts(e))
            .map(|e| i128::from(e.amount.micros()))
            .sum();
        if committed + i128::from(request.amount.micros()) > i128::from(limit.max.micros()) {
            if limit.on_exceed == OnExceed::Deny || usage {
                deny.push(ReasonCode::OverBudget);
            } else {
                ask.push(ReasonCode::OverBudgetNeedsApproval);
            }
        }
    }

    if let (Some(p), false, false) = (profile, usage, approval) {
        if p.approve_above
            .get(&request.currency)
            .is_some_and(|t| request.amount > *t)
        {
            ask.push(ReasonCode::OverApprovalThreshold);
        }
        if !p.allowed_merchants.is_empty()
            && !p
                .allowed_merchants
                .iter()
                .any(|glob| glob.matches(&request.merchant))
        {
            ask.push(ReasonCode::MerchantNotListed);
        }
    }
    (deny, ask)
}

/// When the reference expects a manual hold to lapse.
pub fn hold_expiry(
    policy: &Policy,
    request: &AuthorizationRequest,
    now: Timestamp,
) -> Option<Timestamp> {
    (request.capture == CaptureMode::Manual)
        .then(|| now + Duration::seconds(i64::from(policy.hold_ttl.seconds())))
}
