//! A fake freedesktop notification server on a private session bus, for the system tests
//! and the notification benchmark (feature `fake-server`; never in the product).
//!
//! [`FakeNotificationServer::start`] runs its own `dbus-daemon` (a private config: no
//! service activation, so no real notification daemon of the machine can answer) and owns
//! `org.freedesktop.Notifications` on it: it records every `Notify` and
//! `CloseNotification`, and can play the principal by emitting `ActionInvoked` and
//! `NotificationClosed`. [`FakeNotificationServer::bus_only`] is the same bus with no
//! notification server, for "nothing hangs without one". Its API is blocking (it owns a
//! small tokio runtime), so plain `#[test]`s can drive it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use zbus::OwnedVariant;
use zbus::object_server::SignalEmitter;

const PATH: &str = "/org/freedesktop/Notifications";
const NAME: &str = "org.freedesktop.Notifications";

/// One `Notify` call as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyCall {
    /// The id the server answered (the replaced one when `replaces_id` was set).
    pub id: u32,
    pub app_name: String,
    pub replaces_id: u32,
    pub summary: String,
    pub body: String,
    /// (key, label) pairs.
    pub actions: Vec<(String, String)>,
    pub expire_timeout: i32,
    /// When it arrived.
    pub at: Instant,
}

/// What the fake server saw.
#[derive(Debug, Default)]
struct Log {
    calls: Vec<NotifyCall>,
    closed: Vec<u32>,
    next_id: u32,
}

/// Errors starting the private bus or the server.
#[derive(Debug, thiserror::Error)]
pub enum FakeServerError {
    #[error("cannot start dbus-daemon (install the `dbus-daemon` package): {0}")]
    Bus(String),
    #[error("D-Bus: {0}")]
    Dbus(#[from] zbus::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

struct Notifications {
    log: Arc<Mutex<Log>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[expect(
        clippy::too_many_arguments,
        reason = "the freedesktop Notify signature"
    )]
    async fn notify(
        &self,
        app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedVariant>,
        expire_timeout: i32,
    ) -> u32 {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let id = if replaces_id != 0 {
            replaces_id
        } else {
            log.next_id += 1;
            log.next_id
        };
        let actions = actions
            .chunks(2)
            .map(|pair| {
                (
                    pair.first().cloned().unwrap_or_default(),
                    pair.get(1).cloned().unwrap_or_default(),
                )
            })
            .collect();
        log.calls.push(NotifyCall {
            id,
            app_name,
            replaces_id,
            summary,
            body,
            actions,
            expire_timeout,
            at: Instant::now(),
        });
        id
    }

    async fn close_notification(
        &self,
        id: u32,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> zbus::fdo::Result<()> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed
            .push(id);
        Notifications::notification_closed(&emitter, id, 3).await?;
        Ok(())
    }

    async fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into(), "persistence".into()]
    }

    async fn get_server_information(&self) -> (String, String, String, String) {
        (
            "purser-fake".into(),
            "purser".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn notification_closed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;
}

/// A private session bus, with or without the fake notification server on it.
#[derive(Debug)]
pub struct FakeNotificationServer {
    runtime: tokio::runtime::Runtime,
    bus: Child,
    address: String,
    connection: Option<zbus::Connection>,
    log: Arc<Mutex<Log>>,
    _dir: TempDir,
}

impl FakeNotificationServer {
    /// A private bus with the fake server owning `org.freedesktop.Notifications`.
    pub fn start() -> Result<FakeNotificationServer, FakeServerError> {
        let mut server = FakeNotificationServer::bus_only()?;
        let notifications = Notifications {
            log: Arc::clone(&server.log),
        };
        let connection = server.runtime.block_on(
            zbus::connection::Builder::address(server.address.as_str())
                .serve_at(PATH, notifications)
                .name(NAME)
                .build(),
        )?;
        server.connection = Some(connection);
        Ok(server)
    }

    /// A private bus on which nobody serves notifications.
    pub fn bus_only() -> Result<FakeNotificationServer, FakeServerError> {
        let dir = tempfile::Builder::new().prefix("purser-dbus-").tempdir()?;
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <!-- The limits of a desktop session bus (dbus' own session.conf). -->
  <limit name="max_connections_per_user">100000</limit>
  <limit name="max_incoming_unix_fds">250000000</limit>
  <limit name="max_outgoing_unix_fds">250000000</limit>
  <limit name="max_match_rules_per_connection">50000</limit>
  <limit name="max_replies_per_connection">50000</limit>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )?;
        let mut bus = Command::new("dbus-daemon")
            .arg("--nofork")
            .arg("--print-address")
            .arg(format!("--config-file={}", config.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| FakeServerError::Bus(error.to_string()))?;
        let stdout = bus
            .stdout
            .take()
            .ok_or_else(|| FakeServerError::Bus("no stdout".into()))?;
        let mut address = String::new();
        BufReader::new(stdout).read_line(&mut address)?;
        let address = address.trim().to_owned();
        if address.is_empty() {
            let _ = bus.kill();
            return Err(FakeServerError::Bus(
                "dbus-daemon printed no address".into(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        Ok(FakeNotificationServer {
            runtime,
            bus,
            address,
            connection: None,
            log: Arc::new(Mutex::new(Log::default())),
            _dir: dir,
        })
    }

    /// The bus's address: `DBUS_SESSION_BUS_ADDRESS` for the daemon under test.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Every `Notify` so far, in order.
    pub fn calls(&self) -> Vec<NotifyCall> {
        self.log().calls.clone()
    }

    /// The ids closed by `CloseNotification`, in order.
    pub fn closed(&self) -> Vec<u32> {
        self.log().closed.clone()
    }

    /// Waits until at least `count` `Notify` calls arrived; all of them.
    pub fn wait_for_calls(&self, count: usize, timeout: Duration) -> Option<Vec<NotifyCall>> {
        self.wait(timeout, |log| {
            (log.calls.len() >= count).then(|| log.calls.clone())
        })
    }

    /// Waits for the first `Notify` whose summary contains `text`.
    pub fn wait_for_summary(&self, text: &str, timeout: Duration) -> Option<NotifyCall> {
        self.wait(timeout, |log| {
            log.calls.iter().find(|c| c.summary.contains(text)).cloned()
        })
    }

    /// Waits until notification `id` was closed by its sender.
    pub fn wait_for_closed(&self, id: u32, timeout: Duration) -> bool {
        self.wait(timeout, |log| log.closed.contains(&id).then_some(()))
            .is_some()
    }

    /// The principal clicks `action_key` on notification `id` (the server then closes
    /// it, as real servers do).
    pub fn invoke_action(&self, id: u32, action_key: &str) -> Result<(), FakeServerError> {
        self.runtime.block_on(async {
            let emitter = self.emitter().await?;
            Notifications::action_invoked(&emitter, id, action_key).await?;
            Notifications::notification_closed(&emitter, id, 2).await?;
            Ok(())
        })
    }

    async fn emitter(&self) -> Result<SignalEmitter<'static>, FakeServerError> {
        let connection = self
            .connection
            .as_ref()
            .ok_or_else(|| FakeServerError::Bus("no notification server on this bus".into()))?;
        let interface = connection
            .object_server()
            .interface::<_, Notifications>(PATH)
            .await?;
        Ok(interface.signal_emitter().clone())
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<T>(&self, timeout: Duration, mut found: impl FnMut(&Log) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = found(&self.log()) {
                return Some(value);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for FakeNotificationServer {
    fn drop(&mut self) {
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}
