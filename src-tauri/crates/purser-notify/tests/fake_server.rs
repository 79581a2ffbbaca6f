//! The fake notification server clicks like a human: never before the client that showed
//! the notification can hear it. The clients here speak raw zbus in the exact order
//! notify-rust 4 does (`Notify`; then `AddMatch` for `ActionInvoked`, then for
//! `NotificationClosed`; only then read the connection's messages), which is the order
//! that lost clicks when the server clicked as soon as `Notify` arrived.

#![cfg(feature = "fake-server")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failed step is a failed test"
)]

use std::collections::HashMap;
use std::pin::Pin;
use std::time::{Duration, Instant};

use purser_notify::fake_server::{
    FakeNotificationServer, FakeServerError, LISTEN_TIMEOUT, REACTION_TIME,
};
use zbus::export::futures_core::Stream;
use zbus::message::Type;
use zbus::{MatchRule, MessageStream};

const NAME: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
/// Bounds every wait of a client, so a lost click fails the test instead of hanging it.
const HEARD: Duration = Duration::from_secs(15);

fn client_runtime() -> tokio::runtime::Runtime {
    // Multi-threaded like the product's: the connection's reader and the task that
    // subscribes run in parallel.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(server: &FakeNotificationServer) -> zbus::Connection {
    zbus::connection::Builder::address(server.address())
        .build()
        .await
        .unwrap()
}

/// Shows a prompt with Approve / Deny; its id.
async fn notify(connection: &zbus::Connection, summary: &str) -> u32 {
    let hints: HashMap<&str, zbus::OwnedVariant> = HashMap::new();
    connection
        .call_method(
            Some(NAME),
            PATH,
            Some(NAME),
            "Notify",
            &(
                "test",
                0_u32,
                "",
                summary,
                "body",
                vec!["approve", "Approve", "deny", "Deny"],
                hints,
                0_i32,
            ),
        )
        .await
        .unwrap()
        .body()
        .deserialize()
        .unwrap()
}

/// What the client heard for notification `id`.
#[derive(Debug, PartialEq, Eq)]
enum Heard {
    Action(String),
    Closed(u32),
}

/// Subscribes and waits for the click, as notify-rust's `wait_for_action` does.
async fn wait_for_action(connection: &zbus::Connection, id: u32) -> Heard {
    let dbus = zbus::fdo::DBusProxy::new(connection).await.unwrap();
    for member in ["ActionInvoked", "NotificationClosed"] {
        let rule = MatchRule::builder()
            .msg_type(Type::Signal)
            .interface(NAME)
            .member(member)
            .build()
            .unwrap();
        dbus.add_match_rule(rule).await.unwrap();
    }
    let mut stream = MessageStream::from(connection);
    let read = async {
        loop {
            let message = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx))
                .await
                .expect("the connection stays open")
                .unwrap();
            let header = message.header();
            if header.message_type() != Type::Signal {
                continue;
            }
            match header.member().map(|member| member.as_str()) {
                Some("ActionInvoked") => {
                    let (nid, key): (u32, String) = message.body().deserialize().unwrap();
                    if nid == id {
                        return Heard::Action(key);
                    }
                }
                Some("NotificationClosed") => {
                    let (nid, reason): (u32, u32) = message.body().deserialize().unwrap();
                    if nid == id {
                        return Heard::Closed(reason);
                    }
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(HEARD, read)
        .await
        .unwrap_or_else(|_| panic!("notification {id}: no click heard within {HEARD:?}"))
}

#[test]
fn a_click_waits_for_a_client_that_subscribes_late() {
    let server = FakeNotificationServer::start().unwrap();
    let runtime = client_runtime();
    let connection = runtime.block_on(connect(&server));
    let id = runtime.block_on(notify(&connection, "late"));
    // The client is slow to subscribe; the principal clicks at once.
    let subscribe_after = Duration::from_millis(500);
    let clicked = Instant::now();
    let listener = runtime.spawn(async move {
        tokio::time::sleep(subscribe_after).await;
        wait_for_action(&connection, id).await
    });
    server.invoke_action(id, "approve").unwrap();
    assert!(
        clicked.elapsed() >= subscribe_after + REACTION_TIME,
        "the click waited for the subscription, and a human's reaction after it ({:?})",
        clicked.elapsed()
    );
    assert_eq!(
        runtime.block_on(listener).unwrap(),
        Heard::Action("approve".into()),
        "the late subscriber heard the click"
    );
}

#[test]
fn clicks_right_after_notify_always_reach_the_client() {
    let server = FakeNotificationServer::start().unwrap();
    let runtime = client_runtime();
    for round in 0..100_u32 {
        let connection = runtime.block_on(connect(&server));
        let id = runtime.block_on(notify(&connection, &format!("round {round}")));
        let listener = runtime.spawn(async move { wait_for_action(&connection, id).await });
        // As the system tests do: click as soon as the notification arrived.
        let key = if round % 2 == 0 { "approve" } else { "deny" };
        server.invoke_action(id, key).unwrap();
        assert_eq!(
            runtime.block_on(listener).unwrap(),
            Heard::Action(key.into()),
            "round {round}"
        );
    }
}

#[test]
fn a_click_for_a_client_that_left_is_sent_at_once() {
    let server = FakeNotificationServer::start().unwrap();
    let runtime = client_runtime();
    let connection = runtime.block_on(connect(&server));
    let id = runtime.block_on(notify(&connection, "gone"));
    drop(connection);
    let clicked = Instant::now();
    server.invoke_action(id, "deny").unwrap();
    assert!(
        clicked.elapsed() < LISTEN_TIMEOUT / 2,
        "nobody to wait for, yet it waited {:?}",
        clicked.elapsed()
    );
}

#[test]
fn a_client_that_never_listens_is_not_clicked_and_the_error_says_why() {
    let server = FakeNotificationServer::start().unwrap();
    let runtime = client_runtime();
    let connection = runtime.block_on(connect(&server));
    let id = runtime.block_on(notify(&connection, "deaf"));
    let clicked = Instant::now();
    let error = server.invoke_action(id, "approve").unwrap_err();
    assert!(
        clicked.elapsed() >= LISTEN_TIMEOUT,
        "{:?}",
        clicked.elapsed()
    );
    assert!(
        matches!(&error, FakeServerError::NotListening { id: for_id, .. } if *for_id == id),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("did not subscribe to ActionInvoked"),
        "{error}"
    );
    drop(connection);
}
