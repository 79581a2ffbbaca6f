//! `purser watch`: the daemon's event stream (`GET /admin/events`), live, one line per
//! event, until Ctrl-C. `--json` prints each event as one JSON line
//! `{"event": KIND, "data": ...}` for scripts.
//!
//! The event payloads belong to the daemon; the human line picks the fields a principal
//! looks for (who, how much, where, what happened) and shows the rest only in `--json`.

use std::io::{self, Write};

use chrono::Utc;
use serde_json::{Value, json};
use tokio::signal::unix::{SignalKind, signal};

use crate::admin_client::{EventStream, ServerEvent};
use crate::commands::Context;
use crate::failure::Failure;
use crate::output::{self, clean};

pub async fn run(context: &Context) -> Result<(), Failure> {
    // Registered before anything is printed, so Ctrl-C always ends the watch cleanly.
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|error| Failure::failed(format!("cannot listen for Ctrl-C: {error}")))?;
    let bytes = context
        .client()?
        .stream("/admin/events", "text/event-stream")
        .await?;
    let mut events = EventStream::new(bytes);
    loop {
        let event = tokio::select! {
            _ = interrupt.recv() => return Ok(()),
            event = events.next() => event?,
        };
        let Some(event) = event else {
            return Err(Failure::failed(
                "the daemon closed the event stream (did it stop?)",
            ));
        };
        let line = if context.json {
            json_line(&event)
        } else {
            format!("{}  {}", Utc::now().format("%H:%M:%SZ"), human_line(&event))
        };
        let mut stdout = io::stdout().lock();
        if let Err(error) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
            // A reader that went away (`purser watch | head`) ends the watch.
            return output::finish(Err(error));
        }
    }
}

/// `{"event": KIND, "data": DATA}` on one line; data that is not JSON stays a string.
fn json_line(event: &ServerEvent) -> String {
    let data = serde_json::from_str::<Value>(&event.data)
        .unwrap_or_else(|_| Value::String(event.data.clone()));
    json!({ "event": event.kind, "data": data }).to_string()
}

/// `KIND  field field ...`: the event's kind, then what a principal looks for in it.
fn human_line(event: &ServerEvent) -> String {
    let kind = clean(&event.kind);
    let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
        return format!("{kind:<16}  {}", output::truncate(&event.data, 200));
    };
    // Events about one authorization may carry it whole under "authorization".
    let subject = data
        .get("authorization")
        .filter(|inner| inner.is_object())
        .unwrap_or(&data);
    let text = |key: &str| {
        subject
            .get(key)
            .or_else(|| data.get(key))
            .and_then(Value::as_str)
            .map(clean)
    };
    let mut parts: Vec<String> = Vec::new();
    parts.extend(text("id").or_else(|| text("authorization_id")));
    parts.extend(text("agent").or_else(|| text("name")));
    parts.extend(text("status"));
    if let Some(engaged) = data.get("engaged").and_then(Value::as_bool) {
        parts.push(if engaged { "engaged" } else { "lifted" }.to_owned());
    }
    if let Some(version) = data.get("version").and_then(Value::as_u64) {
        parts.push(format!("version {version}"));
    }
    parts.extend(text("action"));
    match (text("amount").or_else(|| text("cost")), text("currency")) {
        (Some(amount), Some(currency)) => parts.push(output::money(&amount, &currency)),
        (Some(amount), None) => parts.push(amount),
        (None, _) => {}
    }
    parts.extend(text("merchant"));
    let reason = subject
        .get("reason")
        .and_then(|reason| reason.get("code").or(Some(reason)))
        .and_then(Value::as_str);
    parts.extend(reason.map(|code| format!("({})", clean(code))));
    if let Some(purpose) = text("purpose") {
        parts.push(format!("\"{}\"", output::truncate(&purpose, 60)));
    }
    if parts.is_empty() {
        parts.push(output::truncate(&data.to_string(), 200));
    }
    format!("{kind:<16}  {}", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: &str) -> ServerEvent {
        ServerEvent {
            kind: kind.into(),
            data: data.into(),
        }
    }

    #[test]
    fn a_pending_request_shows_who_how_much_where_and_why() {
        let line = human_line(&event(
            "pending",
            r#"{"id":"auth_1","agent":"research-bot","status":"pending","amount":"40.00","currency":"USD",
               "merchant":"api.example.com","reason":{"code":"over_approval_threshold","message":"…"},
               "purpose":"Buy credits"}"#,
        ));
        assert_eq!(
            line,
            "pending           auth_1 research-bot pending 40.00 USD api.example.com (over_approval_threshold) \"Buy credits\""
        );
    }

    #[test]
    fn kill_switch_and_policy_events_say_what_changed() {
        assert_eq!(
            human_line(&event(
                "kill_switch",
                r#"{"engaged":true,"reason":"runaway"}"#
            )),
            "kill_switch       engaged (runaway)"
        );
        assert_eq!(
            human_line(&event("policy_applied", r#"{"version":3}"#)),
            "policy_applied    version 3"
        );
        assert_eq!(
            human_line(&event("other", r#"{"x":[1]}"#)),
            "other             {\"x\":[1]}"
        );
        assert_eq!(
            human_line(&event("other", "not json\u{1b}")),
            "other             not json\\u{1b}"
        );
    }

    #[test]
    fn json_lines_carry_the_kind_and_the_data() {
        let parsed = |line: String| serde_json::from_str::<Value>(&line).unwrap();
        assert_eq!(
            parsed(json_line(&event("decision", r#"{"id":"auth_1"}"#))),
            json!({"event": "decision", "data": {"id": "auth_1"}})
        );
        assert_eq!(
            parsed(json_line(&event("x", "plain"))),
            json!({"event": "x", "data": "plain"})
        );
        assert!(
            !json_line(&event("x", "{\"a\":\n1}")).contains('\n'),
            "one line per event"
        );
    }
}
