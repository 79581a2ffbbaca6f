//! `/v1/authorizations`: ask to spend, read a decision (optionally waiting while it is
//! pending), capture a manual hold, void a hold or withdraw a pending request.
//!
//! An agent only ever sees its own authorizations: every store call carries the
//! authenticated agent, and another agent's id is `not_found`, exactly like an unknown
//! one. Long-polls reserve their [`WaitSlot`] *before* anything is recorded, so a 429
//! leaves no trace, and subscribe *before* re-reading, so no decision is missed.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use purser_core::AuthorizationStatus;
use tokio::time::Instant;

use super::body::{JsonObject, OptionalJsonObject};
use super::decode;
use super::error::ApiError;
use super::guard::AuthenticatedAgent;
use super::query::Wait;
use super::view::AuthorizationView;
use crate::authorizer::Authorization;
use crate::state::AppState;
use crate::waiters::{TooManyWaiters, WaitSlot};

/// Longest authorization id accepted in a path; longer ones cannot exist.
const MAX_ID_LEN: usize = 128;

/// `POST /v1/authorizations[?wait=S]`.
#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn create(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    Wait(wait): Wait,
    JsonObject(body): JsonObject,
) -> Result<Json<AuthorizationView>, ApiError> {
    let request = decode::authorization_request(&agent.name, &body)?;
    let slot = reserve_if_waiting(&state, &agent, wait)?;
    tracing::debug!(request_id = %request.request_id, amount = %request.amount, "deciding");
    let authorization = state.authorizer().authorize(request).await?;
    tracing::debug!(id = %authorization.id, status = authorization.status.as_str(), "decided");
    let authorization = match slot {
        Some(slot) => settle(&state, &agent, authorization, slot, Instant::now() + wait).await?,
        None => authorization,
    };
    Ok(Json(AuthorizationView::from(&authorization)))
}

/// `GET /v1/authorizations/{id}[?wait=S]`.
#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn show(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    id: Result<Path<String>, PathRejection>,
    Wait(wait): Wait,
) -> Result<Json<AuthorizationView>, ApiError> {
    let id = authorization_id(id)?;
    let slot = reserve_if_waiting(&state, &agent, wait)?;
    let authorization = find(&state, &agent, &id).await?;
    let authorization = match slot {
        Some(slot) => settle(&state, &agent, authorization, slot, Instant::now() + wait).await?,
        None => authorization,
    };
    Ok(Json(AuthorizationView::from(&authorization)))
}

/// `POST /v1/authorizations/{id}/capture` with `{"amount": "…"}` or no body (all).
#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn capture(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    id: Result<Path<String>, PathRejection>,
    OptionalJsonObject(body): OptionalJsonObject,
) -> Result<Json<AuthorizationView>, ApiError> {
    let id = authorization_id(id)?;
    let amount = decode::capture_amount(body.as_ref())?;
    let authorization = state.authorizer().capture(&agent.name, &id, amount).await?;
    state.waiters().notify(&authorization.id);
    Ok(Json(AuthorizationView::from(&authorization)))
}

/// `POST /v1/authorizations/{id}/void`: takes no body.
#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn void(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    id: Result<Path<String>, PathRejection>,
    OptionalJsonObject(body): OptionalJsonObject,
) -> Result<Json<AuthorizationView>, ApiError> {
    let id = authorization_id(id)?;
    if let Some(field) = body.as_ref().and_then(|body| body.keys().next()) {
        return Err(ApiError::invalid_field(
            field.clone(),
            format!("unknown field {field:?}: void takes no fields"),
        ));
    }
    let authorization = state.authorizer().void(&agent.name, &id).await?;
    state.waiters().notify(&authorization.id);
    Ok(Json(AuthorizationView::from(&authorization)))
}

/// One of the agent's own authorizations.
async fn find(
    state: &AppState,
    agent: &AuthenticatedAgent,
    id: &str,
) -> Result<Authorization, ApiError> {
    state
        .authorizer()
        .get_authorization(&agent.name, id)
        .await?
        .ok_or_else(not_found)
}

fn not_found() -> ApiError {
    ApiError::not_found("no such authorization for this agent")
}

/// A path id that could name an authorization; anything else is simply not found.
fn authorization_id(id: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = id.map_err(|_| not_found())?;
    let plausible = (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if plausible { Ok(id) } else { Err(not_found()) }
}

fn reserve_if_waiting(
    state: &AppState,
    agent: &AuthenticatedAgent,
    wait: std::time::Duration,
) -> Result<Option<WaitSlot>, ApiError> {
    if wait.is_zero() {
        return Ok(None);
    }
    state.waiters().reserve(&agent.name).map(Some).map_err(|TooManyWaiters { limit, .. }| {
        ApiError::rate_limited(
            format!(
                "this agent already has {limit} requests waiting for a decision; wait for one to finish or poll without ?wait"
            ),
            std::time::Duration::from_secs(1),
        )
    })
}

/// Holds the answer while `authorization` is pending, until it changes or `deadline`.
async fn settle(
    state: &AppState,
    agent: &AuthenticatedAgent,
    authorization: Authorization,
    slot: WaitSlot,
    deadline: Instant,
) -> Result<Authorization, ApiError> {
    if authorization.status != AuthorizationStatus::Pending {
        return Ok(authorization);
    }
    let mut ticket = slot.watch(&authorization.id);
    let recheck = state.config().wait_recheck;
    loop {
        // Read after subscribing: a decision made since the last read is seen here.
        let current = find(state, agent, &authorization.id).await?;
        let now = Instant::now();
        if current.status != AuthorizationStatus::Pending || now >= deadline || ticket.is_closing()
        {
            return Ok(current);
        }
        tokio::select! {
            () = ticket.changed() => {}
            () = tokio::time::sleep_until(deadline.min(now + recheck)) => {}
        }
    }
}
