//! `POST /v1/usage`: meter a per-action cost too small to prompt for. Checked against
//! the same budgets as payments, denied when it would exceed one, never pending. The
//! work is `operations`', shared with the MCP tools.

use axum::Json;
use axum::extract::State;

use super::body::JsonObject;
use super::error::{ApiError, ErrorBody};
use super::guard::AuthenticatedAgent;
use super::openapi::UsageRequestSchema;
use super::operations;
use super::view::UsageView;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/v1/usage",
    operation_id = "recordUsage",
    tag = "usage",
    summary = "Meter a small per-action cost",
    description = "Records `unit_cost × units` against the same budgets as payments: approved, or denied when it would exceed one (a 200 answer); never pending. The same request_id with the same fields replays the receipt.",
    request_body(content = UsageRequestSchema, content_type = "application/json"),
    responses(
        (status = 200, description = "The metering decision and totals", body = UsageView),
        (status = 409, description = "idempotency_conflict: this request_id was used with different fields; nothing changed", body = ErrorBody),
    ),
    security(("agent_token" = [])),
)]
#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn record_usage(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    JsonObject(body): JsonObject,
) -> Result<Json<UsageView>, ApiError> {
    operations::record_usage(&state, &agent, &body)
        .await
        .map(Json)
}
