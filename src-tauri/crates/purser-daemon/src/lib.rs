//! Purser's authorizer service as a library: the binary (`purser serve`) and the desktop
//! app both embed it.
//!
//! - [`Daemon::start`] / [`serve`]: the lifecycle (data dir, lock, store, listeners,
//!   graceful shutdown).
//! - [`http::router`]: the agent API on TCP, over the [`Authorizer`] port; [`Broker`]
//!   is that port over the store, publishing events and waking the expiry task. It
//!   serves the MCP endpoint `/mcp` ([`mcp`]) and its own OpenAPI document
//!   ([`http::openapi`]).
//! - [`admin::router`]: the admin API on the unix socket, over the [`Console`], the
//!   principal's controls (approvals, kill switch, agents, policy, audit).
//! - [`EventBus`], [`Waiters`], [`expiry`]: who hears about a change, who is woken by
//!   it, and who enforces deadlines.

pub mod admin;
pub mod authorizer;
pub mod broker;
pub mod config;
pub mod console;
pub mod daemon;
pub mod events;
pub mod expiry;
pub mod http;
pub mod logging;
pub mod mcp;
pub mod rails;
pub mod shutdown;
pub mod state;
pub mod token;
pub mod waiters;

pub use authorizer::{Authorization, Authorizer, StoreError};
pub use broker::Broker;
pub use config::HttpConfig;
pub use console::{Console, ConsoleError};
pub use daemon::{
    ADMIN_SOCKET, DATABASE_FILE, Daemon, GROUP_COMMIT_ENV, LOCK_FILE, RunningDaemon,
    SHUTDOWN_GRACE, ServeConfig, StartError, serve, serve_with, store_options_from_env,
};
pub use events::{Event, EventBus, EventKind, Subscription};
/// The real clock, for [`Daemon::start`] outside tests.
pub use purser_store::SystemClock;
pub use shutdown::{Shutdown, ShutdownHandle};
pub use state::AppState;
pub use token::{AgentToken, TokenHash};
pub use waiters::Waiters;
