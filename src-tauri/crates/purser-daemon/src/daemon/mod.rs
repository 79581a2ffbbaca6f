//! The daemon's lifecycle: [`Daemon::start`] brings one up on a data dir and returns a
//! [`RunningDaemon`]; [`RunningDaemon::shutdown`] takes it down gracefully; [`serve`] is
//! `purser serve`: start, say where it listens, run until SIGINT/SIGTERM, stop.
//!
//! Start, in order: check the listen address (loopback unless `allow_remote`), make the
//! data dir 0700, take its lock, open the store, bind the agent API (TCP) and the admin
//! API (`admin.sock`, 0600 before the first accept), then spawn the two servers and the
//! expiry task. Every failure before the servers run leaves nothing behind but the dir.
//!
//! Stop, in order: every task is told ([`ShutdownHandle`]); the servers stop accepting,
//! every long-poll is released, event streams end, in-flight requests get
//! [`SHUTDOWN_GRACE`] to finish; then the socket and the lock file are removed and the
//! lock released. Nothing needs flushing: the store made every change durable before
//! answering it.

mod data_dir;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use purser_core::Clock;
use purser_store::{
    Database, DatabaseLocation, RemoteChange, Store, StoreError, StoreOptions, SystemClock,
    redact_database_url,
};
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::broker::Broker;
use crate::config::{DEFAULT_PORT, HttpConfig};
use crate::console::{Console, ConsoleParts};
use crate::events::{EVENT_CAPACITY, EventBus};
use crate::expiry::{ExpiryAlarm, ExpiryTask};
use crate::http;
use crate::rails::RailsConfig;
use crate::rails::stripe::Proxy as StripeProxy;
use crate::shutdown::{Shutdown, ShutdownHandle};
use crate::state::AppState;
use crate::waiters::Waiters;
pub use data_dir::{DataDirLock, LOCK_FILE};

/// The admin socket's name inside the data dir.
pub const ADMIN_SOCKET: &str = "admin.sock";
/// The database's name inside the data dir.
pub const DATABASE_FILE: &str = "purser.db";
/// How long in-flight requests may take to finish once shutdown began.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What `purser serve` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    /// Where the agent API listens (port 0: any free port). The admin API is always
    /// `data_dir/admin.sock`, never TCP.
    pub listen: SocketAddr,
    /// Allow a non-loopback `listen` (no TLS: trusted networks only).
    pub allow_remote: bool,
    /// The payment rails to run besides the agent API (the Stripe proxy).
    pub rails: RailsConfig,
    /// Team mode: a PostgreSQL URL shared with other daemons instead of the data dir's
    /// SQLite file (`None`).
    pub database: Option<String>,
}

impl ServeConfig {
    /// The contract's defaults on `data_dir`: `127.0.0.1:7402`, loopback only.
    pub fn new(data_dir: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            allow_remote: false,
            rails: RailsConfig::default(),
            database: None,
        }
    }
}

/// Why a daemon did not start. [`StartError::is_usage`] tells the CLI which ones are
/// the user's to fix (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another daemon holds the data dir.
    #[error("{}", locked_message(*.pid, .data_dir))]
    Locked { pid: Option<u32>, data_dir: PathBuf },
    /// The configuration cannot work (a remote address without `allow_remote`, a data
    /// dir that is a file, an address that cannot be bound...).
    #[error("{0}")]
    Config(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the store {location}: {}", store_problem(source))]
    Store {
        location: String,
        #[source]
        source: StoreError,
    },
}

impl StartError {
    /// A lock conflict or a bad configuration: the user's to fix (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, StartError::Locked { .. } | StartError::Config(_))
    }
}

/// Why the store did not open, without the "retry later" an agent would be told.
fn store_problem(error: &StoreError) -> String {
    match error {
        StoreError::Unavailable(detail) => detail.clone(),
        other => other.to_string(),
    }
}

fn locked_message(pid: Option<u32>, data_dir: &Path) -> String {
    match pid {
        Some(pid) => format!(
            "another Purser daemon (pid {pid}) holds {}: stop it first (`kill {pid}`) or use --data-dir",
            data_dir.display()
        ),
        None => format!(
            "another Purser daemon holds {}: stop it first or use --data-dir",
            data_dir.display()
        ),
    }
}

/// Starts daemons. See the module documentation.
#[derive(Debug)]
pub struct Daemon;

/// A daemon serving its data dir. Dropping it asks its tasks to stop but waits for
/// nothing and leaves the socket and lock files: call [`RunningDaemon::shutdown`].
#[derive(Debug)]
pub struct RunningDaemon {
    agent_addr: SocketAddr,
    stripe_addr: Option<SocketAddr>,
    admin_socket_path: PathBuf,
    data_dir: PathBuf,
    console: Console<Database>,
    waiters: Arc<Waiters>,
    shutdown: ShutdownHandle,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
    lock: Option<DataDirLock>,
}

/// Environment variable read by [`Daemon::start`]: `off` (or `0`, `false`) makes the
/// store commit every decision in its own transaction instead of in groups. Only
/// benchmarks want that (to measure what group commit buys); unset means on.
pub const GROUP_COMMIT_ENV: &str = "PURSER_GROUP_COMMIT";

/// The store's options for [`Daemon::start`]: the defaults, with group commit turned off
/// when [`GROUP_COMMIT_ENV`] says so.
pub fn store_options_from_env() -> StoreOptions {
    let off = std::env::var(GROUP_COMMIT_ENV).is_ok_and(|value| {
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        )
    });
    StoreOptions {
        group_commit: !off,
        ..StoreOptions::default()
    }
}

impl Daemon {
    /// Starts a daemon on `config.data_dir` with `clock` (the system clock in
    /// production). Returns once both APIs accept connections. The store's options come
    /// from [`store_options_from_env`].
    pub async fn start(
        config: ServeConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<RunningDaemon, StartError> {
        Daemon::start_with_store_options(config, clock, store_options_from_env()).await
    }

    /// [`Daemon::start`] with explicit store options (benchmarks turn group commit off
    /// in process with this).
    pub async fn start_with_store_options(
        config: ServeConfig,
        clock: Arc<dyn Clock>,
        store_options: StoreOptions,
    ) -> Result<RunningDaemon, StartError> {
        if !config.listen.ip().is_loopback() && !config.allow_remote {
            return Err(StartError::Config(format!(
                "--listen {} is not a loopback address: agents elsewhere could reach the agent API (without TLS); pass --allow-remote as well if that is what you want",
                config.listen
            )));
        }
        let data_dir = config.data_dir.clone();
        data_dir::prepare(&data_dir)?;
        let lock = DataDirLock::acquire(&data_dir)?;
        // From here on, a failure must release the lock (dropping it does).
        let file = data_dir.join(DATABASE_FILE);
        let (location, described) = match &config.database {
            Some(url) => (DatabaseLocation::Postgres(url), redact_database_url(url)),
            None => (DatabaseLocation::Sqlite(&file), file.display().to_string()),
        };
        let store = Database::open(location, Arc::clone(&clock), store_options)
            .await
            .map_err(|source| StartError::Store {
                location: described,
                source,
            })?;
        let tcp = TcpListener::bind(config.listen).await.map_err(|error| {
            StartError::Config(format!(
                "cannot listen on {}: {error} (choose another address with --listen)",
                config.listen
            ))
        })?;
        let agent_addr = tcp.local_addr().map_err(|source| StartError::Io {
            what: "cannot read the agent API's address".into(),
            source,
        })?;
        let stripe_tcp = match &config.rails.stripe {
            Some(stripe) => Some(bind_stripe_proxy(stripe.listen).await?),
            None => None,
        };
        let admin_socket_path = data_dir.join(ADMIN_SOCKET);
        let unix = bind_admin_socket(&admin_socket_path)?;

        let mut http_config = HttpConfig::for_port(agent_addr.port());
        if !agent_addr.ip().is_loopback() && !agent_addr.ip().is_unspecified() {
            http_config.extra_hosts.push(agent_addr.to_string());
        }
        let waiters = Waiters::new(http_config.max_waiters_per_agent);
        let events = EventBus::new(EVENT_CAPACITY);
        let alarm = ExpiryAlarm::new();
        let shutdown = ShutdownHandle::new();
        let console = Console::new(ConsoleParts {
            store: store.clone(),
            clock: Arc::clone(&clock),
            waiters: Arc::clone(&waiters),
            events: events.clone(),
            alarm: alarm.clone(),
            listen: agent_addr,
            data_dir: data_dir.clone(),
        });
        let broker = Broker::new(
            store.clone(),
            Arc::clone(&clock),
            events.clone(),
            alarm.clone(),
        );
        let app_state = AppState::new(
            Arc::new(broker),
            Arc::clone(&clock),
            Arc::clone(&waiters),
            http_config,
        );
        let stripe_proxy = match (&config.rails.stripe, stripe_tcp) {
            (Some(stripe), Some((tcp, addr))) => {
                let proxy = StripeProxy::new(app_state.clone(), stripe, addr.port(), &data_dir)
                    .map_err(StartError::Config)?;
                Some((tcp, addr, proxy))
            }
            _ => None,
        };
        let agent_api = http::router(app_state);
        let admin_api = admin::router(AdminState {
            console: console.clone(),
            shutdown: shutdown.clone(),
        });

        let mut tasks = Vec::new();
        let mut stop = shutdown.listener();
        let agent_server = axum::serve(
            tcp,
            agent_api.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop.recv().await });
        tasks.push((
            "agent API",
            tokio::spawn(async move {
                if let Err(error) = agent_server.await {
                    tracing::error!(%error, "the agent API stopped");
                }
            }),
        ));
        let mut stripe_addr = None;
        if let Some((tcp, addr, proxy)) = stripe_proxy {
            let mut stop = shutdown.listener();
            let server = axum::serve(
                tcp,
                proxy
                    .router()
                    .into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.recv().await });
            tasks.push((
                "Stripe proxy",
                tokio::spawn(async move {
                    if let Err(error) = server.await {
                        tracing::error!(%error, "the Stripe proxy stopped");
                    }
                }),
            ));
            tracing::info!(listen = %addr, "Stripe proxy started");
            stripe_addr = Some(addr);
        }
        let mut stop = shutdown.listener();
        let admin_server =
            axum::serve(unix, admin_api).with_graceful_shutdown(async move { stop.recv().await });
        tasks.push((
            "admin API",
            tokio::spawn(async move {
                if let Err(error) = admin_server.await {
                    tracing::error!(%error, "the admin API stopped");
                }
            }),
        ));
        let expiry = ExpiryTask {
            store,
            clock,
            waiters: Arc::clone(&waiters),
            events,
            alarm,
            shutdown: shutdown.listener(),
        };
        tasks.push(("expiry", tokio::spawn(expiry.run())));
        if let Some(changes) = console.store().remote_changes() {
            tasks.push((
                "team relay",
                tokio::spawn(relay_team(console.clone(), changes, shutdown.listener())),
            ));
        }
        tracing::info!(
            listen = %agent_addr,
            admin = %admin_socket_path.display(),
            "daemon started"
        );
        Ok(RunningDaemon {
            agent_addr,
            stripe_addr,
            admin_socket_path,
            data_dir,
            console,
            waiters,
            shutdown,
            tasks,
            lock: Some(lock),
        })
    }
}

/// Team mode: tells this daemon's listeners what the other daemons change, until
/// shutdown. A relay that fell behind resynchronizes instead of replaying.
async fn relay_team(
    console: Console<Database>,
    mut changes: tokio::sync::broadcast::Receiver<RemoteChange>,
    mut stop: Shutdown,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        tokio::select! {
            () = stop.recv() => return,
            change = changes.recv() => match change {
                Ok(change) => console.relay(change).await,
                Err(RecvError::Lagged(_)) => console.relay(RemoteChange::Resync).await,
                Err(RecvError::Closed) => return,
            },
        }
    }
}

/// Binds the Stripe proxy's listener: loopback only (its `Host` check admits loopback
/// names only, and the proxy spends with the principal's Stripe key).
async fn bind_stripe_proxy(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    if !listen.ip().is_loopback() {
        return Err(StartError::Config(format!(
            "--stripe-proxy {listen} is not a loopback address: the Stripe proxy spends with the principal's key and listens on loopback only"
        )));
    }
    let tcp = TcpListener::bind(listen).await.map_err(|error| {
        StartError::Config(format!(
            "cannot listen on {listen} for the Stripe proxy: {error} (choose another address with --stripe-proxy)"
        ))
    })?;
    let addr = tcp.local_addr().map_err(|source| StartError::Io {
        what: "cannot read the Stripe proxy's address".into(),
        source,
    })?;
    Ok((tcp, addr))
}

/// Binds `DATA_DIR/admin.sock` (replacing a stale one: we hold the lock, so nobody
/// else serves it) and makes it 0600 before anything can be accepted on it.
fn bind_admin_socket(path: &Path) -> Result<UnixListener, StartError> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|source| StartError::Io {
                what: format!("cannot remove the stale admin socket {}", path.display()),
                source,
            })?;
        }
        Ok(_) => {
            return Err(StartError::Config(format!(
                "{} exists and is not a socket: move it away",
                path.display()
            )));
        }
        Err(_) => {}
    }
    let listener = UnixListener::bind(path).map_err(|source| StartError::Io {
        what: format!("cannot bind the admin socket {}", path.display()),
        source,
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        StartError::Io {
            what: format!("cannot restrict the admin socket {}", path.display()),
            source,
        }
    })?;
    Ok(listener)
}

impl RunningDaemon {
    /// Where the agent API listens (the port actually bound).
    pub fn agent_addr(&self) -> SocketAddr {
        self.agent_addr
    }

    /// Where the Stripe proxy listens, when configured.
    pub fn stripe_addr(&self) -> Option<SocketAddr> {
        self.stripe_addr
    }

    pub fn admin_socket_path(&self) -> &Path {
        &self.admin_socket_path
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The principal's controls, in process (what the admin API calls).
    pub fn console(&self) -> &Console<Database> {
        &self.console
    }

    pub fn events(&self) -> &EventBus {
        self.console.events()
    }

    pub fn store(&self) -> &Database {
        self.console.store()
    }

    /// A handle that starts the graceful shutdown from anywhere (a signal handler, the
    /// desktop app's quit). Follow it with [`RunningDaemon::shutdown`].
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Resolves once shutdown was asked for through a [`ShutdownHandle`].
    pub async fn shutdown_requested(&self) {
        let mut listener: Shutdown = self.shutdown.listener();
        listener.recv().await;
    }

    /// Stops gracefully (see the module documentation); returns when done.
    pub async fn shutdown(mut self) {
        tracing::info!("stopping: no new connections; releasing waiting agents");
        self.shutdown.trigger();
        self.waiters.release_all();
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for (name, mut task) in std::mem::take(&mut self.tasks) {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(task = name, %error, "task failed"),
                Err(_) => {
                    tracing::warn!(
                        task = name,
                        "requests still running after {SHUTDOWN_GRACE:?}; cut off"
                    );
                    task.abort();
                }
            }
        }
        if let Err(error) = std::fs::remove_file(&self.admin_socket_path) {
            tracing::warn!(%error, "cannot remove the admin socket");
        }
        if let Some(lock) = self.lock.take() {
            lock.release();
        }
        tracing::info!("stopped");
    }
}

impl Drop for RunningDaemon {
    fn drop(&mut self) {
        // Without an explicit shutdown, at least stop the tasks.
        self.shutdown.trigger();
        self.waiters.release_all();
    }
}

/// `purser serve`: logs to stderr (filter `PURSER_LOG`, default `info`), starts the
/// daemon with the system clock, prints one line to stdout once both APIs answer
/// (`purser: listening on http://ADDR (data dir DIR)`), and runs until SIGINT or
/// SIGTERM. A [`StartError`] inside the error says why it did not start.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    serve_with(config, |_| ()).await
}

/// [`serve`], with `companion` started beside the running daemon before it says it
/// listens (e.g. desktop notifications) and dropped after it stopped.
pub async fn serve_with<T>(
    config: ServeConfig,
    companion: impl FnOnce(&RunningDaemon) -> T,
) -> anyhow::Result<()> {
    crate::logging::init();
    let mut signals = Signals::new()?;
    let daemon = Daemon::start(config, Arc::new(SystemClock)).await?;
    let companion = companion(&daemon);
    {
        let mut stdout = std::io::stdout().lock();
        if let Some(addr) = daemon.stripe_addr() {
            // Before the ready line: whoever waits for that line can read this one.
            writeln!(stdout, "purser: stripe proxy listening on http://{addr}")
                .map_err(|error| anyhow::anyhow!("cannot write to standard output: {error}"))?;
        }
        writeln!(
            stdout,
            "purser: listening on http://{} (data dir {})",
            daemon.agent_addr(),
            daemon.data_dir().display()
        )
        .and_then(|()| stdout.flush())
        .map_err(|error| anyhow::anyhow!("cannot write to standard output: {error}"))?;
    }
    tokio::select! {
        signal = signals.recv() => tracing::info!(signal, "asked to stop"),
        () = daemon.shutdown_requested() => {}
    }
    daemon.shutdown().await;
    drop(companion);
    Ok(())
}

/// SIGINT and SIGTERM, registered before the daemon starts so none is missed.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let cannot = |error| anyhow::anyhow!("cannot listen for signals: {error}");
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).map_err(cannot)?,
            terminate: signal(SignalKind::terminate()).map_err(cannot)?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
