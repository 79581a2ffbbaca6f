//! The agent API's routing table: which path reaches which handler, behind which gates.
//! Unknown paths and methods answer in the contract's error shape, never axum's.
//!
//! Every endpoint is registered with utoipa-axum's `routes!`, which reads the method and
//! path from the handler's `#[utoipa::path]`: the router and the OpenAPI document
//! (`openapi.rs`) come from the same lines. `/mcp` is the one route outside the
//! document: it speaks JSON-RPC (MCP), not this REST API.

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::any;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorCode};
use super::openapi::{self, ApiDoc};
use super::{authorizations, budget, guard, health, usage};
use crate::mcp;
use crate::state::AppState;

/// The documented endpoints: (open to anyone who passes the Host/Origin gate, behind
/// the agent token). [`router`] adds the gates; [`openapi::openapi`] the document.
pub(crate) fn documented_routes_split() -> (OpenApiRouter<AppState>, OpenApiRouter<AppState>) {
    let open = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(openapi::openapi_json));
    let authenticated = OpenApiRouter::new()
        .routes(routes!(authorizations::create))
        .routes(routes!(authorizations::show))
        .routes(routes!(authorizations::capture))
        .routes(routes!(authorizations::void))
        .routes(routes!(usage::record_usage))
        .routes(routes!(budget::budget))
        .routes(routes!(crate::rails::x402::authorize));
    (open, authenticated)
}

/// Every documented endpoint, for the OpenAPI document.
pub(crate) fn documented_routes() -> OpenApiRouter<AppState> {
    let (open, authenticated) = documented_routes_split();
    open.merge(authenticated)
}

/// The agent API (agent-api.md §1) over `state`, with the MCP endpoint at `/mcp`.
pub fn router(state: AppState) -> Router {
    let (open, authenticated) = documented_routes_split();
    let (open, _) = open.split_for_parts();
    let (authenticated, _) = authenticated.split_for_parts();
    let authenticated = authenticated
        .route(
            mcp::MCP_PATH,
            any(mcp::serve).with_state(mcp::endpoint(&state)),
        )
        .route_layer(from_fn_with_state(state.clone(), guard::authenticate));
    open.merge(authenticated)
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
