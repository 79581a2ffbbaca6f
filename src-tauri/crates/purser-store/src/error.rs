//! [`StoreError`]: everything the store can answer instead of a result.
//!
//! Every variant is a refusal: no error path approves anything. Database trouble (I/O,
//! full disk, locked or read-only file) is [`StoreError::Unavailable`], which the daemon
//! maps to 503 so the agent retries later and nothing is spent meanwhile.

use purser_core::AuthorizationStatus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not durably record the operation; nothing changed.
    #[error("the store cannot durably record right now ({0}); nothing was approved, retry later")]
    Unavailable(String),
    /// The database connection was lost while the operation committed: it may or may
    /// not be recorded. Retrying with the same `request_id` tells (idempotency).
    #[error(
        "the store lost its database while recording ({0}); the outcome is not known yet: retry with the same request_id to learn it"
    )]
    OutcomeUnknown(String),
    /// The same `request_id` was used before with different parameters.
    #[error(
        "request_id was already used by this agent with different parameters; nothing changed: send the original parameters or use a new request_id"
    )]
    IdempotencyConflict,
    #[error("{0} not found")]
    NotFound(String),
    /// The operation does not apply to the record in its current state.
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    InvalidInput(String),
    /// The database holds something this build cannot read back.
    #[error("the database is corrupt: {0}; run `purser audit verify` and restore from a backup")]
    Corrupt(String),
}

impl StoreError {
    /// The snake_case code the daemon puts on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) | StoreError::OutcomeUnknown(_) => "unavailable",
            StoreError::IdempotencyConflict => "idempotency_conflict",
            StoreError::NotFound(_) => "not_found",
            StoreError::InvalidState(_) => "invalid_state",
            StoreError::InvalidInput(_) => "invalid_request",
            StoreError::Corrupt(_) => "corrupt",
        }
    }

    pub(crate) fn not_in_state(id: &str, status: AuthorizationStatus, wanted: &str) -> StoreError {
        StoreError::InvalidState(format!(
            "authorization {id} is {}, not {wanted}",
            status.as_str()
        ))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        match error {
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(error.to_string()),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> StoreError {
        StoreError::Unavailable(format!("database migration failed: {error}"))
    }
}
