//! The daemon at a glance: `status`, `agent_url`, and one agent's `budget`.

use purser_core::AgentName;
use purser_daemon::console::StatusView;
use purser_daemon::http::view::{BudgetLineView, BudgetView};

use crate::error::IpcError;
use crate::startup::DesktopConsole;

/// `GET /admin/status`: version, where agents connect, kill switch, pending count,
/// agents, policy version, today's spend per currency.
pub async fn status(console: &DesktopConsole) -> Result<StatusView, IpcError> {
    Ok(console.status().await?)
}

/// The agent API's base URL, for the curl example shown with a new token.
pub fn agent_url(console: &DesktopConsole) -> String {
    format!("http://{}", console.listen())
}

/// `GET /admin/budget?agent=A`: the agent's budget lines as it sees them itself.
pub async fn budget(console: &DesktopConsole, agent: &str) -> Result<BudgetView, IpcError> {
    let agent = agent.parse::<AgentName>().map_err(|error| {
        IpcError::invalid_field(
            "agent",
            format!("agent {:?} is invalid: {}", error.value, error.rule),
        )
    })?;
    let lines = console.budget(&agent, None).await?;
    Ok(BudgetView {
        agent,
        session_id: None,
        budgets: lines.iter().map(BudgetLineView::from).collect(),
    })
}
