//! [`Handle`]: the store as the daemon holds it, the same for every backend. Cheap to
//! clone: a channel to the writer for everything that changes state, a pool for the
//! queries that read committed rows, and the writer's published state (policy, kill
//! switch, audit head) for the reads that need no database at all.

use std::io::Write;
use std::sync::Arc;

use purser_core::policy::{parse_policy, serialize_policy};
use purser_core::{
    AgentName, Amount, AuthorizationRequest, BudgetLine, Policy, ProfileName, RequestKind,
    SessionId, Timestamp,
};
use serde_json::json;
use sqlx::Row;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::audit::{self, AuditHead, NewAuditRow};
use super::audit_verify;
use super::bulk::PendingWrites;
use super::commands::{Command, Reply};
use super::rows::{
    AGENT_COLUMNS, AUTHORIZATION_COLUMNS, agent_from_row, authorization_from_row, from_micros,
    to_micros,
};
use super::state::Published;
use super::{Conn, DbOptions, Pool};
use crate::StoreError;
use crate::canonical::PreparedRequest;
use crate::records::{
    AgentRecord, AgentStatus, AgentStatusChange, AuditFilter, AuditKind, AuditPage,
    AuditVerification, Authorization, CurrencyTotals, ExportFormat, GrantChoice, KillSwitchState,
    PolicyVersion, RemoteChange, StoreStatus, UsageTotals,
};
use crate::store_trait::Store;

/// Largest list of pending approvals returned at once.
const MAX_PENDING_LISTED: i64 = 10_000;

/// Who applied the policy an empty database starts with.
pub const BOOTSTRAP_PRINCIPAL: &str = "purser (initial deny-all)";

/// Purser's state in one database. See the crate documentation.
#[derive(Clone)]
pub struct Handle {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) reads: Pool,
    pub(super) read_options: DbOptions,
    pub(super) published: watch::Receiver<Arc<Published>>,
    /// What other daemons sharing the database change (team mode only).
    pub(super) remote: Option<broadcast::Sender<RemoteChange>>,
    /// [`Store::location`].
    pub(super) location: String,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(super::STORE_NAME).finish_non_exhaustive()
    }
}

impl Handle {
    pub(super) async fn send<T>(
        &self,
        command: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer has stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the store's writer stopped before answering".into())
        })?
    }

    fn published(&self) -> Arc<Published> {
        Arc::clone(&self.published.borrow())
    }
}

/// An empty database starts with policy version 1 = deny-all, audited like any change.
pub(super) async fn seed(conn: &mut Conn, now: Timestamp) -> Result<(), StoreError> {
    // Under the writers' lock: daemons starting together on one database seed it once.
    super::begin_batch(conn).await?;
    let result = seed_policy(conn, now).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    sqlx::query(end).execute(&mut *conn).await?;
    result
}

async fn seed_policy(tx: &mut Conn, now: Timestamp) -> Result<(), StoreError> {
    let versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM policy_versions")
        .fetch_one(&mut *tx)
        .await?;
    if versions > 0 {
        return Ok(());
    }
    let text = serialize_policy(&Policy::deny_all());
    sqlx::query("INSERT INTO policy_versions (version, text, applied_at, applied_by) VALUES (1, $1, $2, $3)")
        .bind(&text)
        .bind(to_micros(now))
        .bind(BOOTSTRAP_PRINCIPAL)
        .execute(&mut *tx)
        .await?;
    let mut head = audit::load_head(tx).await?;
    let body = json!({ "version": 1, "applied_by": BOOTSTRAP_PRINCIPAL, "text": text });
    let row = NewAuditRow {
        at: now,
        kind: AuditKind::PolicyChange,
        agent: None,
        authorization_id: None,
        body,
    };
    let mut writes = PendingWrites::default();
    writes.audit.push(audit::chain(&mut head, row));
    writes.flush(tx).await?;
    Ok(())
}

fn check_kind(request: &AuthorizationRequest, usage: bool) -> Result<(), StoreError> {
    match (&request.kind, usage) {
        (RequestKind::Payment, false) => Ok(()),
        (
            RequestKind::Usage {
                units, unit_cost, ..
            },
            true,
        ) => {
            let cost = unit_cost
                .checked_mul_quantity(*units)
                .map_err(|e| StoreError::InvalidInput(format!("usage cost: {e}")))?;
            if cost == request.amount {
                Ok(())
            } else {
                Err(StoreError::InvalidInput(format!(
                    "usage amount {} is not units x unit_cost = {cost}",
                    request.amount
                )))
            }
        }
        (RequestKind::Payment, true) => {
            Err(StoreError::InvalidInput("a payment is not a usage".into()))
        }
        (RequestKind::Usage { .. }, false) => Err(StoreError::InvalidInput(
            "usage is metered with record_usage, not authorized".into(),
        )),
    }
}

impl Store for Handle {
    async fn authorize(&self, request: AuthorizationRequest) -> Result<Authorization, StoreError> {
        check_kind(&request, false)?;
        let request = PreparedRequest::new(request)?;
        self.send(|reply| Command::Authorize { request, reply })
            .await
    }

    async fn record_usage(
        &self,
        request: AuthorizationRequest,
    ) -> Result<(Authorization, UsageTotals), StoreError> {
        check_kind(&request, true)?;
        let request = PreparedRequest::new(request)?;
        self.send(|reply| Command::RecordUsage { request, reply })
            .await
    }

    async fn get_authorization(
        &self,
        agent: &AgentName,
        id: &str,
    ) -> Result<Option<Authorization>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {AUTHORIZATION_COLUMNS} FROM authorizations WHERE id = $1 AND agent = $2"
        ))
        .bind(id)
        .bind(agent.as_str())
        .fetch_optional(&self.reads)
        .await?;
        row.as_ref().map(authorization_from_row).transpose()
    }

    async fn capture(
        &self,
        agent: &AgentName,
        id: &str,
        amount: Option<Amount>,
    ) -> Result<Authorization, StoreError> {
        let (agent, id) = (agent.clone(), id.to_owned());
        self.send(|reply| Command::Capture {
            agent,
            id,
            amount,
            reply,
        })
        .await
    }

    async fn void(&self, agent: &AgentName, id: &str) -> Result<Authorization, StoreError> {
        let (agent, id) = (agent.clone(), id.to_owned());
        self.send(|reply| Command::Void { agent, id, reply }).await
    }

    async fn budget(
        &self,
        agent: &AgentName,
        session: Option<&SessionId>,
    ) -> Result<Vec<BudgetLine>, StoreError> {
        let (agent, session) = (agent.clone(), session.cloned());
        self.send(|reply| Command::Budget {
            agent,
            session,
            reply,
        })
        .await
    }

    async fn pending_approvals(&self) -> Result<Vec<Authorization>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AUTHORIZATION_COLUMNS} FROM authorizations WHERE status = 'pending' \
             ORDER BY created_at, id LIMIT $1"
        ))
        .bind(MAX_PENDING_LISTED)
        .fetch_all(&self.reads)
        .await?;
        rows.iter().map(authorization_from_row).collect()
    }

    async fn approve(&self, id: &str, choice: GrantChoice) -> Result<Authorization, StoreError> {
        let id = id.to_owned();
        self.send(|reply| Command::Approve { id, choice, reply })
            .await
    }

    async fn deny(&self, id: &str, reason: Option<String>) -> Result<Authorization, StoreError> {
        let id = id.to_owned();
        self.send(|reply| Command::Deny { id, reason, reply }).await
    }

    async fn expire_due(&self) -> Result<Vec<Authorization>, StoreError> {
        self.send(|reply| Command::ExpireDue { reply }).await
    }

    async fn next_expiry(&self) -> Result<Option<Timestamp>, StoreError> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(expires_at) FROM authorizations \
             WHERE status IN ('pending', 'approved') AND expires_at IS NOT NULL",
        )
        .fetch_one(&self.reads)
        .await?;
        next.map(from_micros).transpose()
    }

    async fn engage_kill_switch(
        &self,
        reason: Option<String>,
    ) -> Result<Vec<Authorization>, StoreError> {
        self.send(|reply| Command::EngageKillSwitch { reason, reply })
            .await
    }

    async fn resume(&self) -> Result<KillSwitchState, StoreError> {
        self.send(|reply| Command::Resume { reply }).await
    }

    async fn kill_switch(&self) -> Result<KillSwitchState, StoreError> {
        Ok(self.published().kill_switch.clone())
    }

    async fn add_agent(
        &self,
        name: AgentName,
        profile: Option<ProfileName>,
        token_hash: [u8; 32],
    ) -> Result<AgentRecord, StoreError> {
        self.send(|reply| Command::AddAgent {
            name,
            profile,
            token_hash,
            reply,
        })
        .await
    }

    async fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY name"))
            .fetch_all(&self.reads)
            .await?;
        rows.iter().map(agent_from_row).collect()
    }

    async fn set_agent_status(
        &self,
        name: &AgentName,
        status: AgentStatus,
    ) -> Result<AgentStatusChange, StoreError> {
        let name = name.clone();
        self.send(|reply| Command::SetAgentStatus {
            name,
            status,
            reply,
        })
        .await
    }

    async fn set_agent_profile(
        &self,
        name: &AgentName,
        profile: Option<ProfileName>,
    ) -> Result<AgentRecord, StoreError> {
        let name = name.clone();
        self.send(|reply| Command::SetAgentProfile {
            name,
            profile,
            reply,
        })
        .await
    }

    async fn agent_by_token_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<AgentRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE token_hash = $1 AND status != 'revoked'"
        ))
        .bind(&token_hash[..])
        .fetch_optional(&self.reads)
        .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn apply_policy(
        &self,
        text: &str,
        policy: Policy,
        applied_by: &str,
    ) -> Result<u32, StoreError> {
        // INVARIANT: the stored text must give back exactly this policy after a restart.
        let reparsed = parse_policy("policy", text).map_err(|e| {
            StoreError::InvalidInput(format!("the policy text does not parse: {e}"))
        })?;
        if reparsed != policy {
            return Err(StoreError::InvalidInput(
                "the policy text does not match the policy given".into(),
            ));
        }
        let (text, policy, applied_by) = (text.to_owned(), Box::new(policy), applied_by.to_owned());
        self.send(|reply| Command::ApplyPolicy {
            text,
            policy,
            applied_by,
            reply,
        })
        .await
    }

    async fn current_policy(&self) -> Result<(u32, Arc<Policy>), StoreError> {
        let published = self.published();
        Ok((published.policy_version, Arc::clone(&published.policy)))
    }

    async fn policy_history(&self) -> Result<Vec<PolicyVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, applied_at, applied_by FROM policy_versions ORDER BY version",
        )
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|row| {
                let version: i64 = row.try_get(0)?;
                Ok(PolicyVersion {
                    version: u32::try_from(version)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    applied_at: from_micros(row.try_get(1)?)?,
                    applied_by: row.try_get(2)?,
                })
            })
            .collect()
    }

    async fn policy_text(&self, version: u32) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT text FROM policy_versions WHERE version = $1")
                .bind(i64::from(version))
                .fetch_optional(&self.reads)
                .await?,
        )
    }

    async fn status(&self) -> Result<StoreStatus, StoreError> {
        self.send(|reply| Command::Status { reply }).await
    }

    async fn spent_by_agent_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(AgentName, CurrencyTotals)>, StoreError> {
        let rows = sqlx::query(
            "SELECT agent, currency, CAST(SUM(spent_micros) AS BIGINT), CAST(SUM(held_micros) AS BIGINT) FROM ledger \
             WHERE at >= $1 GROUP BY agent, currency ORDER BY agent, currency",
        )
        .bind(to_micros(since))
        .fetch_all(&self.reads)
        .await?;
        let amount = |micros: i64| {
            Amount::from_micros(micros)
                .ok_or_else(|| StoreError::Corrupt(format!("ledger sum {micros} is out of range")))
        };
        rows.iter()
            .map(|row| {
                let agent: String = row.try_get(0)?;
                let currency: String = row.try_get(1)?;
                let totals = CurrencyTotals {
                    currency: currency
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("ledger currency: {e}")))?,
                    spent: amount(row.try_get(2)?)?,
                    held: amount(row.try_get(3)?)?,
                };
                let agent = agent
                    .parse::<AgentName>()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((agent, totals))
            })
            .collect()
    }

    async fn audit_page(
        &self,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        audit::page(&self.reads, filter, before_seq, limit).await
    }

    async fn audit_export<W: Write + Send>(
        &self,
        filter: &AuditFilter,
        out: &mut W,
        format: ExportFormat,
    ) -> Result<u64, StoreError> {
        audit::export(&self.reads, filter, out, format).await
    }

    async fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let head: AuditHead = self.published().audit_head;
        audit_verify::verify(&self.reads, &self.read_options, head).await
    }

    fn remote_changes(&self) -> Option<broadcast::Receiver<RemoteChange>> {
        self.remote.as_ref().map(broadcast::Sender::subscribe)
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}
