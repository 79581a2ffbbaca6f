//! `/admin/audit`: pages of the trail (newest first), the whole filtered trail as a
//! stream (oldest first, JSON lines or CSV), and the chain's verification.
//!
//! The export is streamed as the store reads it, through a small bounded channel, so
//! neither the daemon nor the client ever holds the whole trail; a client that goes
//! away stops the export.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::body::Body as ResponseBody;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use purser_core::{AgentName, AuthorizationStatus, Currency, Timestamp};
use purser_store::{
    AuditFilter, AuditKind, AuditVerification, ExportFormat, MAX_AUDIT_PAGE, Store,
};
use serde::Serialize;

use super::AdminState;
use super::error::AdminError;
use crate::console::view::AuditEntryView;

/// Entries per page when the request gives no `limit`.
const DEFAULT_PAGE: u32 = 100;
/// Bytes per chunk of an export.
const EXPORT_CHUNK_BYTES: usize = 64 * 1024;
/// Chunks in flight between the store and the client.
const EXPORT_CHUNKS_IN_FLIGHT: usize = 4;

#[derive(Debug, Serialize)]
pub(crate) struct Page {
    entries: Vec<AuditEntryView>,
    next_before: Option<i64>,
}

/// The query of a list or an export.
#[derive(Debug, Default)]
struct AuditQuery {
    filter: AuditFilter,
    before: Option<i64>,
    limit: Option<u32>,
    format: Option<ExportFormat>,
}

pub(crate) async fn list<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page>, AdminError> {
    let query = parse_query(query.as_deref(), false)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    let page = state
        .console
        .store()
        .audit_page(&query.filter, query.before, limit)
        .await?;
    Ok(Json(Page {
        entries: page.entries.into_iter().map(AuditEntryView::from).collect(),
        next_before: page.next_before_seq,
    }))
}

pub(crate) async fn verify<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
) -> Result<Json<AuditVerification>, AdminError> {
    let verification = state.console.store().verify_audit().await?;
    if !verification.intact {
        tracing::error!(first_broken = ?verification.first_broken, "the audit trail is broken");
    }
    Ok(Json(verification))
}

pub(crate) async fn export<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
    RawQuery(query): RawQuery,
) -> Result<Response, AdminError> {
    let query = parse_query(query.as_deref(), true)?;
    let format = query.format.unwrap_or(ExportFormat::Jsonl);
    let (sender, receiver) = sync_channel(EXPORT_CHUNKS_IN_FLIGHT);
    let store = state.console.store().clone();
    let runtime = tokio::runtime::Handle::current();
    let filter = query.filter;
    // The store writes the export into a blocking `Write`; it runs on a blocking thread
    // so a slow client stalls only that thread.
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            sender: sender.clone(),
            buffer: Vec::with_capacity(EXPORT_CHUNK_BYTES),
        };
        if let Err(error) = runtime.block_on(store.audit_export(&filter, &mut out, format)) {
            tracing::warn!(%error, "the audit export stopped");
            let _ = sender.send(Err(error.to_string()));
        }
    });
    let receiver = Arc::new(Mutex::new(receiver));
    let chunks = futures_util::stream::unfold(receiver, |receiver| async move {
        let next = {
            let receiver = Arc::clone(&receiver);
            tokio::task::spawn_blocking(move || next_chunk(&receiver))
                .await
                .ok()
                .flatten()
        };
        next.map(|chunk| (chunk.map_err(io::Error::other), receiver))
    });
    let mut response = ResponseBody::from_stream(chunks).into_response();
    let content_type = match format {
        ExportFormat::Jsonl => "application/jsonl",
        ExportFormat::Csv => "text/csv; charset=utf-8",
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

fn next_chunk(
    receiver: &Mutex<Receiver<Result<Vec<u8>, String>>>,
) -> Option<Result<Vec<u8>, String>> {
    receiver
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .recv()
        .ok()
}

/// Cuts what the store writes into chunks for the response.
struct ChunkWriter {
    sender: SyncSender<Result<Vec<u8>, String>>,
    buffer: Vec<u8>,
}

impl ChunkWriter {
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(EXPORT_CHUNK_BYTES));
        self.sender.send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client stopped reading the export",
            )
        })
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= EXPORT_CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()
    }
}

/// `agent, kind, status, merchant, currency, since, until, q, before, limit` (and
/// `format` for an export); anything else is refused naming it.
fn parse_query(query: Option<&str>, export: bool) -> Result<AuditQuery, AdminError> {
    let mut parsed = AuditQuery::default();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let value = value.into_owned();
        let invalid =
            |message: String| AdminError::invalid_field(key.clone().into_owned(), message);
        match key.as_ref() {
            "agent" => {
                let agent = value
                    .parse::<AgentName>()
                    .map_err(|e| invalid(format!("agent {:?} is invalid: {}", e.value, e.rule)))?;
                parsed.filter.agent = Some(agent);
            }
            "kind" => {
                let kind = value.parse::<AuditKind>().map_err(invalid)?;
                parsed.filter.kind = Some(kind);
            }
            "status" => {
                let status = serde_json::from_value::<AuthorizationStatus>(serde_json::Value::String(value.clone()))
                    .map_err(|_| {
                        invalid(format!(
                            "status {value:?} is unknown: use approved, denied, pending, expired, cancelled, captured or voided"
                        ))
                    })?;
                parsed.filter.status = Some(status);
            }
            "merchant" => parsed.filter.merchant = Some(value),
            "currency" => {
                let currency = value
                    .parse::<Currency>()
                    .map_err(|e| invalid(e.to_string()))?;
                parsed.filter.currency = Some(currency);
            }
            "since" => parsed.filter.since = Some(instant(&value).map_err(invalid)?),
            "until" => parsed.filter.until = Some(instant(&value).map_err(invalid)?),
            "q" => parsed.filter.text = Some(value),
            "before" if !export => {
                let before = value
                    .parse::<i64>()
                    .map_err(|_| invalid(format!("before {value:?} is not a sequence number")))?;
                parsed.before = Some(before);
            }
            "limit" if !export => {
                let limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|limit| (1..=MAX_AUDIT_PAGE).contains(limit))
                    .ok_or_else(|| invalid(format!("limit must be from 1 to {MAX_AUDIT_PAGE}")))?;
                parsed.limit = Some(limit);
            }
            "format" if export => {
                parsed.format = Some(match value.as_str() {
                    "jsonl" => ExportFormat::Jsonl,
                    "csv" => ExportFormat::Csv,
                    _ => {
                        return Err(invalid(format!(
                            "format {value:?} is unknown: use jsonl or csv"
                        )));
                    }
                });
            }
            other => {
                return Err(invalid(format!("unknown query parameter {other:?}")));
            }
        }
    }
    Ok(parsed)
}

/// An RFC 3339 instant.
fn instant(text: &str) -> Result<Timestamp, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .map_err(|_| format!("{text:?} is not an RFC 3339 time such as 2026-01-31T09:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_parsed_and_unknown_parameters_named() {
        let query = parse_query(
            Some("agent=bot&kind=request&status=approved&since=2026-01-01T00%3A00%3A00Z&limit=5&before=9"),
            false,
        )
        .unwrap();
        assert_eq!(query.filter.agent.unwrap().as_str(), "bot");
        assert_eq!(query.filter.kind, Some(AuditKind::Request));
        assert_eq!(query.filter.status, Some(AuthorizationStatus::Approved));
        assert!(query.filter.since.is_some());
        assert_eq!((query.limit, query.before), (Some(5), Some(9)));
        let error = parse_query(Some("limit=0"), false).unwrap_err();
        assert_eq!(error.code(), "invalid_request");
        assert!(
            parse_query(Some("format=csv"), false).is_err(),
            "format is for exports"
        );
        assert_eq!(
            parse_query(Some("format=csv"), true).unwrap().format,
            Some(ExportFormat::Csv)
        );
        assert!(parse_query(Some("sinse=x"), false).is_err());
    }
}
