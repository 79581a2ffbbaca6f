//! Purser's desktop console: a thin Tauri shell over the daemon library.
//!
//! On launch it starts the daemon in process ([`startup`]) so agents can connect while
//! the app runs, opens the console window ([`window`]), forwards every daemon event to
//! the UI ([`events`]), and keeps a tray icon with the pending count and the kill switch
//! ([`tray`]). The UI calls the principal's controls through [`commands`], typed
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
pub mod startup;
pub mod tray;
pub mod window;

use std::process::ExitCode;

use clap::Parser;
use tauri::RunEvent;

use startup::{Args, Startup};

/// Runs the app until Quit; the daemon stops with it.
pub fn run() -> ExitCode {
    purser_daemon::logging::init();
    let args = Args::parse();
    let startup = tauri::async_runtime::block_on(Startup::launch(&args));
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(startup.clone())
        .invoke_handler(commands::handler())
        .setup(|app| {
            window::create(app.handle())?;
            tray::install(app.handle());
            events::forward(app.handle());
            stop_on_signals(app.handle());
            Ok(())
        })
        .on_window_event(window::on_event)
        .build(tauri::generate_context!());
    match app {
        Ok(app) => {
            app.run(move |_, event| {
                if let RunEvent::Exit = event {
                    stop_daemon(&startup);
                }
            });
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "the console window could not be created");
            stop_daemon(&startup);
            ExitCode::FAILURE
        }
    }
}

/// Stops the embedded daemon gracefully, if it runs; agents then fail closed.
fn stop_daemon(startup: &Startup) {
    if let Some(daemon) = startup.daemon() {
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
