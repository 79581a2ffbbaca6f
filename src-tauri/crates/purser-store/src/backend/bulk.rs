//! The batch's buffered INSERTs. New authorizations, their ledger rows and audit rows are
//! the bulk of every batch; instead of one statement (one round trip to SQLite's thread)
//! each, they are collected here and written with a few multi-row INSERTs when the batch
//! next needs the database: before any other statement, and before COMMIT. Rows are
//! chunked in powers of two so the prepared-statement cache sees few distinct shapes.
//! At the end of the batch the `ledger_buckets` summary gets the batch's ledger changes.

use sqlx::QueryBuilder;

use super::{Conn, Db};

use super::audit::AuditRow;
use crate::ledger_index::Sums;

/// Largest number of rows in one INSERT.
const MAX_CHUNK: usize = 128;

/// One `authorizations` row.
#[derive(Debug)]
pub(crate) struct AuthorizationRow {
    pub id: String,
    pub agent: String,
    pub request_id: String,
    pub kind: &'static str,
    pub params_hash: [u8; 32],
    pub request: String,
    pub status: &'static str,
    pub reason_code: &'static str,
    pub reasons: String,
    pub decided_by: Option<&'static str>,
    pub amount_micros: i64,
    pub currency: String,
    pub merchant: String,
    pub session_id: Option<String>,
    pub capture: &'static str,
    pub policy_version: i64,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub grant_id: Option<String>,
}

/// One `ledger` row.
#[derive(Debug)]
pub(crate) struct LedgerRow {
    pub authorization_id: String,
    pub agent: String,
    pub session_key: String,
    pub currency: String,
    pub kind: &'static str,
    pub at: i64,
    pub spent_micros: i64,
    pub held_micros: i64,
}

/// Rows waiting to be written, in the order they must be written (a ledger row refers
/// to its authorization).
#[derive(Debug, Default)]
pub(crate) struct PendingWrites {
    pub authorizations: Vec<AuthorizationRow>,
    pub ledger: Vec<LedgerRow>,
    pub audit: Vec<AuditRow>,
}

impl PendingWrites {
    pub(crate) fn is_empty(&self) -> bool {
        self.authorizations.is_empty() && self.ledger.is_empty() && self.audit.is_empty()
    }

    /// Writes everything buffered and empties the buffer.
    pub(crate) async fn flush(&mut self, conn: &mut Conn) -> Result<(), sqlx::Error> {
        for chunk in chunks(&self.authorizations) {
            let mut query = QueryBuilder::<Db>::new(
                "INSERT INTO authorizations (id, agent, request_id, kind, params_hash, request, status, \
                 reason_code, reasons, decided_by, amount_micros, currency, merchant, session_id, capture, \
                 policy_version, expires_at, created_at, decided_at, grant_id) ",
            );
            query.push_values(chunk, |mut row, a| {
                row.push_bind(a.id.as_str())
                    .push_bind(a.agent.as_str())
                    .push_bind(a.request_id.as_str())
                    .push_bind(a.kind)
                    .push_bind(&a.params_hash[..])
                    .push_bind(a.request.as_str())
                    .push_bind(a.status)
                    .push_bind(a.reason_code)
                    .push_bind(a.reasons.as_str())
                    .push_bind(a.decided_by)
                    .push_bind(a.amount_micros)
                    .push_bind(a.currency.as_str())
                    .push_bind(a.merchant.as_str())
                    .push_bind(a.session_id.as_deref())
                    .push_bind(a.capture)
                    .push_bind(a.policy_version)
                    .push_bind(a.expires_at)
                    .push_bind(a.created_at)
                    .push_bind(a.decided_at)
                    .push_bind(a.grant_id.as_deref());
            });
            query.build().persistent(true).execute(&mut *conn).await?;
        }
        for chunk in chunks(&self.ledger) {
            let mut query = QueryBuilder::<Db>::new(
                "INSERT INTO ledger (authorization_id, agent, session_key, currency, kind, at, spent_micros, held_micros) ",
            );
            query.push_values(chunk, |mut row, l| {
                row.push_bind(l.authorization_id.as_str())
                    .push_bind(l.agent.as_str())
                    .push_bind(l.session_key.as_str())
                    .push_bind(l.currency.as_str())
                    .push_bind(l.kind)
                    .push_bind(l.at)
                    .push_bind(l.spent_micros)
                    .push_bind(l.held_micros);
            });
            query.build().persistent(true).execute(&mut *conn).await?;
        }
        for chunk in chunks(&self.audit) {
            let mut query = QueryBuilder::<Db>::new(
                "INSERT INTO audit (seq, at, kind, agent, authorization_id, body, prev_hash, hash) ",
            );
            query.push_values(chunk, |mut row, r| {
                row.push_bind(r.seq)
                    .push_bind(r.at)
                    .push_bind(r.kind)
                    .push_bind(r.agent.as_deref())
                    .push_bind(r.authorization_id.as_deref())
                    .push_bind(r.body.as_str())
                    .push_bind(r.prev_hash.as_str())
                    .push_bind(r.hash.as_str());
            });
            query.build().persistent(true).execute(&mut *conn).await?;
        }
        self.authorizations.clear();
        self.ledger.clear();
        self.audit.clear();
        Ok(())
    }
}

/// Adds each batch total to its `ledger_buckets` row: `(agent, currency, bucket, change)`.
pub(crate) async fn add_to_buckets(
    conn: &mut Conn,
    totals: &[(String, String, i64, Sums)],
) -> Result<(), sqlx::Error> {
    for chunk in chunks(totals) {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO ledger_buckets (agent, currency, bucket, spent_micros, held_micros) ",
        );
        query.push_values(chunk, |mut row, (agent, currency, bucket, change)| {
            row.push_bind(agent.as_str())
                .push_bind(currency.as_str())
                .push_bind(*bucket)
                .push_bind(change.spent)
                .push_bind(change.held);
        });
        query.push(
            " ON CONFLICT (agent, currency, bucket) DO UPDATE SET \
             spent_micros = ledger_buckets.spent_micros + excluded.spent_micros, \
             held_micros = ledger_buckets.held_micros + excluded.held_micros",
        );
        query.build().persistent(true).execute(&mut *conn).await?;
    }
    Ok(())
}

/// `rows` in chunks whose sizes are powers of two, largest first.
fn chunks<T>(mut rows: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    while !rows.is_empty() {
        let mut size = MAX_CHUNK;
        while size > rows.len() {
            size /= 2;
        }
        let (head, rest) = rows.split_at(size);
        out.push(head);
        rows = rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_and_cover_everything() {
        let rows: Vec<u32> = (0..300).collect();
        let sizes: Vec<usize> = chunks(&rows).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![128, 128, 32, 8, 4]);
        assert!(chunks::<u32>(&[]).is_empty());
    }
}
