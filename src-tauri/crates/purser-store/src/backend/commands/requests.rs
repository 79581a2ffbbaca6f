//! Commands on authorizations: new requests and usage, the principal's approve and
//! deny, the agent's capture and void, and the deadlines (expiry, lapse).

use std::sync::Arc;

use purser_core::engine::{budget_lines, decide, decide_on_approval};
use purser_core::{
    AgentName, Amount, AuthorizationStatus, BudgetScope, CaptureMode, DecisionStatus, GrantScope,
    LedgerView, Reason, ReasonCode, RequestId, StandingGrant, Timestamp, Window,
};
use serde_json::Value;
use sqlx::Row;

use super::super::rows::{AUTHORIZATION_COLUMNS, authorization_from_row, to_micros};
use super::super::state::View;
use super::{Batch, Failure, Replay, reject};
use crate::StoreError;
use crate::canonical::PreparedRequest;
use crate::ids::new_id;
use crate::records::{AuditKind, Authorization, DecidedBy, GrantChoice, UsageTotals};

/// Deadlines handled per `expire_due` call at most; the rest wait for the next call.
const MAX_EXPIRIES_PER_CALL: i64 = 500;

fn amount_json(amount: Amount) -> Value {
    Value::String(amount.to_string())
}

impl Batch<'_> {
    fn view(&self) -> View<'_> {
        View {
            base: &*self.state,
            scratch: &self.scratch,
        }
    }

    /// The stored authorization for an idempotent replay, or the conflict.
    async fn replay(
        &mut self,
        request: &PreparedRequest,
    ) -> Result<Option<Authorization>, Failure> {
        let key = (
            request.request.agent.clone(),
            request.request.request_id.clone(),
        );
        let found = if self.replays_complete {
            self.replays.get(&key).cloned()
        } else {
            self.select_replay(&key.0, &key.1).await?
        };
        match found {
            None => Ok(None),
            Some((hash, stored)) if hash == request.params_hash => Ok(Some(stored)),
            Some(_) => reject(StoreError::IdempotencyConflict),
        }
    }

    async fn select_replay(
        &mut self,
        agent: &AgentName,
        request_id: &RequestId,
    ) -> Result<Option<Replay>, Failure> {
        let row = sqlx::query(&format!(
            "SELECT {AUTHORIZATION_COLUMNS}, params_hash FROM authorizations WHERE agent = $1 AND request_id = $2"
        ))
        .bind(agent.as_str())
        .bind(request_id.as_str())
        .fetch_optional(self.sql().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let hash: Vec<u8> = row.try_get(11)?;
        let hash: [u8; 32] = hash.try_into().map_err(|_| {
            Failure::Fatal(StoreError::Corrupt("a params_hash is not 32 bytes".into()))
        })?;
        Ok(Some((hash, authorization_from_row(&row)?)))
    }

    pub(super) async fn authorize(
        &mut self,
        request: PreparedRequest,
    ) -> Result<Authorization, Failure> {
        if let Some(stored) = self.replay(&request).await? {
            return Ok(stored);
        }
        self.decide_new(request).await
    }

    async fn decide_new(&mut self, prepared: PreparedRequest) -> Result<Authorization, Failure> {
        let now = self.now();
        let request = &prepared.request;
        if !self.scratch.gov.agents.contains_key(&request.agent) {
            return reject(StoreError::NotFound(format!("agent {}", request.agent)));
        }
        self.ensure_session(&request.agent, request.session_id.as_ref())
            .await?;
        let policy = Arc::clone(&self.scratch.gov.policy);
        let decision = decide(&policy, request, &self.view(), now);
        let status = AuthorizationStatus::from(decision.status);
        let decided = decision.status != DecisionStatus::Pending;
        let record = Authorization {
            id: new_id("auth_", now)?,
            request_id: request.request_id.clone(),
            agent: request.agent.clone(),
            kind: request.kind.clone(),
            status,
            amount: request.amount,
            captured_amount: None,
            currency: request.currency.clone(),
            merchant: request.merchant.clone(),
            category: request.category.clone(),
            rail: request.rail.clone(),
            capture: request.capture,
            session_id: request.session_id.clone(),
            purpose: request.purpose.clone(),
            context: request.context.clone(),
            reasons: decision.reasons,
            decided_by: decided.then_some(DecidedBy::Policy),
            policy_version: self.scratch.gov.policy_version,
            grant_id: decision.grant_id,
            expires_at: decision.expires_at,
            created_at: now,
            decided_at: decided.then_some(now),
        };
        self.insert_authorization(&record, &prepared)?;
        if status == AuthorizationStatus::Approved {
            self.commit_money(&record, now);
        }
        let kind = if record.is_usage() {
            AuditKind::Usage
        } else {
            AuditKind::Request
        };
        self.audit_authorization(now, kind, &record, &[])?;
        Ok(record)
    }

    pub(super) async fn record_usage(
        &mut self,
        request: PreparedRequest,
    ) -> Result<(Authorization, UsageTotals), Failure> {
        let record = match self.replay(&request).await? {
            Some(stored) => stored,
            None => self.decide_new(request).await?,
        };
        self.ensure_session(&record.agent, record.session_id.as_ref())
            .await?;
        let now = self.now();
        let policy = Arc::clone(&self.scratch.gov.policy);
        let view = self.view();
        let session = view.committed(
            BudgetScope::Session(&record.agent, record.session_id.as_ref()),
            &record.currency,
            None,
        );
        let budget_remaining = budget_lines(
            &policy,
            &record.agent,
            record.session_id.as_ref(),
            &view,
            now,
        )
        .into_iter()
        .filter(|line| line.currency == record.currency && line.window != Window::Transaction)
        .map(|line| line.remaining)
        .min();
        let totals = UsageTotals {
            session_total: session.total(),
            budget_remaining,
        };
        Ok((record, totals))
    }

    pub(super) async fn approve(
        &mut self,
        id: &str,
        choice: GrantChoice,
    ) -> Result<Authorization, Failure> {
        let now = self.now();
        let mut record = self.find_required(id, None).await?;
        if record.status != AuthorizationStatus::Pending {
            return reject(StoreError::not_in_state(id, record.status, "pending"));
        }
        if let Some(deadline) = record.expires_at.filter(|deadline| *deadline <= now) {
            self.expire_pending(record, now).await?;
            return reject(StoreError::InvalidState(format!(
                "authorization {id} expired unanswered at {deadline}; the agent must ask again"
            )));
        }
        self.ensure_session(&record.agent, record.session_id.as_ref())
            .await?;
        let policy = Arc::clone(&self.scratch.gov.policy);
        let decision = decide_on_approval(
            &policy,
            &record.request(),
            record.created_at,
            &self.view(),
            now,
        );
        let approved = decision.status == DecisionStatus::Approved;
        record.status = if approved {
            AuthorizationStatus::Approved
        } else {
            AuthorizationStatus::Denied
        };
        record.reasons = decision.reasons;
        // A re-check that refuses is the policy's decision, not the principal's.
        record.decided_by = Some(if approved {
            DecidedBy::Principal
        } else {
            DecidedBy::Policy
        });
        record.decided_at = Some(now);
        record.policy_version = self.scratch.gov.policy_version;
        record.expires_at = if approved { decision.expires_at } else { None };
        self.update_authorization(&record).await?;
        if !approved {
            self.audit_authorization(now, AuditKind::Denial, &record, &[])?;
            return Ok(record);
        }
        self.commit_money(&record, now);
        let grant = match choice {
            GrantChoice::Once => None,
            GrantChoice::For(duration) => Some(GrantScope::Until(now + duration.to_chrono())),
            GrantChoice::Session => Some(GrantScope::Session(record.session_id.clone())),
            GrantChoice::Always => Some(GrantScope::Always),
        };
        let grant_json = match grant {
            Some(scope) => {
                let grant = self.create_grant(&record, scope, now).await?;
                super::encode(&grant)?
            }
            None => Value::Null,
        };
        self.audit_authorization(now, AuditKind::Approval, &record, &[("grant", grant_json)])?;
        Ok(record)
    }

    async fn create_grant(
        &mut self,
        record: &Authorization,
        scope: GrantScope,
        now: Timestamp,
    ) -> Result<StandingGrant, Failure> {
        let grant = StandingGrant {
            id: new_id("grant_", now)?,
            agent: record.agent.clone(),
            merchant: record.merchant.clone(),
            currency: record.currency.clone(),
            max_amount: record.amount,
            scope,
        };
        let (scope_name, until, session) = match &grant.scope {
            GrantScope::Until(until) => ("until", Some(to_micros(*until)), None),
            GrantScope::Session(session) => (
                "session",
                None,
                session.as_ref().map(|s| s.as_str().to_owned()),
            ),
            GrantScope::Always => ("always", None, None),
        };
        sqlx::query(
            "INSERT INTO grants (id, agent, merchant, currency, max_micros, scope, until_at, session_id, \
             authorization_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&grant.id)
        .bind(grant.agent.as_str())
        .bind(grant.merchant.as_str())
        .bind(grant.currency.as_str())
        .bind(grant.max_amount.micros())
        .bind(scope_name)
        .bind(until)
        .bind(session)
        .bind(&record.id)
        .bind(to_micros(now))
        .execute(self.sql().await?)
        .await?;
        self.scratch
            .gov
            .grants
            .entry(grant.agent.clone())
            .or_default()
            .push(grant.clone());
        Ok(grant)
    }

    pub(super) async fn deny(
        &mut self,
        id: &str,
        note: Option<String>,
    ) -> Result<Authorization, Failure> {
        let now = self.now();
        let mut record = self.find_required(id, None).await?;
        if record.status != AuthorizationStatus::Pending {
            return reject(StoreError::not_in_state(id, record.status, "pending"));
        }
        let message = match &note {
            Some(note) => format!("the principal denied this request: {note}"),
            None => "the principal denied this request".to_owned(),
        };
        record.reasons.insert(
            0,
            Reason {
                code: ReasonCode::DeniedByPrincipal,
                message,
            },
        );
        record.status = AuthorizationStatus::Denied;
        record.decided_by = Some(DecidedBy::Principal);
        record.decided_at = Some(now);
        record.expires_at = None;
        self.update_authorization(&record).await?;
        let note = note.map_or(Value::Null, Value::String);
        self.audit_authorization(now, AuditKind::Denial, &record, &[("note", note)])?;
        Ok(record)
    }

    pub(super) async fn capture(
        &mut self,
        agent: &AgentName,
        id: &str,
        amount: Option<Amount>,
    ) -> Result<Authorization, Failure> {
        let now = self.now();
        let mut record = self.find_required(id, Some(agent)).await?;
        if record.capture != CaptureMode::Manual || record.status != AuthorizationStatus::Approved {
            return reject(StoreError::InvalidState(format!(
                "authorization {id} is {} with {} capture; only an approved manual hold can be captured",
                record.status.as_str(),
                super::capture_str(record.capture)
            )));
        }
        if let Some(deadline) = record.expires_at.filter(|deadline| *deadline <= now) {
            self.lapse_hold(record, now).await?;
            return reject(StoreError::InvalidState(format!(
                "the hold {id} lapsed uncaptured at {deadline} and was released; ask again"
            )));
        }
        let captured = amount.unwrap_or(record.amount);
        if captured > record.amount {
            return reject(StoreError::InvalidState(format!(
                "cannot capture {captured} {}: the hold {id} is for {} {}",
                record.currency, record.amount, record.currency
            )));
        }
        if captured.is_zero() {
            return reject(StoreError::InvalidInput(
                "a capture amount must be greater than zero; void the hold instead".into(),
            ));
        }
        let released = self.end_hold(&record, captured).await?;
        record.status = AuthorizationStatus::Captured;
        record.captured_amount = Some(captured);
        record.expires_at = None;
        self.update_authorization(&record).await?;
        let extra = [
            ("captured", amount_json(captured)),
            ("released", amount_json(released)),
        ];
        self.audit_authorization(now, AuditKind::Capture, &record, &extra)?;
        Ok(record)
    }

    pub(super) async fn void(
        &mut self,
        agent: &AgentName,
        id: &str,
    ) -> Result<Authorization, Failure> {
        let now = self.now();
        let mut record = self.find_required(id, Some(agent)).await?;
        let extra = match (record.status, record.capture) {
            (AuthorizationStatus::Approved, CaptureMode::Manual) if !record.is_usage() => {
                let released = self.end_hold(&record, Amount::ZERO).await?;
                ("released", amount_json(released))
            }
            (AuthorizationStatus::Pending, _) => {
                record.decided_at = Some(now);
                ("withdrawn", Value::Bool(true))
            }
            (status, _) => {
                return reject(StoreError::InvalidState(format!(
                    "authorization {id} is {}; only a manual hold or a pending request can be voided",
                    status.as_str()
                )));
            }
        };
        record.status = AuthorizationStatus::Voided;
        record.expires_at = None;
        self.update_authorization(&record).await?;
        self.audit_authorization(now, AuditKind::Void, &record, &[extra])?;
        Ok(record)
    }

    pub(super) async fn expire_due(&mut self) -> Result<Vec<Authorization>, Failure> {
        let now = self.now();
        let rows = sqlx::query(&format!(
            "SELECT {AUTHORIZATION_COLUMNS} FROM authorizations \
             WHERE status IN ('pending', 'approved') AND expires_at IS NOT NULL AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2"
        ))
        .bind(to_micros(now))
        .bind(MAX_EXPIRIES_PER_CALL)
        .fetch_all(self.sql().await?)
        .await?;
        let due = rows
            .iter()
            .map(authorization_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let mut changed = Vec::with_capacity(due.len());
        for record in due {
            let record = match record.status {
                AuthorizationStatus::Pending => self.expire_pending(record, now).await?,
                _ => self.lapse_hold(record, now).await?,
            };
            changed.push(record);
        }
        Ok(changed)
    }

    /// A pending request nobody answered in time: expired, i.e. denied.
    async fn expire_pending(
        &mut self,
        mut record: Authorization,
        now: Timestamp,
    ) -> Result<Authorization, Failure> {
        let message = match record.expires_at {
            Some(deadline) => {
                format!("the principal did not answer by {deadline}; the approval expired")
            }
            None => "the principal did not answer in time; the approval expired".to_owned(),
        };
        record.reasons.insert(
            0,
            Reason {
                code: ReasonCode::ApprovalExpired,
                message,
            },
        );
        record.status = AuthorizationStatus::Expired;
        record.decided_by = Some(DecidedBy::Timeout);
        record.decided_at = Some(now);
        self.update_authorization(&record).await?;
        self.audit_authorization(now, AuditKind::Expiry, &record, &[])?;
        Ok(record)
    }

    /// A manual hold nobody captured in time: released, status voided.
    async fn lapse_hold(
        &mut self,
        mut record: Authorization,
        now: Timestamp,
    ) -> Result<Authorization, Failure> {
        let released = self.end_hold(&record, Amount::ZERO).await?;
        record.status = AuthorizationStatus::Voided;
        self.update_authorization(&record).await?;
        self.audit_authorization(
            now,
            AuditKind::Lapse,
            &record,
            &[("released", amount_json(released))],
        )?;
        Ok(record)
    }

    /// Cancels every pending request (the kill switch).
    pub(super) async fn cancel_pending(
        &mut self,
        now: Timestamp,
    ) -> Result<Vec<Authorization>, Failure> {
        let reason = Reason {
            code: ReasonCode::KillSwitchEngaged,
            message: "the kill switch was engaged; every pending request was cancelled".into(),
        };
        self.cancel_pending_of(None, reason, DecidedBy::KillSwitch, now)
            .await
    }

    /// Cancels the pending requests of `agent` (`None`: of every agent), oldest first,
    /// with `reason` first among their reasons; returns them.
    pub(super) async fn cancel_pending_of(
        &mut self,
        agent: Option<&AgentName>,
        reason: Reason,
        decided_by: DecidedBy,
        now: Timestamp,
    ) -> Result<Vec<Authorization>, Failure> {
        let rows = sqlx::query(&format!(
            "SELECT {AUTHORIZATION_COLUMNS} FROM authorizations \
             WHERE status = 'pending' AND ($1 IS NULL OR agent = $1) ORDER BY created_at"
        ))
        .bind(agent.map(AgentName::as_str))
        .fetch_all(self.sql().await?)
        .await?;
        let pending = rows
            .iter()
            .map(authorization_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let mut cancelled = Vec::with_capacity(pending.len());
        for mut record in pending {
            record.reasons.insert(0, reason.clone());
            record.status = AuthorizationStatus::Cancelled;
            record.decided_by = Some(decided_by);
            record.decided_at = Some(now);
            self.update_authorization(&record).await?;
            self.audit_authorization(now, AuditKind::Cancel, &record, &[])?;
            cancelled.push(record);
        }
        Ok(cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_in_audit_bodies_are_decimal_strings() {
        assert_eq!(
            amount_json(Amount::from_micros(1_500_000).unwrap()),
            json!("1.50")
        );
    }
}
