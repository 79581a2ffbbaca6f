//! Purser's durable state: the ledger (spent and held money per budget window),
//! authorizations with their idempotency keys, approvals, standing grants, agents,
//! policy versions, the kill switch and the hash-chained audit trail.
//!
//! One [`Store`] trait and two backends: [`SqliteStore`], the embedded file, and
//! [`PostgresStore`], one database shared by a team of daemons; [`Database`] is either.
//! Each keeps a single writer task that decides every request in sequence against the
//! authoritative state and commits in groups (one fsync per batch), so budgets hold
//! exactly under any concurrency and every decision is durable before its answer. Any
//! failure to record is [`StoreError::Unavailable`]: fail closed, nothing approved.
//!
//! Layout: the backend-neutral modules (writer, commands, state, audit trail, reads) are
//! the files of `src/backend/`, compiled once per backend by `sqlite` and `postgres`,
//! which add what differs (opening, the writers' lock, announcements, SQL dialect).
//!
//! What this crate must not do: decide policy itself (that is `purser_core::engine`),
//! read the wall clock outside [`SystemClock`], or speak HTTP.

// By design: `src/backend/` is compiled once per backend (see the layout above).
#![allow(clippy::duplicate_mod)]

mod canonical;
mod clock;
mod database;
mod error;
mod ids;
mod ledger_index;
mod options;
mod postgres;
mod records;
mod sqlite;
mod store_trait;

pub use clock::SystemClock;
pub use database::{Database, DatabaseLocation};
pub use error::StoreError;
pub use options::StoreOptions;
pub use postgres::{PostgresStore, redact as redact_database_url};
pub use records::{
    AgentCounts, AgentRecord, AgentStatus, AgentStatusChange, AuditEntry, AuditFilter, AuditKind,
    AuditPage, AuditVerification, Authorization, BrokenLink, CurrencyTotals, DecidedBy,
    ExportFormat, GrantChoice, KillSwitchState, PolicyVersion, RemoteChange, StoreStatus,
    UsageTotals,
};
pub use sqlite::audit::MAX_PAGE as MAX_AUDIT_PAGE;
pub use sqlite::{BOOTSTRAP_PRINCIPAL, SqliteStore};
pub use store_trait::Store;
