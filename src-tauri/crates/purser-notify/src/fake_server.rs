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
//!
//! The principal it plays clicks like a human: never before the client that showed the
//! notification can hear the click. A client shows a notification (`Notify`) and only
//! then subscribes to the click's signals (notify-rust: `AddMatch` for `ActionInvoked`,
//! then for `NotificationClosed`, then it reads), so a test that clicks as soon as the
//! notification arrived could emit the signals before the bus routes them to that client,
//! and the click was lost. A second connection is therefore a bus monitor
//! ([`listeners`]), and [`FakeNotificationServer::invoke_action`] waits, at most
//! [`LISTEN_TIMEOUT`], until a rule of that client matches both signals (or it left the
//! bus), and fails with [`FakeServerError::NotListening`] rather than click into the void.
//! Once the client listens it still clicks no sooner than [`REACTION_TIME`] after that
//! subscription: the last step of a notify-rust client (it starts reading only once its
//! last `AddMatch` was answered) happens inside the client, where no bus message shows it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use zbus::export::futures_core::Stream;
use zbus::message::{Header, Message};
use zbus::object_server::SignalEmitter;
use zbus::{MessageStream, OwnedVariant};

mod listeners;

use listeners::{Hearing, Listeners};

const PATH: &str = "/org/freedesktop/Notifications";
const NAME: &str = "org.freedesktop.Notifications";

/// How long [`FakeNotificationServer::invoke_action`] waits for the notification's
/// client to listen: far longer than a client takes to subscribe, even on a loaded
/// machine.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The fastest the fake principal clicks after the client subscribed (a human needs more
/// than twice as long to even see the notification). It covers what no server can see:
/// notify-rust 4 starts reading its connection only after the bus answered its last
/// `AddMatch`, and a signal that reaches the connection before that is dropped. Measured
/// on 2 loaded cores (200 clicks a run, right after each subscription): 0 ms lost a click
/// in every run, 5 ms in 2 runs of 6, 20 ms and 50 ms in none.
pub const REACTION_TIME: Duration = Duration::from_millis(100);

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
    /// Who sent the latest `Notify` for each id (its unique name).
    senders: HashMap<u32, String>,
    /// Who listens for the click's signals, from the bus monitor.
    listeners: Listeners,
}

/// The log, and a wake-up for those waiting on it: every change notifies `changed`.
#[derive(Debug, Default)]
struct Shared {
    log: Mutex<Log>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, change: impl FnOnce(&mut Log)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }

    /// Waits until `found` finds something, at most `timeout`.
    fn wait<T>(&self, timeout: Duration, mut found: impl FnMut(&Log) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut log = self.lock();
        loop {
            if let Some(value) = found(&log) {
                return Some(value);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            log = self
                .changed
                .wait_timeout(log, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Errors starting the private bus or the server, and clicks that would be lost.
#[derive(Debug, thiserror::Error)]
pub enum FakeServerError {
    #[error("cannot start dbus-daemon (install the `dbus-daemon` package): {0}")]
    Bus(String),
    #[error("D-Bus: {0}")]
    Dbus(#[from] zbus::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(
        "notification {id}'s client ({sender}) did not subscribe to ActionInvoked and \
         NotificationClosed within {timeout_ms} ms, so a click now would be lost: does it wait \
         for the click (notify-rust: wait_for_action)?"
    )]
    NotListening {
        id: u32,
        sender: String,
        timeout_ms: u128,
    },
}

struct Notifications {
    shared: Arc<Shared>,
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
        #[zbus(header)] header: Header<'_>,
    ) -> u32 {
        let at = Instant::now();
        let actions = actions
            .chunks(2)
            .map(|pair| {
                (
                    pair.first().cloned().unwrap_or_default(),
                    pair.get(1).cloned().unwrap_or_default(),
                )
            })
            .collect();
        let mut id = replaces_id;
        self.shared.update(|log| {
            if id == 0 {
                log.next_id += 1;
                id = log.next_id;
            }
            if let Some(sender) = header.sender() {
                log.senders.insert(id, sender.to_string());
            }
            log.calls.push(NotifyCall {
                id,
                app_name,
                replaces_id,
                summary,
                body,
                actions,
                expire_timeout,
                at,
            });
        });
        id
    }

    async fn close_notification(
        &self,
        id: u32,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> zbus::fdo::Result<()> {
        self.shared.update(|log| log.closed.push(id));
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
    /// The bus monitor feeding [`Log::listeners`] (with `connection`).
    _monitor: Option<zbus::Connection>,
    shared: Arc<Shared>,
    _dir: TempDir,
}

impl FakeNotificationServer {
    /// A private bus with the fake server owning `org.freedesktop.Notifications`.
    pub fn start() -> Result<FakeNotificationServer, FakeServerError> {
        let mut server = FakeNotificationServer::bus_only()?;
        // INVARIANT: the monitor is up before anyone can reach the notification server, so
        // it sees every client's `Notify` and subscriptions.
        let monitor = server.runtime.block_on(async {
            let connection = zbus::connection::Builder::address(server.address.as_str())
                .build()
                .await?;
            let stream = MessageStream::from(&connection);
            zbus::fdo::MonitoringProxy::new(&connection)
                .await?
                .become_monitor(&Listeners::monitor_rules()?, 0)
                .await?;
            Ok::<_, zbus::Error>((connection, stream))
        })?;
        let (monitor, stream) = monitor;
        server
            .runtime
            .spawn(follow_monitor(stream, Arc::clone(&server.shared)));
        server._monitor = Some(monitor);
        let notifications = Notifications {
            shared: Arc::clone(&server.shared),
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
            _monitor: None,
            shared: Arc::new(Shared::default()),
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
    ///
    /// Like a human, it clicks only once the client that sent the latest `Notify` for `id`
    /// would receive the click: it waits (at most [`LISTEN_TIMEOUT`]) until one of that
    /// client's match rules matches `ActionInvoked` and one matches `NotificationClosed`,
    /// and until [`REACTION_TIME`] has passed since that client last subscribed.
    /// A client that left the bus, or an id never shown, is clicked at once (nobody to
    /// wait for, as on a real desktop); one still on the bus but not listening after
    /// [`LISTEN_TIMEOUT`] is not clicked: [`FakeServerError::NotListening`].
    pub fn invoke_action(&self, id: u32, action_key: &str) -> Result<(), FakeServerError> {
        let connection = self.server_connection()?;
        let sender = connection
            .unique_name()
            .ok_or_else(|| {
                FakeServerError::Bus("the notification server has no unique name".into())
            })?
            .to_string();
        let click = [
            click_signal(&sender, "ActionInvoked", &(id, action_key))?,
            click_signal(&sender, "NotificationClosed", &(id, 2_u32))?,
        ];
        if let Some(since) = self.wait_until_heard(id, &click)? {
            let ready = since + REACTION_TIME;
            std::thread::sleep(ready.saturating_duration_since(Instant::now()));
        }
        self.runtime.block_on(async {
            let emitter = self.emitter(connection).await?;
            Notifications::action_invoked(&emitter, id, action_key).await?;
            Notifications::notification_closed(&emitter, id, 2).await?;
            Ok(())
        })
    }

    /// Waits until the client that showed `id` would receive `click` (then: since when it
    /// listens), or left the bus.
    fn wait_until_heard(
        &self,
        id: u32,
        click: &[Message],
    ) -> Result<Option<Instant>, FakeServerError> {
        let mut client = None;
        let heard = self.shared.wait(LISTEN_TIMEOUT, |log| {
            let Some(sender) = log.senders.get(&id) else {
                return Some(None);
            };
            client = Some(sender.clone());
            match log.listeners.hears(sender, click) {
                Hearing::Listens { since } => Some(Some(since)),
                Hearing::Gone => Some(None),
                Hearing::Deaf => None,
            }
        });
        match (heard, client) {
            (Some(since), _) => Ok(since),
            (None, None) => Ok(None),
            (None, Some(sender)) => Err(FakeServerError::NotListening {
                id,
                sender,
                timeout_ms: LISTEN_TIMEOUT.as_millis(),
            }),
        }
    }

    fn server_connection(&self) -> Result<&zbus::Connection, FakeServerError> {
        self.connection
            .as_ref()
            .ok_or_else(|| FakeServerError::Bus("no notification server on this bus".into()))
    }

    async fn emitter(
        &self,
        connection: &zbus::Connection,
    ) -> Result<SignalEmitter<'static>, FakeServerError> {
        let interface = connection
            .object_server()
            .interface::<_, Notifications>(PATH)
            .await?;
        Ok(interface.signal_emitter().clone())
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.shared.lock()
    }

    fn wait<T>(&self, timeout: Duration, found: impl FnMut(&Log) -> Option<T>) -> Option<T> {
        self.shared.wait(timeout, found)
    }
}

/// One signal of a click, as the bus will deliver it (for matching clients' rules).
fn click_signal<B>(sender: &str, member: &str, body: &B) -> Result<Message, FakeServerError>
where
    B: serde::Serialize + zbus::DynamicType,
{
    Ok(Message::signal(PATH, NAME, member)
        .sender(sender)
        .build(body)?)
}

/// Feeds the bus monitor's messages to [`Log::listeners`] until the bus goes away.
async fn follow_monitor(mut stream: MessageStream, shared: Arc<Shared>) {
    while let Some(message) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        match message {
            Ok(message) => {
                let at = Instant::now();
                shared.update(|log| log.listeners.observe(&message, at));
            }
            Err(error) => tracing::debug!(%error, "an unreadable message on the bus monitor"),
        }
    }
}

impl Drop for FakeNotificationServer {
    fn drop(&mut self) {
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}
