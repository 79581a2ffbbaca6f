//! Query strings of the agent API: `?wait=S` on authorizations and `?session_id=` on the
//! budget. Unknown or repeated parameters are refused naming the parameter, so a typo
//! (`?wiat=30`) is an error rather than a silent zero.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use purser_core::SessionId;

use super::error::ApiError;
use super::operations::{session_id, wait_out_of_range, wait_seconds};
use crate::state::AppState;

/// `?wait=S`: seconds to hold the answer while the decision is pending (default 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wait(pub Duration);

/// `?session_id=`: whose session windows the budget shows (default: none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionQuery(pub Option<SessionId>);

impl FromRequestParts<AppState> for Wait {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Wait, ApiError> {
        let max_secs = state.config().max_wait.as_secs();
        let Some(text) = single_parameter(parts.uri.query(), "wait")? else {
            return Ok(Wait::default());
        };
        if text.is_empty() || text.len() > 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(wait_out_of_range(max_secs));
        }
        let secs: u64 = text.parse().map_err(|_| wait_out_of_range(max_secs))?;
        wait_seconds(state, secs).map(Wait)
    }
}

impl FromRequestParts<AppState> for SessionQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<SessionQuery, ApiError> {
        let Some(text) = single_parameter(parts.uri.query(), "session_id")? else {
            return Ok(SessionQuery(None));
        };
        session_id(&text).map(|id| SessionQuery(Some(id)))
    }
}

/// The value of the only parameter this endpoint takes, if given; anything else in the
/// query is an error naming it.
fn single_parameter(query: Option<&str>, name: &str) -> Result<Option<String>, ApiError> {
    let mut found = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if key != name {
            return Err(ApiError::invalid_field(
                key.clone().into_owned(),
                format!("unknown query parameter {key:?}: this endpoint takes only ?{name}="),
            ));
        }
        if found.replace(value.into_owned()).is_some() {
            return Err(ApiError::invalid_field(
                name,
                format!("give {name} at most once"),
            ));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_parameter_once() {
        assert_eq!(single_parameter(None, "wait").unwrap(), None);
        assert_eq!(single_parameter(Some(""), "wait").unwrap(), None);
        assert_eq!(
            single_parameter(Some("wait=5"), "wait").unwrap().as_deref(),
            Some("5")
        );
        assert_eq!(
            single_parameter(Some("session_id=run%3A42"), "session_id")
                .unwrap()
                .as_deref(),
            Some("run:42")
        );
        assert_eq!(
            single_parameter(Some("wiat=5"), "wait")
                .unwrap_err()
                .field
                .as_deref(),
            Some("wiat")
        );
        assert_eq!(
            single_parameter(Some("wait=1&wait=2"), "wait")
                .unwrap_err()
                .field
                .as_deref(),
            Some("wait")
        );
    }
}
