//! The console window: created from `tauri.conf.json` with navigation locked to the app's
//! own pages (no remote content, ever), hidden rather than closed while the tray can
//! bring it back, and shown again (optionally at one view) from the tray.

use tauri::webview::PageLoadPayload;
use tauri::{AppHandle, Manager, Url, WebviewWindow, WebviewWindowBuilder, Window, WindowEvent};

use crate::tray;

/// The window's label in `tauri.conf.json` and the capability.
pub const MAIN: &str = "main";
/// The inbox view's hash route (`ui/src/lib/router.svelte.ts`).
pub const INBOX: &str = "inbox";

/// Creates the console window from the configuration's `main` entry.
pub fn create(app: &AppHandle) -> tauri::Result<WebviewWindow> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|window| window.label == MAIN)
        .cloned()
        .ok_or_else(|| {
            tauri::Error::AssetNotFound(format!("no window {MAIN:?} in tauri.conf.json"))
        })?;
    let dev_url = app.config().build.dev_url.clone();
    WebviewWindowBuilder::from_config(app, &config)?
        .on_navigation(move |url| {
            let allowed = is_app_page(url, dev_url.as_ref());
            if !allowed {
                tracing::warn!(%url, "blocked navigation away from the console");
            }
            allowed
        })
        .on_page_load(|_, payload: PageLoadPayload<'_>| {
            tracing::debug!(url = %payload.url(), "console page loaded");
        })
        .build()
}

/// The app's own pages: the embedded UI (`tauri://localhost`, or `http://tauri.localhost`
/// on Windows), or the Vite dev server in a development build.
pub fn is_app_page(url: &Url, dev_url: Option<&Url>) -> bool {
    let embedded = match url.scheme() {
        "tauri" => url.host_str() == Some("localhost"),
        "http" | "https" => url.host_str() == Some("tauri.localhost"),
        _ => false,
    };
    let dev_server = tauri::is_dev()
        && dev_url.is_some_and(|dev| {
            dev.scheme() == url.scheme()
                && dev.host_str() == url.host_str()
                && dev.port_or_known_default() == url.port_or_known_default()
        });
    embedded || dev_server
}

/// Close hides the window while a tray icon can bring it back; otherwise it quits.
pub fn on_event(window: &Window, event: &WindowEvent) {
    let WindowEvent::CloseRequested { api, .. } = event else {
        return;
    };
    if window.label() == MAIN && tray::has_tray(window.app_handle()) {
        api.prevent_close();
        if let Err(error) = window.hide() {
            tracing::warn!(%error, "cannot hide the window");
        }
    }
}

/// Brings the console to the front, at `view` (`inbox`, `dashboard`...) when given.
pub fn show(app: &AppHandle, view: Option<&str>) {
    let Some(window) = app.get_webview_window(MAIN) else {
        tracing::warn!("the console window is gone");
        return;
    };
    // Only a plain view name (and an authorization id) is ever put into the script.
    if let Some(view) = view.filter(|view| is_plain_route(view)) {
        if let Err(error) = window.eval(format!("window.location.hash = '#/{view}'")) {
            tracing::warn!(%error, view, "cannot switch the console's view");
        }
    }
    let shown = window
        .show()
        .and_then(|()| window.unminimize())
        .and_then(|()| window.set_focus());
    if let Err(error) = shown {
        tracing::warn!(%error, "cannot show the console window");
    }
}

/// `inbox`, `inbox/auth_01JX…`: a lowercase view, then letters, digits, `_`, `-` and `/`
/// only, so a route can never break out of the script's string.
pub fn is_plain_route(route: &str) -> bool {
    route.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && route
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn only_the_embedded_console_is_navigable() {
        assert!(is_app_page(&url("tauri://localhost/#/inbox"), None));
        assert!(is_app_page(&url("http://tauri.localhost/index.html"), None));
        assert!(!is_app_page(&url("https://example.com/"), None));
        assert!(!is_app_page(&url("http://127.0.0.1:7402/v1/health"), None));
        assert!(!is_app_page(&url("file:///etc/passwd"), None));
    }

    #[test]
    fn only_plain_routes_reach_the_script() {
        assert!(is_plain_route("inbox"));
        assert!(is_plain_route("inbox/auth_01JX9K2M3N"));
        assert!(!is_plain_route("inbox/'; alert(1); '"));
        assert!(!is_plain_route("Inbox"));
        assert!(!is_plain_route(""));
    }
}
