//! [`StripeError`]: how the proxy refuses, in Stripe's own error shape
//! (`{"error": {"type", "code", "message", "param"?, "decline_code"?}}`) so that Stripe
//! SDKs raise their usual exceptions (402 → `CardError`, 403 → `PermissionError`, 400 →
//! `InvalidRequestError`/`IdempotencyError`, 401 → `AuthenticationError`).
//!
//! Every Purser error code starts with `purser_`; a decision's reason code is the
//! `decline_code`. `Stripe-Should-Retry` tells SDKs whether their automatic retries (with
//! the same idempotency key) can help.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::http::{ApiError, ErrorCode};

/// A refusal in Stripe's shape (boxed: errors travel through many `Result`s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeError(Box<Detail>);

/// What a [`StripeError`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: String,
    pub message: String,
    pub param: Option<String>,
    pub decline_code: Option<String>,
    /// The authorization concerned, also sent as the `Purser-Authorization` header.
    pub authorization: Option<String>,
    pub should_retry: bool,
    pub retry_after_secs: Option<u64>,
}

impl std::ops::Deref for StripeError {
    type Target = Detail;

    fn deref(&self) -> &Detail {
        &self.0
    }
}

impl std::ops::DerefMut for StripeError {
    fn deref_mut(&mut self) -> &mut Detail {
        &mut self.0
    }
}

impl StripeError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: &str,
        message: impl Into<String>,
    ) -> StripeError {
        StripeError(Box::new(Detail {
            status,
            kind,
            code: code.to_owned(),
            message: message.into(),
            param: None,
            decline_code: None,
            authorization: None,
            should_retry: false,
            retry_after_secs: None,
        }))
    }

    fn with(mut self, change: impl FnOnce(&mut Detail)) -> StripeError {
        change(&mut self.0);
        self
    }

    /// 400: the call is malformed for Purser (or for Stripe).
    pub fn invalid_request(message: impl Into<String>, param: Option<&str>) -> StripeError {
        StripeError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "purser_invalid_request",
            message,
        )
        .with(|detail| {
            detail.param = param.map(str::to_owned);
        })
    }

    /// 401: no valid Purser agent token as the API key.
    pub fn unauthenticated() -> StripeError {
        StripeError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "purser_unauthenticated",
            "Use your Purser agent token (purser_…, from `purser agent add`) as the Stripe API key: Purser holds the real Stripe key",
        )
    }

    /// 403: Purser refuses this call whatever the policy (unknown money-moving
    /// endpoints, Purser-only metadata, connected accounts…): fail closed.
    pub fn refused(message: impl Into<String>) -> StripeError {
        StripeError::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            "purser_refused",
            message,
        )
    }

    /// 402: the policy, the principal, a deadline or the kill switch said no.
    pub fn denied(
        authorization: &str,
        status: &str,
        reason_code: &str,
        reason: &str,
    ) -> StripeError {
        StripeError::new(
                StatusCode::PAYMENT_REQUIRED,
                "card_error",
                "purser_denied",
                format!(
                    "Purser {status} this payment ({reason_code}: {reason}); authorization {authorization}. Nothing was sent to Stripe."
                ),
            ).with(|detail| { detail.decline_code = Some(reason_code.to_owned()); detail.authorization = Some(authorization.to_owned()); })
    }

    /// 409: still waiting for the principal after the proxy's bounded wait.
    pub fn pending(authorization: &str, expires_at: Option<&str>) -> StripeError {
        let until = expires_at.map_or(String::new(), |at| {
            format!(" (the approval expires at {at})")
        });
        StripeError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                "purser_approval_pending",
                format!(
                    "This payment waits for the principal's approval (authorization {authorization}){until}. Nothing was sent to Stripe yet: retry the same call later with the same Idempotency-Key to get the decision; it never pays twice."
                ),
            ).with(|detail| { detail.authorization = Some(authorization.to_owned()); detail.retry_after_secs = Some(5); })
    }

    /// 409: the authorization exists but is no longer a hold Purser can carry out.
    pub fn not_held(authorization: &str, status: &str) -> StripeError {
        StripeError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                "purser_authorization_not_held",
                format!(
                    "Authorization {authorization} is {status}, so Purser did not send this call to Stripe (again); use a new Idempotency-Key to ask again"
                ),
            ).with(|detail| { detail.authorization = Some(authorization.to_owned()); })
    }

    /// 502: Stripe did not give a definite answer. The hold is kept.
    pub fn upstream_unknown(authorization: Option<&str>, what: &str) -> StripeError {
        StripeError::new(
                StatusCode::BAD_GATEWAY,
                "api_error",
                "purser_upstream_unavailable",
                format!(
                    "Stripe gave no definite answer ({what}). Retry the same call with the same Idempotency-Key: Purser sends Stripe the same idempotency key, so it never pays twice."
                ),
            ).with(|detail| { detail.authorization = authorization.map(str::to_owned); detail.should_retry = true; })
    }

    /// 503: Purser cannot decide or record right now: nothing was approved or sent.
    pub fn unavailable(message: impl Into<String>) -> StripeError {
        StripeError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "purser_unavailable",
            message,
        )
        .with(|detail| {
            detail.should_retry = true;
        })
    }

    /// The agent API's refusals, in Stripe's shape.
    pub fn from_api(error: ApiError) -> StripeError {
        let message = error.message.clone();
        let param = error.field.as_deref();
        match error.code {
            ErrorCode::IdempotencyConflict => StripeError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                "purser_idempotency_conflict",
                "This Idempotency-Key was already used for a different payment; nothing changed. Use a new key for a new payment.",
            ),
            ErrorCode::Unauthenticated => StripeError::unauthenticated(),
            ErrorCode::RateLimited => StripeError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "purser_rate_limited",
                message,
            )
            .with(|detail| {
                detail.retry_after_secs = Some(1);
            }),
            ErrorCode::Unavailable => StripeError::unavailable(message),
            ErrorCode::InvalidState => StripeError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                "purser_invalid_state",
                message,
            ),
            ErrorCode::NotFound => StripeError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "purser_not_found",
                message,
            ),
            _ => StripeError::invalid_request(message, param),
        }
    }
}

impl IntoResponse for StripeError {
    fn into_response(self) -> Response {
        let mut error = Map::new();
        error.insert("type".into(), Value::from(self.kind));
        error.insert("code".into(), Value::from(self.code.clone()));
        error.insert("message".into(), Value::from(self.message.clone()));
        if let Some(param) = &self.param {
            error.insert("param".into(), Value::from(param.clone()));
        }
        if let Some(decline) = &self.decline_code {
            error.insert("decline_code".into(), Value::from(decline.clone()));
        }
        if let Some(id) = &self.authorization {
            error.insert("purser_authorization".into(), Value::from(id.clone()));
        }
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        let headers = response.headers_mut();
        headers.insert(
            "stripe-should-retry",
            HeaderValue::from_static(if self.should_retry { "true" } else { "false" }),
        );
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(id) = self
            .authorization
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            headers.insert("purser-authorization", id);
        }
        response
    }
}
