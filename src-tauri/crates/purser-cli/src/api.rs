//! The admin API's answers (docs/admin-api.md), as the CLI reads them for human output.
//!
//! Only the fields the tables and messages show are typed; unknown fields are ignored so a
//! newer daemon does not break an older CLI. `--json` prints the daemon's answer as it
//! came, never these structs, so nothing is lost there. Money stays a decimal string.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use purser_core::Timestamp;

use crate::failure::Failure;

/// Reads an answer as `T`, or fails saying the daemon's answer was not understood.
pub fn read<T: DeserializeOwned>(value: Value) -> Result<T, Failure> {
    serde_json::from_value(value)
        .map_err(|error| Failure::failed(format!("unexpected answer from the daemon: {error}")))
}

#[derive(Debug, Clone, Deserialize)]
pub struct Agent {
    pub name: String,
    pub profile: Option<String>,
    pub status: String,
    pub last_seen_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NewAgent {
    pub name: String,
    pub profile: Option<String>,
    pub token: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
}

/// An authorization: a pending approval, or the answer to approve/deny.
#[derive(Debug, Clone, Deserialize)]
pub struct Authorization {
    pub id: String,
    pub agent: String,
    pub status: String,
    pub amount: String,
    pub currency: String,
    pub merchant: String,
    pub purpose: Option<String>,
    pub reason: Option<Reason>,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    pub version: String,
    pub listen: Option<String>,
    pub data_dir: Option<String>,
    /// The SQLite file, or the team's PostgreSQL database (team mode).
    #[serde(default)]
    pub database: Option<String>,
    pub kill_switch: KillSwitch,
    pub pending: u64,
    pub agents: u64,
    pub policy_version: Option<u64>,
    #[serde(default)]
    pub today: Vec<Spent>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KillSwitch {
    pub engaged: bool,
    pub reason: Option<String>,
    pub changed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Spent {
    pub currency: String,
    pub spent: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Killed {
    pub cancelled: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PolicyText {
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PolicyVersion {
    pub version: u64,
    pub applied_at: Option<Timestamp>,
    pub applied_by: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Applied {
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_before: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub kind: String,
    pub agent: Option<String>,
    pub authorization_id: Option<String>,
    #[serde(default)]
    pub body: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Verification {
    pub rows: u64,
    pub intact: bool,
    pub first_broken: Option<Broken>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Broken {
    pub seq: u64,
    pub problem: String,
}
