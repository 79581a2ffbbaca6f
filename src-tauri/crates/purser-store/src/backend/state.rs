//! The writer's in-memory state and the [`LedgerView`] the engine decides against.
//!
//! [`State`] is authoritative and holds committed data only. A batch works on a
//! [`Scratch`]: a copy of the small [`Governance`] part (policy, kill switch, agents,
//! grants, audit head) plus the batch's own ledger deltas and approvals on top of the
//! big indexes. [`View`] answers the engine from both, so every command sees the
//! effects of the commands before it in the same batch. After COMMIT the scratch is
//! folded into the state ([`State::commit`]); after a failure it is simply dropped.
//!
//! This module must not write to the database; it only loads from it.

use std::collections::HashMap;
use std::sync::Arc;

use purser_core::policy::parse::parse_policy;
use purser_core::{
    AgentName, Amount, BudgetScope, Committed, Currency, GrantScope, LedgerView, Policy,
    ProfileName, SessionId, StandingGrant, Timestamp,
};
use sqlx::Row;

use super::Conn;

use super::audit::{self, AuditHead};
use super::rows::{from_micros, to_micros};
use super::session_totals::{PerCurrency, SessionKey, SessionTotals};
use super::velocity::{VelocityBounds, VelocityIndex};
use crate::StoreError;
use crate::ledger_index::{BUCKET_MICROS, LedgerDelta, LedgerIndex, Sums, bucket_of};
use crate::records::{AgentStatus, KillSwitchState};

/// The small part of the state, copied for each batch.
#[derive(Debug, Clone)]
pub(crate) struct Governance {
    pub policy: Arc<Policy>,
    pub policy_version: u32,
    pub kill_switch: KillSwitchState,
    pub agents: HashMap<AgentName, AgentEntry>,
    pub grants: HashMap<AgentName, Vec<StandingGrant>>,
    pub audit_head: AuditHead,
}

/// What the writer keeps of an agent record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AgentEntry {
    pub status: AgentStatus,
    /// The profile stored on the record; the policy's `[agents]` table wins over it.
    pub profile: Option<ProfileName>,
}

/// What readers outside the writer may see: replaced after every commit.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub policy_version: u32,
    pub policy: Arc<Policy>,
    pub kill_switch: KillSwitchState,
    pub audit_head: AuditHead,
}

impl Governance {
    pub(crate) fn published(&self) -> Published {
        Published {
            policy_version: self.policy_version,
            policy: Arc::clone(&self.policy),
            kill_switch: self.kill_switch.clone(),
            audit_head: self.audit_head,
        }
    }
}

/// The writer's authoritative state.
#[derive(Debug)]
pub(crate) struct State {
    pub gov: Governance,
    pub ledger: LedgerIndex,
    pub velocity: VelocityIndex,
    pub sessions: SessionTotals,
}

/// A batch's uncommitted view of the state.
#[derive(Debug)]
pub(crate) struct Scratch {
    pub gov: Governance,
    pub deltas: Vec<LedgerDelta>,
    /// Payment approvals of this batch (velocity): agent, instant in micros.
    pub approvals: Vec<(AgentName, i64)>,
    /// Sessions loaded from the database during this batch, with how many of
    /// `deltas` that load already included.
    pub sessions_loaded: HashMap<SessionKey, (PerCurrency, usize)>,
    /// No further command may join this batch (set by a policy change, whose new
    /// velocity bounds may need a reload first).
    pub closes_batch: bool,
}

impl Scratch {
    pub(crate) fn new(state: &State) -> Scratch {
        Scratch {
            gov: state.gov.clone(),
            deltas: Vec::new(),
            approvals: Vec::new(),
            sessions_loaded: HashMap::new(),
            closes_batch: false,
        }
    }
}

impl State {
    /// Loads everything the writer keeps in memory from a migrated database.
    pub(crate) async fn load(conn: &mut Conn, now: Timestamp) -> Result<State, StoreError> {
        let now_micros = to_micros(now);
        let (policy_version, policy) = load_policy(conn).await?;
        let kill_switch = load_kill_switch(conn).await?;
        let mut agents = HashMap::new();
        for row in sqlx::query("SELECT name, status, profile FROM agents")
            .fetch_all(&mut *conn)
            .await?
        {
            let name: String = row.try_get(0)?;
            let status: String = row.try_get(1)?;
            let profile: Option<String> = row.try_get(2)?;
            agents.insert(
                parse_column::<AgentName>(&name)?,
                AgentEntry {
                    status: status.parse().map_err(StoreError::Corrupt)?,
                    profile: profile.as_deref().map(parse_column).transpose()?,
                },
            );
        }
        let grants = load_grants(conn, now_micros).await?;
        let audit_head = audit::load_head(conn).await?;
        let ledger = load_ledger(conn, now_micros).await?;
        let velocity = VelocityIndex::load(conn, VelocityBounds::of(&policy), now_micros).await?;
        Ok(State {
            gov: Governance {
                policy: Arc::new(policy),
                policy_version,
                kill_switch,
                agents,
                grants,
                audit_head,
            },
            ledger,
            velocity,
            sessions: SessionTotals::default(),
        })
    }

    /// Folds a committed batch into the state.
    pub(crate) fn commit(&mut self, scratch: Scratch, now: Timestamp) {
        let now_micros = to_micros(now);
        for delta in &scratch.deltas {
            self.ledger.apply(delta);
            let key: SessionKey = (delta.agent.clone(), delta.session.clone());
            if !scratch.sessions_loaded.contains_key(&key) {
                self.sessions.apply(delta);
            }
        }
        for (key, (mut totals, included)) in scratch.sessions_loaded {
            for delta in scratch.deltas.iter().skip(included) {
                if delta.agent == key.0 && delta.session == key.1 {
                    totals
                        .entry(delta.currency.clone())
                        .or_default()
                        .add(delta.change);
                }
            }
            self.sessions.insert(key, totals);
        }
        for (agent, at) in &scratch.approvals {
            self.velocity.push(agent, *at, now_micros);
        }
        self.gov = scratch.gov;
        self.ledger.prune(now_micros);
    }

    /// Does the velocity index keep enough history for the current policy?
    pub(crate) fn velocity_is_stale(&self) -> bool {
        !self
            .velocity
            .bounds()
            .covers(VelocityBounds::of(&self.gov.policy))
    }
}

/// The engine's window on a batch: committed state plus the batch's own effects.
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub base: &'a State,
    pub scratch: &'a Scratch,
}

impl View<'_> {
    fn batch_sums(&self, matches: impl Fn(&LedgerDelta) -> bool) -> Sums {
        let mut sums = Sums::default();
        for delta in self.scratch.deltas.iter().filter(|d| matches(d)) {
            sums.add(delta.change);
        }
        sums
    }

    fn session_sums(
        &self,
        agent: &AgentName,
        session: Option<&SessionId>,
        currency: &Currency,
    ) -> Option<Sums> {
        let key: SessionKey = (agent.clone(), session.cloned());
        let same = |d: &LedgerDelta| {
            &d.agent == agent && d.session.as_ref() == session && &d.currency == currency
        };
        if let Some((loaded, included)) = self.scratch.sessions_loaded.get(&key) {
            let mut sums = loaded.get(currency).copied().unwrap_or_default();
            for delta in self
                .scratch
                .deltas
                .iter()
                .skip(*included)
                .filter(|d| same(d))
            {
                sums.add(delta.change);
            }
            return Some(sums);
        }
        let mut sums = self
            .base
            .sessions
            .get(&key)?
            .get(currency)
            .copied()
            .unwrap_or_default();
        sums.add(self.batch_sums(same));
        Some(sums)
    }
}

fn to_committed(sums: Sums) -> Committed {
    let amount = |micros: i64| {
        Amount::from_micros(micros).unwrap_or_else(|| {
            if micros < 0 {
                tracing::error!(
                    micros,
                    "negative committed money in the ledger index; counting the budget as used up"
                );
            }
            Amount::MAX
        })
    };
    Committed {
        spent: amount(sums.spent),
        held: amount(sums.held),
    }
}

impl LedgerView for View<'_> {
    fn kill_switch_engaged(&self) -> bool {
        self.scratch.gov.kill_switch.engaged
    }

    fn agent_frozen(&self, agent: &AgentName) -> bool {
        // Unknown agents count as frozen: fail closed.
        self.scratch.gov.agents.get(agent).map(|entry| entry.status) != Some(AgentStatus::Active)
    }

    fn agent_revoked(&self, agent: &AgentName) -> bool {
        self.scratch.gov.agents.get(agent).map(|entry| entry.status) == Some(AgentStatus::Revoked)
    }

    fn assigned_profile(&self, agent: &AgentName) -> Option<&ProfileName> {
        self.scratch.gov.agents.get(agent)?.profile.as_ref()
    }

    fn committed(
        &self,
        scope: BudgetScope<'_>,
        currency: &Currency,
        since: Option<Timestamp>,
    ) -> Committed {
        let since_micros = since.map(to_micros);
        let ledger = &self.base.ledger;
        let in_window = |d: &LedgerDelta| {
            &d.currency == currency && ledger.counts_since(d.at_micros, since_micros)
        };
        let sums = match scope {
            BudgetScope::Shared => {
                let mut sums = ledger.committed(None, currency, since_micros);
                sums.add(self.batch_sums(in_window));
                sums
            }
            BudgetScope::Agent(agent) => {
                let mut sums = ledger.committed(Some(agent), currency, since_micros);
                sums.add(self.batch_sums(|d| &d.agent == agent && in_window(d)));
                sums
            }
            // A session window covers the whole session, so `since` is not needed; an
            // all-time answer can only count more.
            BudgetScope::Session(agent, session) => {
                match self.session_sums(agent, session, currency) {
                    Some(sums) => sums,
                    None => {
                        tracing::error!(%agent, "session totals asked for but not loaded; counting the budget as used up");
                        Sums {
                            spent: i64::MAX,
                            held: 0,
                        }
                    }
                }
            }
        };
        to_committed(sums)
    }

    fn approvals_since(&self, agent: &AgentName, since: Timestamp) -> u32 {
        let since_micros = to_micros(since);
        let batch = self
            .scratch
            .approvals
            .iter()
            .filter(|(a, at)| a == agent && *at >= since_micros)
            .count();
        self.base
            .velocity
            .count_since(agent, since_micros)
            .saturating_add(u32::try_from(batch).unwrap_or(u32::MAX))
    }

    fn standing_grants(&self, agent: &AgentName) -> &[StandingGrant] {
        self.scratch
            .gov
            .grants
            .get(agent)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

fn parse_column<T: std::str::FromStr>(text: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

async fn load_policy(conn: &mut Conn) -> Result<(u32, Policy), StoreError> {
    let row =
        sqlx::query("SELECT version, text FROM policy_versions ORDER BY version DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::Corrupt("no policy version is stored".into()))?;
    let version: i64 = row.try_get(0)?;
    let text: String = row.try_get(1)?;
    let version = u32::try_from(version).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let policy = parse_policy(&format!("policy version {version}"), &text).map_err(|e| {
        StoreError::Corrupt(format!(
            "stored policy version {version} does not parse: {e}"
        ))
    })?;
    Ok((version, policy))
}

pub(crate) async fn load_kill_switch(conn: &mut Conn) -> Result<KillSwitchState, StoreError> {
    let row = sqlx::query("SELECT engaged, reason, changed_at FROM kill_switch WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::Corrupt("the kill switch row is missing".into()))?;
    let changed_at: Option<i64> = row.try_get(2)?;
    Ok(KillSwitchState {
        engaged: row.try_get::<i64, _>(0)? != 0,
        reason: row.try_get(1)?,
        changed_at: changed_at.map(from_micros).transpose()?,
    })
}

async fn load_grants(
    conn: &mut Conn,
    now_micros: i64,
) -> Result<HashMap<AgentName, Vec<StandingGrant>>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, agent, merchant, currency, max_micros, scope, until_at, session_id FROM grants \
         WHERE revoked_at IS NULL AND (until_at IS NULL OR until_at > $1) ORDER BY created_at",
    )
    .bind(now_micros)
    .fetch_all(&mut *conn)
    .await?;
    let mut grants: HashMap<AgentName, Vec<StandingGrant>> = HashMap::new();
    for row in rows {
        let scope: String = row.try_get(5)?;
        let scope = match scope.as_str() {
            "until" => GrantScope::Until(from_micros(row.try_get(6)?)?),
            "session" => {
                let session: Option<String> = row.try_get(7)?;
                GrantScope::Session(session.as_deref().map(parse_column).transpose()?)
            }
            "always" => GrantScope::Always,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown grant scope {other:?}"
                )));
            }
        };
        let agent: AgentName = parse_column(&row.try_get::<String, _>(1)?)?;
        let grant = StandingGrant {
            id: row.try_get(0)?,
            agent: agent.clone(),
            merchant: parse_column(&row.try_get::<String, _>(2)?)?,
            currency: parse_column(&row.try_get::<String, _>(3)?)?,
            max_amount: Amount::from_micros(row.try_get(4)?)
                .ok_or_else(|| StoreError::Corrupt("grant amount out of range".into()))?,
            scope,
        };
        grants.entry(agent).or_default().push(grant);
    }
    Ok(grants)
}

async fn load_ledger(conn: &mut Conn, now_micros: i64) -> Result<LedgerIndex, StoreError> {
    let mut index = LedgerIndex::new(now_micros);
    let totals = sqlx::query(
        "SELECT agent, currency, CAST(SUM(spent_micros) AS BIGINT), CAST(SUM(held_micros) AS BIGINT) FROM ledger_buckets GROUP BY agent, currency",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in totals {
        let agent: AgentName = parse_column(&row.try_get::<String, _>(0)?)?;
        let currency: Currency = parse_column(&row.try_get::<String, _>(1)?)?;
        index.add_total(
            &agent,
            &currency,
            Sums {
                spent: row.try_get(2)?,
                held: row.try_get(3)?,
            },
        );
    }
    let recent = sqlx::query(
        "SELECT agent, currency, bucket, spent_micros, held_micros FROM ledger_buckets WHERE bucket >= $1",
    )
    .bind(bucket_of(index.horizon_micros()))
    .fetch_all(&mut *conn)
    .await?;
    for row in recent {
        let agent: AgentName = parse_column(&row.try_get::<String, _>(0)?)?;
        let currency: Currency = parse_column(&row.try_get::<String, _>(1)?)?;
        let at_micros = row.try_get::<i64, _>(2)?.saturating_mul(BUCKET_MICROS);
        index.add_bucketed(
            &agent,
            &currency,
            at_micros,
            Sums {
                spent: row.try_get(3)?,
                held: row.try_get(4)?,
            },
        );
    }
    Ok(index)
}
