//! The audit trail: pages (newest first, keyset by `seq`), an export of the whole
//! filtered trail to a file the principal chose in the save dialog, and verification of
//! the hash chain.
//!
//! An export is written next to its destination under a temporary name and renamed into
//! place only once complete, so a failed export never leaves a truncated file that looks
//! like a whole one.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use purser_core::{AgentName, AuthorizationStatus, Currency, Timestamp};
use purser_daemon::console::view::AuditEntryView;
use purser_store::{
    AuditFilter, AuditKind, AuditVerification, ExportFormat, MAX_AUDIT_PAGE, Store,
};
use serde::{Deserialize, Serialize};

use crate::error::IpcError;
use crate::startup::DesktopConsole;

/// The filter as the UI sends it (`ui/src/lib/types.ts` `AuditFilter`): every field
/// narrows; absent or blank does not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub agent: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub merchant: Option<String>,
    pub currency: Option<String>,
    /// RFC 3339: rows at or after.
    pub since: Option<String>,
    /// RFC 3339: rows before.
    pub until: Option<String>,
    /// Case-insensitive text anywhere in the row.
    pub q: Option<String>,
}

/// One page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditPageView {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` for the next (older) page; `null` at the end.
    pub next_before: Option<i64>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportResult {
    pub rows: u64,
    pub path: String,
}

pub async fn audit_page(
    console: &DesktopConsole,
    filter: &AuditQuery,
    before: Option<i64>,
    limit: u32,
) -> Result<AuditPageView, IpcError> {
    let filter = audit_filter(filter)?;
    if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
        return Err(IpcError::invalid_field(
            "limit",
            format!("limit must be from 1 to {MAX_AUDIT_PAGE}"),
        ));
    }
    let page = console.store().audit_page(&filter, before, limit).await?;
    Ok(AuditPageView {
        entries: page.entries.into_iter().map(AuditEntryView::from).collect(),
        next_before: page.next_before_seq,
    })
}

/// Writes the filtered trail, oldest first, as `csv` or `jsonl` to `path` (absolute).
pub async fn audit_export(
    console: &DesktopConsole,
    filter: &AuditQuery,
    format: &str,
    path: &str,
) -> Result<ExportResult, IpcError> {
    let filter = audit_filter(filter)?;
    let format = match format {
        "csv" => ExportFormat::Csv,
        "jsonl" => ExportFormat::Jsonl,
        other => {
            return Err(IpcError::invalid_field(
                "format",
                format!("format {other:?} is unknown: use csv or jsonl"),
            ));
        }
    };
    let destination = PathBuf::from(path);
    if !destination.is_absolute() || destination.file_name().is_none() {
        return Err(IpcError::invalid_field(
            "path",
            format!("{path:?} is not a file path: choose where to save in the dialog"),
        ));
    }
    let partial = partial_path(&destination);
    let store = console.store().clone();
    let runtime = tokio::runtime::Handle::current();
    // The store writes into a blocking `Write`: run it where blocking is allowed.
    let written = tokio::task::spawn_blocking({
        let partial = partial.clone();
        move || -> Result<u64, IpcError> {
            let file = File::create(&partial).map_err(|error| cannot_write(&partial, &error))?;
            let mut out = BufWriter::new(file);
            let rows = runtime.block_on(store.audit_export(&filter, &mut out, format))?;
            out.flush()
                .and_then(|()| out.get_ref().sync_all())
                .map_err(|error| cannot_write(&partial, &error))?;
            Ok(rows)
        }
    })
    .await
    .map_err(|error| IpcError::unavailable(format!("the export did not finish: {error}")))
    .and_then(|result| result);
    let rows = match written {
        Ok(rows) => rows,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, &destination).map_err(|error| {
        let _ = std::fs::remove_file(&partial);
        cannot_write(&destination, &error)
    })?;
    tracing::info!(rows, path = %destination.display(), "audit trail exported");
    Ok(ExportResult {
        rows,
        path: destination.display().to_string(),
    })
}

/// Checks the whole hash chain: `{rows, intact, first_broken}`.
pub async fn audit_verify(console: &DesktopConsole) -> Result<AuditVerification, IpcError> {
    let verification = console.store().verify_audit().await?;
    if !verification.intact {
        tracing::error!(first_broken = ?verification.first_broken, "the audit trail is broken");
    }
    Ok(verification)
}

/// `DIR/.NAME.partial` beside `destination`.
fn partial_path(destination: &Path) -> PathBuf {
    let name = destination
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    destination.with_file_name(format!(".{name}.partial"))
}

fn cannot_write(path: &Path, error: &std::io::Error) -> IpcError {
    IpcError::new(
        "io_error",
        format!(
            "cannot write {}: {error}; choose another place to save",
            path.display()
        ),
    )
}

/// The UI's filter → the store's, naming the field at fault.
pub fn audit_filter(query: &AuditQuery) -> Result<AuditFilter, IpcError> {
    fn given(value: &Option<String>) -> Option<&str> {
        value
            .as_deref()
            .map(str::trim)
            .filter(|value| !value.is_empty())
    }
    let mut filter = AuditFilter::default();
    if let Some(agent) = given(&query.agent) {
        filter.agent = Some(agent.parse::<AgentName>().map_err(|error| {
            IpcError::invalid_field(
                "agent",
                format!("agent {:?} is invalid: {}", error.value, error.rule),
            )
        })?);
    }
    if let Some(kind) = given(&query.kind) {
        filter.kind = Some(
            kind.parse::<AuditKind>()
                .map_err(|message| IpcError::invalid_field("kind", message))?,
        );
    }
    if let Some(status) = given(&query.status) {
        filter.status = Some(
            serde_json::from_value::<AuthorizationStatus>(serde_json::Value::from(status))
                .map_err(|_| {
                    IpcError::invalid_field(
                        "status",
                        format!(
                            "status {status:?} is unknown: use approved, denied, pending, expired, cancelled, captured or voided"
                        ),
                    )
                })?,
        );
    }
    filter.merchant = given(&query.merchant).map(str::to_owned);
    if let Some(currency) = given(&query.currency) {
        filter.currency = Some(
            currency
                .parse::<Currency>()
                .map_err(|error| IpcError::invalid_field("currency", error.to_string()))?,
        );
    }
    if let Some(since) = given(&query.since) {
        filter.since = Some(instant("since", since)?);
    }
    if let Some(until) = given(&query.until) {
        filter.until = Some(instant("until", until)?);
    }
    filter.text = given(&query.q).map(str::to_owned);
    Ok(filter)
}

fn instant(field: &str, text: &str) -> Result<Timestamp, IpcError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .map_err(|_| {
            IpcError::invalid_field(
                field,
                format!("{text:?} is not an RFC 3339 time such as 2026-01-31T09:00:00Z"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_fields_do_not_narrow_and_bad_ones_are_named() {
        let query = AuditQuery {
            agent: Some("research-bot".into()),
            kind: Some("request".into()),
            status: Some("approved".into()),
            merchant: Some(" ".into()),
            since: Some("2026-01-01T00:00:00Z".into()),
            q: Some("".into()),
            ..AuditQuery::default()
        };
        let filter = audit_filter(&query).unwrap();
        assert_eq!(filter.agent.unwrap().as_str(), "research-bot");
        assert_eq!(filter.kind, Some(AuditKind::Request));
        assert_eq!(filter.status, Some(AuthorizationStatus::Approved));
        assert!(filter.merchant.is_none() && filter.text.is_none());
        assert!(filter.since.is_some());
        for (query, field) in [
            (
                AuditQuery {
                    kind: Some("nope".into()),
                    ..AuditQuery::default()
                },
                "kind",
            ),
            (
                AuditQuery {
                    status: Some("ok".into()),
                    ..AuditQuery::default()
                },
                "status",
            ),
            (
                AuditQuery {
                    currency: Some("usd".into()),
                    ..AuditQuery::default()
                },
                "currency",
            ),
            (
                AuditQuery {
                    until: Some("yesterday".into()),
                    ..AuditQuery::default()
                },
                "until",
            ),
        ] {
            assert_eq!(
                audit_filter(&query).unwrap_err().field.as_deref(),
                Some(field)
            );
        }
    }

    #[test]
    fn the_partial_file_sits_beside_the_destination() {
        assert_eq!(
            partial_path(Path::new("/home/p/audit.csv")),
            PathBuf::from("/home/p/.audit.csv.partial")
        );
    }
}
