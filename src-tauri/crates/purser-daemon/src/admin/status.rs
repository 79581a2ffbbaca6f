//! `GET /admin/status` (the daemon, kill switch, pending count, today's spend) and
//! `GET /admin/budget?agent=A[&session=S]` (an agent's `/v1/budget` answer).

use axum::Json;
use axum::extract::{RawQuery, State};
use purser_core::{AgentName, SessionId};
use purser_store::Store;

use super::AdminState;
use super::error::AdminError;
use crate::console::StatusView;
use crate::http::view::{BudgetLineView, BudgetView};

pub(crate) async fn status<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
) -> Result<Json<StatusView>, AdminError> {
    Ok(Json(state.console.status().await?))
}

pub(crate) async fn budget<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    RawQuery(query): RawQuery,
) -> Result<Json<BudgetView>, AdminError> {
    let mut agent = None;
    let mut session = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "agent" => {
                let name = value.parse::<AgentName>().map_err(|e| {
                    AdminError::invalid_field(
                        "agent",
                        format!("agent {:?} is invalid: {}", e.value, e.rule),
                    )
                })?;
                agent = Some(name);
            }
            "session" | "session_id" => {
                let id = value.parse::<SessionId>().map_err(|e| {
                    AdminError::invalid_field(
                        "session",
                        format!("session {:?} is invalid: {}", e.value, e.rule),
                    )
                })?;
                session = Some(id);
            }
            other => {
                return Err(AdminError::invalid_field(
                    other.to_owned(),
                    format!("unknown query parameter {other:?}: use ?agent=NAME[&session=ID]"),
                ));
            }
        }
    }
    let agent = agent.ok_or_else(|| {
        AdminError::invalid_field("agent", "name the agent: /admin/budget?agent=NAME")
    })?;
    let lines = state.console.budget(&agent, session.as_ref()).await?;
    Ok(Json(BudgetView {
        agent,
        session_id: session,
        budgets: lines.iter().map(BudgetLineView::from).collect(),
    }))
}
