//! [`TestPostgres`]: a throwaway PostgreSQL cluster for team mode's system tests and
//! benchmarks, where several `purser serve --database postgres://…` share one database.
//!
//! It owns one cluster's whole life: finding the server binaries (Debian's
//! `/usr/lib/postgresql/VERSION/bin`, the newest version), `initdb` in a temporary
//! directory, `pg_ctl start` on a free loopback port with its unix socket inside that
//! directory, one database per test ([`TestPostgres::create_database`]), a fast stop and a
//! start again on the same data dir and port (an outage of the database and its end), and
//! the end: on drop an immediate stop and the directory removed. A small `sh` watchdog
//! does the same if the process goes away without dropping it (a cluster in a `static`).
//!
//! PostgreSQL refuses to run as root, and CI runs as root: the server's commands then run
//! as the `postgres` user that the Debian package creates (through `runuser`), and the
//! temporary directory belongs to that user. Client commands (`createdb`) connect over
//! TCP with trust authentication as the `postgres` role, from any user.
//!
//! It must not know anything of Purser's schema (the daemons migrate an empty database),
//! and it stays std-only, without an async runtime: its callers are plain test threads.

use std::fmt;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use tempfile::TempDir;

/// Environment variable naming a directory that holds `initdb`, `pg_ctl` and `createdb`,
/// instead of the newest `/usr/lib/postgresql/VERSION/bin`.
pub const BIN_DIR_ENV: &str = "PURSER_TESTPG_BIN_DIR";
/// Where the Debian packages put each major version's server binaries.
const DEBIAN_LIB_DIR: &str = "/usr/lib/postgresql";
/// The OS user the server runs as when this process is root, and the database superuser.
const SERVER_USER: &str = "postgres";
/// How long `pg_ctl` may wait for the server to start or stop, in seconds.
const PG_CTL_TIMEOUT_SECS: u32 = 60;
/// Free ports are found by binding port 0 and letting it go: another process may take
/// the port before the server binds it, so a start that lost that race is retried.
const PORT_ATTEMPTS: usize = 5;
/// Several daemons, each with a connection pool, and several tests at once share the
/// cluster: room for them all, above the default of 100.
const MAX_CONNECTIONS: u32 = 400;
/// Lines of the server's log quoted in an error.
const LOG_TAIL_LINES: usize = 30;

/// What went wrong, and what to do about it, in one message.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The message itself, so that `.expect()` in a test prints something readable.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A running (or stopped, between [`TestPostgres::stop`] and
/// [`TestPostgres::start_again`]) PostgreSQL cluster on a temporary directory.
#[derive(Debug)]
pub struct TestPostgres {
    /// `data/` (the cluster), `socket/` (its unix socket), `postgres.log`; removed on drop.
    root: TempDir,
    bin_dir: PathBuf,
    port: u16,
    /// `Some` when this process is root: the server's commands run as that user.
    server_user: Option<ServerUser>,
    running: bool,
    watchdog: Option<Child>,
}

/// The unprivileged user the server runs as, and how to become it.
#[derive(Debug, Clone)]
struct ServerUser {
    name: String,
    uid: u32,
    gid: u32,
    runuser: PathBuf,
}

impl TestPostgres {
    /// `initdb` a new cluster in a temporary directory (trust authentication, superuser
    /// `postgres`, UTF-8) and start it on a free port of 127.0.0.1, waiting until it
    /// accepts connections.
    pub fn start() -> Result<TestPostgres, Error> {
        let bin_dir = server_bin_dir()?;
        let server_user = server_user()?;
        let root = tempfile::Builder::new()
            .prefix("purser-testpg-")
            .tempdir()
            .map_err(|error| Error::new(format!("create a temporary directory: {error}")))?;
        let mut cluster = TestPostgres {
            root,
            bin_dir,
            port: 0,
            server_user,
            running: false,
            watchdog: None,
        };
        std::fs::create_dir(cluster.socket_dir()).map_err(|error| {
            Error::new(format!(
                "create {}: {error}",
                cluster.socket_dir().display()
            ))
        })?;
        if let Some(user) = &cluster.server_user {
            for path in [cluster.root.path(), &cluster.socket_dir()] {
                std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).map_err(
                    |error| {
                        Error::new(format!(
                            "give {} to the user {} (the server cannot run as root): {error}",
                            path.display(),
                            user.name
                        ))
                    },
                )?;
            }
        }
        let data_dir = cluster.data_dir();
        cluster.server_tool(
            "initdb",
            &[
                "-D".as_ref(),
                data_dir.as_os_str(),
                "--auth=trust".as_ref(),
                "-U".as_ref(),
                SERVER_USER.as_ref(),
                "--encoding=UTF8".as_ref(),
                "--locale=C".as_ref(),
                // A throwaway cluster: initdb need not wait for its files to reach the disk.
                "--no-sync".as_ref(),
                "--no-instructions".as_ref(),
            ],
        )?;
        cluster.watchdog = Some(watchdog(cluster.root.path())?);
        for attempt in 1..=PORT_ATTEMPTS {
            cluster.port = free_port()?;
            match cluster.pg_ctl_start() {
                Ok(()) => return Ok(cluster),
                Err(_) if attempt < PORT_ATTEMPTS && cluster.lost_port_race() => {}
                Err(error) => return Err(error),
            }
        }
        Err(Error::new(format!(
            "PostgreSQL found every one of {PORT_ATTEMPTS} free ports taken"
        )))
    }

    /// The loopback port the server listens on (the same after [`TestPostgres::start_again`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server runs (between [`TestPostgres::stop`] and
    /// [`TestPostgres::start_again`] it does not).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// `postgres://postgres@127.0.0.1:PORT/NAME`: the URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{SERVER_USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates the empty database `name` (lowercase letters, digits and `_`, starting
    /// with a letter or `_`, at most 63 bytes); its URL.
    pub fn create_database(&self, name: &str) -> Result<String, Error> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(Error::new(format!(
                "invalid database name {name:?}: use 1-63 of [a-z0-9_], not starting with a digit"
            )));
        }
        let port = self.port.to_string();
        let mut command = Command::new(self.bin_dir.join("createdb"));
        command.args(["-h", "127.0.0.1", "-p", &port, "-U", SERVER_USER, name]);
        let output = run(command, "createdb")?;
        if !output.status.success() {
            return Err(Error::new(format!(
                "createdb {name} on port {port} failed ({}): {}\nthe server's log ends:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                self.log_tail(LOG_TAIL_LINES)
            )));
        }
        Ok(self.url(name))
    }

    /// Stops the server (`pg_ctl stop -m fast`: connections are closed at once, the data
    /// is checkpointed), as an outage of the database would look to its clients.
    pub fn stop(&mut self) -> Result<(), Error> {
        if !self.running {
            return Err(Error::new("the PostgreSQL server is already stopped"));
        }
        self.pg_ctl_stop("fast")?;
        self.running = false;
        Ok(())
    }

    /// Starts the server again after [`TestPostgres::stop`], on the same data dir and port.
    pub fn start_again(&mut self) -> Result<(), Error> {
        if self.running {
            return Err(Error::new("the PostgreSQL server is already running"));
        }
        self.pg_ctl_start()
    }

    /// The last `lines` lines of the server's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.root.path().join("socket")
    }

    fn log_file(&self) -> PathBuf {
        self.root.path().join("postgres.log")
    }

    /// `pg_ctl start -w` on `self.port`.
    fn pg_ctl_start(&mut self) -> Result<(), Error> {
        // pg_ctl hands `-o` to the server through a shell: the paths are quoted.
        let options = format!(
            "-p {} -k '{}' -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections={MAX_CONNECTIONS}",
            self.port,
            self.socket_dir().display()
        );
        let data_dir = self.data_dir();
        let log_file = self.log_file();
        let timeout = PG_CTL_TIMEOUT_SECS.to_string();
        self.server_tool(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data_dir.as_os_str(),
                "-l".as_ref(),
                log_file.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                timeout.as_ref(),
                "-o".as_ref(),
                options.as_ref(),
                "start".as_ref(),
            ],
        )?;
        self.running = true;
        Ok(())
    }

    /// `pg_ctl stop -w -m MODE`.
    fn pg_ctl_stop(&self, mode: &str) -> Result<(), Error> {
        let data_dir = self.data_dir();
        let timeout = PG_CTL_TIMEOUT_SECS.to_string();
        self.server_tool(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data_dir.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                timeout.as_ref(),
                "-m".as_ref(),
                mode.as_ref(),
                "stop".as_ref(),
            ],
        )
        .map(drop)
    }

    /// Whether the last start failed because another process took the port first.
    fn lost_port_race(&self) -> bool {
        self.log_tail(LOG_TAIL_LINES)
            .contains("Address already in use")
    }

    /// Runs `BIN_DIR/NAME ARGS…` as the server's user, in the cluster's directory; its
    /// output, or an error with what it printed and the server's log when it failed.
    fn server_tool(&self, name: &str, args: &[&std::ffi::OsStr]) -> Result<Output, Error> {
        let program = self.bin_dir.join(name);
        let mut command = match &self.server_user {
            Some(user) => {
                let mut command = Command::new(&user.runuser);
                command.args(["-u", &user.name, "--"]).arg(&program);
                command
            }
            None => Command::new(&program),
        };
        command.args(args).current_dir(self.root.path());
        let output = run(command, name)?;
        if output.status.success() {
            return Ok(output);
        }
        let shown: Vec<String> = args
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        Err(Error::new(format!(
            "{} {} failed ({}):\n{}{}\nthe server's log ends:\n{}",
            program.display(),
            shown.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log_tail(LOG_TAIL_LINES)
        )))
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if self.running && self.pg_ctl_stop("immediate").is_err() {
            // pg_ctl could not do it: SIGQUIT is the postmaster's own immediate shutdown.
            if let Some(pid) = postmaster_pid(&self.data_dir()) {
                let _ = Command::new("kill")
                    .args(["-QUIT", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        // The TempDir removes the directory.
    }
}

/// Runs `command` with no stdin and the environment's `PG*` connection defaults removed
/// (the arguments say everything); its output.
fn run(mut command: Command, name: &str) -> Result<Output, Error> {
    for variable in [
        "PGDATA",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGOPTIONS",
    ] {
        command.env_remove(variable);
    }
    command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| Error::new(format!("run {name}: {error}")))
}

/// The directory of `initdb`, `pg_ctl` and `createdb`: [`BIN_DIR_ENV`], else the newest
/// `/usr/lib/postgresql/VERSION/bin` that has them.
fn server_bin_dir() -> Result<PathBuf, Error> {
    let has_tools = |dir: &Path| {
        ["initdb", "pg_ctl", "createdb"]
            .iter()
            .all(|tool| dir.join(tool).is_file())
    };
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        let dir = PathBuf::from(dir);
        if has_tools(&dir) {
            return Ok(dir);
        }
        return Err(Error::new(format!(
            "{BIN_DIR_ENV}={} has no initdb, pg_ctl and createdb",
            dir.display()
        )));
    }
    let versions = std::fs::read_dir(DEBIAN_LIB_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = parse_version(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        });
    newest(versions).ok_or_else(|| {
        Error::new(format!(
            "PostgreSQL server binaries not found (no {DEBIAN_LIB_DIR}/VERSION/bin with initdb, \
             pg_ctl and createdb): install the Debian package `postgresql` (`cargo xtask test` \
             and `cargo xtask deps` do), or set {BIN_DIR_ENV} to the directory that holds them"
        ))
    })
}

/// `15` → `[15]`, `9.6` → `[9, 6]`; `None` for anything else.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// The path of the highest version.
fn newest(versions: impl Iterator<Item = (Vec<u32>, PathBuf)>) -> Option<PathBuf> {
    versions
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, path)| path)
}

/// `None` when this process is not root; otherwise the `postgres` user and `runuser`.
fn server_user() -> Result<Option<ServerUser>, Error> {
    if id(&["-u"])? != 0 {
        return Ok(None);
    }
    let missing_user = |error: Error| {
        Error::new(format!(
            "running as root and PostgreSQL refuses to: there is no `{SERVER_USER}` user to run \
             it as ({error}). Install the Debian package `postgresql` (it creates the user), or \
             run the tests as an ordinary user"
        ))
    };
    let uid = id(&["-u", SERVER_USER]).map_err(missing_user)?;
    let gid = id(&["-g", SERVER_USER]).map_err(missing_user)?;
    let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or_else(|| {
            Error::new(format!(
                "running as root and PostgreSQL refuses to, but `runuser` (util-linux) is not \
                 installed to run it as `{SERVER_USER}`: install util-linux, or run the tests as \
                 an ordinary user"
            ))
        })?;
    Ok(Some(ServerUser {
        name: SERVER_USER.to_owned(),
        uid,
        gid,
        runuser,
    }))
}

/// `id ARGS…` as a number (the workspace forbids `unsafe`, so no libc).
fn id(args: &[&str]) -> Result<u32, Error> {
    let output = Command::new("id")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| Error::new(format!("run id: {error}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(Error::new(format!(
            "id {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    text.trim()
        .parse()
        .map_err(|_| Error::new(format!("id {} printed {text:?}", args.join(" "))))
}

/// A port of 127.0.0.1 that nothing listens on right now.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|error| Error::new(format!("find a free port on 127.0.0.1: {error}")))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|error| Error::new(format!("find a free port on 127.0.0.1: {error}")))
}

/// The postmaster's pid: the first line of `DATA/postmaster.pid` while it runs.
fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// A process that stops the server (SIGQUIT to the postmaster: an immediate shutdown)
/// and removes `root` once this process is gone without dropping its [`TestPostgres`].
/// The postmaster's pid is read at that moment: it changes when the server restarts.
fn watchdog(root: &Path) -> Result<Child, Error> {
    const SCRIPT: &str = r#"
while kill -0 "$1" 2>/dev/null; do sleep 0.3; done
pid=$(head -n 1 "$2/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -QUIT "$pid" 2>/dev/null
  n=0
  while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n+1)); done
  kill -KILL "$pid" 2>/dev/null
fi
rm -rf -- "$2"
"#;
    Command::new("sh")
        .args(["-c", SCRIPT, "purser-testpg-watchdog"])
        .arg(std::process::id().to_string())
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| Error::new(format!("spawn the cluster's watchdog (sh): {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("main"), None);
        let found = [
            (vec![9, 6], PathBuf::from("/9.6")),
            (vec![15], PathBuf::from("/15")),
            (vec![10], PathBuf::from("/10")),
        ];
        assert_eq!(newest(found.into_iter()), Some(PathBuf::from("/15")));
        assert_eq!(newest(std::iter::empty()), None);
    }
}
