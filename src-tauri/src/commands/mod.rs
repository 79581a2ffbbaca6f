//! The Tauri commands the UI invokes (`ui/src/lib/ipc.ts`): snake_case mirrors of the
//! admin API (docs/admin-api.md), with its JSON shapes and its error object.
//!
//! Each group's logic lives in its own module as plain async functions over the
//! [`DesktopConsole`](crate::startup::DesktopConsole), tested against a real daemon;
//! the `#[tauri::command]` functions here only take the managed [`Startup`], pick its
//! console (or answer `unavailable` when the daemon did not start) and call them.
//! Every command must also be listed in `build.rs` and allowed in
//! `capabilities/default.json`.

pub mod agents;
pub mod audit;
pub mod inbox;
pub mod kill_switch;
pub mod overview;
pub mod policy;

use purser_daemon::console::preview::Preview;
use purser_daemon::console::view::{AgentView, AuthorizationDetail, NewAgentView};
use purser_daemon::console::{PolicyTextView, PolicyVersionView, StatusView};
use purser_daemon::http::view::BudgetView;
use purser_store::AuditVerification;
use tauri::State;

use crate::error::IpcError;
use crate::startup::{Startup, StartupState};
use audit::{AuditPageView, AuditQuery, ExportResult};
use kill_switch::KillResult;
use policy::{Applied, Checked};

/// Every command, for `Builder::invoke_handler`.
pub fn handler() -> impl Fn(tauri::ipc::Invoke<tauri::Wry>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        startup_state,
        status,
        agent_url,
        budget,
        list_agents,
        add_agent,
        set_agent_status,
        policy_show,
        policy_history,
        policy_version,
        policy_check,
        policy_apply,
        policy_preview,
        approvals,
        approve,
        deny,
        kill,
        resume,
        audit_page,
        audit_export,
        audit_verify,
    ]
}

/// Whether the daemon runs: `{ok: true, agent_url, data_dir}` or why not.
#[tauri::command]
fn startup_state(startup: State<'_, Startup>) -> StartupState {
    startup.state()
}

#[tauri::command]
async fn status(startup: State<'_, Startup>) -> Result<StatusView, IpcError> {
    overview::status(startup.console()?).await
}

#[tauri::command]
fn agent_url(startup: State<'_, Startup>) -> Result<String, IpcError> {
    Ok(overview::agent_url(startup.console()?))
}

#[tauri::command]
async fn budget(startup: State<'_, Startup>, agent: String) -> Result<BudgetView, IpcError> {
    overview::budget(startup.console()?, &agent).await
}

#[tauri::command]
async fn list_agents(startup: State<'_, Startup>) -> Result<Vec<AgentView>, IpcError> {
    agents::list_agents(startup.console()?).await
}

#[tauri::command]
async fn add_agent(
    startup: State<'_, Startup>,
    name: String,
    profile: Option<String>,
) -> Result<NewAgentView, IpcError> {
    agents::add_agent(startup.console()?, &name, profile.as_deref()).await
}

#[tauri::command]
async fn set_agent_status(
    startup: State<'_, Startup>,
    name: String,
    status: String,
) -> Result<AgentView, IpcError> {
    agents::set_agent_status(startup.console()?, &name, &status).await
}

#[tauri::command]
async fn policy_show(startup: State<'_, Startup>) -> Result<PolicyTextView, IpcError> {
    policy::policy_show(startup.console()?).await
}

#[tauri::command]
async fn policy_history(startup: State<'_, Startup>) -> Result<Vec<PolicyVersionView>, IpcError> {
    policy::policy_history(startup.console()?).await
}

#[tauri::command]
async fn policy_version(
    startup: State<'_, Startup>,
    version: u32,
) -> Result<PolicyTextView, IpcError> {
    policy::policy_version(startup.console()?, version).await
}

#[tauri::command]
fn policy_check(text: String) -> Result<Checked, IpcError> {
    policy::policy_check(&text)
}

#[tauri::command]
async fn policy_apply(startup: State<'_, Startup>, text: String) -> Result<Applied, IpcError> {
    policy::policy_apply(startup.console()?, &text).await
}

#[tauri::command]
async fn policy_preview(
    startup: State<'_, Startup>,
    text: String,
    days: u32,
) -> Result<Preview, IpcError> {
    policy::policy_preview(startup.console()?, &text, days).await
}

#[tauri::command]
async fn approvals(startup: State<'_, Startup>) -> Result<Vec<AuthorizationDetail>, IpcError> {
    inbox::approvals(startup.console()?).await
}

#[tauri::command]
async fn approve(
    startup: State<'_, Startup>,
    id: String,
    grant: String,
    duration: Option<String>,
) -> Result<AuthorizationDetail, IpcError> {
    inbox::approve(startup.console()?, &id, &grant, duration.as_deref()).await
}

#[tauri::command]
async fn deny(
    startup: State<'_, Startup>,
    id: String,
    reason: Option<String>,
) -> Result<AuthorizationDetail, IpcError> {
    inbox::deny(startup.console()?, &id, reason.as_deref()).await
}

#[tauri::command]
async fn kill(
    startup: State<'_, Startup>,
    reason: Option<String>,
) -> Result<KillResult, IpcError> {
    kill_switch::kill(startup.console()?, reason.as_deref()).await
}

#[tauri::command]
async fn resume(startup: State<'_, Startup>) -> Result<KillResult, IpcError> {
    kill_switch::resume(startup.console()?).await
}

#[tauri::command]
async fn audit_page(
    startup: State<'_, Startup>,
    filter: AuditQuery,
    before: Option<i64>,
    limit: u32,
) -> Result<AuditPageView, IpcError> {
    audit::audit_page(startup.console()?, &filter, before, limit).await
}

#[tauri::command]
async fn audit_export(
    startup: State<'_, Startup>,
    filter: AuditQuery,
    format: String,
    path: String,
) -> Result<ExportResult, IpcError> {
    audit::audit_export(startup.console()?, &filter, &format, &path).await
}

#[tauri::command]
async fn audit_verify(startup: State<'_, Startup>) -> Result<AuditVerification, IpcError> {
    audit::audit_verify(startup.console()?).await
}
