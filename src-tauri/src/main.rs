//! `purser-desktop`: the desktop console. Everything is in the library (`lib.rs`).

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    purser_desktop::run()
}
