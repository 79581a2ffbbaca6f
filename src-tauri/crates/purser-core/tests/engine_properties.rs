//! Properties of `decide` on random policies and ledgers: it never approves what a
//! deny limit forbids, usage is never pending, and every decision explains itself.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a broken fixture must fail loudly"
)]

mod support;

use chrono::Duration;
use proptest::prelude::*;
use purser_core::engine::decide;
use purser_core::policy::{OnExceed, Policy};
use purser_core::{AuthorizationRequest, DecisionStatus, LedgerView, Timestamp, Window};
use support::VecLedger;
use support::generate::{ledger, policy, start, steps};

/// Every limit that applies to the request's agent, with whether it is shared.
fn limits_of<'a>(
    policy: &'a Policy,
    request: &AuthorizationRequest,
) -> Vec<(bool, &'a purser_core::policy::Limit)> {
    let profile = match policy.agents.get(&request.agent) {
        Some(name) => policy.profiles.get(name),
        None => policy
            .profiles
            .iter()
            .find(|(n, _)| n.as_str() == "default")
            .map(|(_, p)| p),
    };
    let mut limits: Vec<_> = policy.limits.iter().map(|l| (true, l)).collect();
    limits.extend(
        profile
            .into_iter()
            .flat_map(|p| p.limits.iter().map(|l| (false, l))),
    );
    limits
}

/// Checks that approving `request` at `now` keeps every deny limit within its max.
fn within_every_deny_limit(
    policy: &Policy,
    request: &AuthorizationRequest,
    ledger: &VecLedger,
    now: Timestamp,
) -> Result<(), TestCaseError> {
    for (shared, limit) in limits_of(policy, request) {
        let denies = limit.on_exceed == OnExceed::Deny || request.is_usage();
        if !denies || limit.currency != request.currency {
            continue;
        }
        if limit.window == Window::Transaction {
            if limit.on_exceed == OnExceed::Deny {
                prop_assert!(
                    request.amount <= limit.max,
                    "approved above a transaction cap"
                );
            }
            continue;
        }
        let since = limit.window.current_start(now, policy.timezone);
        let committed: i128 = ledger
            .entries
            .iter()
            .filter(|e| {
                let scope_ok = if limit.window == Window::Session {
                    e.agent == request.agent && e.session == request.session_id
                } else {
                    shared || e.agent == request.agent
                };
                scope_ok && e.currency == request.currency && since.is_none_or(|s| e.at >= s)
            })
            .map(|e| i128::from(e.amount.micros()))
            .sum();
        prop_assert!(
            committed + i128::from(request.amount.micros()) <= i128::from(limit.max.micros()),
            "approved {} on top of {} past {:?}",
            request.amount,
            committed,
            limit
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn never_approves_past_a_deny_limit(
        (policy, now, mut ledger, steps) in (policy(), start())
            .prop_flat_map(|(policy, start)| (Just(policy), Just(start), ledger(start), steps(16)))
    ) {
        let mut now = now;
        for step in &steps {
            now += Duration::seconds(step.after_seconds);
            let request = &step.request;
            let decision = decide(&policy, request, &ledger, now);
            prop_assert!(!decision.reasons.is_empty());
            prop_assert!(!(request.is_usage() && decision.status == DecisionStatus::Pending));
            if decision.status == DecisionStatus::Approved {
                prop_assert!(!ledger.kill_switch_engaged());
                prop_assert!(!ledger.agent_frozen(&request.agent));
                within_every_deny_limit(&policy, request, &ledger, now)?;
                ledger.record(request, now);
            }
        }
    }
}
