//! Approvals reach the principal, in the real desktop app (`purser-desktop` under Xvfb,
//! driven by WebDriver through tauri-driver): the embedded daemon's notifications go to
//! a fake freedesktop notification server on a private session bus.
//!
//! The issue's "done when", as a test: an agent asks, the principal approves from the
//! notification without opening the window (the agent's long-poll gets it); Open brings
//! the console to that request; and the global shortcut (Ctrl+Alt+Shift+K, pressed on the
//! X display with xdotool) stops all agent spending, confirmed by a notification.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::process::Command;
use std::time::{Duration, Instant};

use purser_notify::fake_server::FakeNotificationServer;
use purser_system_tests::desktop::{self, DesktopApp};
use purser_system_tests::{payment, reason_codes};
use serde_json::Value;

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }
"#;

const SHOWN: Duration = Duration::from_secs(15);

#[test]
fn desktop_notifications_approve_open_and_the_kill_shortcut() {
    let Some(tools) =
        desktop::tools_or_skip("desktop_notifications_approve_open_and_the_kill_shortcut")
    else {
        return;
    };
    let server = FakeNotificationServer::start().expect("start the fake notification server");
    let mut app = DesktopApp::launch_with(tools, &[("DBUS_SESSION_BUS_ADDRESS", server.address())]);
    app.apply_policy(POLICY);
    let agent = app.agent("research-bot");

    // Approve from the notification, the window untouched.
    let (_, asked) = agent.authorize(&payment("desk-approve", "42.00", "api.example.com"));
    assert_eq!(asked["status"], "pending", "{asked}");
    let call = server
        .wait_for_summary("research-bot wants 42.00 USD at api.example.com", SHOWN)
        .unwrap_or_else(|| {
            panic!(
                "no notification; got {:#?}\n{}",
                server.calls(),
                app.log_tail(40)
            )
        });
    let keys: Vec<&str> = call.actions.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        ["approve", "deny", "open", "default"],
        "the desktop can open the console"
    );
    server.invoke_action(call.id, "approve").unwrap();
    let id = asked["id"].as_str().unwrap();
    let (_, decided) = agent.get(id, 15);
    assert_eq!(decided["status"], "approved", "{decided}");
    assert_eq!(reason_codes(&decided)[0], "approved_by_principal");

    // Open: the console comes up at that request, selected in the inbox.
    let (_, second) = agent.authorize(&payment("desk-open", "43.00", "api.example.com"));
    let second_id = second["id"].as_str().unwrap().to_owned();
    let (_, third) = agent.authorize(&payment("desk-other", "44.00", "api.example.com"));
    assert_eq!(third["status"], "pending", "{third}");
    let call = server
        .wait_for_summary("research-bot wants 43.00 USD", SHOWN)
        .expect("a notification for the second request");
    server.invoke_action(call.id, "open").unwrap();
    let ui = app.session();
    let selected =
        format!("[data-testid=\"inbox-item\"][data-id=\"{second_id}\"][aria-current=\"true\"]");
    let started = Instant::now();
    while ui.find(&selected).is_none() {
        assert!(
            started.elapsed() < SHOWN,
            "Open did not select {second_id} in the inbox; the page is at {}",
            ui.execute("return window.location.hash", &[])
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The global shortcut stops everything; the notifier confirms it.
    let pressed = Command::new("xdotool")
        .args(["key", "--clearmodifiers", "ctrl+alt+shift+k"])
        .env("DISPLAY", app.display_name())
        .output()
        .expect("run xdotool (apt-get install xdotool; cargo xtask test does)");
    assert!(
        pressed.status.success(),
        "xdotool: {}",
        String::from_utf8_lossy(&pressed.stderr)
    );
    let notice = server
        .wait_for_summary("All agent spending stopped", SHOWN)
        .unwrap_or_else(|| {
            panic!(
                "no kill switch notice; the app's log ends:\n{}",
                app.log_tail(40)
            )
        });
    assert!(
        notice.body.contains("2 waiting requests were cancelled"),
        "{}",
        notice.body
    );
    let status: Value = serde_json::from_slice(&app.cli(&["--json", "status"]).stdout).unwrap();
    assert_eq!(status["kill_switch"]["engaged"], true, "{status}");
    assert_eq!(
        status["kill_switch"]["reason"], "stopped with the global shortcut",
        "{status}"
    );
    let (_, after) = agent.authorize(&payment("desk-after", "1.00", "api.example.com"));
    assert_eq!(reason_codes(&after)[0], "kill_switch_engaged", "{after}");
}
