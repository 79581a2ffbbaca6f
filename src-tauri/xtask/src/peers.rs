//! The real peers the system tests talk to, installed where the tests look for them:
//! a Python virtual environment at `<target>/peers/venv` from `tests/peers/requirements.txt`
//! and Node.js packages in `tests/peers/node_modules` from `tests/peers/package.json`.
//!
//! It owns only installing them (idempotent: pip and npm skip what is there); the tests'
//! harness (`tests/src/peers.rs`) owns finding them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::step;

/// Installs every peer. Both lists may be empty; installing then costs a venv.
pub fn install(root: &Path, target: &Path) -> Result<()> {
    let venv = target.join("peers/venv");
    if !venv.join("bin/python").is_file() {
        step(
            "peers: python venv",
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        )?;
    }
    step(
        "peers: python packages",
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("-r")
            .arg(root.join("tests/peers/requirements.txt")),
    )?;
    let node_dir = root.join("tests/peers");
    let lock = node_dir.join("package-lock.json");
    let verb = if lock.is_file() { "ci" } else { "install" };
    step(
        "peers: node packages",
        Command::new("npm")
            .current_dir(&node_dir)
            .args([verb, "--no-audit", "--no-fund"]),
    )
}

/// Cargo's target directory: `CARGO_TARGET_DIR` (relative to the root) or `target/`.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || root.join("target"),
        |dir| {
            let dir = PathBuf::from(dir);
            if dir.is_relative() {
                root.join(dir)
            } else {
                dir
            }
        },
    )
}
