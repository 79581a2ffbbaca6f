//! [`Verdict`]: the reasons collected while the rules run, and how they become a
//! [`Decision`].
//!
//! It keeps deny and ask reasons apart, each in evaluation order, so that a decision
//! always lists deny reasons first, then ask reasons, then the approving one. It decides
//! nothing itself: the sequence in `engine/mod.rs` says which conclusion applies.

use crate::decision::{Decision, DecisionStatus, Reason, ReasonCode, ReasonEffect};
use crate::{StandingGrant, Timestamp};

/// The approve path's message: static, so approving costs no formatting.
const WITHIN_POLICY: &str = "within policy: every rule of the agent's profile allows this request";
const APPROVED_BY_PRINCIPAL: &str = "approved by the principal";

#[derive(Debug, Default)]
pub(super) struct Verdict {
    denies: Vec<Reason>,
    asks: Vec<Reason>,
}

impl Verdict {
    pub(super) fn deny(&mut self, code: ReasonCode, message: String) {
        debug_assert_eq!(
            code.effect(),
            ReasonEffect::Deny,
            "{code} is not a deny reason"
        );
        self.denies.push(Reason { code, message });
    }

    pub(super) fn ask(&mut self, code: ReasonCode, message: String) {
        debug_assert_eq!(
            code.effect(),
            ReasonEffect::Ask,
            "{code} is not an ask reason"
        );
        self.asks.push(Reason { code, message });
    }

    /// Did any deny rule speak?
    pub(super) fn denies(&self) -> bool {
        !self.denies.is_empty()
    }

    /// Did any ask rule speak?
    pub(super) fn asks(&self) -> bool {
        !self.asks.is_empty()
    }

    /// Could a standing grant settle every ask? Only the threshold and the unlisted
    /// merchant can be waived that way; a budget that needs approval always asks again.
    pub(super) fn only_grantable_asks(&self) -> bool {
        self.asks.iter().all(|reason| {
            matches!(
                reason.code,
                ReasonCode::OverApprovalThreshold | ReasonCode::MerchantNotListed
            )
        })
    }

    /// Denied: every deny reason, then every ask reason (they spoke too).
    pub(super) fn denied(self) -> Decision {
        let mut reasons = self.denies;
        reasons.extend(self.asks);
        Decision {
            status: DecisionStatus::Denied,
            reasons,
            grant_id: None,
            expires_at: None,
        }
    }

    /// Pending until `expires_at`, with every ask reason.
    pub(super) fn pending(self, expires_at: Timestamp) -> Decision {
        Decision {
            status: DecisionStatus::Pending,
            reasons: self.asks,
            grant_id: None,
            expires_at: Some(expires_at),
        }
    }
}

/// Approved because no rule objected.
pub(super) fn within_policy(hold_expires_at: Option<Timestamp>) -> Decision {
    approved(
        ReasonCode::WithinPolicy,
        WITHIN_POLICY.to_owned(),
        None,
        hold_expires_at,
    )
}

/// Approved by the principal after a re-check found no deny rule.
pub(super) fn approved_by_principal(hold_expires_at: Option<Timestamp>) -> Decision {
    approved(
        ReasonCode::ApprovedByPrincipal,
        APPROVED_BY_PRINCIPAL.to_owned(),
        None,
        hold_expires_at,
    )
}

/// Approved without asking because `grant` covers the request.
pub(super) fn approved_by_grant(
    grant: &StandingGrant,
    hold_expires_at: Option<Timestamp>,
) -> Decision {
    let message = format!(
        "approved by standing grant {} ({} at {}, up to {} {} each)",
        grant.id, grant.agent, grant.merchant, grant.max_amount, grant.currency
    );
    approved(
        ReasonCode::StandingGrant,
        message,
        Some(grant.id.clone()),
        hold_expires_at,
    )
}

fn approved(
    code: ReasonCode,
    message: String,
    grant_id: Option<String>,
    expires_at: Option<Timestamp>,
) -> Decision {
    Decision {
        status: DecisionStatus::Approved,
        reasons: vec![Reason { code, message }],
        grant_id,
        expires_at,
    }
}
