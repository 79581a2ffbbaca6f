//! Every reason code `decide` can produce, produced on purpose, with its message; the
//! fixed order of reasons (deny first); standing grants; usage metering; expiry times.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a broken fixture must fail loudly"
)]

mod support;

use std::collections::BTreeMap;

use chrono::Duration;
use chrono_tz::Tz;
use purser_core::engine::decide;
use purser_core::policy::{DaySet, OnExceed, Policy, Profile, Schedule, Velocity};
use purser_core::{
    Amount, CaptureMode, Decision, DecisionStatus, GrantScope, PolicyDuration, ReasonCode,
    StandingGrant,
};
use support::*;

use ReasonCode::*;

/// Monday 2024-06-03 10:00 UTC.
fn monday() -> purser_core::Timestamp {
    at("2024-06-03T10:00:00Z")
}

fn open_policy() -> Policy {
    policy_with(Tz::UTC, usd_profile())
}

fn with_profile(edit: impl FnOnce(&mut Profile)) -> Policy {
    let mut profile = usd_profile();
    edit(&mut profile);
    policy_with(Tz::UTC, profile)
}

fn decide_now(
    policy: &Policy,
    request: &purser_core::AuthorizationRequest,
    ledger: &VecLedger,
) -> Decision {
    decide(policy, request, ledger, monday())
}

fn assert_only(decision: &Decision, status: DecisionStatus, code: ReasonCode) {
    assert_eq!(decision.status, status, "{decision:#?}");
    assert_eq!(codes(decision), vec![code], "{decision:#?}");
}

fn message(decision: &Decision, code: ReasonCode) -> &str {
    &decision
        .reasons
        .iter()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("no {code}"))
        .message
}

fn grant(max: &str, scope: GrantScope) -> StandingGrant {
    StandingGrant {
        id: "grant-7".to_owned(),
        agent: agent("bot"),
        merchant: merchant("API.Example.com"),
        currency: currency("USD"),
        max_amount: money(max),
        scope,
    }
}

#[test]
fn within_policy_approves() {
    let decision = decide_now(&open_policy(), &payment("10.00"), &VecLedger::default());
    assert_only(&decision, DecisionStatus::Approved, WithinPolicy);
    assert_eq!(decision.grant_id, None);
    assert_eq!(decision.expires_at, None, "auto capture holds nothing");
}

#[test]
fn manual_capture_approval_expires_after_hold_ttl() {
    let request = purser_core::AuthorizationRequest {
        capture: CaptureMode::Manual,
        ..payment("10.00")
    };
    let decision = decide_now(&open_policy(), &request, &VecLedger::default());
    assert_only(&decision, DecisionStatus::Approved, WithinPolicy);
    assert_eq!(decision.expires_at, Some(monday() + Duration::minutes(30)));
}

#[test]
fn kill_switch_engaged_denies_payments_and_usage() {
    let ledger = VecLedger {
        kill_switch: true,
        ..VecLedger::default()
    };
    for request in [payment("1.00"), usage("0.01")] {
        let decision = decide_now(&open_policy(), &request, &ledger);
        assert_only(&decision, DecisionStatus::Denied, KillSwitchEngaged);
        assert!(message(&decision, KillSwitchEngaged).contains("purser resume"));
    }
}

#[test]
fn agent_frozen_denies() {
    let ledger = VecLedger {
        frozen: vec![agent("bot")],
        ..VecLedger::default()
    };
    let decision = decide_now(&open_policy(), &payment("1.00"), &ledger);
    assert_only(&decision, DecisionStatus::Denied, AgentFrozen);
    assert!(message(&decision, AgentFrozen).contains("purser agent unfreeze bot"));
    let other = purser_core::AuthorizationRequest {
        agent: agent("other"),
        ..payment("1.00")
    };
    assert_only(
        &decide_now(&open_policy(), &other, &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
}

#[test]
fn outside_schedule_denies_in_the_policy_zone() {
    let mut profile = usd_profile();
    profile.hours = Some(Schedule {
        days: DaySet(0b001_1111),
        from_minute: 8 * 60,
        to_minute: 20 * 60,
    });
    let policy = policy_with(Tz::Europe__Paris, profile);
    let request = payment("1.00");
    let ledger = VecLedger::default();
    // Paris is UTC+2 in June: 17:59 UTC is 19:59 there (inside), 18:00 UTC is 20:00 (out).
    let inside = decide(&policy, &request, &ledger, at("2024-06-07T17:59:00Z"));
    assert_only(&inside, DecisionStatus::Approved, WithinPolicy);
    let closing = decide(&policy, &request, &ledger, at("2024-06-07T18:00:00Z"));
    assert_only(&closing, DecisionStatus::Denied, OutsideSchedule);
    assert_eq!(
        message(&closing, OutsideSchedule),
        "outside allowed hours mon-fri 08:00-20:00 Europe/Paris (it is fri 20:00 there; profile default)"
    );
    let opening = decide(&policy, &request, &ledger, at("2024-06-07T06:00:00Z"));
    assert_only(&opening, DecisionStatus::Approved, WithinPolicy);
    let saturday = decide(&policy, &request, &ledger, at("2024-06-08T10:00:00Z"));
    assert_only(&saturday, DecisionStatus::Denied, OutsideSchedule);
}

#[test]
fn currency_not_allowed_denies_other_currencies() {
    let request = purser_core::AuthorizationRequest {
        currency: currency("EUR"),
        ..payment("1.00")
    };
    let decision = decide_now(&open_policy(), &request, &VecLedger::default());
    assert_only(&decision, DecisionStatus::Denied, CurrencyNotAllowed);
    assert_eq!(
        message(&decision, CurrencyNotAllowed),
        "EUR is not allowed for profile default (allowed: USD)"
    );
}

#[test]
fn currency_not_allowed_when_the_profile_allows_none() {
    let decision = decide_now(&Policy::deny_all(), &payment("1.00"), &VecLedger::default());
    assert_only(&decision, DecisionStatus::Denied, CurrencyNotAllowed);
    assert!(message(&decision, CurrencyNotAllowed).contains("allows no currency"));
}

#[test]
fn an_agent_without_a_profile_is_denied() {
    let mut policy = open_policy();
    let default = policy.profiles.remove(&profile_name("default")).unwrap();
    policy.profiles.insert(profile_name("ops"), default);
    policy.agents.insert(agent("ops-bot"), profile_name("ops"));
    let decision = decide_now(&policy, &payment("1.00"), &VecLedger::default());
    assert_only(&decision, DecisionStatus::Denied, CurrencyNotAllowed);
    assert!(message(&decision, CurrencyNotAllowed).contains("agent bot has no profile"));
    let assigned = purser_core::AuthorizationRequest {
        agent: agent("ops-bot"),
        ..payment("1.00")
    };
    assert_only(
        &decide_now(&policy, &assigned, &VecLedger::default()),
        DecisionStatus::Approved,
        WithinPolicy,
    );
}

#[test]
fn the_policy_agents_entry_wins_over_the_stored_profile_which_wins_over_default() {
    let mut policy = open_policy();
    // `strict` allows only EUR; `default` allows only USD.
    policy.profiles.insert(
        profile_name("strict"),
        Profile {
            currencies: vec![currency("EUR")],
            ..Profile::default()
        },
    );
    let usd = payment("1.00");
    let eur = purser_core::AuthorizationRequest {
        currency: currency("EUR"),
        ..payment("1.00")
    };
    // No stored profile, no [agents] entry: default.
    let ledger = VecLedger::default();
    assert_only(
        &decide_now(&policy, &usd, &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
    // The stored profile beats default.
    let ledger = VecLedger {
        assigned: BTreeMap::from([(agent("bot"), profile_name("strict"))]),
        ..VecLedger::default()
    };
    assert_only(
        &decide_now(&policy, &eur, &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
    assert_only(
        &decide_now(&policy, &usd, &ledger),
        DecisionStatus::Denied,
        CurrencyNotAllowed,
    );
    // The policy's [agents] entry beats the stored profile.
    policy.agents.insert(agent("bot"), profile_name("default"));
    assert_only(
        &decide_now(&policy, &usd, &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
    assert_only(
        &decide_now(&policy, &eur, &ledger),
        DecisionStatus::Denied,
        CurrencyNotAllowed,
    );
}

#[test]
fn a_stored_profile_the_policy_does_not_define_denies_and_says_so() {
    let ledger = VecLedger {
        assigned: BTreeMap::from([(agent("bot"), profile_name("gone"))]),
        ..VecLedger::default()
    };
    let decision = decide_now(&open_policy(), &payment("1.00"), &ledger);
    assert_only(&decision, DecisionStatus::Denied, CurrencyNotAllowed);
    assert!(
        message(&decision, CurrencyNotAllowed).contains(
            "agent bot is assigned profile \"gone\", which the running policy does not define"
        ),
        "{decision:#?}"
    );
}

#[test]
fn rail_not_allowed_denies_unlisted_and_missing_rails() {
    let policy = with_profile(|p| p.allowed_rails = vec![slug("card")]);
    let ledger = VecLedger::default();
    let card = purser_core::AuthorizationRequest {
        rail: Some(slug("card")),
        ..payment("1.00")
    };
    assert_only(
        &decide_now(&policy, &card, &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
    let x402 = purser_core::AuthorizationRequest {
        rail: Some(slug("x402")),
        ..payment("1.00")
    };
    let decision = decide_now(&policy, &x402, &ledger);
    assert_only(&decision, DecisionStatus::Denied, RailNotAllowed);
    assert_eq!(
        message(&decision, RailNotAllowed),
        "rail \"x402\" is not allowed for profile default (allowed: card)"
    );
    assert_only(
        &decide_now(&policy, &payment("1.00"), &ledger),
        DecisionStatus::Denied,
        RailNotAllowed,
    );
}

#[test]
fn category_not_allowed_denies_unlisted_and_missing_categories() {
    let policy = with_profile(|p| p.allowed_categories = vec![slug("software")]);
    let ledger = VecLedger::default();
    let software = purser_core::AuthorizationRequest {
        category: Some(slug("software")),
        ..payment("1.00")
    };
    assert_only(
        &decide_now(&policy, &software, &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
    let travel = purser_core::AuthorizationRequest {
        category: Some(slug("travel")),
        ..payment("1.00")
    };
    assert_only(
        &decide_now(&policy, &travel, &ledger),
        DecisionStatus::Denied,
        CategoryNotAllowed,
    );
    let decision = decide_now(&policy, &payment("1.00"), &ledger);
    assert_only(&decision, DecisionStatus::Denied, CategoryNotAllowed);
    assert!(message(&decision, CategoryNotAllowed).contains("names no category"));
}

#[test]
fn merchant_blocked_denies_matching_globs_ignoring_case() {
    let policy = with_profile(|p| p.blocked_merchants = vec![pattern("*.ru"), pattern("*casino*")]);
    let request = purser_core::AuthorizationRequest {
        merchant: merchant("Royal-CASINO.example"),
        ..payment("1.00")
    };
    let decision = decide_now(&policy, &request, &VecLedger::default());
    assert_only(&decision, DecisionStatus::Denied, MerchantBlocked);
    assert_eq!(
        message(&decision, MerchantBlocked),
        "merchant \"Royal-CASINO.example\" matches the blocked pattern \"*casino*\" (profile default)"
    );
    assert_only(
        &decide_now(&policy, &payment("1.00"), &VecLedger::default()),
        DecisionStatus::Approved,
        WithinPolicy,
    );
}

#[test]
fn over_transaction_limit_denies_above_the_cap_only() {
    let policy =
        with_profile(|p| p.limits = vec![limit("USD", "transaction", "25.00", OnExceed::Deny)]);
    let ledger = VecLedger::default();
    let decision = decide_now(&policy, &payment("42.00"), &ledger);
    assert_only(&decision, DecisionStatus::Denied, OverTransactionLimit);
    assert_eq!(
        message(&decision, OverTransactionLimit),
        "42.00 USD is over the per-transaction limit of 25.00 USD (profile default)"
    );
    assert_only(
        &decide_now(&policy, &payment("25.00"), &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
}

#[test]
fn shared_transaction_limit_applies_to_every_agent() {
    let mut policy = open_policy();
    policy
        .limits
        .push(limit("USD", "transaction", "5.00", OnExceed::Deny));
    let decision = decide_now(&policy, &payment("5.01"), &VecLedger::default());
    assert_only(&decision, DecisionStatus::Denied, OverTransactionLimit);
    assert!(message(&decision, OverTransactionLimit).ends_with("(shared limit)"));
}

#[test]
fn over_approval_threshold_waits_for_the_principal() {
    let policy = with_profile(|p| {
        p.approve_above.insert(currency("USD"), money("25.00"));
    });
    let ledger = VecLedger::default();
    let decision = decide_now(&policy, &payment("25.01"), &ledger);
    assert_only(&decision, DecisionStatus::Pending, OverApprovalThreshold);
    assert_eq!(decision.expires_at, Some(monday() + Duration::minutes(10)));
    assert!(
        message(&decision, OverApprovalThreshold)
            .contains("above the approval threshold of 25.00 USD")
    );
    assert_only(
        &decide_now(&policy, &payment("25.00"), &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
}

#[test]
fn transaction_limit_with_ask_is_an_approval_threshold() {
    let policy =
        with_profile(|p| p.limits = vec![limit("USD", "transaction", "25.00", OnExceed::Ask)]);
    let decision = decide_now(&policy, &payment("30.00"), &VecLedger::default());
    assert_only(&decision, DecisionStatus::Pending, OverApprovalThreshold);
}

#[test]
fn velocity_exceeded_counts_approvals_in_the_rolling_window() {
    let policy = with_profile(|p| {
        p.velocity = Some(Velocity {
            count: 2,
            window: PolicyDuration::from_seconds(3_600).unwrap(),
        })
    });
    let mut ledger = VecLedger::default();
    ledger.spend("bot", "1.00", "USD", monday() - Duration::minutes(61));
    ledger.spend("bot", "1.00", "USD", monday() - Duration::minutes(59));
    ledger.spend("other", "1.00", "USD", monday() - Duration::minutes(5));
    assert_only(
        &decide_now(&policy, &payment("1.00"), &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
    ledger.spend("bot", "1.00", "USD", monday() - Duration::minutes(1));
    let decision = decide_now(&policy, &payment("1.00"), &ledger);
    assert_only(&decision, DecisionStatus::Denied, VelocityExceeded);
    assert!(message(&decision, VelocityExceeded).contains("2 payments approved in the last 1h"));
}

#[test]
fn over_budget_denies_what_would_pass_the_window_max() {
    let policy = with_profile(|p| p.limits = vec![limit("USD", "day", "200.00", OnExceed::Deny)]);
    let mut ledger = VecLedger::default();
    ledger.spend("bot", "150.00", "USD", at("2024-06-02T23:59:59Z"));
    ledger.spend("bot", "188.00", "USD", at("2024-06-03T00:00:00Z"));
    ledger.spend("other", "500.00", "USD", at("2024-06-03T01:00:00Z"));
    let decision = decide_now(&policy, &payment("42.00"), &ledger);
    assert_only(&decision, DecisionStatus::Denied, OverBudget);
    assert_eq!(
        message(&decision, OverBudget),
        "this would bring the agent's day spend to 230.00 of 200.00 USD (profile default)"
    );
    assert_only(
        &decide_now(&policy, &payment("12.00"), &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
}

#[test]
fn held_money_counts_against_budgets() {
    let policy = with_profile(|p| p.limits = vec![limit("USD", "total", "100.00", OnExceed::Deny)]);
    let mut ledger = VecLedger::default();
    let hold = purser_core::AuthorizationRequest {
        capture: CaptureMode::Manual,
        ..payment("95.00")
    };
    ledger.record(&hold, monday() - Duration::days(400));
    assert_only(
        &decide_now(&policy, &payment("6.00"), &ledger),
        DecisionStatus::Denied,
        OverBudget,
    );
    assert_only(
        &decide_now(&policy, &payment("5.00"), &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
}

#[test]
fn shared_budgets_count_every_agent() {
    let mut policy = open_policy();
    policy
        .limits
        .push(limit("USD", "month", "100.00", OnExceed::Deny));
    let mut ledger = VecLedger::default();
    ledger.spend("other", "90.00", "USD", at("2024-06-01T00:00:00Z"));
    ledger.spend("other", "90.00", "USD", at("2024-05-31T23:59:59Z"));
    let decision = decide_now(&policy, &payment("20.00"), &ledger);
    assert_only(&decision, DecisionStatus::Denied, OverBudget);
    assert_eq!(
        message(&decision, OverBudget),
        "this would bring all agents' shared month spend to 110.00 of 100.00 USD (shared limit)"
    );
}

#[test]
fn session_budgets_count_only_that_session() {
    let policy =
        with_profile(|p| p.limits = vec![limit("USD", "session", "10.00", OnExceed::Deny)]);
    let mut ledger = VecLedger::default();
    let in_s1 = purser_core::AuthorizationRequest {
        session_id: Some(session("s1")),
        ..payment("8.00")
    };
    ledger.record(&in_s1, monday() - Duration::hours(1));
    assert_only(
        &decide_now(&policy, &in_s1, &ledger),
        DecisionStatus::Denied,
        OverBudget,
    );
    let in_s2 = purser_core::AuthorizationRequest {
        session_id: Some(session("s2")),
        ..payment("8.00")
    };
    assert_only(
        &decide_now(&policy, &in_s2, &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
    assert_only(
        &decide_now(&policy, &payment("8.00"), &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
}

#[test]
fn limits_in_other_currencies_do_not_apply() {
    let policy = with_profile(|p| {
        p.limits = vec![
            limit("EUR", "transaction", "1.00", OnExceed::Deny),
            limit("EUR", "day", "1.00", OnExceed::Deny),
        ]
    });
    assert_only(
        &decide_now(&policy, &payment("50.00"), &VecLedger::default()),
        DecisionStatus::Approved,
        WithinPolicy,
    );
}

#[test]
fn an_overflowing_sum_is_over_budget() {
    let policy = with_profile(|p| {
        p.limits = vec![limit("USD", "total", "999999999999.999999", OnExceed::Deny)]
    });
    let mut ledger = VecLedger::default();
    ledger.spend(
        "bot",
        "999999999999.999999",
        "USD",
        monday() - Duration::days(1),
    );
    let decision = decide_now(&policy, &payment("0.000001"), &ledger);
    assert_only(&decision, DecisionStatus::Denied, OverBudget);
    assert_eq!(Amount::MAX, money("999999999999.999999"));
}

#[test]
fn over_budget_needs_approval_waits_for_the_principal() {
    let policy = with_profile(|p| p.limits = vec![limit("USD", "day", "200.00", OnExceed::Ask)]);
    let mut ledger = VecLedger::default();
    ledger.spend("bot", "190.00", "USD", monday() - Duration::hours(1));
    let decision = decide_now(&policy, &payment("42.00"), &ledger);
    assert_only(&decision, DecisionStatus::Pending, OverBudgetNeedsApproval);
    assert!(message(&decision, OverBudgetNeedsApproval).ends_with("the principal must approve"));
}

#[test]
fn merchant_not_listed_waits_for_the_principal() {
    let policy =
        with_profile(|p| p.allowed_merchants = vec![pattern("api.*"), pattern("*.stripe.com")]);
    let ledger = VecLedger::default();
    assert_only(
        &decide_now(&policy, &payment("1.00"), &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );
    let shop = purser_core::AuthorizationRequest {
        merchant: merchant("shop.example.com"),
        ..payment("1.00")
    };
    let decision = decide_now(&policy, &shop, &ledger);
    assert_only(&decision, DecisionStatus::Pending, MerchantNotListed);
    assert!(message(&decision, MerchantNotListed).contains("\"shop.example.com\""));
}

#[test]
fn standing_grant_approves_what_would_wait() {
    let policy = with_profile(|p| {
        p.approve_above.insert(currency("USD"), money("25.00"));
        p.allowed_merchants = vec![pattern("*.stripe.com")];
    });
    let mut ledger = VecLedger::default();
    ledger.grant(grant(
        "50.00",
        GrantScope::Until(monday() + Duration::minutes(15)),
    ));
    let decision = decide_now(&policy, &payment("30.00"), &ledger);
    assert_only(&decision, DecisionStatus::Approved, StandingGrant);
    assert_eq!(decision.grant_id.as_deref(), Some("grant-7"));
    assert!(message(&decision, StandingGrant).contains("grant-7"));

    // Above the grant's amount, or once it lapsed: the principal is asked again.
    assert_eq!(
        decide_now(&policy, &payment("50.01"), &ledger).status,
        DecisionStatus::Pending
    );
    let later = decide(
        &policy,
        &payment("30.00"),
        &ledger,
        monday() + Duration::minutes(15),
    );
    assert_eq!(
        codes(&later),
        vec![OverApprovalThreshold, MerchantNotListed]
    );
    assert_eq!(later.grant_id, None);
}

#[test]
fn standing_grant_scopes_session_and_always() {
    let policy = with_profile(|p| {
        p.approve_above.insert(currency("USD"), money("1.00"));
    });
    let mut ledger = VecLedger::default();
    ledger.grant(grant("50.00", GrantScope::Session(Some(session("run-1")))));
    let in_run = purser_core::AuthorizationRequest {
        session_id: Some(session("run-1")),
        ..payment("5.00")
    };
    assert_only(
        &decide_now(&policy, &in_run, &ledger),
        DecisionStatus::Approved,
        StandingGrant,
    );
    assert_eq!(
        decide_now(&policy, &payment("5.00"), &ledger).status,
        DecisionStatus::Pending
    );
    ledger.grants.clear();
    ledger.grant(grant("50.00", GrantScope::Always));
    let eur = purser_core::AuthorizationRequest {
        currency: currency("EUR"),
        ..payment("5.00")
    };
    assert_only(
        &decide_now(&policy, &payment("5.00"), &ledger),
        DecisionStatus::Approved,
        StandingGrant,
    );
    assert_eq!(
        decide_now(&policy, &eur, &ledger).status,
        DecisionStatus::Denied,
        "other currency"
    );
}

#[test]
fn standing_grant_never_overrides_a_budget_ask_or_a_deny() {
    let mut ledger = VecLedger::default();
    ledger.grant(grant("50.00", GrantScope::Always));
    ledger.spend("bot", "95.00", "USD", monday() - Duration::hours(1));
    let budget = with_profile(|p| {
        p.approve_above.insert(currency("USD"), money("1.00"));
        p.limits = vec![limit("USD", "day", "100.00", OnExceed::Ask)];
    });
    let decision = decide_now(&budget, &payment("10.00"), &ledger);
    assert_eq!(decision.status, DecisionStatus::Pending);
    assert_eq!(
        codes(&decision),
        vec![OverBudgetNeedsApproval, OverApprovalThreshold]
    );
    let capped = with_profile(|p| {
        p.approve_above.insert(currency("USD"), money("1.00"));
        p.limits = vec![limit("USD", "transaction", "5.00", OnExceed::Deny)];
    });
    let decision = decide_now(&capped, &payment("10.00"), &ledger);
    assert_eq!(decision.status, DecisionStatus::Denied);
    assert_eq!(
        codes(&decision),
        vec![OverTransactionLimit, OverApprovalThreshold]
    );
}

#[test]
fn reasons_come_deny_first_in_the_contract_order() {
    let mut policy = with_profile(|p| {
        p.approve_above.insert(currency("USD"), money("1.00"));
        p.allowed_merchants = vec![pattern("api.*")];
        p.blocked_merchants = vec![pattern("*casino*")];
        p.allowed_rails = vec![slug("card")];
        p.allowed_categories = vec![slug("software")];
        p.velocity = Some(Velocity {
            count: 1,
            window: PolicyDuration::from_seconds(600).unwrap(),
        });
        p.hours = Some(Schedule {
            days: DaySet(0b010_0000),
            from_minute: 0,
            to_minute: 1440,
        });
        p.limits = vec![
            limit("USD", "day", "10.00", OnExceed::Ask),
            limit("USD", "transaction", "5.00", OnExceed::Deny),
            limit("USD", "week", "10.00", OnExceed::Deny),
        ];
    });
    policy
        .limits
        .push(limit("USD", "total", "10.00", OnExceed::Deny));
    let mut ledger = VecLedger {
        kill_switch: true,
        frozen: vec![agent("bot")],
        ..VecLedger::default()
    };
    ledger.spend("bot", "1.00", "USD", monday() - Duration::minutes(1));
    let request = purser_core::AuthorizationRequest {
        merchant: merchant("casino.example"),
        rail: Some(slug("x402")),
        ..payment("20.00")
    };
    let decision = decide_now(&policy, &request, &ledger);
    assert_eq!(decision.status, DecisionStatus::Denied);
    assert_eq!(
        codes(&decision),
        vec![
            KillSwitchEngaged,
            AgentFrozen,
            OutsideSchedule,
            RailNotAllowed,
            CategoryNotAllowed,
            MerchantBlocked,
            OverTransactionLimit,
            VelocityExceeded,
            OverBudget, // shared total, judged before the profile's limits
            OverBudget, // profile week
            OverBudgetNeedsApproval,
            OverApprovalThreshold,
            MerchantNotListed,
        ]
    );
    assert_eq!(
        decision.reason().code,
        KillSwitchEngaged,
        "the headline is the first deny"
    );

    let eur = purser_core::AuthorizationRequest {
        currency: currency("EUR"),
        ..payment("1.00")
    };
    let decision = decide_now(&policy, &eur, &ledger);
    assert_eq!(
        codes(&decision),
        vec![
            KillSwitchEngaged,
            AgentFrozen,
            OutsideSchedule,
            CurrencyNotAllowed,
            RailNotAllowed,
            CategoryNotAllowed,
            VelocityExceeded,
        ]
    );
}

#[test]
fn usage_is_judged_on_money_only_and_never_pending() {
    let policy = with_profile(|p| {
        p.approve_above.insert(currency("USD"), money("0.001"));
        p.allowed_merchants = vec![pattern("api.*")];
        p.blocked_merchants = vec![pattern("*")];
        p.allowed_rails = vec![slug("card")];
        p.allowed_categories = vec![slug("software")];
        p.velocity = Some(Velocity {
            count: 0,
            window: PolicyDuration::from_seconds(600).unwrap(),
        });
        p.limits = vec![limit("USD", "transaction", "0.001", OnExceed::Ask)];
    });
    let decision = decide_now(&policy, &usage("0.006"), &VecLedger::default());
    assert_only(&decision, DecisionStatus::Approved, WithinPolicy);

    let budgets = with_profile(|p| p.limits = vec![limit("USD", "day", "1.00", OnExceed::Ask)]);
    let mut ledger = VecLedger::default();
    ledger.spend("bot", "0.999", "USD", monday() - Duration::hours(1));
    let decision = decide_now(&budgets, &usage("0.002"), &ledger);
    assert_only(&decision, DecisionStatus::Denied, OverBudget);
    assert_only(
        &decide_now(&budgets, &usage("0.001"), &ledger),
        DecisionStatus::Approved,
        WithinPolicy,
    );

    let capped =
        with_profile(|p| p.limits = vec![limit("USD", "transaction", "0.001", OnExceed::Deny)]);
    assert_only(
        &decide_now(&capped, &usage("0.002"), &VecLedger::default()),
        DecisionStatus::Denied,
        OverTransactionLimit,
    );
    let eur = purser_core::AuthorizationRequest {
        currency: currency("EUR"),
        ..usage("0.002")
    };
    assert_only(
        &decide_now(&open_policy(), &eur, &VecLedger::default()),
        DecisionStatus::Denied,
        CurrencyNotAllowed,
    );
}
