//! `purser approvals`, `purser approve ID [--for D|--session|--always]`, `purser deny ID`:
//! the principal's answers to requests that wait for a human.
//!
//! The daemon decides: an approval may still come back denied (a budget or the kill
//! switch refused it at decision time), which is a failure of the thing asked (exit 1).

use chrono::Utc;
use serde_json::{Value, json};

use purser_core::Timestamp;

use crate::admin_client::encode;
use crate::api::{self, Authorization};
use crate::args::{ApproveArgs, DenyArgs, Grant};
use crate::commands::Context;
use crate::failure::Failure;
use crate::output::{self, Table, clean};

/// The longest purpose shown in the approvals table; `--json` has all of it.
const PURPOSE_CHARS: usize = 48;

pub async fn list(context: &Context) -> Result<(), Failure> {
    let answer = context.client()?.get("/admin/approvals").await?;
    if context.json {
        return output::emit_json(&answer);
    }
    let pending: Vec<Authorization> = api::read(answer)?;
    output::emit(&render_approvals(&pending, Utc::now()))
}

fn render_approvals(pending: &[Authorization], now: Timestamp) -> String {
    if pending.is_empty() {
        return "no pending approvals\n".to_owned();
    }
    let mut table = Table::new(&["ID", "AGENT", "AMOUNT", "MERCHANT", "PURPOSE", "EXPIRES IN"]);
    for authorization in pending {
        table.row(vec![
            authorization.id.clone(),
            authorization.agent.clone(),
            output::money(&authorization.amount, &authorization.currency),
            authorization.merchant.clone(),
            output::truncate(
                authorization.purpose.as_deref().unwrap_or(""),
                PURPOSE_CHARS,
            ),
            authorization
                .expires_at
                .map_or_else(|| "-".to_owned(), |at| output::until(at, now)),
        ]);
    }
    table.render()
}

/// The body of `POST /admin/approvals/{id}/approve`.
fn approve_body(grant: Grant) -> Value {
    match grant {
        Grant::Once => json!({ "grant": "once" }),
        Grant::For(duration) => json!({ "grant": "for", "for": duration.to_string() }),
        Grant::Session => json!({ "grant": "session" }),
        Grant::Always => json!({ "grant": "always" }),
    }
}

pub async fn approve(context: &Context, args: &ApproveArgs) -> Result<(), Failure> {
    let grant = args.grant.grant();
    let path = format!("/admin/approvals/{}/approve", encode(&args.id));
    let answer = context
        .client()?
        .post(&path, Some(&approve_body(grant)))
        .await?;
    let decided: Authorization = api::read(answer.clone())?;
    if context.json {
        output::emit_json(&answer)?;
    }
    if decided.status != "approved" {
        let why = decided.reason.as_ref().map_or_else(String::new, |reason| {
            format!(": {} ({})", reason.message, reason.code)
        });
        return Err(Failure::failed(format!(
            "{} was not approved, it is {}{why}",
            decided.id, decided.status
        )));
    }
    if context.json {
        return Ok(());
    }
    output::emit(&format!("{}\n", clean(&render_approved(&decided, grant))))
}

fn render_approved(decided: &Authorization, grant: Grant) -> String {
    let what = format!(
        "approved {}: {} at {} for {}",
        decided.id,
        output::money(&decided.amount, &decided.currency),
        decided.merchant,
        decided.agent
    );
    let standing = |how_long: &str| {
        format!(
            "{what}; {} may pay {} up to {} per request {how_long} without asking",
            decided.agent,
            decided.merchant,
            output::money(&decided.amount, &decided.currency)
        )
    };
    match grant {
        Grant::Once => what,
        Grant::For(duration) => standing(&format!("for {duration}")),
        Grant::Session => standing("for the rest of this session"),
        Grant::Always => standing("until the grant is revoked"),
    }
}

pub async fn deny(context: &Context, args: DenyArgs) -> Result<(), Failure> {
    let body = match args.reason {
        Some(reason) => json!({ "reason": reason }),
        None => json!({}),
    };
    let path = format!("/admin/approvals/{}/deny", encode(&args.id));
    let answer = context.client()?.post(&path, Some(&body)).await?;
    if context.json {
        return output::emit_json(&answer);
    }
    let denied: Authorization = api::read(answer)?;
    output::emit(&format!(
        "{}\n",
        clean(&format!(
            "denied {}: {} at {} for {}",
            denied.id,
            output::money(&denied.amount, &denied.currency),
            denied.merchant,
            denied.agent
        ))
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use purser_core::PolicyDuration;

    use super::*;

    fn pending(id: &str, purpose: &str, expires_in_seconds: i64, now: Timestamp) -> Authorization {
        Authorization {
            id: id.into(),
            agent: "research-bot".into(),
            status: "pending".into(),
            amount: "40.00".into(),
            currency: "USD".into(),
            merchant: "api.example.com".into(),
            purpose: Some(purpose.into()),
            reason: None,
            expires_at: Some(now + chrono::Duration::seconds(expires_in_seconds)),
        }
    }

    #[test]
    fn approvals_table_has_amount_with_currency_and_time_left() {
        let now = Utc.with_ymd_and_hms(2025, 5, 2, 12, 0, 0).unwrap();
        let rows = vec![
            pending("auth_1", "Buy credits", 552, now),
            pending("auth_22", &"x".repeat(60), -5, now),
        ];
        let expected = format!(
            "ID       AGENT         AMOUNT     MERCHANT         PURPOSE{pad}  EXPIRES IN\n\
             auth_1   research-bot  40.00 USD  api.example.com  Buy credits{pad2}  9m 12s\n\
             auth_22  research-bot  40.00 USD  api.example.com  {long}…  expired\n",
            pad = " ".repeat(PURPOSE_CHARS - "PURPOSE".len()),
            pad2 = " ".repeat(PURPOSE_CHARS - "Buy credits".len()),
            long = "x".repeat(PURPOSE_CHARS - 1),
        );
        assert_eq!(render_approvals(&rows, now), expected);
        assert_eq!(render_approvals(&[], now), "no pending approvals\n");
    }

    #[test]
    fn approve_bodies_name_the_grant() {
        let fifteen_minutes = PolicyDuration::from_seconds(900).unwrap();
        assert_eq!(approve_body(Grant::Once), json!({"grant": "once"}));
        assert_eq!(
            approve_body(Grant::For(fifteen_minutes)),
            json!({"grant": "for", "for": "15m"})
        );
        assert_eq!(approve_body(Grant::Session), json!({"grant": "session"}));
        assert_eq!(approve_body(Grant::Always), json!({"grant": "always"}));
    }

    #[test]
    fn a_standing_grant_says_how_far_it_reaches() {
        let now = Utc.with_ymd_and_hms(2025, 5, 2, 12, 0, 0).unwrap();
        let decided = Authorization {
            status: "approved".into(),
            ..pending("auth_1", "", 0, now)
        };
        let hour = PolicyDuration::from_seconds(3_600).unwrap();
        assert_eq!(
            render_approved(&decided, Grant::Once),
            "approved auth_1: 40.00 USD at api.example.com for research-bot"
        );
        assert_eq!(
            render_approved(&decided, Grant::For(hour)),
            "approved auth_1: 40.00 USD at api.example.com for research-bot; \
             research-bot may pay api.example.com up to 40.00 USD per request for 1h without asking"
        );
    }
}
