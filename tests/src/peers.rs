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

/// A peer started with [`spawn`], its output collected while it runs.
#[derive(Debug)]
pub struct RunningPeer {
    child: std::process::Child,
    what: String,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

/// What a peer printed and how it ended.
#[derive(Debug)]
pub struct PeerOutput {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl PeerOutput {
    /// The last line of stdout as JSON; panics with everything the peer printed when the
    /// peer failed or printed none.
    pub fn json(&self) -> serde_json::Value {
        assert!(
            self.status.success(),
            "the peer exited with {}:\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
        let last = self.stdout.lines().last().unwrap_or("");
        serde_json::from_str(last).unwrap_or_else(|error| {
            panic!(
                "the peer printed no JSON ({error}):\nstdout: {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Starts `command` with its stdin closed and its stdout and stderr collected.
pub fn spawn(mut command: Command) -> RunningPeer {
    use std::io::Read;
    use std::process::Stdio;
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {what}: {error}"));
    let collect = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = collect(Box::new(child.stdout.take().expect("stdout is piped")));
    let stderr = collect(Box::new(child.stderr.take().expect("stderr is piped")));
    RunningPeer {
        child,
        what,
        stdout,
        stderr,
    }
}

impl RunningPeer {
    /// Waits for the peer to end; after `timeout` it is killed and the test fails with
    /// what it printed.
    pub fn finish(mut self, timeout: std::time::Duration) -> PeerOutput {
        let status = crate::daemon::wait_with_timeout(&mut self.child, timeout);
        let killed = status.is_none();
        if killed {
            let _ = self.child.kill();
        }
        let status = match status {
            Some(status) => status,
            None => self.child.wait().expect("wait for a killed peer"),
        };
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        let output = PeerOutput {
            status,
            stdout: text(self.stdout.join().unwrap_or_default()),
            stderr: text(self.stderr.join().unwrap_or_default()),
        };
        assert!(
            !killed,
            "{} still ran after {timeout:?}; killed.\nstdout: {}\nstderr: {}",
            self.what, output.stdout, output.stderr
        );
        output
    }
}

/// Runs `command` to its end within `timeout`.
pub fn run(command: Command, timeout: std::time::Duration) -> PeerOutput {
    spawn(command).finish(timeout)
}
