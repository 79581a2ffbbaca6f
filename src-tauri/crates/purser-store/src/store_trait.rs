//! [`Store`]: Purser's durable state as one trait, so that the daemon is written once
//! and a PostgreSQL backend (team mode) can follow the SQLite one.
//!
//! Every implementation must keep the invariants of ARCHITECTURE.md: a decision is
//! durable before it is returned; budgets hold exactly under any concurrency; the same
//! `(agent, request_id)` never spends twice; any failure is an error, never an approval;
//! every mutation appends its audit row(s) in the same transaction.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use tokio::sync::broadcast;

use purser_core::{
    AgentName, Amount, AuthorizationRequest, BudgetLine, Policy, ProfileName, SessionId, Timestamp,
};

use crate::StoreError;
use crate::records::{
    AgentRecord, AgentStatus, AgentStatusChange, AuditFilter, AuditPage, AuditVerification,
    Authorization, CurrencyTotals, ExportFormat, GrantChoice, KillSwitchState, PolicyVersion,
    RemoteChange, StoreStatus, UsageTotals,
};

pub trait Store: Send + Sync {
    // ----- agents' requests -----

    /// Decides a payment request (`kind` must be payment) and records it durably. An
    /// exact replay of `(agent, request_id)` returns the stored record unchanged; the
    /// same id with other parameters is [`StoreError::IdempotencyConflict`].
    fn authorize(
        &self,
        request: AuthorizationRequest,
    ) -> impl Future<Output = Result<Authorization, StoreError>> + Send;

    /// Meters a usage (`kind` must be usage, `amount = units × unit_cost`): approved
    /// (spent) or denied, never pending; idempotent like [`Store::authorize`].
    fn record_usage(
        &self,
        request: AuthorizationRequest,
    ) -> impl Future<Output = Result<(Authorization, UsageTotals), StoreError>> + Send;

    /// One of `agent`'s authorizations; another agent's id is `None`.
    fn get_authorization(
        &self,
        agent: &AgentName,
        id: &str,
    ) -> impl Future<Output = Result<Option<Authorization>, StoreError>> + Send;

    /// Captures an approved manual hold for `amount` (default: all of it, at most all of
    /// it) and releases the rest.
    fn capture(
        &self,
        agent: &AgentName,
        id: &str,
        amount: Option<Amount>,
    ) -> impl Future<Output = Result<Authorization, StoreError>> + Send;

    /// Releases an approved manual hold, or withdraws a pending request.
    fn void(
        &self,
        agent: &AgentName,
        id: &str,
    ) -> impl Future<Output = Result<Authorization, StoreError>> + Send;

    /// Budget lines for `agent` (and `session`) as they stand now.
    fn budget(
        &self,
        agent: &AgentName,
        session: Option<&SessionId>,
    ) -> impl Future<Output = Result<Vec<BudgetLine>, StoreError>> + Send;

    // ----- approvals and deadlines -----

    /// Pending approvals, oldest first.
    fn pending_approvals(
        &self,
    ) -> impl Future<Output = Result<Vec<Authorization>, StoreError>> + Send;

    /// The principal approves: every deny rule is re-checked against the ledger now, so
    /// the answer may be denied. A non-`Once` choice also creates a standing grant.
    fn approve(
        &self,
        id: &str,
        choice: GrantChoice,
    ) -> impl Future<Output = Result<Authorization, StoreError>> + Send;

    fn deny(
        &self,
        id: &str,
        reason: Option<String>,
    ) -> impl Future<Output = Result<Authorization, StoreError>> + Send;

    /// Expires unanswered approvals and lapses uncaptured holds whose deadline passed;
    /// returns what changed, at most 500 at a time (call again while it returns that many).
    fn expire_due(&self) -> impl Future<Output = Result<Vec<Authorization>, StoreError>> + Send;

    /// The earliest deadline of a pending approval or manual hold.
    fn next_expiry(&self) -> impl Future<Output = Result<Option<Timestamp>, StoreError>> + Send;

    // ----- kill switch -----

    /// Engages the kill switch and cancels every pending request, atomically and
    /// durably; returns the cancelled ones.
    fn engage_kill_switch(
        &self,
        reason: Option<String>,
    ) -> impl Future<Output = Result<Vec<Authorization>, StoreError>> + Send;

    fn resume(&self) -> impl Future<Output = Result<KillSwitchState, StoreError>> + Send;

    fn kill_switch(&self) -> impl Future<Output = Result<KillSwitchState, StoreError>> + Send;

    // ----- agents -----

    fn add_agent(
        &self,
        name: AgentName,
        profile: Option<ProfileName>,
        token_hash: [u8; 32],
    ) -> impl Future<Output = Result<AgentRecord, StoreError>> + Send;

    fn list_agents(&self) -> impl Future<Output = Result<Vec<AgentRecord>, StoreError>> + Send;

    /// Freeze, unfreeze or revoke (revocation is final). Freezing or revoking cancels the
    /// agent's pending requests in the same transaction; they are returned.
    fn set_agent_status(
        &self,
        name: &AgentName,
        status: AgentStatus,
    ) -> impl Future<Output = Result<AgentStatusChange, StoreError>> + Send;

    fn set_agent_profile(
        &self,
        name: &AgentName,
        profile: Option<ProfileName>,
    ) -> impl Future<Output = Result<AgentRecord, StoreError>> + Send;

    /// The agent whose token hashes to `token_hash`; `None` when unknown or revoked.
    fn agent_by_token_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> impl Future<Output = Result<Option<AgentRecord>, StoreError>> + Send;

    // ----- policy -----

    /// Stores `text` (which must parse to `policy`) as the next version and makes it
    /// current; returns its version number.
    fn apply_policy(
        &self,
        text: &str,
        policy: Policy,
        applied_by: &str,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    fn current_policy(&self)
    -> impl Future<Output = Result<(u32, Arc<Policy>), StoreError>> + Send;

    fn policy_history(&self)
    -> impl Future<Output = Result<Vec<PolicyVersion>, StoreError>> + Send;

    fn policy_text(
        &self,
        version: u32,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    // ----- status and audit -----

    fn status(&self) -> impl Future<Output = Result<StoreStatus, StoreError>> + Send;

    /// Money committed by approvals at or after `since`, per agent and currency (spent,
    /// and still held), agents in name order: the principal's agent list.
    fn spent_by_agent_since(
        &self,
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<(AgentName, CurrencyTotals)>, StoreError>> + Send;

    /// Audit rows matching `filter`, newest first, older than `before_seq`; at most
    /// `limit` (capped at [`crate::MAX_AUDIT_PAGE`]).
    fn audit_page(
        &self,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> impl Future<Output = Result<AuditPage, StoreError>> + Send;

    /// Writes every matching row, oldest first; returns how many.
    fn audit_export<W: Write + Send>(
        &self,
        filter: &AuditFilter,
        out: &mut W,
        format: ExportFormat,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Walks the whole hash chain.
    fn verify_audit(&self) -> impl Future<Output = Result<AuditVerification, StoreError>> + Send;

    // ----- team mode -----

    /// Where the state lives, for the principal: the SQLite file's path, or the
    /// PostgreSQL URL without its password followed by "(team mode)".
    fn location(&self) -> String;

    /// What other daemons sharing this database change, as they commit; `None` when
    /// this process is the database's only writer (SQLite).
    fn remote_changes(&self) -> Option<broadcast::Receiver<RemoteChange>>;
}
