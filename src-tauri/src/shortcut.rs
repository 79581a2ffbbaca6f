//! The global kill switch shortcut: one key chord, from any application, stops all agent
//! spending — the same action as the tray's "Stop all agent spending" — and the
//! notifier confirms it with "All agent spending stopped".
//!
//! Default Ctrl+Alt+Shift+K; `--kill-shortcut` (or `PURSER_KILL_SHORTCUT`) sets another
//! chord in the usual notation ("Ctrl+Alt+Shift+K", "Super+Escape"), `off` none. A
//! chord that cannot be registered (taken by another app, or no global shortcuts on this
//! desktop) is logged; the tray and the console still stop everything.

use tauri::AppHandle;
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut, ShortcutState};

use crate::tray;

/// The default chord.
pub const DEFAULT_KILL_SHORTCUT: &str = "Ctrl+Alt+Shift+K";
/// Why the shortcut stopped everything (kept in the audit trail).
pub const SHORTCUT_KILL_REASON: &str = "stopped with the global shortcut";

/// The configured chord: `None` for `off`, else the parsed shortcut or what is wrong.
pub fn parse(text: &str) -> Result<Option<Shortcut>, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    text.trim().parse::<Shortcut>().map(Some).map_err(|error| {
        format!("--kill-shortcut {text:?}: {error}; write it like \"Ctrl+Alt+Shift+K\", or \"off\"")
    })
}

/// Registers the kill chord; a chord that cannot be had is logged, not fatal.
pub fn install(app: &AppHandle, chord: &str) {
    let shortcut = match parse(chord) {
        Ok(Some(shortcut)) => shortcut,
        Ok(None) => {
            tracing::info!("no global kill switch shortcut (--kill-shortcut off)");
            return;
        }
        Err(message) => {
            tracing::warn!("{message}; the tray and the console still stop all spending");
            return;
        }
    };
    let plugin = tauri_plugin_global_shortcut::Builder::new()
        .with_handler(move |app, pressed, event| {
            if *pressed == shortcut && event.state == ShortcutState::Pressed {
                tracing::warn!("kill switch shortcut pressed");
                tray::stop_all_spending(app, SHORTCUT_KILL_REASON);
            }
        })
        .build();
    if let Err(error) = app.plugin(plugin) {
        tracing::warn!(%error, "no global shortcuts on this desktop");
        return;
    }
    match app.global_shortcut().register(shortcut) {
        Ok(()) => tracing::info!(chord, "kill switch shortcut registered"),
        Err(error) => tracing::warn!(
            %error, chord,
            "cannot register the kill switch shortcut (taken by another application?); the tray and the console still stop all spending"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_chord_and_off_parse() {
        let default = parse(DEFAULT_KILL_SHORTCUT).unwrap().unwrap();
        assert_eq!(default, "ctrl+alt+shift+k".parse::<Shortcut>().unwrap());
        assert_eq!(parse("off").unwrap(), None);
        assert_eq!(parse(" OFF ").unwrap(), None);
    }

    #[test]
    fn a_bad_chord_says_how_to_write_one() {
        let message = parse("Ctrl+Banana").unwrap_err();
        assert!(message.contains("Ctrl+Alt+Shift+K"), "{message}");
        assert!(message.contains("Ctrl+Banana"), "{message}");
    }
}
