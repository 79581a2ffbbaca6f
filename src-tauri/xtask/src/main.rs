//! `cargo xtask`: the README's two set-up commands.
//!
//! - `cargo xtask run [--headless] [-- ARGS]`: runs the product. Headless starts the
//!   daemon (`purser serve`); without the flag the desktop console runs with the daemon
//!   embedded, once it exists in the workspace.
//! - `cargo xtask bench [--quick]`: builds the release `purser` binary, runs every
//!   benchmark of `purser-bench` in one process (full unless `--quick`) and writes the
//!   figures into `docs/benchmarks.md`.
//! - `cargo xtask test`: installs what a fresh Debian machine lacks (system packages,
//!   `tauri-driver` through `cargo install` when it is not on PATH or in
//!   `~/.cargo/bin`, and the real client/server peers of the system tests, `peers.rs`), builds the desktop app for its end-to-end test, then runs every
//!   check and test: rustfmt, clippy and the workspace tests (unit, property, system,
//!   desktop E2E). `--all-targets` also runs every benchmark binary once in its quick mode
//!   (debug build, small counts: it must work; figures are never asserted). Full
//!   benchmark runs are `cargo bench`.
//!
//! This file only orchestrates other programs; it owns no product logic.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod peers;
mod reliability;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root()?;
    match args.first().map(String::as_str) {
        Some("test") => test(&root),
        Some("run") => run(&root, &args[1..]),
        Some("deps") => install_system_packages(),
        Some("bench") => bench(&root, &args[1..]),
        Some("peers") => peers::install(&root, &peers::target_dir(&root)),
        Some("reliability") => reliability::run(&root, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask run [--headless] [-- ARGS...] | cargo xtask test | cargo xtask bench [--quick] | cargo xtask reliability [--short] | cargo xtask peers | cargo xtask deps"
            );
            std::process::exit(2);
        }
    }
}

fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .context("xtask lives in src-tauri/xtask: cannot find the workspace root")
}

/// Debian packages the build and the tests need (SQLite is bundled by sqlx): the
/// compilers, the Tauri v2 system libraries, what the end-to-end tests drive the real
/// window with (Xvfb, WebKitWebDriver, ImageMagick for screenshots, a D-Bus daemon for
/// the notification tests' private session bus, xdotool to press the kill switch
/// shortcut), and the PostgreSQL server team mode's tests share a database on.
const APT_PACKAGES: &[&str] = &[
    "pkg-config",
    "build-essential",
    "libssl-dev",
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libxdo-dev",
    "xvfb",
    "xauth",
    "imagemagick",
    "webkit2gtk-driver",
    "dbus-x11",
    // The reliability suite's store faults and shifted clocks (docs/reliability.md).
    "sqlite3",
    "e2fsprogs",
    "faketime",
    // Team mode's tests: a throwaway cluster of their own (purser-testpg runs initdb and
    // pg_ctl from /usr/lib/postgresql/VERSION/bin as the `postgres` user this creates).
    // The cluster the package may create and start on port 5432 is not used.
    "postgresql",
];

fn install_system_packages() -> Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|package| !debian_package_installed(package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !Path::new("/usr/bin/apt-get").exists() {
        bail!("missing system packages {missing:?} and no apt-get here: install them by hand");
    }
    println!("xtask: installing {}", missing.join(" "));
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| -> Result<()> {
        let mut command = Command::new(sudo.first().copied().unwrap_or("apt-get"));
        if !sudo.is_empty() {
            command.arg("apt-get");
        }
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        status(&mut command)
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(missing);
    apt(&install)
}

fn debian_package_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// `cargo` (the one running xtask) in the workspace root.
fn cargo_in(root: &Path) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(root);
    command
}

/// `npm` in the front end's folder.
fn npm_in(root: &Path) -> Command {
    let mut command = Command::new("npm");
    command.current_dir(root.join("ui"));
    command
}

fn test(root: &Path) -> Result<()> {
    install_system_packages()?;
    install_tauri_driver()?;
    peers::install(root, &peers::target_dir(root))?;
    let cargo = || cargo_in(root);
    let npm = || npm_in(root);
    // The desktop crate embeds ui/dist at compile time, so the UI is built first.
    step("ui: install", npm().args(["ci", "--no-audit", "--no-fund"]))?;
    step("ui: type check", npm().args(["run", "check"]))?;
    step("ui: unit tests", npm().args(["test"]))?;
    step("ui: build", npm().args(["run", "build"]))?;
    step("rustfmt", cargo().args(["fmt", "--all", "--", "--check"]))?;
    step(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // The desktop E2E test (tests/tests/desktop_e2e.rs) drives the built app,
    // target/debug/purser-desktop (CARGO_TARGET_DIR is honoured by both): build it first.
    step(
        "desktop app: build",
        cargo().args(["build", "--package", "purser-desktop"]),
    )?;
    step(
        "tests",
        cargo().args(["test", "--workspace", "--all-targets"]),
    )?;
    step("doc tests", cargo().args(["test", "--workspace", "--doc"]))?;
    reliability::fuzz(root, reliability::CI_FUZZ_SECONDS)?;
    println!("xtask: all checks passed");
    Ok(())
}

/// Every benchmark in one run, written to `docs/benchmarks.md`. The `purser` binary is
/// built with the benchmarks in one cargo invocation (the same dependency features, so
/// nothing is built twice): the footprint figures spawn it.
fn bench(root: &Path, args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    step(
        "build purser, purser-desktop and purser-bench (release)",
        cargo_in(root).args([
            "build",
            "--release",
            "--package",
            "purser-cli",
            "--package",
            "purser-bench",
            "--package",
            "purser-desktop",
            "--bins",
        ]),
    )?;
    let target = peers::target_dir(root);
    let mut command = Command::new(target.join("release/purser-bench"));
    command
        .current_dir(root)
        .args(["--write", "docs/benchmarks.md"])
        .env(
            "PURSER_BENCH_COMMAND",
            if quick {
                "cargo xtask bench --quick"
            } else {
                "cargo xtask bench"
            },
        );
    if !quick {
        command.arg("--full");
    }
    step("benchmarks", &mut command)
}

/// `tauri-driver`, the WebDriver bridge the desktop E2E test talks to, unless it is on
/// PATH or in cargo's bin directory already.
fn install_tauri_driver() -> Result<()> {
    if let Some(found) = find_program("tauri-driver") {
        println!("xtask: tauri-driver: {}", found.display());
        return Ok(());
    }
    step(
        "tauri-driver: install",
        Command::new(env!("CARGO")).args(["install", "tauri-driver", "--locked"]),
    )
}

/// `name` on PATH or in cargo's bin directory (`$CARGO_HOME/bin`, else `~/.cargo/bin`).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin"));
    path.into_iter()
        .chain(cargo_bin)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn run(root: &Path, args: &[String]) -> Result<()> {
    let headless = args.iter().any(|a| a == "--headless");
    let passthrough: Vec<&String> = args.iter().skip_while(|a| *a != "--").skip(1).collect();
    let mut command = cargo_in(root);
    if headless {
        command.args(["run", "--release", "--package", "purser-cli", "--", "serve"]);
    } else {
        // The console needs the Tauri system libraries and embeds ui/dist when built.
        install_system_packages()?;
        if !root.join("ui/node_modules").exists() {
            step(
                "ui: install",
                npm_in(root).args(["ci", "--no-audit", "--no-fund"]),
            )?;
        }
        step("ui: build", npm_in(root).args(["run", "build"]))?;
        command.args(["run", "--release", "--package", "purser-desktop", "--"]);
    }
    command.args(passthrough);
    status(&mut command)
}

fn step(name: &str, command: &mut Command) -> Result<()> {
    println!("xtask: == {name} ==");
    status(command).with_context(|| format!("step `{name}` failed"))
}

fn status(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} exited with {status}");
    }
    Ok(())
}
