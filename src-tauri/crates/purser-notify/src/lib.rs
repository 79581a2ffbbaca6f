//! Purser's desktop notifications: a request that waits for the principal reaches them
//! in seconds wherever they are on the desktop, and one click decides it.
//!
//! [`Notifier`] follows the daemon's [`purser_daemon::EventBus`]: each new pending request
//! becomes a native notification ([`prompt`]) with **Approve** / **Deny** (and **Open**
//! when a console can be opened), which calls the same [`purser_daemon::Console`] the
//! console and the CLI use; a request decided anywhere else (console, CLI, expiry, kill
//! switch, freeze) has its notification closed, so no stale prompt is left to click, and
//! a click that races a decision anyway says so and changes nothing. A burst of requests
//! becomes one summary notification ([`storm`]); small amounts can be muted
//! ([`settings`]). Kill switch changes are confirmed by a notification of their own.
//!
//! Notifications are a convenience, never the record: every D-Bus call is bounded by a
//! timeout and runs on its own task, and with no notification server (or any error) the
//! notifier logs a warning and the request still waits in the inbox and the tray, and
//! still expires on time. It never blocks the daemon.
//!
//! Linux (freedesktop notifications over D-Bus, through notify-rust's zbus backend on
//! tokio) is where actions work; see the README for other platforms.

pub mod notifier;
pub mod prompt;
pub mod settings;
pub mod storm;

#[cfg(feature = "fake-server")]
pub mod fake_server;

pub use notifier::{Choice, Notifier, Opener, decide_on_click};
pub use prompt::{PendingRequest, Prompt};
pub use settings::{MuteBelow, NotifyArgs, NotifySettings, SettingsError};
pub use storm::{Delivery, StormGuard};
