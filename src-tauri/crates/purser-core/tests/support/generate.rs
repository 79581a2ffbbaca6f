//! Random policies, ledgers and request sequences for the engine's property and
//! differential tests. Values are drawn from small pools (three agents, two currencies,
//! a handful of merchants and globs, amounts close to the limits) so that rules collide
//! often: a random test that never reaches a budget proves nothing.

use std::collections::BTreeMap;

use chrono::Duration;
use chrono_tz::Tz;
use proptest::prelude::*;
use purser_core::policy::{DaySet, Limit, OnExceed, Policy, Profile, Schedule, Velocity};
use purser_core::{
    Amount, AuthorizationRequest, CaptureMode, GrantScope, PolicyDuration, RequestKind,
    StandingGrant, Timestamp, Window,
};

use super::{
    Entry, VecLedger, agent, at, currency, merchant, pattern, profile_name, session, slug,
};

pub const ZONES: [Tz; 6] = [
    Tz::UTC,
    Tz::Europe__Paris,
    Tz::America__New_York,
    Tz::America__Santiago,
    Tz::Asia__Kolkata,
    Tz::America__Havana,
];
pub const AGENTS: [&str; 3] = ["a0", "a1", "a2"];
pub const CURRENCIES: [&str; 2] = ["USD", "EUR"];
pub const MERCHANTS: [&str; 6] = [
    "api.openai.com",
    "shop.example.com",
    "Royal-Casino.net",
    "bad1.com",
    "API.Example.COM",
    "café.example.com",
];
const BLOCKED: [&str; 3] = ["*casino*", "bad?.com", "*.NET"];
const ALLOWED: [&str; 3] = ["api.*", "*.example.com", "shop.*"];
const CATEGORIES: [&str; 2] = ["software", "travel"];
const RAILS: [&str; 2] = ["card", "x402"];
const SESSIONS: [&str; 2] = ["s1", "s2"];
/// Starting instants near DST changes and month/year ends in the zones above.
const STARTS: [&str; 5] = [
    "2024-03-09T12:00:00Z",
    "2024-03-30T20:00:00Z",
    "2024-09-07T12:00:00Z",
    "2024-11-02T12:00:00Z",
    "2024-12-30T20:00:00Z",
];

/// Half-units from 0.50 to `max_units`.00.
fn amount(max_units: i64) -> impl Strategy<Value = Amount> {
    (1..=max_units * 2).prop_map(|halves| Amount::from_micros(halves * 500_000).unwrap())
}

/// Some of `pool`; `all_percent` of the time all of it, `none_percent` none of it.
fn subset(
    pool: &'static [&'static str],
    all_percent: u32,
    none_percent: u32,
) -> impl Strategy<Value = Vec<&'static str>> {
    prop_oneof![
        all_percent => Just(pool.to_vec()),
        none_percent => Just(Vec::new()),
        100 - all_percent - none_percent => proptest::sample::subsequence(pool, 0..=pool.len()),
    ]
}

fn limit() -> impl Strategy<Value = Limit> {
    (
        0..CURRENCIES.len(),
        0..Window::ALL.len(),
        amount(120),
        any::<bool>(),
    )
        .prop_map(|(c, w, max, deny)| Limit {
            currency: currency(CURRENCIES[c]),
            window: Window::ALL[w],
            max,
            on_exceed: if deny { OnExceed::Deny } else { OnExceed::Ask },
        })
}

fn schedule() -> impl Strategy<Value = Schedule> {
    (1u8..128, 0u16..1440, 1u16..=1440).prop_map(|(days, from_minute, length)| Schedule {
        days: DaySet(days),
        from_minute,
        to_minute: (from_minute + length).min(1440),
    })
}

fn velocity() -> impl Strategy<Value = Velocity> {
    (0u32..6, prop::sample::select(vec![600u32, 3_600, 7_200])).prop_map(|(count, seconds)| {
        Velocity {
            count,
            window: PolicyDuration::from_seconds(seconds).unwrap(),
        }
    })
}

pub fn profile() -> impl Strategy<Value = Profile> {
    let lists = (
        subset(&CURRENCIES, 70, 5),
        subset(&CATEGORIES, 0, 60),
        subset(&ALLOWED, 10, 50),
        subset(&BLOCKED, 0, 50),
        subset(&RAILS, 0, 60),
    );
    let rest = (
        prop::option::weighted(0.5, (0..CURRENCIES.len(), amount(60))),
        prop::option::weighted(0.3, velocity()),
        prop::option::weighted(0.15, schedule()),
        prop::collection::vec(limit(), 0..5),
    );
    (lists, rest).prop_map(
        |(
            (currencies, categories, allowed, blocked, rails),
            (threshold, velocity, hours, limits),
        )| {
            Profile {
                currencies: currencies.into_iter().map(currency).collect(),
                approve_above: threshold
                    .map(|(c, max)| BTreeMap::from([(currency(CURRENCIES[c]), max)]))
                    .unwrap_or_default(),
                allowed_categories: categories.into_iter().map(slug).collect(),
                allowed_merchants: allowed.into_iter().map(pattern).collect(),
                blocked_merchants: blocked.into_iter().map(pattern).collect(),
                allowed_rails: rails.into_iter().map(slug).collect(),
                velocity,
                hours,
                limits,
            }
        },
    )
}

/// A valid policy: every profile an agent names exists; `default` exists 90% of the time.
pub fn policy() -> impl Strategy<Value = Policy> {
    (
        0..ZONES.len(),
        prop::collection::vec(limit(), 0..4),
        prop::option::weighted(0.9, profile()),
        profile(),
        prop::collection::vec(0u8..3, AGENTS.len()),
    )
        .prop_map(|(zone, limits, default, other, assignments)| {
            let mut profiles = BTreeMap::from([(profile_name("p1"), other)]);
            let has_default = default.is_some();
            if let Some(default) = default {
                profiles.insert(profile_name("default"), default);
            }
            let agents = AGENTS
                .iter()
                .zip(assignments)
                .filter_map(|(name, choice)| match choice {
                    1 => Some((agent(name), profile_name("p1"))),
                    2 if has_default => Some((agent(name), profile_name("default"))),
                    _ => None,
                })
                .collect();
            Policy {
                timezone: ZONES[zone],
                approval_timeout: PolicyDuration::TEN_MINUTES,
                hold_ttl: PolicyDuration::THIRTY_MINUTES,
                limits,
                profiles,
                agents,
            }
        })
}

/// A random instant near an interesting date.
pub fn start() -> impl Strategy<Value = Timestamp> {
    (0..STARTS.len(), 0i64..3 * 86_400)
        .prop_map(|(i, offset)| at(STARTS[i]) + Duration::seconds(offset))
}

pub fn request(id: usize) -> impl Strategy<Value = AuthorizationRequest> {
    (
        (
            prop::sample::select(vec![0usize, 0, 1, 2]),
            amount(60),
            0..CURRENCIES.len(),
            prop::sample::select(vec![0usize, 0, 1, 1, 2, 3, 4, 5]),
        ),
        (
            prop::option::of(0..CATEGORIES.len()),
            prop::option::of(0..RAILS.len()),
            any::<bool>(),
            prop::option::of(0..SESSIONS.len()),
            prop::bool::weighted(0.2),
        ),
    )
        .prop_map(
            move |((a, amount, c, m), (category, rail, manual, session_index, metered))| {
                let kind = if metered {
                    RequestKind::Usage {
                        action: slug("search"),
                        units: amount,
                        unit_cost: Amount::from_micros(1_000_000).unwrap(),
                    }
                } else {
                    RequestKind::Payment
                };
                AuthorizationRequest {
                    agent: agent(AGENTS[a]),
                    request_id: format!("r{id}").parse().unwrap(),
                    kind,
                    amount,
                    currency: currency(CURRENCIES[c]),
                    merchant: merchant(if metered { "search" } else { MERCHANTS[m] }),
                    category: category.map(|i| slug(CATEGORIES[i])),
                    rail: rail.map(|i| slug(RAILS[i])),
                    capture: if manual && !metered {
                        CaptureMode::Manual
                    } else {
                        CaptureMode::Auto
                    },
                    session_id: session_index.map(|i| session(SESSIONS[i])),
                    purpose: "generated".to_owned(),
                    context: None,
                }
            },
        )
}

fn entry(start: Timestamp) -> impl Strategy<Value = Entry> {
    (
        0..AGENTS.len(),
        prop::option::of(0..SESSIONS.len()),
        0..CURRENCIES.len(),
        amount(60),
        0i64..10 * 86_400,
        any::<bool>(),
        prop::bool::weighted(0.8),
    )
        .prop_map(move |(a, s, c, amount, ago, held, payment)| Entry {
            agent: agent(AGENTS[a]),
            session: s.map(|i| session(SESSIONS[i])),
            currency: currency(CURRENCIES[c]),
            amount,
            at: start - Duration::seconds(ago),
            held,
            payment,
        })
}

fn grant(start: Timestamp, id: usize) -> impl Strategy<Value = StandingGrant> {
    // Mostly the first agent, merchants and currency, so that grants meet requests.
    (
        0..2usize,
        0..3usize,
        prop::sample::select(vec![0usize, 0, 1]),
        amount(60),
        0u8..3,
        0i64..86_400,
        prop::option::of(0..SESSIONS.len()),
    )
        .prop_map(move |(a, m, c, max_amount, kind, lasts, s)| StandingGrant {
            id: format!("grant-{id}"),
            agent: agent(AGENTS[a]),
            // Grants are stored as the principal saw the merchant: vary the case.
            merchant: merchant(&if id % 2 == 0 {
                MERCHANTS[m].to_uppercase()
            } else {
                MERCHANTS[m].to_owned()
            }),
            currency: currency(CURRENCIES[c]),
            max_amount,
            scope: match kind {
                0 => GrantScope::Until(start + Duration::seconds(lasts)),
                1 => GrantScope::Session(s.map(|i| session(SESSIONS[i]))),
                _ => GrantScope::Always,
            },
        })
}

/// A ledger with some history before `start`, maybe a kill switch, frozen agents and
/// standing grants.
pub fn ledger(start: Timestamp) -> impl Strategy<Value = VecLedger> {
    (
        prop::collection::vec(entry(start), 0..12),
        prop::bool::weighted(0.05),
        prop::collection::vec(prop::bool::weighted(0.1), AGENTS.len()),
        prop::collection::vec(grant(start, 0), 0..3),
        prop::collection::vec(grant(start, 1), 0..3),
    )
        .prop_map(|(entries, kill_switch, frozen, grants_a, grants_b)| {
            let mut ledger = VecLedger {
                entries,
                kill_switch,
                frozen: AGENTS
                    .iter()
                    .zip(frozen)
                    .filter(|(_, f)| *f)
                    .map(|(a, _)| agent(a))
                    .collect(),
                grants: BTreeMap::new(),
                assigned: BTreeMap::new(),
            };
            for grant in grants_a.into_iter().chain(grants_b) {
                ledger.grant(grant);
            }
            ledger
        })
}

/// One step of a request sequence: wait `after_seconds`, then make `request`; if it is
/// pending and `approve_after_seconds` is set, the principal approves it that much later,
/// and with `grant` also grants a standing approval like it (`purser approve --for 1h`,
/// `--session`, `--always`).
#[derive(Debug, Clone)]
pub struct Step {
    pub after_seconds: i64,
    pub request: AuthorizationRequest,
    pub approve_after_seconds: Option<i64>,
    pub grant: Option<u8>,
}

impl Step {
    /// The standing grant the principal gives with an approval at `now`, if any.
    pub fn standing_grant(&self, now: Timestamp, index: usize) -> Option<StandingGrant> {
        let request = &self.request;
        Some(StandingGrant {
            id: format!("step-{index}"),
            agent: request.agent.clone(),
            merchant: request.merchant.clone(),
            currency: request.currency.clone(),
            max_amount: request.amount,
            scope: match self.grant? {
                0 => GrantScope::Until(now + Duration::hours(1)),
                1 => GrantScope::Session(request.session_id.clone()),
                _ => GrantScope::Always,
            },
        })
    }
}

pub fn steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                0i64,
                60,
                900,
                3_600,
                4 * 3_600,
                11 * 3_600,
                26 * 3_600,
            ]),
            prop::option::weighted(0.6, 0i64..1_200),
            prop::option::weighted(0.4, 0u8..3),
        ),
        1..=max,
    )
    .prop_flat_map(|timing| {
        let requests: Vec<_> = (0..timing.len()).map(request).collect();
        (Just(timing), requests)
    })
    .prop_map(|(timing, requests)| {
        timing
            .into_iter()
            .zip(requests)
            .map(
                |((after_seconds, approve_after_seconds, grant), request)| Step {
                    after_seconds,
                    request,
                    approve_after_seconds,
                    grant,
                },
            )
            .collect()
    })
}
