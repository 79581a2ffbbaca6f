//! `purser audit list|export|verify`: the append-only, hash-chained audit trail.
//!
//! `verify` asks the daemon to walk the chain and exits 1 when any row was edited or
//! deleted, naming the first broken row. `export` streams the daemon's answer to a file
//! or standard output as it arrives, without holding the whole trail in memory.

use std::io::Write;

use chrono::{SecondsFormat, Utc};
use serde_json::Value;

use crate::admin_client::with_query;
use crate::api::{self, AuditEntry, AuditPage, Verification};
use crate::args::{AuditCommand, AuditExportArgs, AuditListArgs, ExportFormat};
use crate::commands::Context;
use crate::failure::Failure;
use crate::output::{self, Table};

pub async fn run(context: &Context, command: AuditCommand) -> Result<(), Failure> {
    match command {
        AuditCommand::List(args) => list(context, args).await,
        AuditCommand::Export(args) => export(context, args).await,
        AuditCommand::Verify => verify(context).await,
    }
}

async fn list(context: &Context, args: AuditListArgs) -> Result<(), Failure> {
    let since = args.since.map(|since| {
        since
            .resolve(Utc::now())
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    });
    let path = with_query(
        "/admin/audit",
        &[
            ("agent", args.agent),
            ("since", since),
            ("limit", args.limit.map(|limit| limit.to_string())),
        ],
    );
    let answer = context.client()?.get(&path).await?;
    if context.json {
        return output::emit_json(&answer);
    }
    let page: AuditPage = api::read(answer)?;
    output::emit(&render_entries(&page.entries))?;
    if let Some(before) = page.next_before {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "(entries before seq {before} not shown: raise --limit to see them)"
        );
    }
    Ok(())
}

fn render_entries(entries: &[AuditEntry]) -> String {
    if entries.is_empty() {
        return "no audit entries\n".to_owned();
    }
    let mut table = Table::new(&["SEQ", "TIME", "KIND", "AGENT", "AUTH", "STATUS", "AMOUNT"]);
    for entry in entries {
        let text = |key: &str| entry.body.get(key).and_then(Value::as_str);
        let amount = match (text("amount").or_else(|| text("cost")), text("currency")) {
            (Some(amount), Some(currency)) => output::money(amount, currency),
            (Some(amount), None) => amount.to_owned(),
            (None, _) => String::new(),
        };
        table.row(vec![
            entry.seq.to_string(),
            output::time(entry.at),
            entry.kind.clone(),
            entry.agent.clone().unwrap_or_default(),
            entry.authorization_id.clone().unwrap_or_default(),
            text("status").unwrap_or_default().to_owned(),
            amount,
        ]);
    }
    table.render()
}

async fn export(context: &Context, args: AuditExportArgs) -> Result<(), Failure> {
    let path = with_query(
        "/admin/audit/export",
        &[("format", Some(args.format.as_str().to_owned()))],
    );
    let accept = match args.format {
        ExportFormat::Jsonl => "application/jsonl",
        ExportFormat::Csv => "text/csv",
    };
    let mut stream = context.client()?.stream(&path, accept).await?;
    let Some(file) = args.output else {
        let mut stdout = std::io::stdout().lock();
        while let Some(chunk) = stream.chunk().await? {
            if let Err(error) = stdout.write_all(&chunk) {
                return output::finish(Err(error));
            }
        }
        return output::finish(stdout.flush());
    };
    let cannot = |error: std::io::Error| {
        Failure::failed(format!("cannot write {}: {error}", file.display()))
    };
    let mut out = std::fs::File::create(&file).map_err(cannot)?;
    let mut bytes: u64 = 0;
    let incomplete = format!("the export to {} is incomplete: ", file.display());
    while let Some(chunk) = stream
        .chunk()
        .await
        .map_err(|error| Failure::from(error).prefixed(&incomplete))?
    {
        out.write_all(&chunk).map_err(cannot)?;
        bytes += chunk.len() as u64;
    }
    out.sync_all().map_err(cannot)?;
    if context.json {
        return Ok(());
    }
    output::emit(&format!("wrote {bytes} bytes to {}\n", file.display()))
}

async fn verify(context: &Context) -> Result<(), Failure> {
    let answer = context.client()?.post("/admin/audit/verify", None).await?;
    let verification: Verification = api::read(answer.clone())?;
    if context.json {
        output::emit_json(&answer)?;
    }
    match (&verification.first_broken, verification.intact) {
        (None, true) => {
            if context.json {
                return Ok(());
            }
            output::emit(&format!(
                "audit trail intact: {} rows verified\n",
                verification.rows
            ))
        }
        (Some(broken), _) => Err(Failure::failed(format!(
            "audit trail broken at seq {}: {} ({} rows)",
            broken.seq,
            output::clean(&broken.problem),
            verification.rows
        ))),
        (None, false) => Err(Failure::failed(format!(
            "audit trail broken ({} rows); the daemon did not say where",
            verification.rows
        ))),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    #[test]
    fn entries_show_status_and_amount_from_their_body() {
        let at = Utc.with_ymd_and_hms(2025, 5, 1, 9, 30, 0).unwrap();
        let entries = vec![
            AuditEntry {
                seq: 12,
                at,
                kind: "decision".into(),
                agent: Some("research-bot".into()),
                authorization_id: Some("auth_1".into()),
                body: json!({"status": "approved", "amount": "12.50", "currency": "USD"}),
            },
            AuditEntry {
                seq: 11,
                at,
                kind: "kill".into(),
                agent: None,
                authorization_id: None,
                body: json!({"reason": "test"}),
            },
        ];
        assert_eq!(
            render_entries(&entries),
            "SEQ  TIME                  KIND      AGENT         AUTH    STATUS    AMOUNT\n\
             12   2025-05-01T09:30:00Z  decision  research-bot  auth_1  approved  12.50 USD\n\
             11   2025-05-01T09:30:00Z  kill\n"
        );
        assert_eq!(render_entries(&[]), "no audit entries\n");
    }
}
