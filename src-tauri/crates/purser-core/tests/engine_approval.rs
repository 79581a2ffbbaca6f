//! `decide_on_approval`: when the principal approves a pending request, every deny rule
//! is judged again against the ledger as it is now; ask rules are the principal's to
//! override.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a broken fixture must fail loudly"
)]

mod support;

use chrono::Duration;
use chrono_tz::Tz;
use purser_core::engine::{decide, decide_on_approval};
use purser_core::policy::{DaySet, OnExceed, Policy, Schedule, Velocity};
use purser_core::{CaptureMode, DecisionStatus, PolicyDuration, ReasonCode, Timestamp};
use support::*;

use ReasonCode::*;

/// Monday 2024-06-03 10:00 UTC.
fn requested_at() -> Timestamp {
    at("2024-06-03T10:00:00Z")
}

fn approved_at() -> Timestamp {
    requested_at() + Duration::minutes(5)
}

/// Asks above 50.00 USD, denies past 100.00 USD a day.
fn policy() -> Policy {
    let mut profile = usd_profile();
    profile
        .approve_above
        .insert(currency("USD"), money("50.00"));
    profile.limits = vec![limit("USD", "day", "100.00", OnExceed::Deny)];
    policy_with(Tz::UTC, profile)
}

#[test]
fn every_ask_is_overridden_by_the_principal() {
    let mut policy = policy();
    let profile = policy.profiles.values_mut().next().unwrap();
    profile.allowed_merchants = vec![pattern("*.stripe.com")];
    profile
        .limits
        .push(limit("USD", "day", "10.00", OnExceed::Ask));
    profile
        .limits
        .push(limit("USD", "transaction", "20.00", OnExceed::Ask));
    let request = payment("60.00");
    let ledger = VecLedger::default();
    let pending = decide(&policy, &request, &ledger, requested_at());
    assert_eq!(pending.status, DecisionStatus::Pending);
    assert_eq!(
        codes(&pending),
        vec![
            OverApprovalThreshold,
            OverBudgetNeedsApproval,
            OverApprovalThreshold,
            MerchantNotListed
        ]
    );

    let approved = decide_on_approval(&policy, &request, requested_at(), &ledger, approved_at());
    assert_eq!(approved.status, DecisionStatus::Approved);
    assert_eq!(codes(&approved), vec![ApprovedByPrincipal]);
    assert_eq!(approved.expires_at, None);
    assert_eq!(approved.grant_id, None);
}

#[test]
fn the_kill_switch_engaged_since_the_request_denies() {
    let request = payment("60.00");
    let mut ledger = VecLedger::default();
    assert_eq!(
        decide(&policy(), &request, &ledger, requested_at()).status,
        DecisionStatus::Pending
    );
    ledger.kill_switch = true;
    let decision = decide_on_approval(&policy(), &request, requested_at(), &ledger, approved_at());
    assert_eq!(decision.status, DecisionStatus::Denied);
    assert_eq!(codes(&decision), vec![KillSwitchEngaged]);
}

#[test]
fn an_agent_frozen_since_the_request_is_denied() {
    let ledger = VecLedger {
        frozen: vec![agent("bot")],
        ..VecLedger::default()
    };
    let decision = decide_on_approval(
        &policy(),
        &payment("60.00"),
        requested_at(),
        &ledger,
        approved_at(),
    );
    assert_eq!(codes(&decision), vec![AgentFrozen]);
}

#[test]
fn a_budget_filled_since_the_request_denies() {
    let request = payment("60.00");
    let mut ledger = VecLedger::default();
    assert_eq!(
        decide(&policy(), &request, &ledger, requested_at()).status,
        DecisionStatus::Pending
    );
    ledger.spend("bot", "50.00", "USD", requested_at() + Duration::minutes(1));
    let decision = decide_on_approval(&policy(), &request, requested_at(), &ledger, approved_at());
    assert_eq!(decision.status, DecisionStatus::Denied);
    assert_eq!(codes(&decision), vec![OverBudget]);
    assert!(decision.reasons[0].message.contains("110.00 of 100.00 USD"));
}

#[test]
fn budgets_are_judged_in_the_window_of_the_approval() {
    // Requested late on Monday, approved on Tuesday: Monday's spend no longer counts.
    let request = payment("60.00");
    let mut ledger = VecLedger::default();
    ledger.spend("bot", "90.00", "USD", at("2024-06-03T23:00:00Z"));
    let monday = at("2024-06-03T23:55:00Z");
    let tuesday = at("2024-06-04T00:05:00Z");
    assert_eq!(
        decide_on_approval(&policy(), &request, monday, &ledger, monday).status,
        DecisionStatus::Denied
    );
    assert_eq!(
        decide_on_approval(&policy(), &request, monday, &ledger, tuesday).status,
        DecisionStatus::Approved
    );
}

#[test]
fn velocity_is_judged_at_approval_time() {
    let mut policy = policy();
    policy.profiles.values_mut().next().unwrap().velocity = Some(Velocity {
        count: 1,
        window: PolicyDuration::from_seconds(3_600).unwrap(),
    });
    let request = payment("60.00");
    let mut ledger = VecLedger::default();
    assert_eq!(
        decide(&policy, &request, &ledger, requested_at()).status,
        DecisionStatus::Pending
    );
    ledger.spend("bot", "1.00", "USD", requested_at() + Duration::minutes(1));
    let decision = decide_on_approval(&policy, &request, requested_at(), &ledger, approved_at());
    assert_eq!(codes(&decision), vec![VelocityExceeded]);
}

#[test]
fn the_schedule_is_judged_when_the_request_was_made() {
    let mut policy = policy();
    // Monday 08:00-10:03 UTC only.
    policy.profiles.values_mut().next().unwrap().hours = Some(Schedule {
        days: DaySet(0b000_0001),
        from_minute: 480,
        to_minute: 603,
    });
    let request = payment("60.00");
    let ledger = VecLedger::default();
    assert_eq!(
        decide(&policy, &request, &ledger, requested_at()).status,
        DecisionStatus::Pending
    );
    // Approved at 10:05, after hours: the request was made in time.
    let decision = decide_on_approval(&policy, &request, requested_at(), &ledger, approved_at());
    assert_eq!(codes(&decision), vec![ApprovedByPrincipal]);
    // A request made after hours stays denied.
    let late = decide_on_approval(&policy, &request, approved_at(), &ledger, approved_at());
    assert_eq!(codes(&late), vec![OutsideSchedule]);
}

#[test]
fn every_deny_rule_still_speaks_in_order() {
    let mut policy = policy();
    let profile = policy.profiles.values_mut().next().unwrap();
    profile.blocked_merchants = vec![pattern("api.*")];
    profile.allowed_rails = vec![slug("card")];
    profile.allowed_categories = vec![slug("travel")];
    profile
        .limits
        .push(limit("USD", "transaction", "55.00", OnExceed::Deny));
    let request = purser_core::AuthorizationRequest {
        capture: CaptureMode::Manual,
        ..payment("60.00")
    };
    let decision = decide_on_approval(
        &policy,
        &request,
        requested_at(),
        &VecLedger::default(),
        approved_at(),
    );
    assert_eq!(decision.status, DecisionStatus::Denied);
    assert_eq!(
        codes(&decision),
        vec![
            RailNotAllowed,
            CategoryNotAllowed,
            MerchantBlocked,
            OverTransactionLimit
        ]
    );
    assert_eq!(decision.expires_at, None);
}

#[test]
fn a_manual_hold_approved_by_the_principal_lapses_after_hold_ttl() {
    let request = purser_core::AuthorizationRequest {
        capture: CaptureMode::Manual,
        ..payment("60.00")
    };
    let decision = decide_on_approval(
        &policy(),
        &request,
        requested_at(),
        &VecLedger::default(),
        approved_at(),
    );
    assert_eq!(codes(&decision), vec![ApprovedByPrincipal]);
    assert_eq!(
        decision.expires_at,
        Some(approved_at() + Duration::minutes(30))
    );
}
