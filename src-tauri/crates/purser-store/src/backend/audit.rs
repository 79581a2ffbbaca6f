//! The audit trail: one append-only row per event, each carrying the SHA-256 of the row
//! before it, so that editing or deleting any row breaks the chain where it happened.
//!
//! `hash = SHA-256(prev_hash ‖ seq ‖ at ‖ kind ‖ agent ‖ authorization_id ‖ body)` where
//! `prev_hash` is the previous row's 32 raw hash bytes (zeros for the first row), `seq`
//! and `at` (unix microseconds) are 8-byte big-endian integers, and each text field is
//! its UTF-8 bytes after an 8-byte big-endian length (`u64::MAX` alone for a missing
//! agent or authorization id), so no two different rows hash the same input. `body` is
//! canonical JSON. Hashes are stored as lowercase hex.
//!
//! This module chains new rows (inserted by the writer's transaction), pages and
//! exports; [`super::audit_verify`] walks the chain.
//! Triggers in the schema refuse UPDATE and DELETE on the table.

use std::io::Write;

use futures_util::TryStreamExt;
use purser_core::Timestamp;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{QueryBuilder, Row};

use super::{Conn, Db, DbRow, Pool};

use super::rows::{from_micros, to_micros};
use crate::StoreError;
use crate::canonical::canonical_json;
use crate::records::{AuditEntry, AuditFilter, AuditKind, AuditPage, ExportFormat};

/// The last row of the chain (seq 0 and zeros before the first row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AuditHead {
    pub seq: i64,
    pub hash: [u8; 32],
}

/// Largest page `audit_page` returns.
pub const MAX_PAGE: u32 = 1000;

const COLUMNS: &str = "seq, at, kind, agent, authorization_id, body, prev_hash, hash";

pub(crate) fn row_hash(
    prev: &[u8; 32],
    seq: i64,
    at_micros: i64,
    kind: &str,
    agent: Option<&str>,
    authorization_id: Option<&str>,
    body: &str,
) -> [u8; 32] {
    fn field(hasher: &mut Sha256, value: Option<&str>) {
        match value {
            Some(text) => {
                hasher.update(u64::try_from(text.len()).unwrap_or(u64::MAX).to_be_bytes());
                hasher.update(text.as_bytes());
            }
            None => hasher.update(u64::MAX.to_be_bytes()),
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(seq.to_be_bytes());
    hasher.update(at_micros.to_be_bytes());
    field(&mut hasher, Some(kind));
    field(&mut hasher, agent);
    field(&mut hasher, authorization_id);
    field(&mut hasher, Some(body));
    hasher.finalize().into()
}

/// One row to append.
#[derive(Debug)]
pub(crate) struct NewAuditRow<'a> {
    pub at: Timestamp,
    pub kind: AuditKind,
    pub agent: Option<&'a str>,
    pub authorization_id: Option<&'a str>,
    pub body: Value,
}

/// A chained row ready to be inserted.
#[derive(Debug)]
pub(crate) struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub kind: &'static str,
    pub agent: Option<String>,
    pub authorization_id: Option<String>,
    pub body: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Chains `row` after `head` and moves `head` to it. The caller inserts the result in
/// the same transaction as the change it records.
pub(crate) fn chain(head: &mut AuditHead, row: NewAuditRow<'_>) -> AuditRow {
    let seq = head.seq + 1;
    let at = to_micros(row.at);
    let body = canonical_json(&row.body);
    let kind = row.kind.as_str();
    let hash = row_hash(
        &head.hash,
        seq,
        at,
        kind,
        row.agent,
        row.authorization_id,
        &body,
    );
    let chained = AuditRow {
        seq,
        at,
        kind,
        agent: row.agent.map(str::to_owned),
        authorization_id: row.authorization_id.map(str::to_owned),
        body,
        prev_hash: hex::encode(head.hash),
        hash: hex::encode(hash),
    };
    *head = AuditHead { seq, hash };
    chained
}

pub(crate) async fn load_head(conn: &mut Conn) -> Result<AuditHead, StoreError> {
    let row = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(conn)
        .await?;
    match row {
        None => Ok(AuditHead::default()),
        Some(row) => Ok(AuditHead {
            seq: row.try_get(0)?,
            hash: decode_hash(&row.try_get::<String, _>(1)?)?,
        }),
    }
}

/// The row `seq` as a head (its seq and hash), if it exists.
pub(crate) async fn head_at(conn: &mut Conn, seq: i64) -> Result<Option<AuditHead>, StoreError> {
    let row = sqlx::query("SELECT seq, hash FROM audit WHERE seq = $1")
        .bind(seq)
        .fetch_optional(conn)
        .await?;
    row.map(|row| {
        Ok(AuditHead {
            seq: row.try_get(0)?,
            hash: decode_hash(&row.try_get::<String, _>(1)?)?,
        })
    })
    .transpose()
}

pub(crate) fn decode_hash(text: &str) -> Result<[u8; 32], StoreError> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash)
        .map_err(|e| StoreError::Corrupt(format!("audit hash {text:?}: {e}")))?;
    Ok(hash)
}

fn push_filter(query: &mut QueryBuilder<'_, Db>, filter: &AuditFilter) {
    query.push(" WHERE 1 = 1");
    if let Some(agent) = &filter.agent {
        query
            .push(" AND agent = ")
            .push_bind(agent.as_str().to_owned());
    }
    if let Some(kind) = filter.kind {
        query.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(status) = filter.status {
        query
            .push(format!(" AND {} = ", super::body_field("status")))
            .push_bind(status.as_str());
    }
    if let Some(merchant) = &filter.merchant {
        query
            .push(format!(" AND {} = ", super::body_field("merchant")))
            .push_bind(merchant.clone());
    }
    if let Some(currency) = &filter.currency {
        query
            .push(format!(" AND {} = ", super::body_field("currency")))
            .push_bind(currency.as_str().to_owned());
    }
    if let Some(since) = filter.since {
        query.push(" AND at >= ").push_bind(to_micros(since));
    }
    if let Some(until) = filter.until {
        query.push(" AND at < ").push_bind(to_micros(until));
    }
    if let Some(text) = &filter.text {
        query
            .push(format!(" AND {}(lower(body), lower(", super::FIND_TEXT))
            .push_bind(text.clone())
            .push(")) > 0");
    }
}

fn entry_from_row(row: &DbRow) -> Result<AuditEntry, StoreError> {
    let kind: String = row.try_get(2)?;
    let body: String = row.try_get(5)?;
    Ok(AuditEntry {
        seq: row.try_get(0)?,
        at: from_micros(row.try_get(1)?)?,
        kind: kind.parse().map_err(StoreError::Corrupt)?,
        agent: row.try_get(3)?,
        authorization_id: row.try_get(4)?,
        body: serde_json::from_str(&body)
            .map_err(|e| StoreError::Corrupt(format!("audit body: {e}")))?,
        prev_hash: row.try_get(6)?,
        hash: row.try_get(7)?,
    })
}

/// The rows with `first <= seq <= last`, oldest first.
#[allow(
    dead_code,
    reason = "team mode only: nobody else appends to a SQLite trail"
)]
pub(crate) async fn range(
    pool: &Pool,
    first: i64,
    last: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM audit WHERE seq >= $1 AND seq <= $2 ORDER BY seq"
    ))
    .bind(first)
    .bind(last)
    .fetch_all(pool)
    .await?;
    rows.iter().map(entry_from_row).collect()
}

/// Rows matching `filter`, newest first, older than `before_seq`.
pub(crate) async fn page(
    pool: &Pool,
    filter: &AuditFilter,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<AuditPage, StoreError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut query = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM audit"));
    push_filter(&mut query, filter);
    if let Some(before) = before_seq {
        query.push(" AND seq < ").push_bind(before);
    }
    // One row more than the page holds: it tells whether older rows exist.
    query
        .push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let mut rows = query.build().fetch_all(pool).await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let entries = rows
        .iter()
        .map(entry_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next_before_seq = if more {
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_before_seq,
    })
}

/// Writes every row matching `filter`, oldest first; returns how many.
pub(crate) async fn export<W: Write + Send>(
    pool: &Pool,
    filter: &AuditFilter,
    out: &mut W,
    format: ExportFormat,
) -> Result<u64, StoreError> {
    let io = |e: std::io::Error| StoreError::Unavailable(format!("cannot write the export: {e}"));
    let mut query = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM audit"));
    push_filter(&mut query, filter);
    query.push(" ORDER BY seq");
    let mut conn = pool.acquire().await?;
    let mut rows = query.build().fetch(&mut *conn);
    if format == ExportFormat::Csv {
        writeln!(
            out,
            "seq,at,kind,agent,authorization_id,status,amount,currency,merchant,body,prev_hash,hash"
        )
        .map_err(io)?;
    }
    let mut count = 0;
    while let Some(row) = rows.try_next().await? {
        let entry = entry_from_row(&row)?;
        match format {
            ExportFormat::Jsonl => {
                serde_json::to_writer(&mut *out, &entry).map_err(|e| {
                    StoreError::Unavailable(format!("cannot write the export: {e}"))
                })?;
                out.write_all(b"\n").map_err(io)?;
            }
            ExportFormat::Csv => {
                let body_field = |key: &str| {
                    entry
                        .body
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                };
                let fields = [
                    entry.seq.to_string(),
                    entry
                        .at
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    entry.kind.as_str().to_owned(),
                    entry.agent.clone().unwrap_or_default(),
                    entry.authorization_id.clone().unwrap_or_default(),
                    body_field("status"),
                    body_field("amount"),
                    body_field("currency"),
                    body_field("merchant"),
                    canonical_json(&entry.body),
                    entry.prev_hash.clone(),
                    entry.hash.clone(),
                ];
                let line = fields
                    .iter()
                    .map(|f| csv_field(f))
                    .collect::<Vec<_>>()
                    .join(",");
                writeln!(out, "{line}").map_err(io)?;
            }
        }
        count += 1;
    }
    out.flush().map_err(io)?;
    Ok(count)
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_separates_fields() {
        let zero = [0u8; 32];
        let a = row_hash(&zero, 1, 2, "kind", Some("ab"), None, "{}");
        let b = row_hash(&zero, 1, 2, "kind", Some("a"), Some("b"), "{}");
        let c = row_hash(&zero, 1, 2, "kind", None, Some("ab"), "{}");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(b, c);
        assert_eq!(a, row_hash(&zero, 1, 2, "kind", Some("ab"), None, "{}"));
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
