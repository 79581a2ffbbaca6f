//! Agents: list, add (the answer holds the token, the only time it is ever shown), and
//! freeze / unfreeze / revoke as one status change.

use purser_core::{AgentName, ProfileName};
use purser_daemon::authorizer::AgentStatus;
use purser_daemon::console::view::{AgentView, NewAgentView};

use crate::error::IpcError;
use crate::startup::DesktopConsole;

/// Every agent, by name, with its profile, status, last activity and today's spend.
pub async fn list_agents(console: &DesktopConsole) -> Result<Vec<AgentView>, IpcError> {
    Ok(console.agents().await?)
}

/// Creates agent `name` under `profile` (none or empty: the policy's assignment or
/// `default`).
pub async fn add_agent(
    console: &DesktopConsole,
    name: &str,
    profile: Option<&str>,
) -> Result<NewAgentView, IpcError> {
    let name = agent_name(name)?;
    let profile = profile
        .map(str::trim)
        .filter(|profile| !profile.is_empty())
        .map(|profile| {
            profile.parse::<ProfileName>().map_err(|error| {
                IpcError::invalid_field(
                    "profile",
                    format!("profile {:?} is invalid: {}", error.value, error.rule),
                )
            })
        })
        .transpose()?;
    console
        .add_agent(name, profile)
        .await
        .map_err(|error| match IpcError::from(error) {
            // The store refuses a taken name as invalid input: name the field.
            IpcError {
                code,
                message,
                field: None,
                errors: None,
            } if code == "invalid_request" => IpcError::invalid_field("name", message),
            other => other,
        })
}

/// `active` (unfreeze), `frozen` (freeze) or `revoked` (final).
pub async fn set_agent_status(
    console: &DesktopConsole,
    name: &str,
    status: &str,
) -> Result<AgentView, IpcError> {
    let status = status.parse::<AgentStatus>().map_err(|_| {
        IpcError::invalid_field(
            "status",
            format!("status {status:?} is unknown: use active, frozen or revoked"),
        )
    })?;
    let name = name
        .parse::<AgentName>()
        .map_err(|_| IpcError::not_found(format!("agent {name:?} not found")))?;
    Ok(console.set_agent_status(&name, status).await?)
}

fn agent_name(name: &str) -> Result<AgentName, IpcError> {
    if name.trim().is_empty() {
        return Err(IpcError::invalid_field("name", "give the new agent a name"));
    }
    name.parse::<AgentName>().map_err(|error| {
        IpcError::invalid_field(
            "name",
            format!("agent name {:?} is invalid: {}", error.value, error.rule),
        )
    })
}
