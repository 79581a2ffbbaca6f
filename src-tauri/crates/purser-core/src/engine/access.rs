//! Rule 4, what may be bought and how: the request's currency, rail and category must be
//! among those the agent's profile allows (`currency_not_allowed`, `rail_not_allowed`,
//! `category_not_allowed`). Merchants are in `merchant.rs`.
//!
//! Fail closed: an empty currency list allows none, and an agent without a profile is
//! refused here with a message that says so. Empty rail/category lists allow any.

use std::fmt;

use super::Subject;
use super::verdict::Verdict;
use crate::Slug;
use crate::decision::ReasonCode;

pub(super) fn check_currency(subject: &Subject<'_>, verdict: &mut Verdict) {
    let request = subject.request;
    let Some((profile_name, profile)) = subject.profile else {
        let message = match subject.assigned {
            Some(assigned) if !subject.policy.agents.contains_key(&request.agent) => format!(
                "agent {} is assigned profile \"{assigned}\", which the running policy does \
                 not define, so it may not spend any currency",
                request.agent
            ),
            _ => format!(
                "agent {} has no profile: the policy assigns it none and has no \"default\" \
                 profile, so it may not spend any currency",
                request.agent
            ),
        };
        verdict.deny(ReasonCode::CurrencyNotAllowed, message);
        return;
    };
    if profile.currencies.contains(&request.currency) {
        return;
    }
    let message = if profile.currencies.is_empty() {
        format!(
            "{} is not allowed: profile {profile_name} allows no currency",
            request.currency
        )
    } else {
        format!(
            "{} is not allowed for profile {profile_name} (allowed: {})",
            request.currency,
            List(&profile.currencies)
        )
    };
    verdict.deny(ReasonCode::CurrencyNotAllowed, message);
}

pub(super) fn check_rail(subject: &Subject<'_>, verdict: &mut Verdict) {
    let Some((profile_name, profile)) = subject.profile else {
        return;
    };
    if let Some(message) = refusal(
        "rail",
        &profile.allowed_rails,
        subject.request.rail.as_ref(),
        profile_name,
    ) {
        verdict.deny(ReasonCode::RailNotAllowed, message);
    }
}

pub(super) fn check_category(subject: &Subject<'_>, verdict: &mut Verdict) {
    let Some((profile_name, profile)) = subject.profile else {
        return;
    };
    let category = subject.request.category.as_ref();
    if let Some(message) = refusal(
        "category",
        &profile.allowed_categories,
        category,
        profile_name,
    ) {
        verdict.deny(ReasonCode::CategoryNotAllowed, message);
    }
}

/// Why `requested` is not allowed by a non-empty `allowed` list; `None` when it is.
fn refusal(
    what: &str,
    allowed: &[Slug],
    requested: Option<&Slug>,
    profile_name: &impl fmt::Display,
) -> Option<String> {
    if allowed.is_empty() {
        return None;
    }
    match requested {
        Some(slug) if allowed.contains(slug) => None,
        Some(slug) => Some(format!(
            "{what} \"{slug}\" is not allowed for profile {profile_name} (allowed: {})",
            List(allowed)
        )),
        None => Some(format!(
            "the request names no {what}, and profile {profile_name} allows only: {}",
            List(allowed)
        )),
    }
}

/// `a, b, c`.
struct List<'a, T>(&'a [T]);

impl<T: fmt::Display> fmt::Display for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, item) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}
