//! The principal's commands that are not about one authorization: the kill switch,
//! agents, policy versions; and the two reads that need the writer's in-memory ledger
//! (budget lines, status).

use std::sync::Arc;

use purser_core::engine::budget_lines;
use purser_core::{
    AgentName, BudgetLine, BudgetScope, Currency, LedgerView, Policy, ProfileName, Reason,
    ReasonCode, SessionId, Window,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::super::rows::{AGENT_COLUMNS, agent_from_row, to_micros};
use super::super::state::{AgentEntry, View};
use super::{Batch, Failure, reject};
use crate::StoreError;
use crate::records::{
    AgentCounts, AgentRecord, AgentStatus, AgentStatusChange, AuditKind, Authorization,
    CurrencyTotals, DecidedBy, KillSwitchState, StoreStatus,
};

impl Batch<'_> {
    pub(super) async fn engage_kill_switch(
        &mut self,
        reason: Option<String>,
    ) -> Result<Vec<Authorization>, Failure> {
        let now = self.now();
        sqlx::query(
            "UPDATE kill_switch SET engaged = 1, reason = $1, changed_at = $2 WHERE id = 1",
        )
        .bind(reason.as_deref())
        .bind(to_micros(now))
        .execute(self.sql().await?)
        .await?;
        self.scratch.gov.kill_switch = KillSwitchState {
            engaged: true,
            reason: reason.clone(),
            changed_at: Some(now),
        };
        self.audit(
            now,
            AuditKind::Kill,
            None,
            None,
            json!({ "engaged": true, "reason": reason }),
        )?;
        self.cancel_pending(now).await
    }

    pub(super) async fn resume(&mut self) -> Result<KillSwitchState, Failure> {
        let now = self.now();
        sqlx::query(
            "UPDATE kill_switch SET engaged = 0, reason = NULL, changed_at = $1 WHERE id = 1",
        )
        .bind(to_micros(now))
        .execute(self.sql().await?)
        .await?;
        let state = KillSwitchState {
            engaged: false,
            reason: None,
            changed_at: Some(now),
        };
        self.scratch.gov.kill_switch = state.clone();
        self.audit(
            now,
            AuditKind::Resume,
            None,
            None,
            json!({ "engaged": false }),
        )?;
        Ok(state)
    }

    async fn agent_record(&mut self, name: &AgentName) -> Result<AgentRecord, Failure> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE name = $1"
        ))
        .bind(name.as_str())
        .fetch_optional(self.sql().await?)
        .await?;
        match row {
            Some(row) => Ok(agent_from_row(&row)?),
            None => reject(StoreError::NotFound(format!("agent {name}"))),
        }
    }

    pub(super) async fn add_agent(
        &mut self,
        name: AgentName,
        profile: Option<ProfileName>,
        token_hash: [u8; 32],
    ) -> Result<AgentRecord, Failure> {
        let now = self.now();
        if self.scratch.gov.agents.contains_key(&name) {
            return reject(StoreError::InvalidInput(format!(
                "agent {name} already exists: choose another name (agent names are never reused)"
            )));
        }
        let taken = sqlx::query("SELECT 1 FROM agents WHERE token_hash = $1")
            .bind(&token_hash[..])
            .fetch_optional(self.sql().await?)
            .await?;
        if taken.is_some() {
            return reject(StoreError::InvalidInput(
                "that token is already issued to another agent".into(),
            ));
        }
        sqlx::query("INSERT INTO agents (name, profile, token_hash, status, created_at) VALUES ($1, $2, $3, 'active', $4)")
            .bind(name.as_str())
            .bind(profile.as_ref().map(ProfileName::as_str))
            .bind(&token_hash[..])
            .bind(to_micros(now))
            .execute(self.sql().await?)
            .await?;
        self.scratch.gov.agents.insert(
            name.clone(),
            AgentEntry {
                status: AgentStatus::Active,
                profile: profile.clone(),
            },
        );
        let body =
            json!({ "action": "add", "agent": name, "profile": profile, "status": "active" });
        self.audit(now, AuditKind::AgentChange, Some(name.as_str()), None, body)?;
        Ok(AgentRecord {
            name,
            profile,
            status: AgentStatus::Active,
            created_at: now,
        })
    }

    pub(super) async fn set_agent_status(
        &mut self,
        name: &AgentName,
        status: AgentStatus,
    ) -> Result<AgentStatusChange, Failure> {
        let now = self.now();
        let current = match self.scratch.gov.agents.get(name) {
            Some(current) => current.status,
            None => return reject(StoreError::NotFound(format!("agent {name}"))),
        };
        if current == status {
            return Ok(AgentStatusChange {
                agent: self.agent_record(name).await?,
                cancelled: Vec::new(),
            });
        }
        if current == AgentStatus::Revoked {
            return reject(StoreError::InvalidState(format!(
                "agent {name} is revoked, which is final: add a new agent instead"
            )));
        }
        sqlx::query("UPDATE agents SET status = $2 WHERE name = $1")
            .bind(name.as_str())
            .bind(status.as_str())
            .execute(self.sql().await?)
            .await?;
        if let Some(entry) = self.scratch.gov.agents.get_mut(name) {
            entry.status = status;
        }
        let action = match status {
            AgentStatus::Active => "unfreeze",
            AgentStatus::Frozen => "freeze",
            AgentStatus::Revoked => "revoke",
        };
        let body = json!({ "action": action, "agent": name, "status": status.as_str() });
        self.audit(now, AuditKind::AgentChange, Some(name.as_str()), None, body)?;
        // A frozen or revoked agent's waiting requests could only be refused: end them now,
        // so they leave the approval queue and their agents stop waiting.
        let cancelled = match status {
            AgentStatus::Active => Vec::new(),
            AgentStatus::Frozen | AgentStatus::Revoked => {
                let done = if status == AgentStatus::Revoked {
                    "revoked"
                } else {
                    "frozen"
                };
                let reason = Reason {
                    code: ReasonCode::DeniedByPrincipal,
                    message: format!("agent {name} was {done} by the principal"),
                };
                self.cancel_pending_of(Some(name), reason, DecidedBy::Principal, now)
                    .await?
            }
        };
        Ok(AgentStatusChange {
            agent: self.agent_record(name).await?,
            cancelled,
        })
    }

    pub(super) async fn set_agent_profile(
        &mut self,
        name: &AgentName,
        profile: Option<ProfileName>,
    ) -> Result<AgentRecord, Failure> {
        let now = self.now();
        if !self.scratch.gov.agents.contains_key(name) {
            return reject(StoreError::NotFound(format!("agent {name}")));
        }
        sqlx::query("UPDATE agents SET profile = $2 WHERE name = $1")
            .bind(name.as_str())
            .bind(profile.as_ref().map(ProfileName::as_str))
            .execute(self.sql().await?)
            .await?;
        if let Some(entry) = self.scratch.gov.agents.get_mut(name) {
            entry.profile = profile.clone();
        }
        let body = json!({ "action": "profile", "agent": name, "profile": profile });
        self.audit(now, AuditKind::AgentChange, Some(name.as_str()), None, body)?;
        self.agent_record(name).await
    }

    pub(super) async fn apply_policy(
        &mut self,
        text: String,
        policy: Policy,
        applied_by: String,
    ) -> Result<u32, Failure> {
        let now = self.now();
        let version = self
            .scratch
            .gov
            .policy_version
            .checked_add(1)
            .ok_or_else(|| {
                Failure::Rejected(StoreError::InvalidState(
                    "no more policy versions can be stored".into(),
                ))
            })?;
        sqlx::query("INSERT INTO policy_versions (version, text, applied_at, applied_by) VALUES ($1, $2, $3, $4)")
            .bind(i64::from(version))
            .bind(&text)
            .bind(to_micros(now))
            .bind(&applied_by)
            .execute(self.sql().await?)
            .await?;
        self.scratch.gov.policy = Arc::new(policy);
        self.scratch.gov.policy_version = version;
        self.scratch.closes_batch = true;
        let body = json!({
            "version": version,
            "applied_by": applied_by,
            "sha256": hex::encode(Sha256::digest(text.as_bytes())),
            "text": text,
        });
        self.audit(now, AuditKind::PolicyChange, None, None, body)?;
        Ok(version)
    }

    pub(super) async fn budget(
        &mut self,
        agent: &AgentName,
        session: Option<SessionId>,
    ) -> Result<Vec<BudgetLine>, Failure> {
        let now = self.now();
        self.ensure_session(agent, session.as_ref()).await?;
        let policy = Arc::clone(&self.scratch.gov.policy);
        let view = View {
            base: &*self.state,
            scratch: &self.scratch,
        };
        Ok(budget_lines(&policy, agent, session.as_ref(), &view, now))
    }

    pub(super) async fn status(&mut self) -> Result<StoreStatus, Failure> {
        let now = self.now();
        let pending = sqlx::query("SELECT COUNT(*) FROM authorizations WHERE status = 'pending'")
            .fetch_one(self.sql().await?)
            .await?
            .try_get::<i64, _>(0)?;
        let gov = &self.scratch.gov;
        let day_start = Window::Day.current_start(now, gov.policy.timezone);
        let view = View {
            base: &*self.state,
            scratch: &self.scratch,
        };
        let mut currencies: Vec<Currency> = self.state.ledger.currencies().cloned().collect();
        currencies.extend(self.scratch.deltas.iter().map(|d| d.currency.clone()));
        currencies.sort();
        currencies.dedup();
        let today = currencies
            .into_iter()
            .map(|currency| {
                let committed = view.committed(BudgetScope::Shared, &currency, day_start);
                CurrencyTotals {
                    currency,
                    spent: committed.spent,
                    held: committed.held,
                }
            })
            .filter(|totals| !totals.spent.is_zero() || !totals.held.is_zero())
            .collect();
        let mut agents = AgentCounts::default();
        for entry in gov.agents.values() {
            match entry.status {
                AgentStatus::Active => agents.active += 1,
                AgentStatus::Frozen => agents.frozen += 1,
                AgentStatus::Revoked => agents.revoked += 1,
            }
        }
        Ok(StoreStatus {
            kill_switch: gov.kill_switch.clone(),
            policy_version: gov.policy_version,
            pending: u64::try_from(pending).unwrap_or(0),
            today,
            agents,
        })
    }
}
