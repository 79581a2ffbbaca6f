//! [`Console`]: the principal's controls, as plain async methods. The admin API
//! (`admin.sock`) is a thin HTTP layer over it, and the desktop app calls it in process.
//!
//! Every control that changes an authorization follows one order: the store records it
//! durably, then the agents long-polling on it are woken ([`Waiters::notify`]), then it
//! is published on the [`EventBus`], and only then does the method return. So when
//! `kill` returns, the kill switch is durable, every pending request is cancelled and
//! every agent waiting on one has been told.
//!
//! What this module must not do: decide a request itself (the store's single writer does,
//! with the engine), or hand out a token other than once, on creation.

pub mod preview;
mod team;
pub mod view;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use purser_core::policy::{DEFAULT_PROFILE, PolicyErrors, parse_policy};
use purser_core::{AgentName, BudgetLine, Clock, Policy, ProfileName, SessionId, Window};
use purser_store::{GrantChoice, KillSwitchState, Store};
use serde::Serialize;

use crate::authorizer::{AgentRecord, AgentStatus, Authorization, StoreError};
use crate::broker::log_authorization;
use crate::events::{EventBus, EventKind};
use crate::expiry::ExpiryAlarm;
use crate::http::view::rfc3339;
use crate::token::{AgentToken, TokenError};
use crate::waiters::Waiters;
use preview::Preview;
use view::{AgentView, AmountView, AuthorizationDetail, KillSwitchView, NewAgentView};

/// Who the audit trail names for policy changes made through the console.
pub const PRINCIPAL: &str = "principal";
/// The longest what-if window, in days.
pub const MAX_PREVIEW_DAYS: u32 = 366;

/// Why a control did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The policy text was refused as a whole; one error per problem.
    #[error("the policy is invalid:\n{0}")]
    PolicyInvalid(PolicyErrors),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("{0} not found")]
    NotFound(String),
    /// One field of the request is wrong.
    #[error("{field}: {message}")]
    InvalidInput {
        field: &'static str,
        message: String,
    },
}

/// The principal's controls over one daemon. Cheap to clone.
pub struct Console<S> {
    shared: Arc<Shared<S>>,
}

struct Shared<S> {
    store: S,
    clock: Arc<dyn Clock>,
    waiters: Arc<Waiters>,
    events: EventBus,
    alarm: ExpiryAlarm,
    listen: SocketAddr,
    data_dir: PathBuf,
}

/// What a console is made of: the daemon's shared parts.
#[derive(Debug)]
pub struct ConsoleParts<S> {
    pub store: S,
    pub clock: Arc<dyn Clock>,
    pub waiters: Arc<Waiters>,
    pub events: EventBus,
    pub alarm: ExpiryAlarm,
    /// Where the agent API listens.
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
}

impl<S> Clone for Console<S> {
    fn clone(&self) -> Console<S> {
        Console {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> fmt::Debug for Console<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Console")
            .field("listen", &self.shared.listen)
            .field("data_dir", &self.shared.data_dir)
            .finish_non_exhaustive()
    }
}

/// `GET /admin/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusView {
    pub version: &'static str,
    pub listen: String,
    pub data_dir: String,
    /// Where the state lives: the SQLite file, or the team's PostgreSQL database.
    pub database: String,
    pub kill_switch: KillSwitchView,
    pub pending: u64,
    /// Agents that may ask (active or frozen; revoked ones are not counted).
    pub agents: u64,
    pub agents_by_status: AgentCountsView,
    pub policy_version: u32,
    /// Committed since the start of today (policy zone), all agents, per currency.
    pub today: Vec<TodayView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AgentCountsView {
    pub active: u64,
    pub frozen: u64,
    pub revoked: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TodayView {
    pub currency: purser_core::Currency,
    pub spent: purser_core::Amount,
    pub held: purser_core::Amount,
}

/// A policy version with its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyTextView {
    pub version: u32,
    pub text: String,
    pub applied_at: Option<String>,
    pub applied_by: Option<String>,
}

/// A policy version without its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersionView {
    pub version: u32,
    pub applied_at: String,
    pub applied_by: String,
}

/// What `kill` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Killed {
    pub state: KillSwitchState,
    pub cancelled: Vec<Authorization>,
}

/// The `kill_switch` event.
#[derive(Debug, Serialize)]
struct KillSwitchEvent<'a> {
    #[serde(flatten)]
    state: KillSwitchView,
    /// Pending requests it cancelled (engaging only).
    #[serde(skip_serializing_if = "Option::is_none")]
    cancelled: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancelled_ids: Option<Vec<&'a str>>,
}

/// The `agent_changed` event.
#[derive(Debug, Serialize)]
struct AgentChangedEvent<'a> {
    action: &'a str,
    #[serde(flatten)]
    agent: AgentView,
}

/// The `policy_applied` event.
#[derive(Debug, Serialize)]
struct PolicyAppliedEvent<'a> {
    version: u32,
    applied_by: &'a str,
}

impl<S: Store + 'static> Console<S> {
    pub fn new(parts: ConsoleParts<S>) -> Console<S> {
        Console {
            shared: Arc::new(Shared {
                store: parts.store,
                clock: parts.clock,
                waiters: parts.waiters,
                events: parts.events,
                alarm: parts.alarm,
                listen: parts.listen,
                data_dir: parts.data_dir,
            }),
        }
    }

    pub fn store(&self) -> &S {
        &self.shared.store
    }

    pub fn events(&self) -> &EventBus {
        &self.shared.events
    }

    /// Where the agent API listens.
    pub fn listen(&self) -> SocketAddr {
        self.shared.listen
    }

    pub fn data_dir(&self) -> &Path {
        &self.shared.data_dir
    }

    // ----- status -----

    pub async fn status(&self) -> Result<StatusView, ConsoleError> {
        let status = self.store().status().await?;
        Ok(StatusView {
            version: env!("CARGO_PKG_VERSION"),
            listen: self.listen().to_string(),
            data_dir: self.data_dir().display().to_string(),
            database: self.store().location(),
            kill_switch: KillSwitchView::from(&status.kill_switch),
            pending: status.pending,
            agents: status.agents.active + status.agents.frozen,
            agents_by_status: AgentCountsView {
                active: status.agents.active,
                frozen: status.agents.frozen,
                revoked: status.agents.revoked,
            },
            policy_version: status.policy_version,
            today: status
                .today
                .into_iter()
                .map(|totals| TodayView {
                    currency: totals.currency,
                    spent: totals.spent,
                    held: totals.held,
                })
                .collect(),
        })
    }

    // ----- agents -----

    /// Every agent, by name, with when it was last seen and what it spent today.
    pub async fn agents(&self) -> Result<Vec<AgentView>, ConsoleError> {
        let records = self.store().list_agents().await?;
        let (_, policy) = self.store().current_policy().await?;
        let now = self.shared.clock.now();
        let day_start = Window::Day
            .current_start(now, policy.timezone)
            .unwrap_or(now - chrono::Duration::days(1));
        let spent = self.store().spent_by_agent_since(day_start).await?;
        let mut views = Vec::with_capacity(records.len());
        for record in records {
            let mut view = AgentView::of(&record, profile_of(&record, &policy));
            view.last_seen_at = self.last_seen(&record.name).await?.map(rfc3339);
            view.spent_today = spent
                .iter()
                .filter(|(agent, _)| *agent == record.name)
                .map(|(_, totals)| AmountView {
                    currency: totals.currency.clone(),
                    amount: totals.spent,
                })
                .collect();
            views.push(view);
        }
        Ok(views)
    }

    /// When `agent` last asked to spend or metered usage, from the audit trail.
    async fn last_seen(
        &self,
        agent: &AgentName,
    ) -> Result<Option<purser_core::Timestamp>, ConsoleError> {
        let mut latest = None;
        for kind in [
            purser_store::AuditKind::Request,
            purser_store::AuditKind::Usage,
        ] {
            let filter = purser_store::AuditFilter {
                agent: Some(agent.clone()),
                kind: Some(kind),
                ..purser_store::AuditFilter::default()
            };
            let page = self.store().audit_page(&filter, None, 1).await?;
            latest = latest.max(page.entries.first().map(|entry| entry.at));
        }
        Ok(latest)
    }

    /// Creates an agent. Its token is generated here, only its hash is stored, and the
    /// answer is the only place the token ever appears.
    pub async fn add_agent(
        &self,
        name: AgentName,
        profile: Option<ProfileName>,
    ) -> Result<NewAgentView, ConsoleError> {
        let token = AgentToken::generate()?;
        let record = self
            .store()
            .add_agent(name, profile.clone(), token.hash().0)
            .await?;
        tracing::info!(agent = %record.name, "agent added");
        self.agent_changed("add", &record).await;
        Ok(NewAgentView {
            name: record.name,
            profile,
            token: token.expose().to_owned(),
        })
    }

    /// Freezes, unfreezes or revokes an agent (revocation is final).
    pub async fn set_agent_status(
        &self,
        name: &AgentName,
        status: AgentStatus,
    ) -> Result<AgentView, ConsoleError> {
        let change = self.store().set_agent_status(name, status).await?;
        let action = match status {
            AgentStatus::Active => "unfreeze",
            AgentStatus::Frozen => "freeze",
            AgentStatus::Revoked => "revoke",
        };
        let record = change.agent;
        tracing::info!(agent = %record.name, status = status.as_str(), "agent {action}");
        // Its pending requests were cancelled with it: wake their waiting agents.
        for authorization in &change.cancelled {
            self.shared.waiters.notify(&authorization.id);
            log_authorization("cancelled with its agent", authorization);
            self.events().publish(
                EventKind::ApprovalDecided,
                &AuthorizationDetail::from(authorization),
            );
        }
        Ok(self.agent_changed(action, &record).await)
    }

    async fn agent_changed(&self, action: &str, record: &AgentRecord) -> AgentView {
        let profile = match self.store().current_policy().await {
            Ok((_, policy)) => profile_of(record, &policy),
            Err(_) => record.profile.clone(),
        };
        let view = AgentView::of(record, profile);
        self.events().publish(
            EventKind::AgentChanged,
            &AgentChangedEvent {
                action,
                agent: view.clone(),
            },
        );
        view
    }

    // ----- policy -----

    /// The running policy's text.
    pub async fn policy(&self) -> Result<PolicyTextView, ConsoleError> {
        let (version, _) = self.store().current_policy().await?;
        self.policy_version(version).await
    }

    /// Every applied version, newest first.
    pub async fn policy_history(&self) -> Result<Vec<PolicyVersionView>, ConsoleError> {
        let mut history = self.store().policy_history().await?;
        history.sort_by_key(|applied| std::cmp::Reverse(applied.version));
        Ok(history
            .into_iter()
            .map(|version| PolicyVersionView {
                version: version.version,
                applied_at: rfc3339(version.applied_at),
                applied_by: version.applied_by,
            })
            .collect())
    }

    pub async fn policy_version(&self, version: u32) -> Result<PolicyTextView, ConsoleError> {
        let text = self
            .store()
            .policy_text(version)
            .await?
            .ok_or_else(|| ConsoleError::NotFound(format!("policy version {version}")))?;
        let applied = self
            .store()
            .policy_history()
            .await?
            .into_iter()
            .find(|applied| applied.version == version);
        Ok(PolicyTextView {
            version,
            text,
            applied_at: applied.as_ref().map(|applied| rfc3339(applied.applied_at)),
            applied_by: applied.map(|applied| applied.applied_by),
        })
    }

    /// Makes `text` the running policy, or refuses it whole (the running one untouched).
    pub async fn apply_policy(
        &self,
        file: &str,
        text: &str,
        applied_by: &str,
    ) -> Result<u32, ConsoleError> {
        let policy = check_policy(file, text)?;
        let version = self.store().apply_policy(text, policy, applied_by).await?;
        tracing::info!(version, applied_by, "policy applied");
        self.events().publish(
            EventKind::PolicyApplied,
            &PolicyAppliedEvent {
                version,
                applied_by,
            },
        );
        Ok(version)
    }

    /// What-if: the last `days` of requests, decided again under `text`.
    pub async fn preview(
        &self,
        file: &str,
        text: &str,
        days: u32,
    ) -> Result<Preview, ConsoleError> {
        if !(1..=MAX_PREVIEW_DAYS).contains(&days) {
            return Err(ConsoleError::InvalidInput {
                field: "days",
                message: format!("days must be from 1 to {MAX_PREVIEW_DAYS}"),
            });
        }
        let policy = check_policy(file, text)?;
        let since = self.shared.clock.now() - chrono::Duration::days(i64::from(days));
        let (recorded, truncated) = preview::recorded_since(self.store(), since).await?;
        let assigned = self
            .store()
            .list_agents()
            .await?
            .into_iter()
            .filter_map(|agent| Some((agent.name, agent.profile?)))
            .collect();
        // Up to MAX_REPLAYED engine runs: off the async workers.
        tokio::task::spawn_blocking(move || {
            preview::replay(&policy, &recorded, assigned, days, truncated)
        })
        .await
        .map_err(|error| {
            ConsoleError::Store(StoreError::Unavailable(format!(
                "the preview did not finish: {error}"
            )))
        })
    }

    // ----- approvals -----

    /// Pending approvals, oldest first.
    pub async fn approvals(&self) -> Result<Vec<Authorization>, ConsoleError> {
        Ok(self.store().pending_approvals().await?)
    }

    /// The principal approves a pending request; the store re-checks every deny rule, so
    /// the answer may be denied.
    pub async fn approve(
        &self,
        id: &str,
        choice: GrantChoice,
    ) -> Result<Authorization, ConsoleError> {
        let result = self.store().approve(id, choice).await;
        self.decided_by_principal(id, result)
    }

    pub async fn deny(
        &self,
        id: &str,
        reason: Option<String>,
    ) -> Result<Authorization, ConsoleError> {
        let result = self.store().deny(id, reason).await;
        self.decided_by_principal(id, result)
    }

    fn decided_by_principal(
        &self,
        id: &str,
        result: Result<Authorization, StoreError>,
    ) -> Result<Authorization, ConsoleError> {
        // Wake the agent even on a refusal: an approval that came too late has just
        // marked the request expired.
        self.shared.waiters.notify(id);
        let authorization = result?;
        log_authorization("principal's decision", &authorization);
        if authorization.expires_at.is_some() {
            self.shared.alarm.ring();
        }
        self.events().publish(
            EventKind::ApprovalDecided,
            &AuthorizationDetail::from(&authorization),
        );
        Ok(authorization)
    }

    // ----- kill switch -----

    /// Engages the kill switch: durable, every pending request cancelled and its waiting
    /// agents woken, all before this returns.
    pub async fn kill(&self, reason: Option<String>) -> Result<Killed, ConsoleError> {
        let cancelled = self.store().engage_kill_switch(reason).await?;
        for authorization in &cancelled {
            self.shared.waiters.notify(&authorization.id);
            log_authorization("cancelled by the kill switch", authorization);
        }
        let state = self.store().kill_switch().await?;
        tracing::warn!(
            cancelled = cancelled.len(),
            "kill switch engaged: every agent request is denied until resumed"
        );
        self.events().publish(
            EventKind::KillSwitch,
            &KillSwitchEvent {
                state: KillSwitchView::from(&state),
                cancelled: Some(cancelled.len()),
                cancelled_ids: Some(cancelled.iter().map(|a| a.id.as_str()).collect()),
            },
        );
        Ok(Killed { state, cancelled })
    }

    pub async fn resume(&self) -> Result<KillSwitchState, ConsoleError> {
        let state = self.store().resume().await?;
        tracing::warn!("kill switch lifted");
        self.events().publish(
            EventKind::KillSwitch,
            &KillSwitchEvent {
                state: KillSwitchView::from(&state),
                cancelled: None,
                cancelled_ids: None,
            },
        );
        Ok(state)
    }

    // ----- budgets -----

    /// `agent`'s budget lines, as the agent itself would see them.
    pub async fn budget(
        &self,
        agent: &AgentName,
        session: Option<&SessionId>,
    ) -> Result<Vec<BudgetLine>, ConsoleError> {
        let known = self
            .store()
            .list_agents()
            .await?
            .iter()
            .any(|record| record.name == *agent);
        if !known {
            return Err(ConsoleError::NotFound(format!("agent {agent}")));
        }
        Ok(self.store().budget(agent, session).await?)
    }
}

/// Parses a policy; its errors as `file:line:col: message`.
pub fn check_policy(file: &str, text: &str) -> Result<Policy, ConsoleError> {
    parse_policy(file, text).map_err(ConsoleError::PolicyInvalid)
}

/// The profile shown for an agent: the one the policy's `[agents]` table gives it, else
/// the one stored on its record, else `default` (the engine's order; a stored profile
/// the policy lacks is still shown, so the principal sees why the agent is refused).
fn profile_of(record: &AgentRecord, policy: &Policy) -> Option<ProfileName> {
    policy
        .agents
        .get(&record.name)
        .or(record.profile.as_ref())
        .cloned()
        .or_else(|| {
            policy
                .profiles
                .keys()
                .find(|name| name.as_str() == DEFAULT_PROFILE)
                .cloned()
        })
}
