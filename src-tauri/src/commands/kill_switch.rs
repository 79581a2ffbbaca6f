//! The emergency stop: `kill` engages it (durable, every pending request cancelled and
//! its waiting agent told, all before it returns), `resume` lifts it. The tray calls the
//! same functions.

use serde::Serialize;

use super::inbox::optional_reason;
use crate::error::IpcError;
use crate::startup::DesktopConsole;

/// The kill switch after a change (`ui/src/lib/types.ts` `KillResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KillResult {
    pub engaged: bool,
    /// `kill`: the pending requests it cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<usize>,
}

pub async fn kill(console: &DesktopConsole, reason: Option<&str>) -> Result<KillResult, IpcError> {
    let reason = optional_reason(reason)?;
    let killed = console.kill(reason).await?;
    Ok(KillResult {
        engaged: killed.state.engaged,
        cancelled: Some(killed.cancelled.len()),
    })
}

pub async fn resume(console: &DesktopConsole) -> Result<KillResult, IpcError> {
    let state = console.resume().await?;
    Ok(KillResult {
        engaged: state.engaged,
        cancelled: None,
    })
}
