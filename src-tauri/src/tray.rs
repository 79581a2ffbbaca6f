//! The tray icon: Purser stays reachable with the window closed. Its picture says the
//! state at a glance (as usual / requests waiting / kill switch engaged) and its menu
//! holds what the principal may need in a hurry:
//!
//! ```text
//! 3 requests waiting: open inbox
//! ─────────────
//! Stop all agent spending
//! Resume agent spending        (only while stopped)
//! ─────────────
//! Open console
//! Quit Purser                  (stops the daemon: agents then fail closed)
//! ```
//!
//! The tray follows the daemon: [`refresh`] re-reads the status after every event that
//! can change it. Its kill and resume call the same functions as the console's commands.
//!
//! What this module must not do: keep its own count of anything (the store is asked), or
//! block the daemon (every action runs on the async runtime).

use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

use crate::commands::kill_switch;
use crate::startup::Launch;
use crate::window;

const NORMAL_ICON: &[u8] = include_bytes!("../../icons/tray/normal.png");
const PENDING_ICON: &[u8] = include_bytes!("../../icons/tray/pending.png");
const KILLED_ICON: &[u8] = include_bytes!("../../icons/tray/killed.png");

/// Why the tray's kill switch item stops everything (kept in the audit trail).
pub const TRAY_KILL_REASON: &str = "stopped from the tray";

/// The menu items' ids.
mod id {
    pub const INBOX: &str = "inbox";
    pub const KILL: &str = "kill";
    pub const RESUME: &str = "resume";
    pub const OPEN: &str = "open";
    pub const QUIT: &str = "quit";
}

/// What the tray shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    /// The daemon did not start (or cannot be read right now).
    Unavailable,
    Running {
        pending: u64,
        killed: bool,
    },
}

/// Which picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayPicture {
    Normal,
    Pending,
    Killed,
}

impl TrayState {
    pub fn picture(self) -> TrayPicture {
        match self {
            TrayState::Running { killed: true, .. } => TrayPicture::Killed,
            TrayState::Running { pending, .. } if pending > 0 => TrayPicture::Pending,
            _ => TrayPicture::Normal,
        }
    }

    /// The first menu item, which opens the inbox.
    pub fn pending_label(self) -> String {
        match self {
            TrayState::Unavailable => "Purser is not running: open console".to_owned(),
            TrayState::Running { pending: 0, .. } => "No requests waiting".to_owned(),
            TrayState::Running { pending: 1, .. } => "1 request waiting: open inbox".to_owned(),
            TrayState::Running { pending, .. } => format!("{pending} requests waiting: open inbox"),
        }
    }

    /// The tooltip (or, where there is none, the label beside the icon).
    pub fn tooltip(self) -> String {
        match self {
            TrayState::Unavailable => "Purser: not running".to_owned(),
            TrayState::Running { killed: true, .. } => {
                "Purser: all agent spending stopped".to_owned()
            }
            TrayState::Running { pending: 0, .. } => "Purser".to_owned(),
            TrayState::Running { pending: 1, .. } => "Purser: 1 request waiting".to_owned(),
            TrayState::Running { pending, .. } => format!("Purser: {pending} requests waiting"),
        }
    }

    fn can_kill(self) -> bool {
        matches!(self, TrayState::Running { killed: false, .. })
    }

    fn can_resume(self) -> bool {
        matches!(self, TrayState::Running { killed: true, .. })
    }
}

/// The tray icon and the items whose text or state changes.
pub struct Tray {
    icon: TrayIcon,
    pending: MenuItem<Wry>,
    kill: MenuItem<Wry>,
    resume: MenuItem<Wry>,
}

impl std::fmt::Debug for Tray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tray")
            .field("id", self.icon.id())
            .finish_non_exhaustive()
    }
}

/// Creates the tray and shows the current state. Without a tray (no system tray on this
/// desktop), closing the window quits instead of hiding it; see [`has_tray`].
pub fn install(app: &AppHandle) {
    match build(app) {
        Ok(tray) => {
            app.manage(tray);
            let app = app.clone();
            tauri::async_runtime::spawn(async move { refresh(&app).await });
        }
        Err(error) => {
            tracing::warn!(%error, "no tray icon: closing the window will quit Purser");
        }
    }
}

/// Whether the app has a tray icon to come back from.
pub fn has_tray(app: &AppHandle) -> bool {
    app.try_state::<Tray>().is_some()
}

fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let initial = TrayState::Running {
        pending: 0,
        killed: false,
    };
    let pending = MenuItem::with_id(app, id::INBOX, initial.pending_label(), true, None::<&str>)?;
    let kill = MenuItem::with_id(app, id::KILL, "Stop all agent spending", true, None::<&str>)?;
    let resume = MenuItem::with_id(
        app,
        id::RESUME,
        "Resume agent spending",
        false,
        None::<&str>,
    )?;
    let open = MenuItem::with_id(app, id::OPEN, "Open console", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, id::QUIT, "Quit Purser", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &pending,
            &PredefinedMenuItem::separator(app)?,
            &kill,
            &resume,
            &PredefinedMenuItem::separator(app)?,
            &open,
            &quit,
        ],
    )?;
    let icon = TrayIconBuilder::with_id("purser")
        .icon(picture(TrayPicture::Normal)?)
        .tooltip(initial.tooltip())
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;
    Ok(Tray {
        icon,
        pending,
        kill,
        resume,
    })
}

fn picture(picture: TrayPicture) -> tauri::Result<Image<'static>> {
    Image::from_bytes(match picture {
        TrayPicture::Normal => NORMAL_ICON,
        TrayPicture::Pending => PENDING_ICON,
        TrayPicture::Killed => KILLED_ICON,
    })
}

/// Re-reads the daemon's status and shows it.
pub async fn refresh(app: &AppHandle) {
    let Some(tray) = app.try_state::<Tray>() else {
        return;
    };
    let state = match app.state::<Launch>().console() {
        Ok(console) => match console.status().await {
            Ok(status) => TrayState::Running {
                pending: status.pending,
                killed: status.kill_switch.engaged,
            },
            Err(error) => {
                tracing::warn!(%error, "the tray cannot read the daemon's status");
                TrayState::Unavailable
            }
        },
        Err(_) => TrayState::Unavailable,
    };
    if let Err(error) = show(&tray, state) {
        tracing::warn!(%error, "cannot update the tray icon");
    }
}

fn show(tray: &Tray, state: TrayState) -> tauri::Result<()> {
    tray.icon.set_icon(Some(picture(state.picture())?))?;
    tray.icon.set_tooltip(Some(state.tooltip()))?;
    tray.pending.set_text(state.pending_label())?;
    tray.kill.set_enabled(state.can_kill())?;
    tray.resume.set_enabled(state.can_resume())?;
    Ok(())
}

/// Engages the kill switch (the tray's item, the global shortcut): on the runtime, never
/// blocking the caller; the notifier confirms it and the tray shows it.
pub fn stop_all_spending(app: &AppHandle, reason: &'static str) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let result = match app.state::<Launch>().console() {
            Ok(console) => kill_switch::kill(&console, Some(reason)).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(killed) => tracing::warn!(
                cancelled = killed.cancelled.unwrap_or(0),
                reason,
                "kill switch engaged"
            ),
            Err(error) => {
                tracing::error!(%error, reason, "could not engage the kill switch")
            }
        }
        refresh(&app).await;
    });
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    match event.id().as_ref() {
        id::INBOX => window::show(app, Some(window::INBOX)),
        id::OPEN => window::show(app, None),
        id::KILL => stop_all_spending(app, TRAY_KILL_REASON),
        id::RESUME => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let result = match app.state::<Launch>().console() {
                    Ok(console) => kill_switch::resume(&console).await,
                    Err(error) => Err(error),
                };
                if let Err(error) = result {
                    tracing::error!(%error, "the tray could not resume spending");
                }
                refresh(&app).await;
            });
        }
        id::QUIT => app.exit(0),
        other => tracing::debug!(item = other, "unknown tray menu item"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_says_kill_first_then_pending() {
        let state = |pending, killed| TrayState::Running { pending, killed };
        assert_eq!(state(0, false).picture(), TrayPicture::Normal);
        assert_eq!(state(2, false).picture(), TrayPicture::Pending);
        assert_eq!(state(2, true).picture(), TrayPicture::Killed);
        assert_eq!(TrayState::Unavailable.picture(), TrayPicture::Normal);
    }

    #[test]
    fn labels_count_what_waits() {
        let state = |pending| TrayState::Running {
            pending,
            killed: false,
        };
        assert_eq!(state(0).pending_label(), "No requests waiting");
        assert_eq!(state(1).pending_label(), "1 request waiting: open inbox");
        assert_eq!(state(5).pending_label(), "5 requests waiting: open inbox");
        assert_eq!(state(5).tooltip(), "Purser: 5 requests waiting");
    }

    #[test]
    fn only_the_possible_kill_switch_action_is_offered() {
        let running = TrayState::Running {
            pending: 0,
            killed: false,
        };
        let killed = TrayState::Running {
            pending: 0,
            killed: true,
        };
        assert!(running.can_kill() && !running.can_resume());
        assert!(!killed.can_kill() && killed.can_resume());
        assert!(!TrayState::Unavailable.can_kill() && !TrayState::Unavailable.can_resume());
    }

    #[test]
    fn every_picture_is_a_valid_png() {
        for which in [
            TrayPicture::Normal,
            TrayPicture::Pending,
            TrayPicture::Killed,
        ] {
            let image = picture(which).unwrap();
            assert_eq!((image.width(), image.height()), (64, 64));
        }
    }
}
