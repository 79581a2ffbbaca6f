//! `/admin/policy`: the running policy, its history and versions, and the three things
//! the principal does with a candidate text: check it, apply it (all or nothing: an
//! invalid text leaves the running policy untouched), preview it against recent requests.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use purser_store::Store;
use serde::{Deserialize, Serialize};

use super::AdminState;
use super::body::Body;
use super::error::AdminError;
use crate::console::preview::Preview;
use crate::console::{PRINCIPAL, PolicyTextView, PolicyVersionView, check_policy};

/// The file name shown in errors when the request names none.
const DEFAULT_FILE: &str = "policy.toml";
/// The preview's window when the request gives none.
const DEFAULT_PREVIEW_DAYS: u32 = 30;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyText {
    file: Option<String>,
    text: Option<String>,
    days: Option<u32>,
}

impl PolicyText {
    fn parts(&self) -> Result<(&str, &str), AdminError> {
        let text = self.text.as_deref().ok_or_else(|| {
            AdminError::invalid_field("text", "send the policy's TOML text in \"text\"")
        })?;
        Ok((self.file.as_deref().unwrap_or(DEFAULT_FILE), text))
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Checked {
    ok: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct Applied {
    version: u32,
}

pub(crate) async fn current<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
) -> Result<Json<PolicyTextView>, AdminError> {
    Ok(Json(state.console.policy().await?))
}

pub(crate) async fn history<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
) -> Result<Json<Vec<PolicyVersionView>>, AdminError> {
    Ok(Json(state.console.policy_history().await?))
}

pub(crate) async fn version<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    version: Result<Path<String>, PathRejection>,
) -> Result<Json<PolicyTextView>, AdminError> {
    let Path(text) = version.map_err(|_| AdminError::not_found("no such policy version"))?;
    let version = text
        .parse::<u32>()
        .map_err(|_| AdminError::not_found(format!("policy version {text:?} not found")))?;
    Ok(Json(state.console.policy_version(version).await?))
}

pub(crate) async fn check(Body(body): Body<PolicyText>) -> Result<Json<Checked>, AdminError> {
    let (file, text) = body.parts()?;
    check_policy(file, text)?;
    Ok(Json(Checked { ok: true }))
}

pub(crate) async fn apply<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    Body(body): Body<PolicyText>,
) -> Result<Json<Applied>, AdminError> {
    let (file, text) = body.parts()?;
    let version = state.console.apply_policy(file, text, PRINCIPAL).await?;
    Ok(Json(Applied { version }))
}

pub(crate) async fn preview<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    Body(body): Body<PolicyText>,
) -> Result<Json<Preview>, AdminError> {
    let (file, text) = body.parts()?;
    let days = body.days.unwrap_or(DEFAULT_PREVIEW_DAYS);
    Ok(Json(state.console.preview(file, text, days).await?))
}
