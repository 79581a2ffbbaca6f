//! `/admin/approvals` (the principal's inbox, approve, deny) and the kill switch
//! (`/admin/kill`, `/admin/resume`). Each answers only once the change is durable and
//! the agents waiting on it were woken.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use purser_core::PolicyDuration;
use purser_store::{GrantChoice, Store};
use serde::{Deserialize, Serialize};

use super::AdminState;
use super::body::Body;
use super::error::AdminError;
use crate::console::view::AuthorizationDetail;

/// Longest id accepted in a path; longer ones cannot exist.
const MAX_ID_LEN: usize = 128;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Approve {
    grant: Option<String>,
    #[serde(rename = "for")]
    duration: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Deny {
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Kill {
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Resume {}

#[derive(Debug, Serialize)]
pub(crate) struct KillAnswer {
    engaged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancelled: Option<usize>,
}

pub(crate) async fn list<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
) -> Result<Json<Vec<AuthorizationDetail>>, AdminError> {
    let pending = state.console.approvals().await?;
    Ok(Json(
        pending.iter().map(AuthorizationDetail::from).collect(),
    ))
}

pub(crate) async fn approve<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    id: Result<Path<String>, PathRejection>,
    Body(body): Body<Approve>,
) -> Result<Json<AuthorizationDetail>, AdminError> {
    let id = authorization_id(id)?;
    let choice = grant_choice(&body)?;
    let decided = state.console.approve(&id, choice).await?;
    Ok(Json(AuthorizationDetail::from(&decided)))
}

pub(crate) async fn deny<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    id: Result<Path<String>, PathRejection>,
    Body(body): Body<Deny>,
) -> Result<Json<AuthorizationDetail>, AdminError> {
    let id = authorization_id(id)?;
    let reason = body.reason.filter(|reason| !reason.trim().is_empty());
    if reason
        .as_ref()
        .is_some_and(|reason| reason.chars().count() > 1000)
    {
        return Err(AdminError::invalid_field(
            "reason",
            "a reason is at most 1000 characters",
        ));
    }
    let decided = state.console.deny(&id, reason).await?;
    Ok(Json(AuthorizationDetail::from(&decided)))
}

pub(crate) async fn kill<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    Body(body): Body<Kill>,
) -> Result<Json<KillAnswer>, AdminError> {
    let reason = body.reason.filter(|reason| !reason.trim().is_empty());
    if reason
        .as_ref()
        .is_some_and(|reason| reason.chars().count() > 1000)
    {
        return Err(AdminError::invalid_field(
            "reason",
            "a reason is at most 1000 characters",
        ));
    }
    let killed = state.console.kill(reason).await?;
    Ok(Json(KillAnswer {
        engaged: killed.state.engaged,
        cancelled: Some(killed.cancelled.len()),
    }))
}

pub(crate) async fn resume<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    Body(Resume {}): Body<Resume>,
) -> Result<Json<KillAnswer>, AdminError> {
    let resumed = state.console.resume().await?;
    Ok(Json(KillAnswer {
        engaged: resumed.engaged,
        cancelled: None,
    }))
}

/// `{"grant": "once" | "for" | "session" | "always", "for": "15m"}`; no body is once.
fn grant_choice(body: &Approve) -> Result<GrantChoice, AdminError> {
    let duration = || -> Result<PolicyDuration, AdminError> {
        let text = body.duration.as_deref().ok_or_else(|| {
            AdminError::invalid_field(
                "for",
                "grant \"for\" needs \"for\": a duration such as \"15m\"",
            )
        })?;
        text.parse::<PolicyDuration>()
            .map_err(|error| AdminError::invalid_field("for", error.to_string()))
    };
    let choice = match body.grant.as_deref().unwrap_or("once") {
        "once" => GrantChoice::Once,
        "for" => GrantChoice::For(duration()?),
        "session" => GrantChoice::Session,
        "always" => GrantChoice::Always,
        other => {
            return Err(AdminError::invalid_field(
                "grant",
                format!("grant {other:?} is unknown: use once, for, session or always"),
            ));
        }
    };
    if body.duration.is_some() && !matches!(choice, GrantChoice::For(_)) {
        return Err(AdminError::invalid_field(
            "for",
            "\"for\" goes only with \"grant\": \"for\"",
        ));
    }
    Ok(choice)
}

/// A path id that could name an authorization; anything else is simply not found.
fn authorization_id(id: Result<Path<String>, PathRejection>) -> Result<String, AdminError> {
    let not_found = || AdminError::not_found("no such authorization");
    let Path(id) = id.map_err(|_| not_found())?;
    let plausible = (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if plausible { Ok(id) } else { Err(not_found()) }
}
