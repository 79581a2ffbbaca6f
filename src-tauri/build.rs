//! Generates Tauri's context (config, capabilities, embedded UI) and the permissions of
//! the app's own commands: with an app manifest, each command must be allowed by a
//! capability (`capabilities/default.json`), so the webview can call only what is
//! listed there.

/// Every `#[tauri::command]` in `src/commands`, by the name the UI invokes.
const COMMANDS: &[&str] = &[
    "startup_state",
    "status",
    "agent_url",
    "budget",
    "list_agents",
    "add_agent",
    "set_agent_status",
    "policy_show",
    "policy_history",
    "policy_version",
    "policy_check",
    "policy_apply",
    "policy_preview",
    "approvals",
    "approve",
    "deny",
    "kill",
    "resume",
    "audit_page",
    "audit_export",
    "audit_verify",
];

fn main() {
    // The default build embeds the built UI; say how to get it rather than fail inside
    // Tauri's macro.
    let embeds_ui = std::env::var_os("CARGO_FEATURE_CUSTOM_PROTOCOL").is_some();
    if embeds_ui && !std::path::Path::new("../ui/dist/index.html").exists() {
        eprintln!(
            "purser-desktop embeds the console's UI, and ui/dist is not built yet: run `cd ui && npm ci && npm run build` (or `cargo xtask run`), or build with --no-default-features to load the Vite dev server instead"
        );
        std::process::exit(1);
    }
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    if let Err(error) =
        tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
    {
        eprintln!("purser-desktop: cannot prepare the Tauri context: {error:#}");
        std::process::exit(1);
    }
}
