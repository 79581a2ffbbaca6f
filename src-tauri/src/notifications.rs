//! Desktop notifications for the embedded daemon: the [`purser_notify::Notifier`] with
//! an [`Opener`] that brings this window to the inbox at the request (a notification's
//! Open, or a click on it), kept alive as app state for as long as the daemon runs.
//!
//! On by default; `--no-notify` turns them off and `--notify-mute-below` keeps small
//! amounts quiet (they still wait in the inbox and on the tray). What this module must
//! not do: decide anything (the notifier calls the daemon's console) or block the UI.

use std::sync::{Arc, Mutex, PoisonError};

use purser_notify::{Notifier, Opener};
use tauri::{AppHandle, Manager};

use crate::startup::{Args, EmbeddedDaemon};
use crate::window;

/// The running notifier, replaced when the daemon is started again.
#[derive(Debug, Default)]
pub struct Notifications(Mutex<Option<Notifier>>);

/// Open = the console, at the inbox, with that request selected.
#[derive(Debug)]
struct WindowOpener(AppHandle);

impl Opener for WindowOpener {
    fn open(&self, authorization_id: Option<&str>) {
        let view = authorization_id.map_or_else(
            || window::INBOX.to_owned(),
            |id| format!("{}/{id}", window::INBOX),
        );
        window::show(&self.0, Some(&view));
    }
}

/// Starts the notifier for `daemon`, unless `--no-notify`.
pub fn start(app: &AppHandle, daemon: &EmbeddedDaemon, args: &Args) {
    if args.no_notify {
        tracing::info!("desktop notifications off (--no-notify)");
        return;
    }
    let console = daemon.console().clone();
    let settings = args.notifications.settings();
    let opener: Arc<dyn Opener> = Arc::new(WindowOpener(app.clone()));
    // Notifier::spawn needs a runtime context: Tauri's tokio runtime (this may be called
    // from the setup hook, outside of it).
    let runtime = tauri::async_runtime::handle();
    let _inside = runtime.inner().enter();
    let notifier = Notifier::spawn(console, settings, Some(opener));
    let state = app.state::<Notifications>();
    *state.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(notifier);
}
