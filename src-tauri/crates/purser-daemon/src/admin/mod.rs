//! The admin API (docs/admin-api.md): the principal's controls as HTTP/1.1 with JSON
//! bodies, served only on the unix socket `DATA_DIR/admin.sock` (0600 in a 0700 dir).
//! Access to the socket file is the authority: there is no token, and this router is
//! never bound to TCP, so agent tokens cannot reach it.
//!
//! Each handler parses and validates its input, calls the [`Console`], and renders the
//! answer; errors take the agent API's shape ([`AdminError`]).

pub mod agents;
pub mod approvals;
pub mod audit;
pub mod body;
pub mod error;
pub mod events;
pub mod policy;
pub mod status;

use std::fmt;

use axum::Router;
use axum::routing::{get, post};
use purser_store::Store;

use crate::console::Console;
use crate::http::error::{ApiError, ErrorCode};
use crate::shutdown::ShutdownHandle;
pub use error::AdminError;

/// What every admin handler shares.
pub struct AdminState<S> {
    pub console: Console<S>,
    /// Ends event streams when the daemon stops.
    pub shutdown: ShutdownHandle,
}

impl<S> Clone for AdminState<S> {
    fn clone(&self) -> AdminState<S> {
        AdminState {
            console: self.console.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

impl<S> fmt::Debug for AdminState<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminState")
            .field("console", &self.console)
            .finish_non_exhaustive()
    }
}

/// Every route of docs/admin-api.md over `state`.
pub fn router<S: Store + Clone + 'static>(state: AdminState<S>) -> Router {
    Router::new()
        .route("/admin/status", get(status::status::<S>))
        .route("/admin/budget", get(status::budget::<S>))
        .route(
            "/admin/agents",
            get(agents::list::<S>).post(agents::create::<S>),
        )
        .route("/admin/agents/{name}/freeze", post(agents::freeze::<S>))
        .route("/admin/agents/{name}/unfreeze", post(agents::unfreeze::<S>))
        .route("/admin/agents/{name}/revoke", post(agents::revoke::<S>))
        .route("/admin/policy", get(policy::current::<S>))
        .route("/admin/policy/history", get(policy::history::<S>))
        .route("/admin/policy/versions/{n}", get(policy::version::<S>))
        .route("/admin/policy/check", post(policy::check))
        .route("/admin/policy/apply", post(policy::apply::<S>))
        .route("/admin/policy/preview", post(policy::preview::<S>))
        .route("/admin/approvals", get(approvals::list::<S>))
        .route(
            "/admin/approvals/{id}/approve",
            post(approvals::approve::<S>),
        )
        .route("/admin/approvals/{id}/deny", post(approvals::deny::<S>))
        .route("/admin/kill", post(approvals::kill::<S>))
        .route("/admin/resume", post(approvals::resume::<S>))
        .route("/admin/audit", get(audit::list::<S>))
        .route("/admin/audit/export", get(audit::export::<S>))
        .route("/admin/audit/verify", post(audit::verify::<S>))
        .route("/admin/events", get(events::events::<S>))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint: the admin API is under /admin (see docs/admin-api.md)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that HTTP method",
    )
}
