//! `GET /v1/budget[?session_id=]`: the calling agent's limits as they stand, per window
//! and currency. Read-only; the work is `operations`', shared with the MCP tools.

use axum::Json;
use axum::extract::State;

use super::error::ApiError;
use super::guard::AuthenticatedAgent;
use super::operations;
use super::query::SessionQuery;
use super::view::BudgetView;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/v1/budget",
    operation_id = "getBudget",
    tag = "budget",
    summary = "This agent's limits as they stand",
    description = "One line per limit that applies to the calling agent (shared limits, then its profile's): limit, spent, held and remaining in the current window, per currency.",
    params(("session_id" = Option<String>, Query, min_length = 1, max_length = 128, pattern = r"^[A-Za-z0-9._:-]+$", description = "Also show this session's `session` windows")),
    responses((status = 200, description = "The agent's budget lines", body = BudgetView)),
    security(("agent_token" = [])),
)]
#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn budget(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    SessionQuery(session): SessionQuery,
) -> Result<Json<BudgetView>, ApiError> {
    operations::budget(&state, &agent, session).await.map(Json)
}
