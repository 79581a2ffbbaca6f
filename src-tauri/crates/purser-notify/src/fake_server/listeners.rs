//! Who on the fake server's private bus can hear a click, read from the bus's monitor
//! stream, so that the fake principal never clicks before the client that showed a
//! notification listens (a human cannot click that fast; a test can, and the click is
//! then lost).
//!
//! It owns, per connection that showed a notification or asked for the notification
//! server's signals: the match rules it added (`AddMatch`) and has not removed
//! (`RemoveMatch`), and whether it has left the bus (`NameOwnerChanged`). The monitor sees
//! these in the order the bus daemon handled them, and sees an `AddMatch` only once the
//! daemon has installed the rule, so a signal emitted after [`Listeners::hears`] said
//! [`Hearing::Listens`] is routed to that client.
//!
//! What it must not do: decide when to click (that is
//! [`super::FakeNotificationServer::invoke_action`]), or grow without bound: it keeps
//! only connections that touched the notification server (a test's worth) and at most
//! [`MAX_RULES_PER_CONNECTION`] distinct rules each.

use std::collections::HashMap;
use std::time::Instant;

use zbus::MatchRule;
use zbus::message::{Message, Type};

const DBUS: &str = "org.freedesktop.DBus";
const NOTIFICATIONS: &str = "org.freedesktop.Notifications";
/// The signals a click sends.
const CLICK_SIGNALS: [&str; 2] = ["ActionInvoked", "NotificationClosed"];

/// More distinct notification rules than any client adds (notify-rust adds two).
pub(super) const MAX_RULES_PER_CONNECTION: usize = 32;

/// Whether a connection would receive a click now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hearing {
    /// A rule of its matches every signal of the click; `since` is when it last
    /// subscribed (its last `AddMatch` for a notification signal).
    Listens { since: Instant },
    /// It left the bus: nobody will ever hear the click.
    Gone,
    /// Not (yet) subscribed to every signal of the click.
    Deaf,
}

/// One connection that touched the notification server.
#[derive(Debug, Default)]
struct Client {
    /// Its rules that can match a notification signal, with how many times each was added
    /// (the bus counts them the same way: a rule goes with its last `RemoveMatch`).
    rules: HashMap<MatchRule<'static>, u32>,
    /// When the monitor saw its last `AddMatch` for a notification signal.
    subscribed_at: Option<Instant>,
    gone: bool,
}

/// What the monitor has seen, by unique name.
#[derive(Debug, Default)]
pub(super) struct Listeners {
    clients: HashMap<String, Client>,
}

impl Listeners {
    /// What the monitor connection asks the bus for: the messages [`Listeners::observe`]
    /// reads.
    pub(super) fn monitor_rules() -> zbus::Result<Vec<MatchRule<'static>>> {
        let method = |interface: &'static str, member: &'static str| {
            MatchRule::builder()
                .msg_type(Type::MethodCall)
                .interface(interface)
                .member(member)
                .build()
        };
        Ok(vec![
            method(NOTIFICATIONS, "Notify")?,
            method(DBUS, "AddMatch")?,
            method(DBUS, "RemoveMatch")?,
            MatchRule::builder()
                .msg_type(Type::Signal)
                .sender(DBUS)
                .interface(DBUS)
                .member("NameOwnerChanged")
                .build()?,
        ])
    }

    /// Takes in one monitored message, seen `at`; anything else than
    /// [`Listeners::monitor_rules`] asks for is ignored.
    pub(super) fn observe(&mut self, message: &Message, at: Instant) {
        let header = message.header();
        let Some(sender) = header.sender().map(ToString::to_string) else {
            return;
        };
        let interface = header.interface().map(|name| name.as_str());
        let member = header.member().map(|name| name.as_str());
        match (header.message_type(), interface, member) {
            (Type::MethodCall, Some(NOTIFICATIONS), Some("Notify")) => {
                self.clients.entry(sender).or_default();
            }
            (Type::MethodCall, Some(DBUS), Some("AddMatch")) => {
                if let Some(rule) = notification_rule(message) {
                    let client = self.clients.entry(sender).or_default();
                    let known = client.rules.contains_key(&rule);
                    if known || client.rules.len() < MAX_RULES_PER_CONNECTION {
                        *client.rules.entry(rule).or_default() += 1;
                        client.subscribed_at = Some(at);
                    }
                }
            }
            (Type::MethodCall, Some(DBUS), Some("RemoveMatch")) => {
                if let (Some(rule), Some(client)) =
                    (notification_rule(message), self.clients.get_mut(&sender))
                {
                    if let Some(count) = client.rules.get_mut(&rule) {
                        *count = count.saturating_sub(1);
                        if *count == 0 {
                            client.rules.remove(&rule);
                        }
                    }
                }
            }
            (Type::Signal, Some(DBUS), Some("NameOwnerChanged")) if sender == DBUS => {
                let Ok((name, _old_owner, new_owner)) =
                    message.body().deserialize::<(String, String, String)>()
                else {
                    return;
                };
                if let (true, Some(client)) = (new_owner.is_empty(), self.clients.get_mut(&name)) {
                    client.gone = true;
                    client.rules.clear();
                }
            }
            _ => {}
        }
    }

    /// Whether `sender` would receive every one of `click`'s signals now.
    pub(super) fn hears(&self, sender: &str, click: &[Message]) -> Hearing {
        let Some(client) = self.clients.get(sender) else {
            return Hearing::Deaf;
        };
        if client.gone {
            return Hearing::Gone;
        }
        let heard = |signal: &Message| {
            client
                .rules
                .keys()
                .any(|rule| rule.matches(signal).unwrap_or(false))
        };
        match client.subscribed_at {
            Some(since) if click.iter().all(heard) => Hearing::Listens { since },
            _ => Hearing::Deaf,
        }
    }
}

/// The rule an `AddMatch`/`RemoveMatch` carries, when it can match a signal of a click.
fn notification_rule(message: &Message) -> Option<MatchRule<'static>> {
    let body = message.body();
    let text: &str = body.deserialize().ok()?;
    let rule = MatchRule::try_from(text).ok()?.into_owned();
    let signals = matches!(rule.msg_type(), None | Some(Type::Signal));
    let interface = rule
        .interface()
        .is_none_or(|interface| interface.as_str() == NOTIFICATIONS);
    let member = rule
        .member()
        .is_none_or(|member| CLICK_SIGNALS.contains(&member.as_str()));
    (signals && interface && member).then_some(rule)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

    use std::time::Duration;

    use super::*;

    const CLIENT: &str = ":1.7";
    const SERVER: &str = ":1.1";
    const ACTION_INVOKED: &str =
        "type='signal',interface='org.freedesktop.Notifications',member='ActionInvoked'";
    const CLOSED: &str =
        "type='signal',interface='org.freedesktop.Notifications',member='NotificationClosed'";

    fn call(member: &str, interface: &str, body: &str) -> Message {
        Message::method_call("/org/freedesktop/DBus", member)
            .interface(interface)
            .sender(CLIENT)
            .destination(DBUS)
            .build(&body)
            .unwrap()
    }

    fn add_match(rule: &str) -> Message {
        call("AddMatch", DBUS, rule)
    }

    fn left(name: &str) -> Message {
        Message::signal("/org/freedesktop/DBus", DBUS, "NameOwnerChanged")
            .sender(DBUS)
            .build(&(name, name, ""))
            .unwrap()
    }

    fn click() -> [Message; 2] {
        let signal = |member: &'static str| {
            Message::signal("/org/freedesktop/Notifications", NOTIFICATIONS, member).sender(SERVER)
        };
        [
            signal("ActionInvoked").build(&(3_u32, "approve")).unwrap(),
            signal("NotificationClosed").build(&(3_u32, 2_u32)).unwrap(),
        ]
    }

    /// Feeds `messages` seen one millisecond apart from `start`.
    fn observe_all(listeners: &mut Listeners, start: Instant, messages: &[Message]) {
        for (n, message) in (0_u64..).zip(messages) {
            listeners.observe(message, start + Duration::from_millis(n));
        }
    }

    #[test]
    fn a_client_listens_once_it_asked_for_both_signals_of_a_click() {
        let start = Instant::now();
        let mut listeners = Listeners::default();
        assert_eq!(listeners.hears(CLIENT, &click()), Hearing::Deaf, "unknown");
        observe_all(&mut listeners, start, &[add_match(ACTION_INVOKED)]);
        assert_eq!(
            listeners.hears(CLIENT, &click()),
            Hearing::Deaf,
            "notify-rust reads only after its second rule: a click now would be lost"
        );
        listeners.observe(&add_match(CLOSED), start + Duration::from_millis(5));
        assert_eq!(
            listeners.hears(CLIENT, &click()),
            Hearing::Listens {
                since: start + Duration::from_millis(5)
            },
            "since its last subscription"
        );
        assert_eq!(
            listeners.hears(":1.8", &click()),
            Hearing::Deaf,
            "per client"
        );
    }

    #[test]
    fn one_broad_rule_covers_the_whole_click() {
        let start = Instant::now();
        let mut listeners = Listeners::default();
        let broad = add_match("type='signal',sender='org.freedesktop.Notifications'");
        observe_all(&mut listeners, start, &[broad]);
        assert_eq!(
            listeners.hears(CLIENT, &click()),
            Hearing::Listens { since: start }
        );
    }

    #[test]
    fn unrelated_or_narrower_rules_do_not_count() {
        let mut listeners = Listeners::default();
        let rules = [
            add_match("type='signal',interface='org.freedesktop.DBus',member='NameOwnerChanged'"),
            add_match(&format!("{ACTION_INVOKED},arg1='deny'")),
            add_match(CLOSED),
        ];
        observe_all(&mut listeners, Instant::now(), &rules);
        assert_eq!(
            listeners.hears(CLIENT, &click()),
            Hearing::Deaf,
            "only Deny clicks would reach it"
        );
    }

    #[test]
    fn a_rule_counts_until_its_last_remove_match() {
        let start = Instant::now();
        let mut listeners = Listeners::default();
        let rules = [
            add_match(ACTION_INVOKED),
            add_match(ACTION_INVOKED),
            add_match(CLOSED),
            call("RemoveMatch", DBUS, ACTION_INVOKED),
        ];
        observe_all(&mut listeners, start, &rules);
        assert_eq!(
            listeners.hears(CLIENT, &click()),
            Hearing::Listens {
                since: start + Duration::from_millis(2)
            }
        );
        let last = call("RemoveMatch", DBUS, ACTION_INVOKED);
        observe_all(&mut listeners, start, &[last]);
        assert_eq!(listeners.hears(CLIENT, &click()), Hearing::Deaf);
    }

    #[test]
    fn a_client_that_left_is_gone_and_others_leaving_are_not_kept() {
        let mut listeners = Listeners::default();
        let start = Instant::now();
        let shown = call("Notify", NOTIFICATIONS, "ignored body");
        observe_all(&mut listeners, start, &[shown, left(":1.99")]);
        assert_eq!(listeners.hears(CLIENT, &click()), Hearing::Deaf);
        observe_all(&mut listeners, start, &[left(CLIENT)]);
        assert_eq!(listeners.hears(CLIENT, &click()), Hearing::Gone);
        assert_eq!(listeners.clients.len(), 1, "{:?}", listeners.clients);
    }

    #[test]
    fn rules_per_client_are_bounded() {
        let mut listeners = Listeners::default();
        let rules: Vec<Message> = (0..MAX_RULES_PER_CONNECTION + 10)
            .map(|i| add_match(&format!("{ACTION_INVOKED},arg1='key{i}'")))
            .chain([add_match(ACTION_INVOKED)])
            .collect();
        observe_all(&mut listeners, Instant::now(), &rules);
        let rules = &listeners.clients[CLIENT].rules;
        assert_eq!(rules.len(), MAX_RULES_PER_CONNECTION);
    }
}
