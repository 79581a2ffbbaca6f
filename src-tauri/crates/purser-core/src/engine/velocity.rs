//! Rule 6, velocity: at most `count` approved payments per agent in any rolling
//! `window` (`velocity_exceeded`). Usage is not counted and not checked.

use chrono::{DateTime, Utc};

use super::Subject;
use super::verdict::Verdict;
use crate::decision::ReasonCode;
use crate::{LedgerView, Timestamp};

pub(super) fn check<L: LedgerView + ?Sized>(
    subject: &Subject<'_>,
    ledger: &L,
    now: Timestamp,
    verdict: &mut Verdict,
) {
    let Some((profile_name, profile)) = subject.profile else {
        return;
    };
    let Some(velocity) = profile.velocity else {
        return;
    };
    let since = now
        .checked_sub_signed(velocity.window.to_chrono())
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let approved = ledger.approvals_since(&subject.request.agent, since);
    // This request would be approval number `approved + 1`.
    if approved.saturating_add(1) > velocity.count {
        let plural = if approved == 1 { "" } else { "s" };
        verdict.deny(
            ReasonCode::VelocityExceeded,
            format!(
                "the agent already had {approved} payment{plural} approved in the last {}: the \
                 limit is {} per {} (profile {profile_name})",
                velocity.window, velocity.count, velocity.window
            ),
        );
    }
}
