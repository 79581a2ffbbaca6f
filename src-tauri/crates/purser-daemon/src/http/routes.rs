//! The agent API's routing table: which path reaches which handler, behind which gates.
//! Unknown paths and methods answer in the contract's error shape, never axum's.

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use super::error::{ApiError, ErrorCode};
use super::{authorizations, budget, guard, health, usage};
use crate::state::AppState;

/// The agent API (agent-api.md §1) over `state`.
pub fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .route("/v1/authorizations", post(authorizations::create))
        .route("/v1/authorizations/{id}", get(authorizations::show))
        .route(
            "/v1/authorizations/{id}/capture",
            post(authorizations::capture),
        )
        .route("/v1/authorizations/{id}/void", post(authorizations::void))
        .route("/v1/usage", post(usage::record_usage))
        .route("/v1/budget", get(budget::budget))
        .route_layer(from_fn_with_state(state.clone(), guard::authenticate));
    Router::new()
        .route("/v1/health", get(health::health))
        .merge(authenticated)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), guard::admit))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint: the agent API is under /v1 (see agent-api.md)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that HTTP method",
    )
}
