//! Where the real peers installed by `cargo xtask peers` are: the Python interpreter of
//! `<target>/peers/venv` and the Node.js packages of `tests/peers/node_modules`.
//!
//! A missing peer fails the test with the command that installs it: a test that quietly
//! skips its peer would prove nothing.

use std::path::PathBuf;
use std::process::Command;

use crate::binary::{target_dir, workspace_root};

/// The peers' Python interpreter, with every package of `tests/peers/requirements.txt`.
pub fn python() -> PathBuf {
    let python = target_dir().join("peers/venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `cargo xtask peers` (cargo xtask test does it) to install the test peers",
        python.display()
    );
    python
}

/// A `python` command for a script of `tests/peers/`.
pub fn python_script(script: &str) -> Command {
    let mut command = Command::new(python());
    command.arg(peers_dir().join(script));
    command
}

/// A `node` command for a script of `tests/peers/`, with its `node_modules` installed.
pub fn node_script(script: &str) -> Command {
    let modules = peers_dir().join("node_modules");
    assert!(
        modules.is_dir(),
        "{} is missing: run `cargo xtask peers` (cargo xtask test does it) to install the test peers",
        modules.display()
    );
    let mut command = Command::new("node");
    command
        .current_dir(peers_dir())
        .arg(peers_dir().join(script));
    command
}

/// `tests/peers/`: the peers' scripts and package lists.
pub fn peers_dir() -> PathBuf {
    workspace_root().join("tests/peers")
}
