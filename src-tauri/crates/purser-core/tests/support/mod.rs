//! Shared by the engine's integration tests: terse constructors for policies and
//! requests, [`VecLedger`] (a [`LedgerView`] over plain vectors), random policies and
//! request sequences ([`generate`]) and a naive reference model of the decision rules
//! ([`reference`]).
#![allow(
    dead_code,
    reason = "each test crate uses a different part of the support module"
)]

pub mod generate;
pub mod reference;

use std::collections::BTreeMap;

use chrono_tz::Tz;
use purser_core::policy::{Limit, OnExceed, Policy, Profile};
use purser_core::{
    AgentName, Amount, AuthorizationRequest, BudgetScope, CaptureMode, Committed, Currency,
    LedgerView, Merchant, MerchantPattern, PolicyDuration, ProfileName, RequestKind, SessionId,
    Slug, StandingGrant, Timestamp,
};

pub fn at(rfc3339: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .to_utc()
}

pub fn money(text: &str) -> Amount {
    text.parse().unwrap()
}

pub fn currency(code: &str) -> Currency {
    code.parse().unwrap()
}

pub fn agent(name: &str) -> AgentName {
    name.parse().unwrap()
}

pub fn profile_name(name: &str) -> ProfileName {
    name.parse().unwrap()
}

pub fn merchant(name: &str) -> Merchant {
    name.parse().unwrap()
}

pub fn pattern(glob: &str) -> MerchantPattern {
    glob.parse().unwrap()
}

pub fn slug(text: &str) -> Slug {
    text.parse().unwrap()
}

pub fn session(id: &str) -> SessionId {
    id.parse().unwrap()
}

pub fn limit(code: &str, window: &str, max: &str, on_exceed: OnExceed) -> Limit {
    Limit {
        currency: currency(code),
        window: window.parse().unwrap(),
        max: money(max),
        on_exceed,
    }
}

/// A profile that allows USD and nothing else restricts.
pub fn usd_profile() -> Profile {
    Profile {
        currencies: vec![currency("USD")],
        ..Profile::default()
    }
}

/// A policy in `tz` whose only profile is `default`.
pub fn policy_with(tz: Tz, default: Profile) -> Policy {
    Policy {
        timezone: tz,
        approval_timeout: PolicyDuration::TEN_MINUTES,
        hold_ttl: PolicyDuration::THIRTY_MINUTES,
        limits: Vec::new(),
        profiles: BTreeMap::from([(profile_name("default"), default)]),
        agents: BTreeMap::new(),
    }
}

/// A payment of `amount` USD by `bot` to `api.example.com`, auto capture, no session.
pub fn payment(amount: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        agent: agent("bot"),
        request_id: "req-1".parse().unwrap(),
        kind: RequestKind::Payment,
        amount: money(amount),
        currency: currency("USD"),
        merchant: merchant("api.example.com"),
        category: None,
        rail: None,
        capture: CaptureMode::Auto,
        session_id: None,
        purpose: "test".to_owned(),
        context: None,
    }
}

/// A usage of `amount` USD (one unit at that cost) by `bot`.
pub fn usage(amount: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        kind: RequestKind::Usage {
            action: slug("web_search"),
            units: money("1"),
            unit_cost: money(amount),
        },
        merchant: merchant("web_search"),
        ..payment(amount)
    }
}

/// One approved authorization (or metered usage) in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub agent: AgentName,
    pub session: Option<SessionId>,
    pub currency: Currency,
    pub amount: Amount,
    pub at: Timestamp,
    /// A manual hold not yet captured (counts as held, not spent).
    pub held: bool,
    /// A payment (counts for velocity); usage does not.
    pub payment: bool,
}

/// A [`LedgerView`] over vectors: every query scans every entry.
#[derive(Debug, Clone, Default)]
pub struct VecLedger {
    pub entries: Vec<Entry>,
    pub kill_switch: bool,
    pub frozen: Vec<AgentName>,
    pub grants: BTreeMap<AgentName, Vec<StandingGrant>>,
    /// Profiles stored on agent records (`purser agent add --profile`).
    pub assigned: BTreeMap<AgentName, ProfileName>,
}

impl VecLedger {
    /// Records what approving `request` at `at` commits.
    pub fn record(&mut self, request: &AuthorizationRequest, at: Timestamp) {
        self.entries.push(Entry {
            agent: request.agent.clone(),
            session: request.session_id.clone(),
            currency: request.currency.clone(),
            amount: request.amount,
            at,
            held: request.capture == CaptureMode::Manual,
            payment: !request.is_usage(),
        });
    }

    /// A spent entry of `amount` `code` by `agent_name` at `when`.
    pub fn spend(&mut self, agent_name: &str, amount: &str, code: &str, when: Timestamp) {
        self.entries.push(Entry {
            agent: agent(agent_name),
            session: None,
            currency: currency(code),
            amount: money(amount),
            at: when,
            held: false,
            payment: true,
        });
    }

    pub fn grant(&mut self, grant: StandingGrant) {
        self.grants
            .entry(grant.agent.clone())
            .or_default()
            .push(grant);
    }
}

/// Does `entry` count in `scope`?
pub fn in_scope(entry: &Entry, scope: BudgetScope<'_>) -> bool {
    match scope {
        BudgetScope::Shared => true,
        BudgetScope::Agent(agent) => entry.agent == *agent,
        BudgetScope::Session(agent, session) => {
            entry.agent == *agent && entry.session.as_ref() == session
        }
    }
}

impl LedgerView for VecLedger {
    fn kill_switch_engaged(&self) -> bool {
        self.kill_switch
    }

    fn agent_frozen(&self, agent: &AgentName) -> bool {
        self.frozen.contains(agent)
    }

    fn committed(
        &self,
        scope: BudgetScope<'_>,
        currency: &Currency,
        since: Option<Timestamp>,
    ) -> Committed {
        let mut committed = Committed::default();
        for entry in &self.entries {
            if !in_scope(entry, scope)
                || entry.currency != *currency
                || since.is_some_and(|since| entry.at < since)
            {
                continue;
            }
            let sum = if entry.held {
                &mut committed.held
            } else {
                &mut committed.spent
            };
            *sum = sum.checked_add(entry.amount).unwrap_or(Amount::MAX);
        }
        committed
    }

    fn approvals_since(&self, agent: &AgentName, since: Timestamp) -> u32 {
        let count = self
            .entries
            .iter()
            .filter(|entry| entry.payment && entry.agent == *agent && entry.at >= since)
            .count();
        u32::try_from(count).unwrap()
    }

    fn standing_grants(&self, agent: &AgentName) -> &[StandingGrant] {
        self.grants.get(agent).map_or(&[], Vec::as_slice)
    }

    fn assigned_profile(&self, agent: &AgentName) -> Option<&ProfileName> {
        self.assigned.get(agent)
    }
}

/// The codes of a decision's reasons, in order.
pub fn codes(decision: &purser_core::Decision) -> Vec<purser_core::ReasonCode> {
    decision.reasons.iter().map(|reason| reason.code).collect()
}
