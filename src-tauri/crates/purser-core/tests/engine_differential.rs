//! Differential test: `decide` and `decide_on_approval` against the naive reference
//! model of `support/reference.rs`, on random policies and random request sequences.
//! Approved requests are applied to the ledger as the sequence goes, so budgets fill,
//! windows roll over (DST days included) and velocity builds up. Status, reason codes
//! (in order), grant and expiry must agree at every step.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a broken fixture must fail loudly"
)]

mod support;

use chrono::Duration;
use proptest::prelude::*;
use purser_core::engine::{decide, decide_on_approval};
use purser_core::{DecisionStatus, ReasonEffect};
use support::generate::{ledger, policy, start, steps};
use support::{codes, reference};

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    #[test]
    fn decide_agrees_with_the_reference_model(
        (policy, now, mut ledger, steps) in (policy(), start())
            .prop_flat_map(|(policy, start)| (Just(policy), Just(start), ledger(start), steps(16)))
    ) {
        let mut now = now;
        for (index, step) in steps.iter().enumerate() {
            now += Duration::seconds(step.after_seconds);
            let request = &step.request;
            let decision = decide(&policy, request, &ledger, now);
            let expected = reference::decide(&policy, request, &ledger, now);
            prop_assert_eq!(decision.status, expected.status, "step {}: {:#?}", index, decision);
            prop_assert_eq!(codes(&decision), expected.codes.clone(), "step {}", index);
            prop_assert_eq!(&decision.grant_id, &expected.grant_id, "step {}", index);
            let effects: Vec<ReasonEffect> = decision.reasons.iter().map(|r| r.code.effect()).collect();
            prop_assert!(effects.is_sorted(), "deny, then ask, then approve: {:?}", effects);
            match decision.status {
                DecisionStatus::Approved => {
                    prop_assert_eq!(decision.expires_at, reference::hold_expiry(&policy, request, now));
                    ledger.record(request, now);
                }
                DecisionStatus::Pending => {
                    prop_assert_eq!(decision.expires_at, Some(now + Duration::minutes(10)));
                    if let Some(delay) = step.approve_after_seconds {
                        let requested_at = now;
                        now += Duration::seconds(delay);
                        let approval = decide_on_approval(&policy, request, requested_at, &ledger, now);
                        let expected = reference::decide_on_approval(&policy, request, requested_at, &ledger, now);
                        prop_assert_eq!(approval.status, expected.status, "approval at step {}", index);
                        prop_assert_eq!(codes(&approval), expected.codes, "approval at step {}", index);
                        if approval.status == DecisionStatus::Approved {
                            ledger.record(request, now);
                            if let Some(grant) = step.standing_grant(now, index) {
                                ledger.grant(grant);
                            }
                        }
                    }
                }
                DecisionStatus::Denied => prop_assert_eq!(decision.expires_at, None),
            }
        }
    }
}
