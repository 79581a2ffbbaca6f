//! Purser's authorizer service as a library: the binary (`purser serve`) and the desktop
//! app both embed it.
//!
//! Today it holds the agent-facing HTTP API ([`http::router`]) over an [`Authorizer`]
//! port to the store, the [`Waiters`] that wake long-polling agents, and agent
//! [`token`]s. The daemon's lifecycle (`Daemon::start(config) -> RunningDaemon`), the
//! admin socket, the approval broker and the kill switch are built on these pieces and
//! share the same [`AppState`] parts (store, clock, waiters).

pub mod authorizer;
pub mod config;
pub mod http;
pub mod state;
pub mod token;
pub mod waiters;

pub use authorizer::{Authorization, Authorizer, StoreError};
pub use config::HttpConfig;
pub use state::AppState;
pub use token::{AgentToken, TokenHash};
pub use waiters::Waiters;
