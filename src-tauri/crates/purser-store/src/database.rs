//! [`Database`]: the store the daemon runs on, whichever backend the principal chose:
//! the embedded SQLite file (one machine) or a PostgreSQL database shared by a team of
//! daemons (`--database postgres://…`). Every call is the backend's, unchanged.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use purser_core::{
    AgentName, Amount, AuthorizationRequest, BudgetLine, Clock, Policy, ProfileName, SessionId,
    Timestamp,
};
use tokio::sync::broadcast;

use crate::records::{
    AgentRecord, AgentStatus, AgentStatusChange, AuditFilter, AuditPage, AuditVerification,
    Authorization, CurrencyTotals, ExportFormat, GrantChoice, KillSwitchState, PolicyVersion,
    RemoteChange, StoreStatus, UsageTotals,
};
use crate::{PostgresStore, SqliteStore, Store, StoreError, StoreOptions};

/// Where the state lives.
#[derive(Debug, Clone, Copy)]
pub enum DatabaseLocation<'a> {
    /// A SQLite file (created if missing).
    Sqlite(&'a Path),
    /// A PostgreSQL URL, `postgres://user:password@host:port/database`.
    Postgres(&'a str),
}

/// The store on one of the backends; cheap to clone.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Database {
    /// Opens the store at `location` (see [`SqliteStore::open`], [`PostgresStore::open`]).
    pub async fn open(
        location: DatabaseLocation<'_>,
        clock: Arc<dyn Clock>,
        options: StoreOptions,
    ) -> Result<Database, StoreError> {
        Ok(match location {
            DatabaseLocation::Sqlite(path) => {
                Database::Sqlite(SqliteStore::open(path, clock, options).await?)
            }
            DatabaseLocation::Postgres(url) => {
                Database::Postgres(PostgresStore::open(url, clock, options).await?)
            }
        })
    }
}

/// `store.$call` on whichever backend this is.
macro_rules! on_backend {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Database::Sqlite($store) => $call,
            Database::Postgres($store) => $call,
        }
    };
}

impl Store for Database {
    async fn authorize(&self, request: AuthorizationRequest) -> Result<Authorization, StoreError> {
        on_backend!(self, store => store.authorize(request).await)
    }

    async fn record_usage(
        &self,
        request: AuthorizationRequest,
    ) -> Result<(Authorization, UsageTotals), StoreError> {
        on_backend!(self, store => store.record_usage(request).await)
    }

    async fn get_authorization(
        &self,
        agent: &AgentName,
        id: &str,
    ) -> Result<Option<Authorization>, StoreError> {
        on_backend!(self, store => store.get_authorization(agent, id).await)
    }

    async fn capture(
        &self,
        agent: &AgentName,
        id: &str,
        amount: Option<Amount>,
    ) -> Result<Authorization, StoreError> {
        on_backend!(self, store => store.capture(agent, id, amount).await)
    }

    async fn void(&self, agent: &AgentName, id: &str) -> Result<Authorization, StoreError> {
        on_backend!(self, store => store.void(agent, id).await)
    }

    async fn budget(
        &self,
        agent: &AgentName,
        session: Option<&SessionId>,
    ) -> Result<Vec<BudgetLine>, StoreError> {
        on_backend!(self, store => store.budget(agent, session).await)
    }

    async fn pending_approvals(&self) -> Result<Vec<Authorization>, StoreError> {
        on_backend!(self, store => store.pending_approvals().await)
    }

    async fn approve(&self, id: &str, choice: GrantChoice) -> Result<Authorization, StoreError> {
        on_backend!(self, store => store.approve(id, choice).await)
    }

    async fn deny(&self, id: &str, reason: Option<String>) -> Result<Authorization, StoreError> {
        on_backend!(self, store => store.deny(id, reason).await)
    }

    async fn expire_due(&self) -> Result<Vec<Authorization>, StoreError> {
        on_backend!(self, store => store.expire_due().await)
    }

    async fn next_expiry(&self) -> Result<Option<Timestamp>, StoreError> {
        on_backend!(self, store => store.next_expiry().await)
    }

    async fn engage_kill_switch(
        &self,
        reason: Option<String>,
    ) -> Result<Vec<Authorization>, StoreError> {
        on_backend!(self, store => store.engage_kill_switch(reason).await)
    }

    async fn resume(&self) -> Result<KillSwitchState, StoreError> {
        on_backend!(self, store => store.resume().await)
    }

    async fn kill_switch(&self) -> Result<KillSwitchState, StoreError> {
        on_backend!(self, store => store.kill_switch().await)
    }

    async fn add_agent(
        &self,
        name: AgentName,
        profile: Option<ProfileName>,
        token_hash: [u8; 32],
    ) -> Result<AgentRecord, StoreError> {
        on_backend!(self, store => store.add_agent(name, profile, token_hash).await)
    }

    async fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        on_backend!(self, store => store.list_agents().await)
    }

    async fn set_agent_status(
        &self,
        name: &AgentName,
        status: AgentStatus,
    ) -> Result<AgentStatusChange, StoreError> {
        on_backend!(self, store => store.set_agent_status(name, status).await)
    }

    async fn set_agent_profile(
        &self,
        name: &AgentName,
        profile: Option<ProfileName>,
    ) -> Result<AgentRecord, StoreError> {
        on_backend!(self, store => store.set_agent_profile(name, profile).await)
    }

    async fn agent_by_token_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<AgentRecord>, StoreError> {
        on_backend!(self, store => store.agent_by_token_hash(token_hash).await)
    }

    async fn apply_policy(
        &self,
        text: &str,
        policy: Policy,
        applied_by: &str,
    ) -> Result<u32, StoreError> {
        on_backend!(self, store => store.apply_policy(text, policy, applied_by).await)
    }

    async fn current_policy(&self) -> Result<(u32, Arc<Policy>), StoreError> {
        on_backend!(self, store => store.current_policy().await)
    }

    async fn policy_history(&self) -> Result<Vec<PolicyVersion>, StoreError> {
        on_backend!(self, store => store.policy_history().await)
    }

    async fn policy_text(&self, version: u32) -> Result<Option<String>, StoreError> {
        on_backend!(self, store => store.policy_text(version).await)
    }

    async fn status(&self) -> Result<StoreStatus, StoreError> {
        on_backend!(self, store => store.status().await)
    }

    async fn spent_by_agent_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(AgentName, CurrencyTotals)>, StoreError> {
        on_backend!(self, store => store.spent_by_agent_since(since).await)
    }

    async fn audit_page(
        &self,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        on_backend!(self, store => store.audit_page(filter, before_seq, limit).await)
    }

    async fn audit_export<W: Write + Send>(
        &self,
        filter: &AuditFilter,
        out: &mut W,
        format: ExportFormat,
    ) -> Result<u64, StoreError> {
        on_backend!(self, store => store.audit_export(filter, out, format).await)
    }

    async fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        on_backend!(self, store => store.verify_audit().await)
    }

    fn remote_changes(&self) -> Option<broadcast::Receiver<RemoteChange>> {
        on_backend!(self, store => store.remote_changes())
    }

    fn location(&self) -> String {
        on_backend!(self, store => store.location())
    }
}
