//! Standing grants: the principal's "approve this again without asking" (`purser approve
//! --for/--session/--always`). A grant settles only the asks a principal can waive in
//! advance (over the approval threshold, merchant not listed); it never overrides a deny
//! and never a budget that needs approval. `engine/mod.rs` decides when to look.

use crate::{AuthorizationRequest, GrantScope, Merchant, StandingGrant, Timestamp};

/// The first of `grants` that covers `request` at `now`: same agent, same merchant
/// (ignoring case), same currency, amount within the grant, and the grant still valid.
pub(super) fn covering<'a>(
    grants: &'a [StandingGrant],
    request: &AuthorizationRequest,
    now: Timestamp,
) -> Option<&'a StandingGrant> {
    grants.iter().find(|grant| {
        grant.agent == request.agent
            && grant.currency == request.currency
            && request.amount <= grant.max_amount
            && same_merchant(&grant.merchant, &request.merchant)
            && match &grant.scope {
                GrantScope::Until(until) => now < *until,
                GrantScope::Session(session) => *session == request.session_id,
                GrantScope::Always => true,
            }
    })
}

fn same_merchant(a: &Merchant, b: &Merchant) -> bool {
    let (a, b) = (a.as_str(), b.as_str());
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}
