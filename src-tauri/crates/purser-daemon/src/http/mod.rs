//! The agent-facing HTTP edge (agent-api.md §1): gates, decoding, handlers, errors.
//!
//! It turns HTTP into calls on the [`Authorizer`](crate::authorizer::Authorizer) port and
//! back, and owns nothing durable: every decision is made and recorded by the store
//! before a handler answers.

pub mod authorizations;
pub mod body;
pub mod budget;
pub mod decode;
pub mod error;
pub mod guard;
pub mod health;
pub mod openapi;
pub mod operations;
pub mod query;
pub mod rate_limit;
pub mod routes;
pub mod usage;
pub mod view;

pub use error::{ApiError, ErrorCode};
pub use guard::AuthenticatedAgent;
pub use openapi::{openapi, openapi_json_pretty};
pub use routes::router;
