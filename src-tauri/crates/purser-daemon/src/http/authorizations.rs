//! `/v1/authorizations`: ask to spend, read a decision (optionally waiting while it is
//! pending), capture a manual hold, void a hold or withdraw a pending request.
//!
//! The handlers only take HTTP apart: the work is `operations`', shared with the MCP
//! tools. An agent only ever sees its own authorizations: every store call carries the
//! authenticated agent, and another agent's id is `not_found`, exactly like an unknown
//! one.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};

use super::body::{JsonObject, OptionalJsonObject};
use super::error::{ApiError, ErrorBody};
use super::guard::AuthenticatedAgent;
use super::openapi::{AuthorizationRequestSchema, CaptureRequestSchema, VoidRequestSchema};
use super::operations;
use super::query::Wait;
use super::view::AuthorizationView;
use crate::state::AppState;

/// `POST /v1/authorizations[?wait=S]`.
#[utoipa::path(
    post,
    path = "/v1/authorizations",
    operation_id = "createAuthorization",
    tag = "authorizations",
    summary = "Ask to spend",
    description = "Decides a payment the agent intends to make and returns the decision: approved, denied (a normal 200 answer, with the reasons) or pending (the principal decides). With `?wait=S` the answer is held while pending, until the principal decides, the approval expires or S seconds pass. Resending the same request_id with the same fields replays the recorded decision and never spends twice.",
    params(("wait" = Option<u32>, Query, minimum = 0, maximum = 120, description = "Seconds to hold the answer while the decision is pending (0-120, default 0)")),
    request_body(content = AuthorizationRequestSchema, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision, for a new request and for an exact replay of its request_id", body = AuthorizationView),
        (status = 409, description = "idempotency_conflict: this request_id was used with different fields; nothing changed", body = ErrorBody),
    ),
    security(("agent_token" = [])),
)]
#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn create(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    Wait(wait): Wait,
    JsonObject(body): JsonObject,
) -> Result<Json<AuthorizationView>, ApiError> {
    operations::create_authorization(&state, &agent, &body, wait)
        .await
        .map(Json)
}

/// `GET /v1/authorizations/{id}[?wait=S]`.
#[utoipa::path(
    get,
    path = "/v1/authorizations/{id}",
    operation_id = "getAuthorization",
    tag = "authorizations",
    summary = "Read one of this agent's authorizations",
    description = "The authorization as it stands; another agent's id is 404 like an unknown one. With `?wait=S` the answer is held while it is pending (long-poll), until the principal decides, it expires or S seconds pass.",
    params(
        ("id" = String, Path, description = "The authorization's id (`auth_…`)"),
        ("wait" = Option<u32>, Query, minimum = 0, maximum = 120, description = "Seconds to hold the answer while it is pending (0-120, default 0)"),
    ),
    responses(
        (status = 200, description = "The authorization", body = AuthorizationView),
        (status = 404, description = "not_found: no such authorization for this agent", body = ErrorBody),
    ),
    security(("agent_token" = [])),
)]
#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn show(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    id: Result<Path<String>, PathRejection>,
    Wait(wait): Wait,
) -> Result<Json<AuthorizationView>, ApiError> {
    let id = path_id(id)?;
    operations::get_authorization(&state, &agent, &id, wait)
        .await
        .map(Json)
}

/// `POST /v1/authorizations/{id}/capture` with `{"amount": "…"}` or no body (all).
#[utoipa::path(
    post,
    path = "/v1/authorizations/{id}/capture",
    operation_id = "captureAuthorization",
    tag = "authorizations",
    summary = "Capture a manual hold",
    description = "For an approved manual-capture authorization: records what was actually spent, at most the authorized amount (default: all of it); the rest of the hold is released.",
    params(("id" = String, Path, description = "The authorization's id (`auth_…`)")),
    request_body(content = Option<CaptureRequestSchema>, content_type = "application/json", description = "Optional: no body captures the whole amount"),
    responses(
        (status = 200, description = "The captured authorization", body = AuthorizationView),
        (status = 404, description = "not_found: no such authorization for this agent", body = ErrorBody),
        (status = 409, description = "invalid_state: not an approved manual hold (auto capture, pending, denied, already captured or voided, lapsed)", body = ErrorBody),
    ),
    security(("agent_token" = [])),
)]
#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn capture(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    id: Result<Path<String>, PathRejection>,
    OptionalJsonObject(body): OptionalJsonObject,
) -> Result<Json<AuthorizationView>, ApiError> {
    let id = path_id(id)?;
    operations::capture_authorization(&state, &agent, &id, body.as_ref())
        .await
        .map(Json)
}

/// `POST /v1/authorizations/{id}/void`: takes no body.
#[utoipa::path(
    post,
    path = "/v1/authorizations/{id}/void",
    operation_id = "voidAuthorization",
    tag = "authorizations",
    summary = "Release a hold, or withdraw a pending request",
    description = "Voids an approved manual hold (nothing is spent) or withdraws a pending request before the principal answers. Takes no body (an empty JSON object is accepted).",
    params(("id" = String, Path, description = "The authorization's id (`auth_…`)")),
    request_body(content = Option<VoidRequestSchema>, content_type = "application/json", description = "None, or an empty object"),
    responses(
        (status = 200, description = "The voided authorization", body = AuthorizationView),
        (status = 404, description = "not_found: no such authorization for this agent", body = ErrorBody),
        (status = 409, description = "invalid_state: neither an approved manual hold nor a pending request", body = ErrorBody),
    ),
    security(("agent_token" = [])),
)]
#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn void(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    id: Result<Path<String>, PathRejection>,
    OptionalJsonObject(body): OptionalJsonObject,
) -> Result<Json<AuthorizationView>, ApiError> {
    let id = path_id(id)?;
    operations::void_authorization(&state, &agent, &id, body.as_ref())
        .await
        .map(Json)
}

/// A path id that could not even be extracted is simply not found.
fn path_id(id: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    id.map(|Path(id)| id).map_err(|_| operations::not_found())
}
