//! The policy model: what the principal allows, as read from and written to the TOML
//! format of agent-api.md §2.
//!
//! This module owns only the data. [`parse`] turns TOML text into a [`Policy`] (or
//! `file:line:col` errors) and [`serialize`] writes it back, so that
//! `parse(serialize(p)) == p` and the console can edit policies without losing anything.

pub mod error;
pub mod parse;
pub mod serialize;

use std::collections::BTreeMap;

use chrono_tz::Tz;

use crate::{
    AgentName, Amount, Currency, MerchantPattern, PolicyDuration, ProfileName, Slug, Window,
};

pub use error::{PolicyError, PolicyErrors};
pub use parse::parse_policy;
pub use serialize::serialize_policy;

/// The only policy format version this build reads.
pub const FORMAT_VERSION: u32 = 1;
/// The profile of agents that [`Policy::agents`] does not name.
pub const DEFAULT_PROFILE: &str = "default";

/// A whole policy. Built only by [`parse::parse_policy`] or [`Policy::deny_all`], so it
/// is always valid (every profile an agent names exists, every amount is positive...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// IANA zone in which hour/day/week/month windows and schedules are aligned.
    pub timezone: Tz,
    /// An unanswered approval expires (→ denied) after this long.
    pub approval_timeout: PolicyDuration,
    /// An uncaptured manual hold lapses (→ released) after this long.
    pub hold_ttl: PolicyDuration,
    /// Limits shared by all agents together.
    pub limits: Vec<Limit>,
    pub profiles: BTreeMap<ProfileName, Profile>,
    /// Agent name → profile; agents not listed use [`DEFAULT_PROFILE`].
    pub agents: BTreeMap<AgentName, ProfileName>,
}

/// A budget: at most `max` of `currency` per `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub currency: Currency,
    pub window: Window,
    pub max: Amount,
    pub on_exceed: OnExceed,
}

/// What happens to a request that would take a limit past its max.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnExceed {
    /// Refuse it (`over_budget`, or `over_transaction_limit` for a transaction window).
    Deny,
    /// Ask the principal (`over_budget_needs_approval`).
    Ask,
}

/// What one class of agents may do. Profile limits apply to each agent of the profile
/// separately (two agents on `default` each get the profile's daily budget); shared
/// budgets go in [`Policy::limits`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// Allowed currencies. Empty allows none (fail closed): a deny-all profile.
    pub currencies: Vec<Currency>,
    /// Above this amount (per currency) a request waits for the principal.
    pub approve_above: BTreeMap<Currency, Amount>,
    /// Empty = any category (a request without a category passes only when empty).
    pub allowed_categories: Vec<Slug>,
    /// Empty = any merchant; otherwise an unlisted merchant asks the principal.
    pub allowed_merchants: Vec<MerchantPattern>,
    /// A matching merchant is denied, whatever else allows it.
    pub blocked_merchants: Vec<MerchantPattern>,
    /// Empty = any rail (a request without a rail passes only when empty).
    pub allowed_rails: Vec<Slug>,
    pub velocity: Option<Velocity>,
    pub hours: Option<Schedule>,
    pub limits: Vec<Limit>,
}

/// At most `count` approved authorizations per agent in any rolling `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Velocity {
    pub count: u32,
    pub window: PolicyDuration,
}

/// When agents of a profile may spend, in the policy's zone: on `days`, from `from`
/// (inclusive) to `to` (exclusive). `to` may be 24:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Bit 0 = Monday ... bit 6 = Sunday.
    pub days: DaySet,
    /// Minutes after local midnight, 0..1440.
    pub from_minute: u16,
    /// Minutes after local midnight, 1..=1440, greater than `from_minute`.
    pub to_minute: u16,
}

/// A set of weekdays, Monday = bit 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DaySet(pub u8);

impl DaySet {
    pub fn contains(self, weekday: chrono::Weekday) -> bool {
        self.0 & (1 << weekday.num_days_from_monday()) != 0
    }
}

impl Policy {
    /// What an empty data dir starts with: a `default` profile that allows no currency,
    /// so every request is denied until the principal applies a policy.
    pub fn deny_all() -> Policy {
        let mut profiles = BTreeMap::new();
        if let Ok(name) = DEFAULT_PROFILE.parse::<ProfileName>() {
            profiles.insert(name, Profile::default());
        }
        Policy {
            timezone: Tz::UTC,
            approval_timeout: PolicyDuration::TEN_MINUTES,
            hold_ttl: PolicyDuration::THIRTY_MINUTES,
            limits: Vec::new(),
            profiles,
            agents: BTreeMap::new(),
        }
    }

    /// The profile that governs `agent`: the one this policy's `[agents]` table gives it,
    /// else `assigned` (the profile stored on the agent record, `purser agent add
    /// --profile`), else `default`. `None` when that profile is not defined here (an
    /// assigned profile this policy lacks, or no `default`): the engine denies such an
    /// agent.
    pub fn profile_for(
        &self,
        agent: &AgentName,
        assigned: Option<&ProfileName>,
    ) -> Option<(&ProfileName, &Profile)> {
        match self.agents.get(agent).or(assigned) {
            Some(name) => self.profiles.get_key_value(name),
            None => self
                .profiles
                .iter()
                .find(|(name, _)| name.as_str() == DEFAULT_PROFILE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name<T: std::str::FromStr>(text: &str) -> T
    where
        T::Err: std::fmt::Debug,
    {
        text.parse().unwrap()
    }

    #[test]
    fn profile_for_prefers_the_agents_table_then_the_assigned_profile_then_default() {
        let mut policy = Policy::deny_all();
        policy.profiles.insert(name("strict"), Profile::default());
        policy.profiles.insert(name("ops"), Profile::default());
        let bot: AgentName = name("bot");
        let strict: ProfileName = name("strict");
        let gone: ProfileName = name("gone");
        let picked = |policy: &Policy, assigned: Option<&ProfileName>| {
            policy
                .profile_for(&bot, assigned)
                .map(|(name, _)| name.as_str().to_owned())
        };
        assert_eq!(picked(&policy, None).as_deref(), Some("default"));
        assert_eq!(picked(&policy, Some(&strict)).as_deref(), Some("strict"));
        assert_eq!(picked(&policy, Some(&gone)), None);
        policy.agents.insert(bot.clone(), name("ops"));
        assert_eq!(picked(&policy, Some(&strict)).as_deref(), Some("ops"));
        assert_eq!(picked(&policy, Some(&gone)).as_deref(), Some("ops"));
    }
}
