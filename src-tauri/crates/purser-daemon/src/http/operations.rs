//! What an authenticated agent can do, whatever carries the request: the HTTP handlers
//! (`authorizations`, `usage`, `budget`) and the MCP tools ([`crate::mcp`]) both call
//! these functions, so a request decoded, decided, waited on and answered over MCP goes
//! through exactly the same code as one over HTTP (same validation, same messages, same
//! store calls, same long-poll).
//!
//! Each takes the agent the transport authenticated and the request's JSON object as
//! it arrived; `decode` turns it into core types. Long-polls reserve their [`WaitSlot`]
//! *before* anything is recorded, so a 429 leaves no trace, and subscribe *before*
//! re-reading, so no decision is missed.

use std::time::Duration;

use purser_core::{AuthorizationStatus, SessionId};
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::decode;
use super::error::ApiError;
use super::guard::AuthenticatedAgent;
use super::view::{AuthorizationView, BudgetLineView, BudgetView, UsageView};
use crate::authorizer::Authorization;
use crate::state::AppState;
use crate::waiters::{TooManyWaiters, WaitSlot};

/// Longest authorization id accepted; longer ones cannot exist.
const MAX_ID_LEN: usize = 128;

/// `POST /v1/authorizations[?wait=S]`: decide a payment request, holding the answer
/// while it is pending for at most `wait`.
pub async fn create_authorization(
    state: &AppState,
    agent: &AuthenticatedAgent,
    body: &Map<String, Value>,
    wait: Duration,
) -> Result<AuthorizationView, ApiError> {
    let request = decode::authorization_request(&agent.name, body)?;
    let slot = reserve_if_waiting(state, agent, wait)?;
    tracing::debug!(request_id = %request.request_id, amount = %request.amount, "deciding");
    let authorization = state.authorizer().authorize(request).await?;
    tracing::debug!(id = %authorization.id, status = authorization.status.as_str(), "decided");
    let authorization = match slot {
        Some(slot) => settle(state, agent, authorization, slot, Instant::now() + wait).await?,
        None => authorization,
    };
    Ok(AuthorizationView::from(&authorization))
}

/// `GET /v1/authorizations/{id}[?wait=S]`: one of the agent's own authorizations.
pub async fn get_authorization(
    state: &AppState,
    agent: &AuthenticatedAgent,
    id: &str,
    wait: Duration,
) -> Result<AuthorizationView, ApiError> {
    let id = authorization_id(id)?;
    let slot = reserve_if_waiting(state, agent, wait)?;
    let authorization = find(state, agent, id).await?;
    let authorization = match slot {
        Some(slot) => settle(state, agent, authorization, slot, Instant::now() + wait).await?,
        None => authorization,
    };
    Ok(AuthorizationView::from(&authorization))
}

/// `POST /v1/authorizations/{id}/capture` with `{"amount": "…"}`, or no body (all).
pub async fn capture_authorization(
    state: &AppState,
    agent: &AuthenticatedAgent,
    id: &str,
    body: Option<&Map<String, Value>>,
) -> Result<AuthorizationView, ApiError> {
    let id = authorization_id(id)?;
    let amount = decode::capture_amount(body)?;
    crate::rails::refuse_proxy_hold(state, agent, id).await?;
    let authorization = state.authorizer().capture(&agent.name, id, amount).await?;
    state.waiters().notify(&authorization.id);
    Ok(AuthorizationView::from(&authorization))
}

/// `POST /v1/authorizations/{id}/void`: takes no fields.
pub async fn void_authorization(
    state: &AppState,
    agent: &AuthenticatedAgent,
    id: &str,
    body: Option<&Map<String, Value>>,
) -> Result<AuthorizationView, ApiError> {
    let id = authorization_id(id)?;
    if let Some(field) = body.and_then(|body| body.keys().next()) {
        return Err(ApiError::invalid_field(
            field.clone(),
            format!("unknown field {field:?}: void takes no fields"),
        ));
    }
    crate::rails::refuse_proxy_hold(state, agent, id).await?;
    let authorization = state.authorizer().void(&agent.name, id).await?;
    state.waiters().notify(&authorization.id);
    Ok(AuthorizationView::from(&authorization))
}

/// `POST /v1/usage`: meter a per-action cost; never pending.
pub async fn record_usage(
    state: &AppState,
    agent: &AuthenticatedAgent,
    body: &Map<String, Value>,
) -> Result<UsageView, ApiError> {
    let request = decode::usage_request(&agent.name, body)?;
    tracing::debug!(request_id = %request.request_id, cost = %request.amount, "metering usage");
    let (authorization, totals) = state.authorizer().record_usage(request).await?;
    Ok(UsageView::new(&authorization, &totals))
}

/// `GET /v1/budget[?session_id=]`: the agent's limits as they stand. Read-only.
pub async fn budget(
    state: &AppState,
    agent: &AuthenticatedAgent,
    session: Option<SessionId>,
) -> Result<BudgetView, ApiError> {
    let lines = state
        .authorizer()
        .budget(&agent.name, session.as_ref())
        .await?;
    Ok(BudgetView {
        agent: agent.name.clone(),
        session_id: session,
        budgets: lines.iter().map(BudgetLineView::from).collect(),
    })
}

/// A `session_id` given outside a body (the budget's query), checked like one inside.
pub fn session_id(text: &str) -> Result<SessionId, ApiError> {
    text.parse::<SessionId>().map_err(|e| {
        ApiError::invalid_field(
            "session_id",
            format!("session_id {:?} is invalid: {}", e.value, e.rule),
        )
    })
}

/// `wait` in whole seconds, 0 to the configured maximum (120 by default).
pub fn wait_seconds(state: &AppState, secs: u64) -> Result<Duration, ApiError> {
    let max_secs = state.config().max_wait.as_secs();
    if secs > max_secs {
        return Err(wait_out_of_range(max_secs));
    }
    Ok(Duration::from_secs(secs))
}

pub(crate) fn wait_out_of_range(max_secs: u64) -> ApiError {
    ApiError::invalid_field(
        "wait",
        format!("wait must be a whole number of seconds from 0 to {max_secs}, e.g. ?wait=30"),
    )
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

pub(crate) fn not_found() -> ApiError {
    ApiError::not_found("no such authorization for this agent")
}

/// An id that could name an authorization; anything else is simply not found.
fn authorization_id(id: &str) -> Result<&str, ApiError> {
    let plausible = (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if plausible { Ok(id) } else { Err(not_found()) }
}

pub(crate) fn reserve_if_waiting(
    state: &AppState,
    agent: &AuthenticatedAgent,
    wait: Duration,
) -> Result<Option<WaitSlot>, ApiError> {
    if wait.is_zero() {
        return Ok(None);
    }
    state.waiters().reserve(&agent.name).map(Some).map_err(|TooManyWaiters { limit, .. }| {
        ApiError::rate_limited(
            format!(
                "this agent already has {limit} requests waiting for a decision; wait for one to finish or poll without ?wait"
            ),
            Duration::from_secs(1),
        )
    })
}

/// Holds the answer while `authorization` is pending, until it changes or `deadline`.
pub(crate) async fn settle(
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
