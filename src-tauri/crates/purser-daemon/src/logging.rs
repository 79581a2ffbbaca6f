//! Logs for `purser serve`: human-readable lines on standard error, filtered by the
//! `PURSER_LOG` environment variable (`tracing-subscriber` env-filter syntax, default
//! `info`). What is logged is decided where it happens; by rule no line ever carries a
//! token, a purpose or a context body (see `broker::log_authorization`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter.
pub const LOG_ENV: &str = "PURSER_LOG";

/// Installs the subscriber; does nothing if one is already installed (the desktop app
/// or a test brought its own).
pub fn init() {
    let (filter, bad) = match std::env::var(LOG_ENV) {
        Ok(text) => match EnvFilter::try_new(&text) {
            Ok(filter) => (filter, None),
            Err(error) => (EnvFilter::new("info"), Some((text, error))),
        },
        Err(_) => (EnvFilter::new("info"), None),
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init()
        .is_ok();
    if let (true, Some((text, error))) = (installed, bad) {
        tracing::warn!(%error, "{LOG_ENV}={text:?} is not a valid filter; logging at info");
    }
}
