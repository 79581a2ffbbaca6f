//! `/admin/agents`: list, create (the token is in this answer and nowhere else, ever),
//! freeze, unfreeze, revoke.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use purser_core::{AgentName, ProfileName};
use purser_store::Store;
use serde::Deserialize;

use super::AdminState;
use super::body::Body;
use super::error::AdminError;
use crate::authorizer::AgentStatus;
use crate::console::view::{AgentView, NewAgentView};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAgent {
    name: Option<String>,
    profile: Option<String>,
}

pub(crate) async fn list<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
) -> Result<Json<Vec<AgentView>>, AdminError> {
    Ok(Json(state.console.agents().await?))
}

pub(crate) async fn create<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    Body(body): Body<NewAgent>,
) -> Result<(StatusCode, Json<NewAgentView>), AdminError> {
    let name = body
        .name
        .ok_or_else(|| AdminError::invalid_field("name", "give the new agent a name"))?;
    let name = name.parse::<AgentName>().map_err(|e| {
        AdminError::invalid_field(
            "name",
            format!("agent name {:?} is invalid: {}", e.value, e.rule),
        )
    })?;
    let profile = body
        .profile
        .map(|profile| {
            profile.parse::<ProfileName>().map_err(|e| {
                AdminError::invalid_field(
                    "profile",
                    format!("profile {:?} is invalid: {}", e.value, e.rule),
                )
            })
        })
        .transpose()?;
    let created = state
        .console
        .add_agent(name, profile)
        .await
        .map_err(|error| match AdminError::from(error) {
            // The store refuses a taken name as invalid input: name the field.
            AdminError::Api(api)
                if api.field.is_none() && api.status() == StatusCode::UNPROCESSABLE_ENTITY =>
            {
                AdminError::invalid_field("name", api.message)
            }
            other => other,
        })?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub(crate) async fn freeze<S: Store + Clone + 'static>(
    state: State<AdminState<S>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<AgentView>, AdminError> {
    set_status(state, name, AgentStatus::Frozen).await
}

pub(crate) async fn unfreeze<S: Store + Clone + 'static>(
    state: State<AdminState<S>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<AgentView>, AdminError> {
    set_status(state, name, AgentStatus::Active).await
}

pub(crate) async fn revoke<S: Store + Clone + 'static>(
    state: State<AdminState<S>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<AgentView>, AdminError> {
    set_status(state, name, AgentStatus::Revoked).await
}

async fn set_status<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    name: Result<Path<String>, PathRejection>,
    status: AgentStatus,
) -> Result<Json<AgentView>, AdminError> {
    let Path(name) = name.map_err(|_| AdminError::not_found("no such agent"))?;
    let name = name
        .parse::<AgentName>()
        .map_err(|_| AdminError::not_found(format!("agent {name:?} not found")))?;
    Ok(Json(state.console.set_agent_status(&name, status).await?))
}
