//! The records the store hands out: [`Authorization`], [`AgentRecord`],
//! [`PolicyVersion`], [`KillSwitchState`], [`StoreStatus`], the audit trail's
//! [`AuditEntry`] and its filters. Plain data, `Serialize` so the daemon and CLI can
//! show them; how they are stored is the business of the modules that read and write rows.

use std::fmt;
use std::str::FromStr;

use purser_core::{
    AgentName, Amount, AuthorizationRequest, AuthorizationStatus, CaptureMode, Currency, Merchant,
    PolicyDuration, ProfileName, Reason, RequestId, RequestKind, SessionId, Slug, Timestamp,
};
use serde::{Deserialize, Serialize};

/// One authorization as the API returns it: the request, its decision and where it is in
/// its life (agent-api.md §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// `auth_` followed by 26 Crockford base-32 characters (time-ordered).
    pub id: String,
    pub request_id: RequestId,
    pub agent: AgentName,
    /// `payment`, or `usage` with its action, units and unit cost.
    #[serde(flatten)]
    pub kind: RequestKind,
    pub status: AuthorizationStatus,
    pub amount: Amount,
    /// What a manual hold was captured for; `None` until captured.
    pub captured_amount: Option<Amount>,
    pub currency: Currency,
    pub merchant: Merchant,
    pub category: Option<Slug>,
    pub rail: Option<Slug>,
    pub capture: CaptureMode,
    pub session_id: Option<SessionId>,
    pub purpose: String,
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
    /// Every rule that spoke, deny first; the first is the headline.
    pub reasons: Vec<Reason>,
    /// `None` while pending (and for a pending request the agent withdrew).
    pub decided_by: Option<DecidedBy>,
    /// The policy version that made the latest decision.
    pub policy_version: u32,
    /// The standing grant that approved it, if one did.
    pub grant_id: Option<String>,
    /// Pending: when the approval expires. Manual hold: when it lapses.
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

impl Authorization {
    /// The headline reason.
    pub fn reason(&self) -> Option<&Reason> {
        self.reasons.first()
    }

    pub fn is_usage(&self) -> bool {
        matches!(self.kind, RequestKind::Usage { .. })
    }

    /// The request as the agent sent it (what the engine re-checks on approval).
    pub fn request(&self) -> AuthorizationRequest {
        AuthorizationRequest {
            agent: self.agent.clone(),
            request_id: self.request_id.clone(),
            kind: self.kind.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            merchant: self.merchant.clone(),
            category: self.category.clone(),
            rail: self.rail.clone(),
            capture: self.capture,
            session_id: self.session_id.clone(),
            purpose: self.purpose.clone(),
            context: self.context.clone(),
        }
    }
}

/// Who made an authorization's final decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    Policy,
    Principal,
    KillSwitch,
    Timeout,
}

impl DecidedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            DecidedBy::Policy => "policy",
            DecidedBy::Principal => "principal",
            DecidedBy::KillSwitch => "kill_switch",
            DecidedBy::Timeout => "timeout",
        }
    }
}

impl FromStr for DecidedBy {
    type Err = String;

    fn from_str(text: &str) -> Result<DecidedBy, String> {
        [
            DecidedBy::Policy,
            DecidedBy::Principal,
            DecidedBy::KillSwitch,
            DecidedBy::Timeout,
        ]
        .into_iter()
        .find(|d| d.as_str() == text)
        .ok_or_else(|| format!("unknown decided_by {text:?}"))
    }
}

/// How the principal approves a pending request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum GrantChoice {
    /// Just this request.
    Once,
    /// This request, and later ones of the same agent, merchant and currency up to the
    /// same amount for this long.
    For(PolicyDuration),
    /// ... for the rest of the request's session.
    Session,
    /// ... until revoked.
    Always,
}

/// Whether an agent may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Active,
    /// Every request is denied with `agent_frozen` until unfrozen.
    Frozen,
    /// The token no longer authenticates; final.
    Revoked,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Active => "active",
            AgentStatus::Frozen => "frozen",
            AgentStatus::Revoked => "revoked",
        }
    }
}

impl FromStr for AgentStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<AgentStatus, String> {
        [
            AgentStatus::Active,
            AgentStatus::Frozen,
            AgentStatus::Revoked,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| format!("unknown agent status {text:?}"))
    }
}

/// An agent as the principal manages it (its token is stored only as a hash and never
/// handed out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub name: AgentName,
    pub profile: Option<ProfileName>,
    pub status: AgentStatus,
    pub created_at: Timestamp,
}

/// What freezing, unfreezing or revoking an agent did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatusChange {
    pub agent: AgentRecord,
    /// The agent's pending requests, cancelled by the freeze or revocation.
    pub cancelled: Vec<Authorization>,
}

/// One applied policy version (its text through `policy_text`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub version: u32,
    pub applied_at: Timestamp,
    pub applied_by: String,
}

/// The emergency stop.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KillSwitchState {
    pub engaged: bool,
    pub reason: Option<String>,
    /// When it was last engaged or lifted; `None` if never.
    pub changed_at: Option<Timestamp>,
}

/// What `purser status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStatus {
    pub kill_switch: KillSwitchState,
    pub policy_version: u32,
    /// Pending approvals waiting for the principal.
    pub pending: u64,
    /// Committed since the start of today in the policy's time zone, per currency.
    pub today: Vec<CurrencyTotals>,
    pub agents: AgentCounts,
}

/// Money of one currency: spent and still held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyTotals {
    pub currency: Currency,
    pub spent: Amount,
    pub held: Amount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AgentCounts {
    pub active: u64,
    pub frozen: u64,
    pub revoked: u64,
}

/// What a usage answer reports beside the decision (`metering` in agent-api.md §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Committed in this session and currency, this usage included when approved.
    pub session_total: Amount,
    /// The least that is left of any budget covering this currency; `None` when no
    /// budget limits it.
    pub budget_remaining: Option<Amount>,
}

/// The kinds of audit rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A payment request and the policy's decision.
    Request,
    /// A metered usage and its decision.
    Usage,
    /// The principal approved a pending request (or its re-check approved it).
    Approval,
    /// The principal denied a pending request, or the re-check at approval denied it.
    Denial,
    /// A pending request expired unanswered.
    Expiry,
    /// The kill switch cancelled a pending request.
    Cancel,
    Capture,
    /// A hold released, or a pending request withdrawn, by the agent.
    Void,
    /// A hold lapsed uncaptured.
    Lapse,
    Kill,
    Resume,
    PolicyChange,
    AgentChange,
}

impl AuditKind {
    pub const ALL: [AuditKind; 13] = [
        AuditKind::Request,
        AuditKind::Usage,
        AuditKind::Approval,
        AuditKind::Denial,
        AuditKind::Expiry,
        AuditKind::Cancel,
        AuditKind::Capture,
        AuditKind::Void,
        AuditKind::Lapse,
        AuditKind::Kill,
        AuditKind::Resume,
        AuditKind::PolicyChange,
        AuditKind::AgentChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Request => "request",
            AuditKind::Usage => "usage",
            AuditKind::Approval => "approval",
            AuditKind::Denial => "denial",
            AuditKind::Expiry => "expiry",
            AuditKind::Cancel => "cancel",
            AuditKind::Capture => "capture",
            AuditKind::Void => "void",
            AuditKind::Lapse => "lapse",
            AuditKind::Kill => "kill",
            AuditKind::Resume => "resume",
            AuditKind::PolicyChange => "policy_change",
            AuditKind::AgentChange => "agent_change",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditKind {
    type Err = String;

    fn from_str(text: &str) -> Result<AuditKind, String> {
        AuditKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "audit kind {text:?} is unknown: use one of {}",
                    AuditKind::ALL.map(AuditKind::as_str).join(", ")
                )
            })
    }
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub kind: AuditKind,
    pub agent: Option<String>,
    pub authorization_id: Option<String>,
    /// What happened, as canonical JSON (sorted keys): agent, session, purpose, context,
    /// amount, currency, merchant, status, reasons, policy version...
    pub body: serde_json::Value,
    /// Hex SHA-256 of the previous row (64 zeros for the first row).
    pub prev_hash: String,
    pub hash: String,
}

/// What another daemon sharing the database changed (team mode), for this daemon to
/// tell its own listeners: long-polling agents, the console, notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteChange {
    /// Rows another daemon appended to the audit trail, in chain order.
    Appended(Vec<AuditEntry>),
    /// Changes may have been missed (the database connection was lost): whoever keeps
    /// a view of the state reads it again.
    Resync,
}

/// Which audit rows to list or export; every field narrows, `None` does not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub agent: Option<AgentName>,
    pub kind: Option<AuditKind>,
    /// The authorization status the row recorded.
    pub status: Option<AuthorizationStatus>,
    pub merchant: Option<String>,
    pub currency: Option<Currency>,
    /// Rows at or after this instant.
    pub since: Option<Timestamp>,
    /// Rows before this instant.
    pub until: Option<Timestamp>,
    /// Case-insensitive substring of the row's body.
    pub text: Option<String>,
}

/// One page of audit rows, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before_seq` for the next (older) page; `None` at the end.
    pub next_before_seq: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// One JSON [`AuditEntry`] per line.
    Jsonl,
    /// A header line, then one row per entry.
    Csv,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    pub rows: u64,
    pub intact: bool,
    pub first_broken: Option<BrokenLink>,
}

/// The first place the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    pub seq: i64,
    pub problem: String,
}
