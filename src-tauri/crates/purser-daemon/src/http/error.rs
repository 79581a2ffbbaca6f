//! [`ApiError`]: every way the agent API refuses a request, and its one JSON shape.
//!
//! `{"error": {"code": "snake_case", "message": "…", "field": "amount"}}` with the status
//! of agent-api.md §1. A decision is never an error (a denial is a 200), so this type is
//! only for requests that could not be decided at all. [`From<StoreError>`] is the one
//! mapping from store failures; everything unexpected becomes 503 `unavailable` so the
//! edge fails closed.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::authorizer::StoreError;

/// The error codes of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    Unauthenticated,
    ForbiddenHost,
    ForbiddenOrigin,
    NotFound,
    MethodNotAllowed,
    IdempotencyConflict,
    InvalidState,
    PayloadTooLarge,
    UnsupportedMediaType,
    InvalidRequest,
    RateLimited,
    Unavailable,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidJson => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::ForbiddenHost | ErrorCode::ForbiddenOrigin => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::IdempotencyConflict | ErrorCode::InvalidState => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidRequest => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::ForbiddenHost => "forbidden_host",
            ErrorCode::ForbiddenOrigin => "forbidden_origin",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

/// A refused request: its code (which fixes the status), a message that says how to fix
/// it, and the one field at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// For `rate_limited`: sent as `Retry-After` in whole seconds (at least 1).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 422 `invalid_request` naming the field at fault.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field.into()),
            ..ApiError::new(ErrorCode::InvalidRequest, message)
        }
    }

    pub fn invalid_json(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidJson, message)
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            ErrorCode::Unauthenticated,
            "send a valid agent token as `Authorization: Bearer purser_…` (issued by `purser agent add`)",
        )
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    pub fn rate_limited(message: impl Into<String>, retry_after: Duration) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(ErrorCode::RateLimited, message)
        }
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Unavailable, message)
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// Whole seconds for `Retry-After`, rounded up, at least 1.
    fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after.map(|d| {
            let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            whole.max(1)
        })
    }
}

/// Every refusal of the agent API: `{"error": {"code", "message", "field"}}`.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorDetail<'a> {
    code: ErrorCode,
    /// What is wrong and how to fix it.
    message: &'a str,
    /// The one field or query parameter at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable; refusing the request");
                ApiError::unavailable(
                    "Purser cannot durably record right now, so nothing was approved; retry later",
                )
            }
            StoreError::OutcomeUnknown(detail) => {
                tracing::warn!(%detail, "store lost its database while committing; outcome unknown");
                ApiError::unavailable(
                    "Purser lost its database while recording this request, so its outcome is not known yet; retry with the same request_id to learn it",
                )
            }
            StoreError::IdempotencyConflict => ApiError::new(
                ErrorCode::IdempotencyConflict,
                "this request_id was already used with different parameters; nothing changed. Use a new request_id for a new request, or resend the exact original to get its decision",
            ),
            StoreError::NotFound(what) => {
                ApiError::not_found(format!("{what} not found for this agent"))
            }
            StoreError::InvalidState(message) => ApiError::new(ErrorCode::InvalidState, message),
            StoreError::InvalidInput(message) => ApiError::new(ErrorCode::InvalidRequest, message),
            StoreError::Corrupt(detail) => {
                tracing::error!(%detail, "store integrity check failed; refusing the request");
                ApiError::unavailable(
                    "Purser's store failed an integrity check, so nothing was approved; the principal must run `purser audit verify`",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn render(error: ApiError) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, retry, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn field_appears_only_when_one_field_is_at_fault() {
        let (status, _, body) = render(ApiError::invalid_field("amount", "bad")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "invalid_request", "message": "bad", "field": "amount"}})
        );
        let (status, _, body) = render(ApiError::invalid_json("nope")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "invalid_json", "message": "nope"}})
        );
    }

    #[tokio::test]
    async fn rate_limited_carries_retry_after_rounded_up() {
        let (status, retry, body) = render(ApiError::rate_limited(
            "slow down",
            Duration::from_millis(1_200),
        ))
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.as_deref(), Some("2"));
        assert_eq!(body["error"]["code"], "rate_limited");
        let (_, retry, _) = render(ApiError::rate_limited("x", Duration::ZERO)).await;
        assert_eq!(retry.as_deref(), Some("1"));
    }

    #[test]
    fn every_code_has_the_contract_status() {
        let expected = [
            (ErrorCode::InvalidJson, 400),
            (ErrorCode::Unauthenticated, 401),
            (ErrorCode::ForbiddenHost, 403),
            (ErrorCode::ForbiddenOrigin, 403),
            (ErrorCode::NotFound, 404),
            (ErrorCode::MethodNotAllowed, 405),
            (ErrorCode::IdempotencyConflict, 409),
            (ErrorCode::InvalidState, 409),
            (ErrorCode::PayloadTooLarge, 413),
            (ErrorCode::UnsupportedMediaType, 415),
            (ErrorCode::InvalidRequest, 422),
            (ErrorCode::RateLimited, 429),
            (ErrorCode::Unavailable, 503),
        ];
        for (code, status) in expected {
            assert_eq!(code.status().as_u16(), status, "{code:?}");
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str(), "{code:?}");
        }
    }

    #[test]
    fn store_errors_map_to_contract_codes_and_fail_closed() {
        let cases = [
            (
                StoreError::Unavailable("disk full".into()),
                ErrorCode::Unavailable,
            ),
            (
                StoreError::IdempotencyConflict,
                ErrorCode::IdempotencyConflict,
            ),
            (StoreError::NotFound("auth_x".into()), ErrorCode::NotFound),
            (
                StoreError::InvalidState("voided".into()),
                ErrorCode::InvalidState,
            ),
            (
                StoreError::InvalidInput("too much".into()),
                ErrorCode::InvalidRequest,
            ),
            (StoreError::Corrupt("chain".into()), ErrorCode::Unavailable),
        ];
        for (store, code) in cases {
            let api = ApiError::from(store.clone());
            assert_eq!(api.code, code, "{store:?}");
            assert!(
                !api.message.contains("disk full"),
                "internal detail leaked: {api:?}"
            );
        }
    }
}
