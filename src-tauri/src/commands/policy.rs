//! The policy: the running text, its history and versions, and what the principal does
//! with a candidate text: check it, preview it against recent requests, apply it (all or
//! nothing: an invalid text leaves the running policy untouched).

use purser_daemon::console::preview::Preview;
use purser_daemon::console::{PRINCIPAL, PolicyTextView, PolicyVersionView, check_policy};
use serde::Serialize;

use crate::error::IpcError;
use crate::startup::DesktopConsole;

/// The file name policy errors point into (`policy.toml:3:1: ...`).
pub const POLICY_FILE: &str = "policy.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Checked {
    pub ok: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub version: u32,
}

pub async fn policy_show(console: &DesktopConsole) -> Result<PolicyTextView, IpcError> {
    Ok(console.policy().await?)
}

/// Every applied version, newest first.
pub async fn policy_history(console: &DesktopConsole) -> Result<Vec<PolicyVersionView>, IpcError> {
    Ok(console.policy_history().await?)
}

pub async fn policy_version(
    console: &DesktopConsole,
    version: u32,
) -> Result<PolicyTextView, IpcError> {
    Ok(console.policy_version(version).await?)
}

/// `{ok: true}`, or `policy_invalid` with the engine's own messages in `errors`.
pub fn policy_check(text: &str) -> Result<Checked, IpcError> {
    check_policy(POLICY_FILE, text)?;
    Ok(Checked { ok: true })
}

pub async fn policy_apply(console: &DesktopConsole, text: &str) -> Result<Applied, IpcError> {
    let version = console.apply_policy(POLICY_FILE, text, PRINCIPAL).await?;
    Ok(Applied { version })
}

/// What-if: the last `days` of recorded requests decided again under `text`.
pub async fn policy_preview(
    console: &DesktopConsole,
    text: &str,
    days: u32,
) -> Result<Preview, IpcError> {
    Ok(console.preview(POLICY_FILE, text, days).await?)
}
