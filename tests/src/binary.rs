//! Where the real `purser` binary is: built once per test process with
//! `cargo build -p purser-cli --bin purser` (a test cannot depend on another package's
//! binary: artifact dependencies are unstable), or taken from `PURSER_BIN` when set.
//!
//! It owns only finding and building the binary; running it is `daemon.rs`'s job.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root: this package is the workspace member `tests/`.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent: the workspace root")
        .to_owned()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` (relative to the workspace root) or
/// `target/`.
pub fn target_dir() -> PathBuf {
    let root = workspace_root();
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_relative() {
                root.join(dir)
            } else {
                dir
            }
        })
        .unwrap_or_else(|| root.join("target"))
}

/// The `purser` binary, built on first use.
pub fn purser() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build)
}

fn build() -> PathBuf {
    if let Some(path) = std::env::var_os("PURSER_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "PURSER_BIN={} is not a file",
            path.display()
        );
        return path;
    }
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--quiet", "-p", "purser-cli", "--bin", "purser"])
        .output()
        .expect("run cargo build -p purser-cli");
    assert!(
        output.status.success(),
        "cargo build -p purser-cli failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let binary = target_dir().join("debug").join("purser");
    assert!(
        binary.is_file(),
        "cargo build succeeded but {} does not exist",
        binary.display()
    );
    binary
}
