//! [`Body`]: the admin API's JSON body extractor. An empty body is the type's default
//! (so `POST /admin/resume` and `POST /admin/kill` need none); anything else must be
//! `application/json`, at most [`MAX_BODY_BYTES`], and match the type exactly (unknown
//! fields are refused). Syntax errors are 400 `invalid_json`, shape errors 422.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use super::error::AdminError;
use crate::http::body::read_bounded;
use crate::http::error::{ApiError, ErrorCode};

/// The largest admin request body (a policy file is far smaller).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A JSON body read into `T`; `T::default()` when the body is empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for Body<T> {
    type Rejection = AdminError;

    async fn from_request(request: Request, _: &S) -> Result<Body<T>, AdminError> {
        let (parts, body) = request.into_parts();
        let bytes = read_bounded(body, MAX_BODY_BYTES).await?;
        if bytes.is_empty() {
            return Ok(Body(T::default()));
        }
        let is_json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(AdminError::Api(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with the header `Content-Type: application/json`",
            )));
        }
        serde_json::from_slice(&bytes).map(Body).map_err(|error| {
            if error.is_data() {
                AdminError::invalid(format!("the body does not fit this endpoint: {error}"))
            } else {
                AdminError::Api(ApiError::invalid_json(format!(
                    "the body is not valid JSON: {error}"
                )))
            }
        })
    }
}
