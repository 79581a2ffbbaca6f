//! [`TestDaemon`]: one real `purser serve` process on a private temporary data dir and a
//! port of its own, driven like a principal through the real `purser` CLI.
//!
//! It owns the process's whole life: start (wait for the ready line, fail with the
//! daemon's stderr when it does not come), restart on the same data dir, and the end.
//! Every daemon is watched by a small `sh` watchdog that stops it (and removes its
//! temporary directory) if the test process goes away without dropping it, e.g. a daemon
//! shared by a whole test file through a `static`. What the agent says over HTTP is
//! `agent.rs`'s business.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::agent::Agent;
use crate::binary;

/// How long `purser serve` may take to say it listens.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a SIGTERM'd daemon may take to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// What `purser serve` prints on stdout once it accepts requests.
const READY_PREFIX: &str = "purser: listening on http://";

/// A running `purser serve` on a temporary data dir.
#[derive(Debug)]
pub struct TestDaemon {
    /// Holds the data dir and the policy files the tests write; removed on drop.
    root: TempDir,
    data_dir: PathBuf,
    running: Option<Running>,
    files_written: AtomicUsize,
    /// What the last stopped process wrote to stderr, for error messages.
    stopped_stderr: String,
    /// More `purser serve` flags and environment, kept across restarts.
    serve: ServeOptions,
}

/// More flags and environment for `purser serve` than the harness's own
/// (`--data-dir`, `--listen 127.0.0.1:0`), e.g. `--notify` with a private D-Bus.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl ServeOptions {
    pub fn arg(mut self, arg: impl Into<String>) -> ServeOptions {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> ServeOptions {
        self.env.push((name.into(), value.into()));
        self
    }
}

#[derive(Debug)]
struct Running {
    child: Child,
    watchdog: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl TestDaemon {
    /// A daemon on a fresh data dir with `policy` applied through `purser policy apply`.
    pub fn start(policy: &str) -> TestDaemon {
        let daemon = TestDaemon::start_without_policy();
        daemon.apply_policy(policy);
        daemon
    }

    /// A daemon on a fresh data dir, its policy the empty data dir's deny-all.
    pub fn start_without_policy() -> TestDaemon {
        TestDaemon::start_with(ServeOptions::default())
    }

    /// A daemon on a fresh data dir with more serve flags and environment, its policy the
    /// empty data dir's deny-all.
    pub fn start_with(serve: ServeOptions) -> TestDaemon {
        let root = tempfile::Builder::new()
            .prefix("purser-system-")
            .tempdir()
            .expect("create a temporary directory");
        let data_dir = root.path().join("data");
        let mut daemon = TestDaemon {
            root,
            data_dir,
            running: None,
            files_written: AtomicUsize::new(0),
            stopped_stderr: String::new(),
            serve,
        };
        daemon.running = Some(daemon.spawn());
        daemon
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The agent API's address, as the daemon announced it.
    pub fn addr(&self) -> SocketAddr {
        self.running().addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    pub fn pid(&self) -> u32 {
        self.running().child.id()
    }

    /// What the daemon wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.running().stderr.lock().unwrap().clone()
    }

    /// The last `lines` lines the daemon logged, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.stderr();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Polls `condition` every 50 ms until it holds; after `timeout`, panics with `what`
    /// and the daemon's recent log.
    pub fn wait_until(&self, timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !condition() {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; the daemon's log ends:\n{}",
                self.log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `purser --data-dir DIR ARGS…`, its output whatever the exit code.
    pub fn cli(&self, args: &[&str]) -> Output {
        purser_command(&self.data_dir)
            .args(args)
            .output()
            .expect("run the purser CLI")
    }

    /// [`TestDaemon::cli`], which must succeed; its stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(
            output.status.success(),
            "purser {} failed ({}):\nstdout: {}\nstderr: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("CLI output is UTF-8")
    }

    /// `purser --json ARGS…`, which must succeed; its stdout as JSON.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let stdout = self.cli_ok(&all);
        serde_json::from_str(&stdout).unwrap_or_else(|error| {
            panic!(
                "purser {} printed no JSON ({error}): {stdout}",
                all.join(" ")
            )
        })
    }

    /// Writes `text` to a new file beside (not inside) the data dir; its path.
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let n = self.files_written.fetch_add(1, Ordering::SeqCst);
        let path = self.root.path().join(format!("{n}-{name}"));
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    /// `purser policy apply` of `policy`, which must succeed; the new version.
    pub fn apply_policy(&self, policy: &str) -> u64 {
        let file = self.write_file("policy.toml", policy);
        let applied = self.cli_json(&["policy", "apply", path_str(&file)]);
        applied["version"]
            .as_u64()
            .unwrap_or_else(|| panic!("policy apply answered no version: {applied}"))
    }

    /// `purser agent add NAME`: the agent's token.
    pub fn add_agent(&self, name: &str) -> String {
        let created = self.cli_json(&["agent", "add", name]);
        assert_eq!(created["name"], name, "{created}");
        created["token"]
            .as_str()
            .unwrap_or_else(|| panic!("agent add printed no token: {created}"))
            .to_owned()
    }

    /// A new agent `name`, ready to talk to this daemon.
    pub fn agent(&self, name: &str) -> Agent {
        let token = self.add_agent(name);
        self.agent_with_token(name, &token)
    }

    /// An agent client with a known token (e.g. after a restart, on the new port).
    pub fn agent_with_token(&self, name: &str, token: &str) -> Agent {
        Agent::new(name, self.addr(), token)
    }

    /// `purser approvals --json`: the pending authorizations, oldest first.
    pub fn approvals(&self) -> Vec<Value> {
        match self.cli_json(&["approvals"]) {
            Value::Array(pending) => pending,
            other => panic!("approvals --json is not an array: {other}"),
        }
    }

    /// The pending authorization of `agent` with `request_id`, once the daemon lists it.
    pub fn pending_approval(&self, agent: &str, request_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = self
                .approvals()
                .into_iter()
                .find(|pending| pending["agent"] == agent && pending["request_id"] == request_id)
            {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{agent}'s request {request_id} never showed up in `purser approvals`"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `purser audit verify` exits 0 and `--json` says the chain is intact; its row count.
    pub fn assert_audit_intact(&self) -> u64 {
        let human = self.cli_ok(&["audit", "verify"]);
        assert!(human.contains("intact"), "audit verify said: {human}");
        let verification = self.cli_json(&["audit", "verify"]);
        assert_eq!(verification["intact"], true, "{verification}");
        assert!(verification["first_broken"].is_null(), "{verification}");
        verification["rows"].as_u64().expect("rows is a number")
    }

    /// SIGTERM, wait for the daemon to stop, start it again on the same data dir (the
    /// port may change: take new [`Agent`]s from [`TestDaemon::agent_with_token`]).
    pub fn restart(&mut self) {
        let status = self.stop();
        assert!(
            status.success(),
            "purser serve did not stop cleanly on SIGTERM ({status}); stderr:\n{}",
            self.stopped_stderr
        );
        self.running = Some(self.spawn());
    }

    /// Starts the daemon again after [`TestDaemon::stop`], on the same data dir.
    pub fn restart_stopped(&mut self) {
        assert!(self.running.is_none(), "the daemon still runs");
        self.running = Some(self.spawn());
    }

    /// SIGKILL (a crash: no shutdown at all), then start again on the same data dir.
    pub fn crash_and_restart(&mut self) {
        let running = self.running.as_mut().expect("the daemon is running");
        stop_watchdog(&mut running.watchdog);
        signal(running.child.id(), "KILL");
        let _ = running.child.wait();
        self.running = None;
        self.running = Some(self.spawn());
    }

    /// SIGTERM and wait; the daemon's exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let running = self.running.as_mut().expect("the daemon is running");
        stop_watchdog(&mut running.watchdog);
        signal(running.child.id(), "TERM");
        let status = wait_with_timeout(&mut running.child, STOP_TIMEOUT);
        let status = match status {
            Some(status) => status,
            None => {
                let _ = running.child.kill();
                let _ = running.child.wait();
                panic!(
                    "purser serve still ran {STOP_TIMEOUT:?} after SIGTERM; stderr:\n{}",
                    running.stderr.lock().unwrap()
                );
            }
        };
        self.stopped_stderr = running.stderr.lock().unwrap().clone();
        self.running = None;
        status
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("the daemon is running")
    }

    /// Starts `purser serve` on the data dir and waits for its ready line.
    fn spawn(&self) -> Running {
        let mut child = purser_command(&self.data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(&self.serve.args)
            .envs(self.serve.env.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn purser serve");
        let watchdog = watchdog(child.id(), self.root.path());
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_pipe = child.stderr.take().expect("stderr is piped");
        collect(stderr_pipe, Arc::clone(&stderr));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (ready_tx, ready_rx) = mpsc::channel();
        let stdout_log = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line.starts_with(READY_PREFIX) {
                    let _ = ready_tx.send(line.clone());
                }
                stdout_log
                    .lock()
                    .unwrap()
                    .push_str(&format!("[stdout] {line}\n"));
            }
        });
        let started = Instant::now();
        let line = loop {
            match ready_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => break line,
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {}
            }
            if let Some(status) = child.try_wait().expect("poll purser serve") {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "purser serve --data-dir {} exited ({status}) before it listened; its output:\n{}",
                    self.data_dir.display(),
                    stderr.lock().unwrap()
                );
            }
            if started.elapsed() > READY_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "purser serve did not print {READY_PREFIX:?}… within {READY_TIMEOUT:?}; its output:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        let addr = parse_ready_line(&line)
            .unwrap_or_else(|| panic!("cannot read the address in the ready line {line:?}"));
        assert_ne!(
            addr.port(),
            0,
            "the ready line must name the port actually bound: {line:?}"
        );
        Running {
            child,
            watchdog,
            addr,
            stderr,
        }
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(mut running) = self.running.take() {
            stop_watchdog(&mut running.watchdog);
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }
}

/// `purser --data-dir DIR`, without inheriting a `PURSER_DATA_DIR` or a
/// `PURSER_DATABASE` (team mode) of the environment: a test passes `--database` itself.
pub fn purser_command(data_dir: &Path) -> Command {
    let mut command = Command::new(binary::purser());
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("PURSER_DATA_DIR")
        .env_remove("PURSER_DATABASE")
        .stdin(Stdio::null());
    command
}

/// `ADDR` of `purser: listening on http://ADDR (data dir DIR)`.
pub fn parse_ready_line(line: &str) -> Option<SocketAddr> {
    let rest = line.strip_prefix(READY_PREFIX)?;
    let addr = rest.split([' ', '/']).next()?;
    addr.parse().ok()
}

/// The path as a command-line argument (temporary paths are UTF-8).
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn collect(mut pipe: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 4096];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(n) => into
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n])),
            }
        }
    });
}

/// A process that stops `daemon_pid` and removes `root` once this test process is gone
/// (a `static` daemon is never dropped). Dropping the [`TestDaemon`] stops it first.
fn watchdog(daemon_pid: u32, root: &Path) -> Child {
    const SCRIPT: &str = r#"
while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 0.3; done
if ! kill -0 "$1" 2>/dev/null; then
  kill -TERM "$2" 2>/dev/null
  n=0
  while kill -0 "$2" 2>/dev/null && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n+1)); done
  kill -KILL "$2" 2>/dev/null
  rm -rf -- "$3"
fi
"#;
    Command::new("sh")
        .args(["-c", SCRIPT, "purser-test-watchdog"])
        .arg(std::process::id().to_string())
        .arg(daemon_pid.to_string())
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the watchdog")
}

fn stop_watchdog(watchdog: &mut Child) {
    let _ = watchdog.kill();
    let _ = watchdog.wait();
}

/// Sends SIGNAL to `pid` with kill(1) (the workspace forbids `unsafe`, so no libc).
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill(1)");
    assert!(status.success(), "kill -{signal} {pid} failed: {status}");
}

/// The child's exit status, or `None` if it still runs after `timeout`.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("poll a child process") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_line_names_the_address() {
        assert_eq!(
            parse_ready_line("purser: listening on http://127.0.0.1:40123 (data dir /tmp/x)"),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        assert_eq!(
            parse_ready_line("purser: listening on http://[::1]:7402/ (data dir /tmp/x)"),
            Some("[::1]:7402".parse().unwrap())
        );
        assert_eq!(parse_ready_line("purser: starting"), None);
    }
}
