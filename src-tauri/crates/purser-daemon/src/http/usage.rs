//! `POST /v1/usage`: meter a per-action cost too small to prompt for. Checked against
//! the same budgets as payments, denied when it would exceed one, never pending.

use axum::Json;
use axum::extract::State;

use super::body::JsonObject;
use super::decode;
use super::error::ApiError;
use super::guard::AuthenticatedAgent;
use super::view::UsageView;
use crate::state::AppState;

#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn record_usage(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    JsonObject(body): JsonObject,
) -> Result<Json<UsageView>, ApiError> {
    let request = decode::usage_request(&agent.name, &body)?;
    tracing::debug!(request_id = %request.request_id, cost = %request.amount, "metering usage");
    let (authorization, totals) = state.authorizer().record_usage(request).await?;
    Ok(Json(UsageView::new(&authorization, &totals)))
}
