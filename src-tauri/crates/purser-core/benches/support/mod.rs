//! The benchmarks' world: a policy of about a hundred rules and a ledger view that
//! answers from precomputed sums, as the store's in-transaction view does. The ledger is
//! O(1) per query on purpose: the benchmarks measure the engine, not a vector scan.
#![allow(
    dead_code,
    reason = "each bench target uses a different part of the fixture"
)]

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use chrono_tz::Tz;
use purser_core::policy::{DaySet, Limit, OnExceed, Policy, Profile, Schedule, Velocity};
use purser_core::{
    AgentName, AuthorizationRequest, BudgetScope, CaptureMode, Committed, Currency, LedgerView,
    PolicyDuration, RequestKind, StandingGrant, Timestamp, Window,
};

fn parse<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse().unwrap()
}

const CURRENCIES: [&str; 4] = ["USD", "EUR", "USDC", "GBP"];

/// Everything one `decide` call needs, built once.
pub struct Fixture {
    pub policy: Policy,
    pub ledger: SumLedger,
    pub now: Timestamp,
    /// Within every rule: approved.
    pub approve: AuthorizationRequest,
    /// A blocked merchant, over the transaction cap and over a budget: denied.
    pub deny: AuthorizationRequest,
    /// Above the approval threshold: pending.
    pub pending: AuthorizationRequest,
}

fn limit(currency: &str, window: Window, max: &str, on_exceed: OnExceed) -> Limit {
    Limit {
        currency: parse(currency),
        window,
        max: parse(max),
        on_exceed,
    }
}

/// 40 blocked globs, 20 allowed merchants, 30 limits over four currencies and every
/// window, 3 thresholds, 4 currencies, 4 categories, 3 rails, velocity and hours.
fn policy() -> Policy {
    let blocked = (0..40).map(|i| match i % 4 {
        0 => format!("*casino{i}*"),
        1 => format!("*.bet{i}.example"),
        2 => format!("gambling-{i}.*"),
        _ => format!("*lottery*{i}?.com"),
    });
    let allowed = (0..19)
        .map(|i| format!("*.vendor{i}.com"))
        .chain(["api.openai.com".to_owned()]);
    let windows = [
        Window::Transaction,
        Window::Session,
        Window::Hour,
        Window::Day,
        Window::Week,
        Window::Month,
        Window::Total,
    ];
    let mut shared = Vec::new();
    let mut own = Vec::new();
    for i in 0..30 {
        let currency = CURRENCIES[i % CURRENCIES.len()];
        let window = windows[i % windows.len()];
        let on_exceed = if i % 3 == 0 {
            OnExceed::Ask
        } else {
            OnExceed::Deny
        };
        let max = format!("{}.00", 500 + i * 100);
        let target = if i < 10 { &mut shared } else { &mut own };
        target.push(limit(currency, window, &max, on_exceed));
    }
    // The profile's first two USD limits are tight enough for the deny path.
    own.push(limit("USD", Window::Transaction, "200.00", OnExceed::Deny));
    let profile = Profile {
        currencies: CURRENCIES.iter().map(|c| parse(c)).collect(),
        approve_above: ["USD", "EUR", "USDC"]
            .iter()
            .map(|c| (parse(c), parse("100.00")))
            .collect(),
        allowed_categories: ["software", "cloud", "data", "travel"]
            .iter()
            .map(|s| parse(s))
            .collect(),
        allowed_merchants: allowed.map(|m| parse(&m)).collect(),
        blocked_merchants: blocked.map(|m| parse(&m)).collect(),
        allowed_rails: ["card", "x402", "stripe"]
            .iter()
            .map(|s| parse(s))
            .collect(),
        velocity: Some(Velocity {
            count: 1_000,
            window: PolicyDuration::from_seconds(3_600).unwrap(),
        }),
        hours: Some(Schedule {
            days: DaySet(0b001_1111),
            from_minute: 8 * 60,
            to_minute: 20 * 60,
        }),
        limits: own,
    };
    let agents = (0..10)
        .map(|i| (parse(&format!("agent-{i}")), parse("default")))
        .collect();
    Policy {
        timezone: Tz::Europe__Paris,
        approval_timeout: PolicyDuration::TEN_MINUTES,
        hold_ttl: PolicyDuration::THIRTY_MINUTES,
        limits: shared,
        profiles: BTreeMap::from([(parse("default"), profile)]),
        agents,
    }
}

fn request(amount: &str, merchant: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        agent: parse("agent-3"),
        request_id: parse("order-8812-attempt"),
        kind: RequestKind::Payment,
        amount: parse(amount),
        currency: parse("USD"),
        merchant: parse(merchant),
        category: Some(parse("software")),
        rail: Some(parse("card")),
        capture: CaptureMode::Auto,
        session_id: Some(parse("run-42")),
        purpose: "Buy API credits for the report task".to_owned(),
        context: None,
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        let policy = policy();
        // Wednesday 2024-06-05 14:00 in Paris.
        let now: Timestamp = chrono::DateTime::parse_from_rfc3339("2024-06-05T12:00:00Z")
            .unwrap()
            .to_utc();
        let mut ledger = SumLedger {
            approvals: 12,
            ..SumLedger::default()
        };
        let agent: AgentName = parse("agent-3");
        let session = parse("run-42");
        // Some money already committed in every window the policy uses.
        for currency in CURRENCIES {
            let currency: Currency = parse(currency);
            for window in Window::ALL {
                let since = window.current_start(now, policy.timezone);
                let spent = Committed {
                    spent: parse("120.00"),
                    held: parse("30.00"),
                };
                for scope in [
                    BudgetScope::Shared,
                    BudgetScope::Agent(&agent),
                    BudgetScope::Session(&agent, Some(&session)),
                ] {
                    ledger.sums.insert(key(scope, &currency, since), spent);
                }
            }
        }
        let deny = AuthorizationRequest {
            amount: parse("750.00"),
            ..request("1.00", "royal-casino7.example")
        };
        Fixture {
            approve: request("42.00", "api.openai.com"),
            deny,
            pending: request("150.00", "api.openai.com"),
            policy,
            ledger,
            now,
        }
    }
}

/// A ledger view over precomputed sums keyed by (scope, currency, since).
#[derive(Default)]
pub struct SumLedger {
    sums: HashMap<u64, Committed, BuildHasherDefault<Identity>>,
    approvals: u32,
    grants: Vec<StandingGrant>,
}

impl LedgerView for SumLedger {
    fn kill_switch_engaged(&self) -> bool {
        false
    }

    fn agent_frozen(&self, _agent: &AgentName) -> bool {
        false
    }

    fn committed(
        &self,
        scope: BudgetScope<'_>,
        currency: &Currency,
        since: Option<Timestamp>,
    ) -> Committed {
        self.sums
            .get(&key(scope, currency, since))
            .copied()
            .unwrap_or_default()
    }

    fn approvals_since(&self, _agent: &AgentName, _since: Timestamp) -> u32 {
        self.approvals
    }

    fn standing_grants(&self, _agent: &AgentName) -> &[StandingGrant] {
        &self.grants
    }
}

/// FxHash of the query: what a store would index its running sums by.
fn key(scope: BudgetScope<'_>, currency: &Currency, since: Option<Timestamp>) -> u64 {
    let mut hash = Fx(0);
    match scope {
        BudgetScope::Shared => hash.add(0),
        BudgetScope::Agent(agent) => {
            hash.add(1);
            hash.bytes(agent.as_str().as_bytes());
        }
        BudgetScope::Session(agent, session) => {
            hash.add(2);
            hash.bytes(agent.as_str().as_bytes());
            hash.bytes(session.map_or(&[][..], |s| s.as_str().as_bytes()));
        }
    }
    hash.bytes(currency.as_str().as_bytes());
    hash.add(since.map_or(u64::MAX, |t| t.timestamp() as u64));
    hash.0
}

struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.add(u64::from(byte));
        }
        self.add(bytes.len() as u64);
    }
}

/// The keys are already hashes.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Checks the fixture does what the benchmarks claim, so a policy change cannot turn
/// the approve path into a deny path unnoticed.
pub fn assert_paths(fixture: &Fixture) {
    use purser_core::DecisionStatus;
    let decide = |request| {
        purser_core::engine::decide(&fixture.policy, request, &fixture.ledger, fixture.now)
    };
    assert_eq!(
        decide(&fixture.approve).status,
        DecisionStatus::Approved,
        "{:#?}",
        decide(&fixture.approve)
    );
    assert_eq!(decide(&fixture.deny).status, DecisionStatus::Denied);
    assert_eq!(decide(&fixture.pending).status, DecisionStatus::Pending);
}
