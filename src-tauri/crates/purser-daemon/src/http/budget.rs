//! `GET /v1/budget[?session_id=]`: the calling agent's limits as they stand, per window
//! and currency. Read-only.

use axum::Json;
use axum::extract::State;

use super::error::ApiError;
use super::guard::AuthenticatedAgent;
use super::query::SessionQuery;
use super::view::{BudgetLineView, BudgetView};
use crate::state::AppState;

#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn budget(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    SessionQuery(session): SessionQuery,
) -> Result<Json<BudgetView>, ApiError> {
    let lines = state
        .authorizer()
        .budget(&agent.name, session.as_ref())
        .await?;
    Ok(Json(BudgetView {
        agent: agent.name,
        session_id: session,
        budgets: lines.iter().map(BudgetLineView::from).collect(),
    }))
}
