//! [`AdminError`]: every way the admin API refuses a request, in the agent API's one
//! shape `{"error": {"code", "message", "field"?}}`, plus `policy_invalid` (422) with
//! `errors`: one `file:line:col: message` per problem.
//!
//! [`From<ConsoleError>`] is the one mapping from what the console and store answer;
//! store failures become 503 `unavailable`, never a success.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::authorizer::StoreError;
use crate::console::ConsoleError;
use crate::http::error::{ApiError, ErrorCode};

/// A refused admin request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// One of the agent API's codes.
    Api(ApiError),
    /// A policy text refused as a whole.
    PolicyInvalid { errors: Vec<String> },
}

impl AdminError {
    pub fn not_found(message: impl Into<String>) -> AdminError {
        AdminError::Api(ApiError::not_found(message))
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> AdminError {
        AdminError::Api(ApiError::invalid_field(field, message))
    }

    pub fn invalid(message: impl Into<String>) -> AdminError {
        AdminError::Api(ApiError::new(ErrorCode::InvalidRequest, message))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AdminError::Api(error) => error.status(),
            AdminError::PolicyInvalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The `code` on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            AdminError::Api(error) => error.code.as_str(),
            AdminError::PolicyInvalid { .. } => "policy_invalid",
        }
    }
}

impl From<ApiError> for AdminError {
    fn from(error: ApiError) -> AdminError {
        AdminError::Api(error)
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> AdminError {
        let api = match error {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable; refusing an admin request");
                ApiError::unavailable(
                    "Purser cannot durably record right now, so nothing changed; retry later",
                )
            }
            StoreError::OutcomeUnknown(detail) => {
                tracing::warn!(%detail, "store lost its database while committing an admin change");
                ApiError::unavailable(
                    "Purser lost its database while recording this change, so it may or may not have taken effect; check (e.g. `purser status`) once the database is back",
                )
            }
            StoreError::Corrupt(detail) => {
                tracing::error!(%detail, "store integrity check failed");
                ApiError::unavailable(
                    "Purser's store failed an integrity check, so nothing changed; run `purser audit verify`",
                )
            }
            StoreError::IdempotencyConflict => ApiError::new(
                ErrorCode::IdempotencyConflict,
                "that request_id was already used with different parameters",
            ),
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            StoreError::InvalidState(message) => ApiError::new(ErrorCode::InvalidState, message),
            StoreError::InvalidInput(message) => ApiError::new(ErrorCode::InvalidRequest, message),
        };
        AdminError::Api(api)
    }
}

impl From<ConsoleError> for AdminError {
    fn from(error: ConsoleError) -> AdminError {
        match error {
            ConsoleError::Store(error) => AdminError::from(error),
            ConsoleError::PolicyInvalid(errors) => AdminError::PolicyInvalid {
                errors: errors.to_string().lines().map(str::to_owned).collect(),
            },
            ConsoleError::Token(error) => {
                tracing::error!(%error, "cannot generate an agent token");
                AdminError::Api(ApiError::unavailable(
                    "no token could be generated (the system's random number generator failed); nothing was created, retry",
                ))
            }
            ConsoleError::NotFound(what) => AdminError::not_found(format!("{what} not found")),
            ConsoleError::InvalidInput { field, message } => {
                AdminError::invalid_field(field, message)
            }
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [String]>,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            AdminError::Api(error) => error.into_response(),
            AdminError::PolicyInvalid { errors } => {
                let message = format!(
                    "the policy is invalid ({} problem{}); nothing was changed: {}",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" },
                    errors.first().map_or("", String::as_str)
                );
                let body = ErrorBody {
                    error: ErrorDetail {
                        code: "policy_invalid",
                        message: &message,
                        field: None,
                        errors: Some(&errors),
                    },
                };
                (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
            }
        }
    }
}
