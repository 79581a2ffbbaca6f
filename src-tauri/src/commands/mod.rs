//! The Tauri commands the UI invokes (`ui/src/lib/ipc.ts`): snake_case mirrors of the
//! admin API (docs/admin-api.md), with its JSON shapes and its error object.
//!
//! Each group's logic lives in its own module as plain async functions over the
//! [`DesktopConsole`](crate::startup::DesktopConsole), tested against a real daemon;
//! the `#[tauri::command]` functions here only take the managed [`Launch`], pick its
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
use tauri::{AppHandle, State};

use crate::error::IpcError;
use crate::startup::{Launch, StartupState};
use crate::{events, tray};
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

/// Whether the daemon runs: `{ok: true, agent_url, data_dir}` or why not. When it does
/// not, this first tries to start it again (the UI's "Check again").
#[tauri::command]
async fn startup_state(
    app: AppHandle,
    launch: State<'_, Launch>,
) -> Result<StartupState, IpcError> {
    if let Some(daemon) = launch.retry().await {
        events::forward(&app, &daemon);
        crate::notifications::start(&app, &daemon, launch.args());
        tray::refresh(&app).await;
    }
    Ok(launch.current().state())
}

#[tauri::command]
async fn status(launch: State<'_, Launch>) -> Result<StatusView, IpcError> {
    overview::status(&launch.console()?).await
}

#[tauri::command]
fn agent_url(launch: State<'_, Launch>) -> Result<String, IpcError> {
    Ok(overview::agent_url(&launch.console()?))
}

#[tauri::command]
async fn budget(launch: State<'_, Launch>, agent: String) -> Result<BudgetView, IpcError> {
    overview::budget(&launch.console()?, &agent).await
}

#[tauri::command]
async fn list_agents(launch: State<'_, Launch>) -> Result<Vec<AgentView>, IpcError> {
    agents::list_agents(&launch.console()?).await
}

#[tauri::command]
async fn add_agent(
    launch: State<'_, Launch>,
    name: String,
    profile: Option<String>,
) -> Result<NewAgentView, IpcError> {
    agents::add_agent(&launch.console()?, &name, profile.as_deref()).await
}

#[tauri::command]
async fn set_agent_status(
    launch: State<'_, Launch>,
    name: String,
    status: String,
) -> Result<AgentView, IpcError> {
    agents::set_agent_status(&launch.console()?, &name, &status).await
}

#[tauri::command]
async fn policy_show(launch: State<'_, Launch>) -> Result<PolicyTextView, IpcError> {
    policy::policy_show(&launch.console()?).await
}

#[tauri::command]
async fn policy_history(launch: State<'_, Launch>) -> Result<Vec<PolicyVersionView>, IpcError> {
    policy::policy_history(&launch.console()?).await
}

#[tauri::command]
async fn policy_version(
    launch: State<'_, Launch>,
    version: u32,
) -> Result<PolicyTextView, IpcError> {
    policy::policy_version(&launch.console()?, version).await
}

#[tauri::command]
fn policy_check(text: String) -> Result<Checked, IpcError> {
    policy::policy_check(&text)
}

#[tauri::command]
async fn policy_apply(launch: State<'_, Launch>, text: String) -> Result<Applied, IpcError> {
    policy::policy_apply(&launch.console()?, &text).await
}

#[tauri::command]
async fn policy_preview(
    launch: State<'_, Launch>,
    text: String,
    days: u32,
) -> Result<Preview, IpcError> {
    policy::policy_preview(&launch.console()?, &text, days).await
}

#[tauri::command]
async fn approvals(launch: State<'_, Launch>) -> Result<Vec<AuthorizationDetail>, IpcError> {
    inbox::approvals(&launch.console()?).await
}

#[tauri::command]
async fn approve(
    launch: State<'_, Launch>,
    id: String,
    grant: String,
    duration: Option<String>,
) -> Result<AuthorizationDetail, IpcError> {
    inbox::approve(&launch.console()?, &id, &grant, duration.as_deref()).await
}

#[tauri::command]
async fn deny(
    launch: State<'_, Launch>,
    id: String,
    reason: Option<String>,
) -> Result<AuthorizationDetail, IpcError> {
    inbox::deny(&launch.console()?, &id, reason.as_deref()).await
}

#[tauri::command]
async fn kill(launch: State<'_, Launch>, reason: Option<String>) -> Result<KillResult, IpcError> {
    kill_switch::kill(&launch.console()?, reason.as_deref()).await
}

#[tauri::command]
async fn resume(launch: State<'_, Launch>) -> Result<KillResult, IpcError> {
    kill_switch::resume(&launch.console()?).await
}

#[tauri::command]
async fn audit_page(
    launch: State<'_, Launch>,
    filter: AuditQuery,
    before: Option<i64>,
    limit: u32,
) -> Result<AuditPageView, IpcError> {
    audit::audit_page(&launch.console()?, &filter, before, limit).await
}

#[tauri::command]
async fn audit_export(
    launch: State<'_, Launch>,
    filter: AuditQuery,
    format: String,
    path: String,
) -> Result<ExportResult, IpcError> {
    audit::audit_export(&launch.console()?, &filter, &format, &path).await
}

#[tauri::command]
async fn audit_verify(launch: State<'_, Launch>) -> Result<AuditVerification, IpcError> {
    audit::audit_verify(&launch.console()?).await
}
