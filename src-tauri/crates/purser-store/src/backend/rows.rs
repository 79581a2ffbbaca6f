//! Between rows and records: instants as unix microseconds, enumerations as their
//! snake_case names, and [`Authorization`] / [`AgentRecord`] decoded from a row.
//!
//! A row that does not decode is [`StoreError::Corrupt`], never a default value.

use purser_core::{
    AgentName, Amount, AuthorizationRequest, AuthorizationStatus, Reason, Timestamp,
};
use sqlx::Row;

use super::DbRow;

use crate::StoreError;
use crate::records::{AgentRecord, AgentStatus, Authorization, DecidedBy};

pub(crate) fn to_micros(at: Timestamp) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn from_micros(micros: i64) -> Result<Timestamp, StoreError> {
    chrono::DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("instant {micros} is out of range")))
}

const STATUSES: [AuthorizationStatus; 7] = [
    AuthorizationStatus::Approved,
    AuthorizationStatus::Denied,
    AuthorizationStatus::Pending,
    AuthorizationStatus::Expired,
    AuthorizationStatus::Cancelled,
    AuthorizationStatus::Captured,
    AuthorizationStatus::Voided,
];

pub(crate) fn status_from_str(text: &str) -> Result<AuthorizationStatus, StoreError> {
    STATUSES
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown authorization status {text:?}")))
}

/// The columns [`authorization_from_row`] reads, in its order.
pub(crate) const AUTHORIZATION_COLUMNS: &str = "id, request, status, reasons, decided_by, \
     captured_micros, policy_version, expires_at, created_at, decided_at, grant_id";

pub(crate) fn authorization_from_row(row: &DbRow) -> Result<Authorization, StoreError> {
    let request: String = row.try_get(1)?;
    let request: AuthorizationRequest = serde_json::from_str(&request)
        .map_err(|e| StoreError::Corrupt(format!("stored request does not decode: {e}")))?;
    let reasons: String = row.try_get(3)?;
    let reasons: Vec<Reason> = serde_json::from_str(&reasons)
        .map_err(|e| StoreError::Corrupt(format!("stored reasons do not decode: {e}")))?;
    let decided_by: Option<String> = row.try_get(4)?;
    let captured: Option<i64> = row.try_get(5)?;
    let policy_version: i64 = row.try_get(6)?;
    let expires_at: Option<i64> = row.try_get(7)?;
    let decided_at: Option<i64> = row.try_get(9)?;
    Ok(Authorization {
        id: row.try_get(0)?,
        request_id: request.request_id,
        agent: request.agent,
        kind: request.kind,
        status: status_from_str(&row.try_get::<String, _>(2)?)?,
        amount: request.amount,
        captured_amount: captured
            .map(|m| {
                Amount::from_micros(m)
                    .ok_or_else(|| StoreError::Corrupt("captured amount out of range".into()))
            })
            .transpose()?,
        currency: request.currency,
        merchant: request.merchant,
        category: request.category,
        rail: request.rail,
        capture: request.capture,
        session_id: request.session_id,
        purpose: request.purpose,
        context: request.context,
        reasons,
        decided_by: decided_by
            .map(|d| d.parse::<DecidedBy>().map_err(StoreError::Corrupt))
            .transpose()?,
        policy_version: u32::try_from(policy_version)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        grant_id: row.try_get(10)?,
        expires_at: expires_at.map(from_micros).transpose()?,
        created_at: from_micros(row.try_get(8)?)?,
        decided_at: decided_at.map(from_micros).transpose()?,
    })
}

/// The columns [`agent_from_row`] reads, in its order.
pub(crate) const AGENT_COLUMNS: &str = "name, profile, status, created_at";

pub(crate) fn agent_from_row(row: &DbRow) -> Result<AgentRecord, StoreError> {
    let name: String = row.try_get(0)?;
    let profile: Option<String> = row.try_get(1)?;
    let status: String = row.try_get(2)?;
    Ok(AgentRecord {
        name: name
            .parse::<AgentName>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        profile: profile
            .map(|p| {
                p.parse()
                    .map_err(|e: purser_core::names::NameError| StoreError::Corrupt(e.to_string()))
            })
            .transpose()?,
        status: status.parse::<AgentStatus>().map_err(StoreError::Corrupt)?,
        created_at: from_micros(row.try_get(3)?)?,
    })
}
