//! Purser's desktop console: a thin Tauri shell over the daemon library.
//!
//! On launch it starts the daemon in process ([`startup`]) so agents can connect while
//! the app runs, opens the console window ([`window`]), forwards every daemon event to
//! the UI ([`events`]), shows a desktop notification with Approve / Deny for each request
//! that waits ([`notifications`]), and keeps a tray icon with the pending count and the
//! kill switch ([`tray`]) and a global kill switch shortcut ([`shortcut`]). The UI calls the principal's controls through [`commands`], typed
//! wrappers over [`purser_daemon::Console`]; errors cross as [`error::IpcError`].
//!
//! Closing the window keeps the app (and the daemon) running in the tray; Quit stops the
//! daemon gracefully, and agents then fail closed: no daemon, no money.
//!
//! What this crate must not do: decide, hold or record anything itself. That is the
//! daemon's; here is only wiring.

pub mod commands;
pub mod error;
pub mod events;
pub mod notifications;
pub mod shortcut;
pub mod startup;
pub mod tray;
pub mod window;

use std::process::ExitCode;

use clap::Parser;
use tauri::{Manager, RunEvent};

use startup::{Args, Launch};

/// Runs the app until Quit; the daemon stops with it.
pub fn run() -> ExitCode {
    purser_daemon::logging::init();
    let args = Args::parse();
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(commands::handler())
        .setup(move |app| {
            // Before the window, so agents can connect as soon as the app runs.
            let launch = tauri::async_runtime::block_on(Launch::start(args.clone()));
            let daemon = launch.current().daemon().cloned();
            app.manage(launch);
            app.manage(notifications::Notifications::default());
            window::create(app.handle())?;
            tray::install(app.handle());
            shortcut::install(app.handle(), &args.kill_shortcut);
            if let Some(daemon) = daemon {
                events::forward(app.handle(), &daemon);
                notifications::start(app.handle(), &daemon, &args);
            }
            stop_on_signals(app.handle());
            Ok(())
        })
        .on_window_event(window::on_event)
        .build(tauri::generate_context!());
    match app {
        Ok(app) => {
            app.run(|app, event| {
                if let RunEvent::Exit = event {
                    stop_daemon(app);
                }
            });
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "the console window could not be created");
            ExitCode::FAILURE
        }
    }
}

/// Stops the embedded daemon gracefully, if it runs; agents then fail closed.
fn stop_daemon(app: &tauri::AppHandle) {
    let Some(launch) = app.try_state::<Launch>() else {
        return;
    };
    if let Some(daemon) = launch.current().daemon() {
        tracing::info!("quitting: stopping the daemon; agents now fail closed");
        tauri::async_runtime::block_on(daemon.shutdown());
    }
}

/// SIGINT / SIGTERM quit like the tray's Quit, so the daemon stops gracefully.
fn stop_on_signals(app: &tauri::AppHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!("cannot listen for SIGINT/SIGTERM; quit from the tray instead");
            return;
        };
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT: quitting"),
            _ = terminate.recv() => tracing::info!("SIGTERM: quitting"),
        }
        app.exit(0);
    });
}
