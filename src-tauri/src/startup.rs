//! Launch: the command line (`--data-dir`, `--listen`, `--database`, notifications, the kill shortcut), the in-process daemon, and what
//! the window is told about it ([`StartupState`]).
//!
//! The daemon starts before the window opens, on Tauri's tokio runtime, so agents can
//! connect as long as the app runs. When it cannot start (most often: another Purser
//! already holds the data dir) the app still opens, and the UI shows why and what to do
//! instead of the console: every other command then answers `unavailable`. The UI's
//! "Check again" asks `startup_state` again, which tries once more ([`Launch::retry`]):
//! once the other Purser has quit, the console comes up without restarting the app.
//!
//! What this module must not do: retry on its own, or start a second daemon while one
//! runs (retries are serialized and only ever replace a failure).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use clap::Parser;
use purser_daemon::{Console, Daemon, RunningDaemon, ServeConfig, StartError, SystemClock};
use purser_store::Database;
use serde::Serialize;

use crate::error::IpcError;

/// The console over the embedded daemon's store (the data dir's SQLite file, or the
/// team's PostgreSQL database).
pub type DesktopConsole = Console<Database>;

/// `purser-desktop [--data-dir DIR] [--listen ADDR] [--database URL]`.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(
    name = "purser-desktop",
    version,
    about = "Purser's desktop console: runs the authorizer for your agents and lets you decide."
)]
pub struct Args {
    /// The data dir (database, admin socket, lock). Default: the platform data dir's
    /// `purser`, the same one `purser serve` uses.
    #[arg(long, env = "PURSER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where agents reach the agent API (loopback only; port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7402")]
    pub listen: SocketAddr,
    /// Team mode: the team's PostgreSQL database
    /// (postgres://user:password@host:port/database) instead of the data dir's SQLite
    /// file. The console then shows and decides every daemon's requests.
    #[arg(
        long,
        env = "PURSER_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// No desktop notifications for requests that wait (they still wait in the inbox and
    /// on the tray).
    #[arg(long, env = "PURSER_NO_NOTIFY")]
    pub no_notify: bool,
    #[command(flatten)]
    pub notifications: purser_notify::NotifyArgs,
    /// The global shortcut that stops all agent spending, e.g. "Ctrl+Alt+Shift+K";
    /// "off" for none.
    #[arg(
        long,
        env = "PURSER_KILL_SHORTCUT",
        value_name = "CHORD",
        default_value = crate::shortcut::DEFAULT_KILL_SHORTCUT
    )]
    pub kill_shortcut: String,
}

impl Args {
    /// `--data-dir`, else `PURSER_DATA_DIR` (clap reads it), else the platform data dir.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.data_dir
            .clone()
            .or_else(|| dirs::data_dir().map(|dir| dir.join("purser")))
    }
}

/// Why the daemon is not running, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartupFailure {
    /// `data_dir_locked`, `invalid_config`, `io_error`, `store_unavailable` or
    /// `no_data_dir`.
    pub code: &'static str,
    /// What happened and what to do, in one sentence.
    pub message: String,
    /// `data_dir_locked`: the process holding the data dir, when its lock file says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// `data_dir_locked`: that process's command line, when the system tells (Linux).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
}

impl StartupFailure {
    fn from_start_error(error: &StartError, data_dir: &Path) -> StartupFailure {
        let (code, pid) = match error {
            StartError::Locked { pid, .. } => ("data_dir_locked", *pid),
            StartError::Config(_) => ("invalid_config", None),
            StartError::Io { .. } => ("io_error", None),
            StartError::Store { .. } => ("store_unavailable", None),
        };
        StartupFailure {
            code,
            message: error.to_string(),
            pid,
            process: pid.and_then(command_line),
            data_dir: Some(data_dir.display().to_string()),
        }
    }
}

/// The command line of process `pid`, from `/proc` (absent elsewhere or if it is gone).
fn command_line(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let words: Vec<String> = raw
        .split(|byte| *byte == 0)
        .filter(|word| !word.is_empty())
        .map(|word| String::from_utf8_lossy(word).into_owned())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// `startup_state`: `{ok: true, agent_url, data_dir}` or `{ok: false, code, message, ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum StartupState {
    Running {
        ok: True,
        agent_url: String,
        data_dir: String,
    },
    Failed {
        ok: False,
        #[serde(flatten)]
        failure: StartupFailure,
    },
}

/// Serializes as `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct True;

impl Serialize for True {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(true)
    }
}

/// Serializes as `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct False;

impl Serialize for False {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(false)
    }
}

/// The daemon the app runs: its console for the commands, and the daemon itself until
/// [`EmbeddedDaemon::shutdown`] takes it.
#[derive(Debug)]
pub struct EmbeddedDaemon {
    console: DesktopConsole,
    agent_url: String,
    running: Mutex<Option<RunningDaemon>>,
}

impl EmbeddedDaemon {
    pub fn new(daemon: RunningDaemon) -> EmbeddedDaemon {
        EmbeddedDaemon {
            console: daemon.console().clone(),
            agent_url: format!("http://{}", daemon.agent_addr()),
            running: Mutex::new(Some(daemon)),
        }
    }

    pub fn console(&self) -> &DesktopConsole {
        &self.console
    }

    /// The agent API's base URL, e.g. `http://127.0.0.1:7402`.
    pub fn agent_url(&self) -> &str {
        &self.agent_url
    }

    /// Stops the daemon gracefully (waiting agents are released and fail closed); the
    /// second call does nothing.
    pub async fn shutdown(&self) {
        let daemon = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(daemon) = daemon {
            daemon.shutdown().await;
        }
    }
}

/// What the launch produced: the daemon, or why there is none.
#[derive(Debug, Clone)]
pub enum Startup {
    Running(Arc<EmbeddedDaemon>),
    Failed(StartupFailure),
}

impl Startup {
    /// Starts the daemon as `args` say. Never fails: a failure is a state to show.
    pub async fn launch(args: &Args) -> Startup {
        let Some(data_dir) = args.data_dir() else {
            return Startup::Failed(StartupFailure {
                code: "no_data_dir",
                message: "cannot find the platform data directory: start Purser with --data-dir DIR or set PURSER_DATA_DIR".into(),
                pid: None,
                process: None,
                data_dir: None,
            });
        };
        let config = ServeConfig {
            listen: args.listen,
            database: args.database.clone(),
            ..ServeConfig::new(data_dir)
        };
        Startup::start(config).await
    }

    /// Starts a daemon on `config` with the system clock.
    pub async fn start(config: ServeConfig) -> Startup {
        let data_dir = config.data_dir.clone();
        match Daemon::start(config, Arc::new(SystemClock)).await {
            Ok(daemon) => {
                tracing::info!(
                    listen = %daemon.agent_addr(),
                    data_dir = %daemon.data_dir().display(),
                    "the desktop app's daemon started"
                );
                Startup::Running(Arc::new(EmbeddedDaemon::new(daemon)))
            }
            Err(error) => {
                tracing::error!(%error, "the daemon did not start");
                Startup::Failed(StartupFailure::from_start_error(&error, &data_dir))
            }
        }
    }

    pub fn daemon(&self) -> Option<&Arc<EmbeddedDaemon>> {
        match self {
            Startup::Running(daemon) => Some(daemon),
            Startup::Failed(_) => None,
        }
    }

    /// The console, or `unavailable` saying why there is none.
    pub fn console(&self) -> Result<&DesktopConsole, IpcError> {
        match self {
            Startup::Running(daemon) => Ok(daemon.console()),
            Startup::Failed(failure) => Err(IpcError::unavailable(format!(
                "the daemon is not running: {}",
                failure.message
            ))),
        }
    }

    pub fn state(&self) -> StartupState {
        match self {
            Startup::Running(daemon) => StartupState::Running {
                ok: True,
                agent_url: daemon.agent_url().to_owned(),
                data_dir: daemon.console().data_dir().display().to_string(),
            },
            Startup::Failed(failure) => StartupState::Failed {
                ok: False,
                failure: failure.clone(),
            },
        }
    }
}

/// The app's daemon over its lifetime: the command line it was started with and the
/// latest [`Startup`]. Tauri manages one; the commands, the tray and the event
/// forwarding read it.
#[derive(Debug)]
pub struct Launch {
    args: Args,
    current: RwLock<Startup>,
    /// Serializes retries, so two "Check again" never start two daemons.
    retrying: tokio::sync::Mutex<()>,
}

impl Launch {
    /// Starts the daemon as `args` say (see [`Startup::launch`]).
    pub async fn start(args: Args) -> Launch {
        let first = Startup::launch(&args).await;
        Launch::with(args, first)
    }

    /// A launch whose first attempt gave `startup`.
    pub fn with(args: Args, startup: Startup) -> Launch {
        Launch {
            args,
            current: RwLock::new(startup),
            retrying: tokio::sync::Mutex::new(()),
        }
    }

    /// The command line the app was started with.
    pub fn args(&self) -> &Args {
        &self.args
    }

    pub fn current(&self) -> Startup {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The running daemon's console (cheap to clone), or `unavailable` saying why not.
    pub fn console(&self) -> Result<DesktopConsole, IpcError> {
        self.current().console().cloned()
    }

    /// If the daemon is not running, tries to start it again; returns the daemon when
    /// this call started it (the caller then wires its events).
    pub async fn retry(&self) -> Option<Arc<EmbeddedDaemon>> {
        let _one_at_a_time = self.retrying.lock().await;
        if let Startup::Running(_) = self.current() {
            return None;
        }
        let next = launch_off_thread(self.args.clone()).await;
        let started = next.daemon().cloned();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
        started
    }
}

/// [`Startup::launch`] on a blocking thread of the current runtime. The daemon's start
/// future is not provably `Send` (sqlx's higher-ranked lifetimes), and a Tauri command's
/// future must be; the daemon's own tasks are spawned on the runtime as usual.
async fn launch_off_thread(args: Args) -> Startup {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(Startup::launch(&args)))
        .await
        .unwrap_or_else(|error| {
            Startup::Failed(StartupFailure {
                code: "io_error",
                message: format!("the daemon's start did not finish: {error}"),
                pid: None,
                process: None,
                data_dir: None,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_command_line_has_the_documented_defaults() {
        let args = Args::try_parse_from(["purser-desktop", "--data-dir", "/tmp/p"]).unwrap();
        assert_eq!(args.data_dir(), Some(PathBuf::from("/tmp/p")));
        assert_eq!(args.listen, SocketAddr::from(([127, 0, 0, 1], 7402)));
        let args = Args::try_parse_from(["purser-desktop", "--listen", "127.0.0.1:0"]).unwrap();
        assert_eq!(args.listen.port(), 0);
        assert!(Args::try_parse_from(["purser-desktop", "--listen", "nowhere"]).is_err());
    }

    #[test]
    fn a_lock_conflict_names_the_holder() {
        let error = StartError::Locked {
            pid: Some(std::process::id()),
            data_dir: PathBuf::from("/data"),
        };
        let failure = StartupFailure::from_start_error(&error, Path::new("/data"));
        let state = serde_json::to_value(Startup::Failed(failure).state()).unwrap();
        assert_eq!(state["ok"], json!(false));
        assert_eq!(state["code"], json!("data_dir_locked"));
        assert_eq!(state["pid"], json!(std::process::id()));
        assert_eq!(state["data_dir"], json!("/data"));
        assert!(state["message"].as_str().unwrap().contains("kill"));
        assert!(
            state["process"]
                .as_str()
                .is_some_and(|line| !line.is_empty()),
            "this very process is the holder, and /proc names it: {state}"
        );
    }
}
