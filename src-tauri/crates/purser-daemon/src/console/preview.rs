//! The what-if preview: how would the recorded requests of the last N days have been
//! decided under a candidate policy? (`POST /admin/policy/preview`.)
//!
//! Every payment and usage request recorded in the window is replayed oldest first with
//! [`purser_core::engine::decide`] at the instant it was made, against a fresh in-memory
//! ledger that only the replay's own approvals charge (so a budget the candidate makes
//! tighter is felt by the requests after the first one it approves). "Was" is the status
//! the request was first decided with, read from its audit row; "now" is the replay's.
//!
//! The world besides the ledger is replayed as it was for each request: a request the
//! kill switch or a frozen agent denied sees them again, and one a standing grant
//! approved sees that grant again, so the preview shows what the *policy* changes.
//! Requests the principal later approved or denied count as `pending` (what the policy
//! said). Bounded: at most [`MAX_REPLAYED`] requests, the most recent ones.

use std::collections::HashMap;

use purser_core::engine::decide;
use purser_core::{
    AgentName, Amount, AuthorizationStatus, BudgetScope, Committed, Currency, DecisionStatus,
    GrantScope, LedgerView, Policy, ProfileName, Reason, ReasonCode, RequestKind, SessionId,
    StandingGrant, Timestamp,
};
use purser_store::{AuditEntry, AuditFilter, AuditKind, MAX_AUDIT_PAGE, Store, StoreError};
use serde::Serialize;

use crate::authorizer::Authorization;
use crate::http::view::AuthorizationView;

/// The most requests one preview replays.
pub const MAX_REPLAYED: usize = 50_000;
/// Examples of flipped decisions in the answer.
pub const MAX_EXAMPLES: usize = 20;

/// The three ways a request can be decided when it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approved,
    Pending,
    Denied,
}

impl From<DecisionStatus> for Outcome {
    fn from(status: DecisionStatus) -> Outcome {
        match status {
            DecisionStatus::Approved => Outcome::Approved,
            DecisionStatus::Pending => Outcome::Pending,
            DecisionStatus::Denied => Outcome::Denied,
        }
    }
}

/// The preview's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub days: u32,
    /// Requests replayed.
    pub total: u64,
    /// Requests whose outcome differs under the candidate.
    pub flipped: u64,
    /// How many went from `was` to `now`, for each change that happened.
    pub changes: Vec<Change>,
    /// Up to [`MAX_EXAMPLES`] flipped requests, oldest first.
    pub examples: Vec<Flip>,
    /// More requests were recorded than [`MAX_REPLAYED`]; the oldest were left out.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub was: Outcome,
    pub now: Outcome,
    pub count: u64,
}

/// One request the candidate decides differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flip {
    /// The request as it was first decided.
    pub authorization: AuthorizationView,
    pub was: Outcome,
    pub now: Outcome,
    /// Why the candidate decides as it does.
    pub reasons: Vec<Reason>,
}

/// One recorded request: as first decided, and what it was first decided as.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub authorization: Authorization,
    pub was: Outcome,
}

/// The requests recorded at or after `since`, oldest first, at most [`MAX_REPLAYED`]
/// (the newest); `true` when some were left out.
pub async fn recorded_since<S: Store>(
    store: &S,
    since: Timestamp,
) -> Result<(Vec<Recorded>, bool), StoreError> {
    let mut entries = Vec::new();
    let mut truncated = false;
    for kind in [AuditKind::Request, AuditKind::Usage] {
        let filter = AuditFilter {
            kind: Some(kind),
            since: Some(since),
            ..AuditFilter::default()
        };
        let mut before = None;
        let mut fetched = 0;
        loop {
            let page = store.audit_page(&filter, before, MAX_AUDIT_PAGE).await?;
            fetched += page.entries.len();
            entries.extend(page.entries);
            match page.next_before_seq {
                Some(next) if fetched < MAX_REPLAYED => before = Some(next),
                Some(_) => {
                    truncated = true;
                    break;
                }
                None => break,
            }
        }
    }
    entries.sort_by_key(|entry| entry.seq);
    if entries.len() > MAX_REPLAYED {
        truncated = true;
        entries.drain(..entries.len() - MAX_REPLAYED);
    }
    let recorded = entries.into_iter().filter_map(recorded_from).collect();
    Ok((recorded, truncated))
}

/// The request and first decision an audit row of kind request/usage recorded.
fn recorded_from(entry: AuditEntry) -> Option<Recorded> {
    let seq = entry.seq;
    match serde_json::from_value::<Authorization>(entry.body) {
        Ok(authorization) => {
            let was = match authorization.status {
                AuthorizationStatus::Approved => Outcome::Approved,
                AuthorizationStatus::Pending => Outcome::Pending,
                _ => Outcome::Denied,
            };
            Some(Recorded { authorization, was })
        }
        Err(error) => {
            tracing::warn!(seq, %error, "audit row does not hold a request; left out of the preview");
            None
        }
    }
}

/// Replays `recorded` (oldest first) under `policy`; `assigned` holds the profiles
/// stored on agent records (the policy's `[agents]` table wins over them).
pub fn replay(
    policy: &Policy,
    recorded: &[Recorded],
    assigned: HashMap<AgentName, ProfileName>,
    days: u32,
    truncated: bool,
) -> Preview {
    let mut ledger = ReplayLedger {
        assigned,
        ..ReplayLedger::default()
    };
    let mut changes: HashMap<(Outcome, Outcome), u64> = HashMap::new();
    let mut examples = Vec::new();
    for Recorded { authorization, was } in recorded {
        ledger.set_world(authorization);
        let request = authorization.request();
        let decision = decide(policy, &request, &ledger, authorization.created_at);
        let now = Outcome::from(decision.status);
        if now == Outcome::Approved {
            ledger.charge(authorization);
        }
        if now != *was {
            *changes.entry((*was, now)).or_insert(0) += 1;
            if examples.len() < MAX_EXAMPLES {
                examples.push(Flip {
                    authorization: AuthorizationView::from(authorization),
                    was: *was,
                    now,
                    reasons: decision.reasons,
                });
            }
        }
    }
    let mut changes: Vec<Change> = changes
        .into_iter()
        .map(|((was, now), count)| Change { was, now, count })
        .collect();
    changes.sort_by_key(|change| (change.was, change.now));
    Preview {
        days,
        total: recorded.len() as u64,
        flipped: changes.iter().map(|change| change.count).sum(),
        changes,
        examples,
        truncated,
    }
}

/// Whose money a running total counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Scope {
    Shared,
    Agent(AgentName),
    Session(AgentName, Option<SessionId>),
}

impl Scope {
    fn of(scope: BudgetScope<'_>) -> Scope {
        match scope {
            BudgetScope::Shared => Scope::Shared,
            BudgetScope::Agent(agent) => Scope::Agent(agent.clone()),
            BudgetScope::Session(agent, session) => Scope::Session(agent.clone(), session.cloned()),
        }
    }
}

/// The replay's ledger: its own approvals only, plus the world (kill switch, frozen
/// agent, standing grant) of the request being replayed.
#[derive(Debug, Default)]
struct ReplayLedger {
    /// Per scope and currency: (instant, running total in micro-units), in time order.
    totals: HashMap<(Scope, Currency), Vec<(Timestamp, i64)>>,
    /// Approved payments per agent, in time order (velocity).
    approvals: HashMap<AgentName, Vec<Timestamp>>,
    kill_switch: bool,
    frozen: bool,
    grants: Vec<StandingGrant>,
    /// Profiles stored on agent records.
    assigned: HashMap<AgentName, ProfileName>,
}

impl ReplayLedger {
    /// The kill switch, frozen agent and standing grant as the recorded decision saw
    /// them.
    fn set_world(&mut self, authorization: &Authorization) {
        let spoke = |code: ReasonCode| authorization.reasons.iter().any(|r| r.code == code);
        self.kill_switch = spoke(ReasonCode::KillSwitchEngaged);
        self.frozen = spoke(ReasonCode::AgentFrozen);
        self.grants.clear();
        if spoke(ReasonCode::StandingGrant) {
            self.grants.push(StandingGrant {
                id: authorization.grant_id.clone().unwrap_or_default(),
                agent: authorization.agent.clone(),
                merchant: authorization.merchant.clone(),
                currency: authorization.currency.clone(),
                max_amount: authorization.amount,
                scope: GrantScope::Always,
            });
        }
    }

    /// Counts an approval of the replay against every scope at its instant.
    fn charge(&mut self, authorization: &Authorization) {
        let at = authorization.created_at;
        let micros = authorization.amount.micros();
        let agent = &authorization.agent;
        for scope in [
            Scope::Shared,
            Scope::Agent(agent.clone()),
            Scope::Session(agent.clone(), authorization.session_id.clone()),
        ] {
            let series = self
                .totals
                .entry((scope, authorization.currency.clone()))
                .or_default();
            insert_running(series, at, micros);
        }
        if authorization.kind == RequestKind::Payment {
            let times = self.approvals.entry(agent.clone()).or_default();
            let position = times.partition_point(|t| *t <= at);
            times.insert(position, at);
        }
    }
}

/// Adds `micros` at `at` to a running-total series kept in time order.
fn insert_running(series: &mut Vec<(Timestamp, i64)>, at: Timestamp, micros: i64) {
    let position = series.partition_point(|(t, _)| *t <= at);
    let before = position
        .checked_sub(1)
        .and_then(|i| series.get(i))
        .map_or(0, |(_, total)| *total);
    series.insert(position, (at, before.saturating_add(micros)));
    // Requests are replayed in time order, so this loop is empty but for clock jumps.
    for entry in series.iter_mut().skip(position + 1) {
        entry.1 = entry.1.saturating_add(micros);
    }
}

impl LedgerView for ReplayLedger {
    fn kill_switch_engaged(&self) -> bool {
        self.kill_switch
    }

    fn agent_frozen(&self, _agent: &AgentName) -> bool {
        self.frozen
    }

    fn committed(
        &self,
        scope: BudgetScope<'_>,
        currency: &Currency,
        since: Option<Timestamp>,
    ) -> Committed {
        let Some(series) = self.totals.get(&(Scope::of(scope), currency.clone())) else {
            return Committed::default();
        };
        let total = series.last().map_or(0, |(_, total)| *total);
        let before = match since {
            Some(since) => {
                let position = series.partition_point(|(t, _)| *t < since);
                position
                    .checked_sub(1)
                    .and_then(|i| series.get(i))
                    .map_or(0, |(_, total)| *total)
            }
            None => 0,
        };
        Committed {
            spent: Amount::from_micros(total.saturating_sub(before)).unwrap_or(Amount::MAX),
            held: Amount::ZERO,
        }
    }

    fn approvals_since(&self, agent: &AgentName, since: Timestamp) -> u32 {
        self.approvals.get(agent).map_or(0, |times| {
            let first = times.partition_point(|t| *t < since);
            u32::try_from(times.len() - first).unwrap_or(u32::MAX)
        })
    }

    fn standing_grants(&self, _agent: &AgentName) -> &[StandingGrant] {
        &self.grants
    }

    fn assigned_profile(&self, agent: &AgentName) -> Option<&ProfileName> {
        self.assigned.get(agent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: u32) -> Timestamp {
        chrono::Utc
            .with_ymd_and_hms(2026, 1, 5, 10, 0, second)
            .single()
            .unwrap()
    }

    const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }
"#;

    fn recorded(id: &str, amount: &str, was: Outcome, reasons: &[ReasonCode]) -> Recorded {
        let authorization = Authorization {
            id: id.to_owned(),
            request_id: id.parse().unwrap(),
            agent: "bot".parse().unwrap(),
            kind: RequestKind::Payment,
            status: AuthorizationStatus::Denied,
            amount: Amount::parse_positive(amount).unwrap(),
            captured_amount: None,
            currency: "USD".parse().unwrap(),
            merchant: "api.example.com".parse().unwrap(),
            category: None,
            rail: None,
            capture: purser_core::CaptureMode::Auto,
            session_id: None,
            purpose: "p".into(),
            context: None,
            reasons: reasons
                .iter()
                .map(|code| Reason {
                    code: *code,
                    message: String::new(),
                })
                .collect(),
            decided_by: None,
            policy_version: 2,
            grant_id: None,
            expires_at: None,
            created_at: at(1),
            decided_at: None,
        };
        Recorded { authorization, was }
    }

    #[test]
    fn the_world_of_each_request_is_replayed_so_only_policy_changes_flip() {
        let policy = purser_core::policy::parse_policy("p.toml", POLICY).unwrap();
        let history = [
            // Denied by the kill switch: still denied, whatever the policy.
            recorded(
                "a",
                "1.00",
                Outcome::Denied,
                &[ReasonCode::KillSwitchEngaged],
            ),
            // Denied because its agent was frozen then: still denied.
            recorded("b", "1.00", Outcome::Denied, &[ReasonCode::AgentFrozen]),
            // Approved by a standing grant over the threshold: still approved.
            recorded(
                "c",
                "40.00",
                Outcome::Approved,
                &[ReasonCode::StandingGrant],
            ),
            // Denied under an older policy, within this one: a flip.
            recorded(
                "d",
                "1.00",
                Outcome::Denied,
                &[ReasonCode::CurrencyNotAllowed],
            ),
        ];
        let preview = replay(&policy, &history, HashMap::new(), 30, false);
        assert_eq!((preview.total, preview.flipped), (4, 1), "{preview:?}");
        assert_eq!(preview.examples[0].authorization.id, "d");
        assert_eq!(
            (preview.examples[0].was, preview.examples[0].now),
            (Outcome::Denied, Outcome::Approved)
        );
    }

    #[test]
    fn running_totals_answer_any_since() {
        let mut series = Vec::new();
        insert_running(&mut series, at(1), 10);
        insert_running(&mut series, at(3), 5);
        insert_running(&mut series, at(2), 1);
        assert_eq!(series, vec![(at(1), 10), (at(2), 11), (at(3), 16)]);
        let ledger = ReplayLedger {
            totals: HashMap::from([((Scope::Shared, "USD".parse().unwrap()), series)]),
            ..ReplayLedger::default()
        };
        let usd: Currency = "USD".parse().unwrap();
        let spent = |since| {
            ledger
                .committed(BudgetScope::Shared, &usd, since)
                .spent
                .micros()
        };
        assert_eq!(spent(None), 16);
        assert_eq!(spent(Some(at(2))), 6);
        assert_eq!(spent(Some(at(4))), 0);
        let eur: Currency = "EUR".parse().unwrap();
        assert!(
            ledger
                .committed(BudgetScope::Shared, &eur, None)
                .spent
                .is_zero()
        );
    }
}
