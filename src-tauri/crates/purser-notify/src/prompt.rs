//! What a notification says: [`PendingRequest`] is the part of a `pending` event the
//! principal needs to decide (who, how much, where, why, which rule asked), and
//! [`Prompt`] is its notification: a summary line, a body, and the actions.
//!
//! Pure: no D-Bus here, so the wording is tested on its own.

use serde::Deserialize;

/// Action keys on the bus (the labels are what the principal reads).
pub mod action {
    pub const APPROVE: &str = "approve";
    pub const DENY: &str = "deny";
    pub const OPEN: &str = "open";
    /// A click on the notification itself, where the server supports it.
    pub const DEFAULT: &str = "default";
}

/// A request waiting for the principal, read from a `pending` event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PendingRequest {
    pub id: String,
    pub agent: String,
    pub amount: String,
    pub currency: String,
    pub merchant: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub reasons: Vec<ReasonText>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// One rule that spoke.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReasonText {
    pub code: String,
    pub message: String,
}

/// One notification's text and actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub summary: String,
    pub body: String,
    /// (key, label) pairs, in the order shown.
    pub actions: Vec<(&'static str, &'static str)>,
}

impl PendingRequest {
    /// Reads a `pending` event's JSON.
    pub fn from_event(data: &str) -> Result<PendingRequest, serde_json::Error> {
        serde_json::from_str(data)
    }

    /// "research-bot wants 42.00 USD at api.example.com"
    pub fn headline(&self) -> String {
        format!(
            "{} wants {} {} at {}",
            self.agent, self.amount, self.currency, self.merchant
        )
    }

    /// The notification asking the principal; `Open` only when a console can be opened.
    pub fn prompt(&self, can_open: bool) -> Prompt {
        let mut body = escape(&self.purpose);
        if let Some(rule) = self.reasons.first() {
            body.push_str("\nAsked by: ");
            body.push_str(&escape(&rule.message));
        }
        if let Some(expires_at) = &self.expires_at {
            body.push_str("\nDenied unless answered by ");
            body.push_str(&escape(&local_time(expires_at)));
        }
        let mut actions = vec![(action::APPROVE, "Approve"), (action::DENY, "Deny")];
        if can_open {
            actions.push((action::OPEN, "Open"));
            actions.push((action::DEFAULT, "Open"));
        }
        Prompt {
            summary: self.headline(),
            body,
            actions,
        }
    }
}

/// The summary that replaces a storm: "5 requests waiting".
pub fn summary_prompt(waiting: usize, can_open: bool) -> Prompt {
    let summary = if waiting == 1 {
        "1 request waiting".to_owned()
    } else {
        format!("{waiting} requests waiting")
    };
    let mut actions = Vec::new();
    if can_open {
        actions.push((action::OPEN, "Open inbox"));
        actions.push((action::DEFAULT, "Open inbox"));
    }
    Prompt {
        summary,
        body: "Agents are asking to spend faster than one prompt each: review them in the \
               Purser inbox (or `purser approvals`)."
            .to_owned(),
        actions,
    }
}

/// A short notice without actions (kill switch confirmed, a stale click...).
pub fn notice(summary: impl Into<String>, body: impl Into<String>) -> Prompt {
    Prompt {
        summary: summary.into(),
        body: escape(&body.into()),
        actions: Vec::new(),
    }
}

/// "14:28" in the principal's time zone (the RFC 3339 text itself if it cannot be read).
fn local_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_owned(),
        |at| at.with_timezone(&chrono::Local).format("%H:%M").to_string(),
    )
}

/// Servers that support body markup read `<`, `>` and `&` as markup: an agent's purpose
/// must show as text, never as markup (or a fake link).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> PendingRequest {
        PendingRequest::from_event(
            r#"{"id":"auth_1","request_id":"r1","agent":"research-bot","status":"pending",
                "amount":"42.00","currency":"USD","merchant":"api.example.com",
                "purpose":"Buy <b>credits</b> & more",
                "reason":{"code":"over_approval_threshold","message":"42.00 USD is over the approval threshold of 25.00 USD"},
                "reasons":[{"code":"over_approval_threshold","message":"42.00 USD is over the approval threshold of 25.00 USD"}],
                "expires_at":"2026-11-26T14:10:00Z","policy_version":3}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_prompt_says_who_how_much_where_why_and_which_rule() {
        let prompt = pending().prompt(true);
        assert_eq!(
            prompt.summary,
            "research-bot wants 42.00 USD at api.example.com"
        );
        assert_eq!(
            prompt.body,
            format!(
                "Buy &lt;b&gt;credits&lt;/b&gt; &amp; more\n\
                 Asked by: 42.00 USD is over the approval threshold of 25.00 USD\n\
                 Denied unless answered by {}",
                chrono::DateTime::parse_from_rfc3339("2026-11-26T14:10:00Z")
                    .unwrap()
                    .with_timezone(&chrono::Local)
                    .format("%H:%M")
            )
        );
        assert_eq!(local_time("not a time"), "not a time");
        assert_eq!(
            prompt.actions,
            vec![
                ("approve", "Approve"),
                ("deny", "Deny"),
                ("open", "Open"),
                ("default", "Open")
            ]
        );
    }

    #[test]
    fn without_a_console_there_is_nothing_to_open() {
        let prompt = pending().prompt(false);
        assert_eq!(
            prompt.actions,
            vec![("approve", "Approve"), ("deny", "Deny")]
        );
        assert!(summary_prompt(5, false).actions.is_empty());
    }

    #[test]
    fn the_summary_counts_what_waits() {
        assert_eq!(summary_prompt(5, true).summary, "5 requests waiting");
        assert_eq!(summary_prompt(1, true).summary, "1 request waiting");
    }
}
