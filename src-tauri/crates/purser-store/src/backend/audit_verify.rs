//! `verify`: walks the whole audit chain in seq order and reports the first row where it
//! does not hold (a missing row, a broken link, content that does not match its hash, or
//! newest rows gone).
//!
//! It must handle a million rows in well under two seconds, and fetching rows one by one
//! costs microseconds each in the driver alone. So rows are read in chunks: one query
//! per [`CHUNK_ROWS`] rows returns each column concatenated (`group_concat`) with a
//! separator no valid value contains, inside one read transaction (a consistent
//! snapshot), by a task that fetches the next chunk while this one is hashed. A chunk
//! whose columns do not split into exactly as many values as it has rows (a value that
//! contains a separator, a NULL where none may be) is walked again row by row, so
//! every answer is exact.

use sqlx::{Connection, Row};

use super::{Conn, DbOptions, DbRow, Pool};
use tokio::sync::mpsc;

use super::audit::{AuditHead, row_hash};
use crate::StoreError;
use crate::records::{AuditVerification, BrokenLink};

/// Rows per chunk.
const CHUNK_ROWS: i64 = 128;
/// Separates bodies: JSON text never holds a raw control character.
const BODY_SEPARATOR: char = '\u{1e}';

/// One chunk: the `count` rows with `after < seq <= upto`, each column concatenated
/// in one result row (columns as in the backend's `AUDIT_CHUNK_QUERY`), read without copying.
struct Chunk {
    after: i64,
    upto: i64,
    count: i64,
    min_seq: i64,
    max_seq: i64,
    row: DbRow,
}

impl Chunk {
    /// Column `index` of the chunk as text ("" for NULL); `Err` when it is not text.
    fn text(&self, index: usize) -> Result<&str, ()> {
        self.row
            .try_get::<Option<&str>, _>(index)
            .map(Option::unwrap_or_default)
            .map_err(|_| ())
    }
}

/// The rows of `after < seq <= upto`; `None` when there are none.
async fn fetch_chunk(conn: &mut Conn, after: i64, upto: i64) -> Result<Option<Chunk>, StoreError> {
    let row = sqlx::query(super::AUDIT_CHUNK_QUERY)
        .bind(after)
        .bind(upto)
        .fetch_one(conn)
        .await?;
    let count: i64 = row.try_get(0)?;
    if count == 0 {
        return Ok(None);
    }
    Ok(Some(Chunk {
        after,
        upto,
        count,
        min_seq: row.try_get(1)?,
        max_seq: row.try_get(2)?,
        row,
    }))
}

/// Reads every chunk inside one read transaction and hands them over. The connection
/// is its own, memory-mapping the file (reading pages without copying them), and is
/// closed at the end so the mapping does not outlive the walk.
async fn produce(options: DbOptions, chunks: mpsc::Sender<Result<Chunk, StoreError>>) {
    let result = async {
        let mut conn = super::walk_connection(options).await?;
        let mut snapshot = conn.begin().await?;
        if let Some(setup) = super::SNAPSHOT_SETUP {
            sqlx::query(setup).execute(&mut *snapshot).await?;
        }
        let last: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM audit")
            .fetch_one(&mut *snapshot)
            .await?;
        let mut after = 0;
        while after < last.unwrap_or(0) {
            // A range of seq (the table's rowid) is read in order without sorting.
            let upto = after.saturating_add(CHUNK_ROWS);
            if let Some(chunk) = fetch_chunk(&mut snapshot, after, upto).await? {
                if chunks.send(Ok(chunk)).await.is_err() {
                    break; // the walk stopped early
                }
            }
            after = upto;
        }
        snapshot.rollback().await?;
        conn.close().await?;
        Ok::<(), StoreError>(())
    }
    .await;
    if let Err(error) = result {
        let _ = chunks.send(Err(error)).await;
    }
}

/// One row's fields as stored.
struct StoredRow<'a> {
    seq: i64,
    at: i64,
    kind: &'a str,
    agent: Option<&'a str>,
    authorization_id: Option<&'a str>,
    body: &'a str,
    prev_hash: &'a str,
    hash: &'a str,
}

/// 64 lowercase hex digits as 32 bytes (what the store writes; anything else is `None`).
fn decode_hex(text: &[u8]) -> Option<[u8; 32]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(bytes)
}

/// `text` split at `separator`, when that gives exactly `count` values.
fn split_exactly(text: &str, separator: char, count: usize) -> Result<Vec<&str>, ()> {
    let parts: Vec<&str> = text.split(separator).collect();
    if parts.len() == count {
        Ok(parts)
    } else {
        Err(())
    }
}

/// `text` cut into `count` ASCII values of `width` characters.
fn fixed_width(text: &str, width: usize, count: usize) -> Result<Vec<&str>, ()> {
    if text.len() != width * count || !text.is_ascii() {
        return Err(());
    }
    Ok((0..count)
        .map(|i| &text[i * width..(i + 1) * width])
        .collect())
}

/// The walk so far.
struct Walker {
    head: AuditHead,
    expected_seq: i64,
    /// The previous row's hash (zeros before the first row), and as stored (hex).
    prev: [u8; 32],
    prev_hex: [u8; 64],
    rows: u64,
}

impl Walker {
    fn new(head: AuditHead) -> Walker {
        Walker {
            head,
            expected_seq: 1,
            prev: [0u8; 32],
            prev_hex: [b'0'; 64],
            rows: 0,
        }
    }

    fn check(&mut self, row: &StoredRow<'_>) -> Option<BrokenLink> {
        let broken = |seq: i64, problem: String| Some(BrokenLink { seq, problem });
        if row.seq != self.expected_seq {
            return broken(
                self.expected_seq,
                format!(
                    "row {} is missing (rows {}..{} were deleted)",
                    self.expected_seq,
                    self.expected_seq,
                    row.seq - 1
                ),
            );
        }
        if row.prev_hash.as_bytes() != self.prev_hex {
            return broken(
                row.seq,
                format!("prev_hash does not match the hash of row {}", row.seq - 1),
            );
        }
        let computed = row_hash(
            &self.prev,
            row.seq,
            row.at,
            row.kind,
            row.agent,
            row.authorization_id,
            row.body,
        );
        if decode_hex(row.hash.as_bytes()) != Some(computed) {
            return broken(
                row.seq,
                "the row's content does not match its hash (it was edited)".into(),
            );
        }
        self.rows += 1;
        if row.seq == self.head.seq && computed != self.head.hash {
            return broken(
                row.seq,
                "the row differs from the one the store wrote (it was replaced)".into(),
            );
        }
        self.prev = computed;
        self.prev_hex.copy_from_slice(row.hash.as_bytes());
        self.expected_seq += 1;
        None
    }

    /// Checks a chunk from its concatenated columns; `Err(())` when they do not split
    /// exactly into its rows (then the chunk is walked row by row instead).
    fn check_chunk(&mut self, chunk: &Chunk) -> Result<Option<BrokenLink>, ()> {
        let count = usize::try_from(chunk.count).map_err(|_| ())?;
        let split = |text, separator| split_exactly(text, separator, count);
        let fixed = |text, width| fixed_width(text, width, count);
        let nulls = |text: &str| -> Result<Vec<u8>, ()> {
            let valid = text.len() == count && text.bytes().all(|b| (b'0'..=b'3').contains(&b));
            if valid {
                Ok(text.bytes().map(|b| b - b'0').collect())
            } else {
                Err(())
            }
        };
        if chunk.max_seq - chunk.min_seq + 1 != chunk.count || chunk.min_seq != self.expected_seq {
            return Err(());
        }
        let at = split(chunk.text(3)?, ',')?;
        let kind = split(chunk.text(4)?, ',')?;
        let agent = split(chunk.text(5)?, ',')?;
        let authorization_id = split(chunk.text(6)?, ',')?;
        let nulls = nulls(chunk.text(7)?)?;
        let body = split(chunk.text(8)?, BODY_SEPARATOR)?;
        let prev_hash = fixed(chunk.text(9)?, 64)?;
        let hash = fixed(chunk.text(10)?, 64)?;
        for i in 0..count {
            let row = StoredRow {
                seq: chunk.min_seq + i64::try_from(i).map_err(|_| ())?,
                at: at[i].parse().map_err(|_| ())?,
                kind: kind[i],
                agent: (nulls[i] & 1 == 0).then_some(agent[i]),
                authorization_id: (nulls[i] & 2 == 0).then_some(authorization_id[i]),
                body: body[i],
                prev_hash: prev_hash[i],
                hash: hash[i],
            };
            if let Some(broken) = self.check(&row) {
                return Ok(Some(broken));
            }
        }
        Ok(None)
    }

    /// Checks the rows of `chunk` one by one.
    async fn check_rows(
        &mut self,
        pool: &Pool,
        chunk: &Chunk,
    ) -> Result<Option<BrokenLink>, StoreError> {
        let rows: Vec<DbRow> = sqlx::query(
            "SELECT seq, at, kind, agent, authorization_id, body, prev_hash, hash FROM audit \
             WHERE seq > $1 AND seq <= $2 ORDER BY seq",
        )
        .bind(chunk.after)
        .bind(chunk.upto)
        .fetch_all(pool)
        .await?;
        for row in &rows {
            let stored = StoredRow {
                seq: row.try_get(0)?,
                at: row.try_get(1)?,
                kind: row.try_get(2)?,
                agent: row.try_get(3)?,
                authorization_id: row.try_get(4)?,
                body: row.try_get(5)?,
                prev_hash: row.try_get(6)?,
                hash: row.try_get(7)?,
            };
            if let Some(broken) = self.check(&stored) {
                return Ok(Some(broken));
            }
        }
        Ok(None)
    }
}

/// Walks the whole chain. `head` is what the writer last committed before the walk
/// began: rows up to it must all be there, ending in its hash (so deleting the newest
/// rows is caught too).
pub(crate) async fn verify(
    pool: &Pool,
    read_options: &DbOptions,
    head: AuditHead,
) -> Result<AuditVerification, StoreError> {
    let (sender, mut chunks) = mpsc::channel(2);
    let producer = tokio::spawn(produce(read_options.clone(), sender));
    let mut walker = Walker::new(head);
    let mut first_broken = None;
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk?;
        let broken = match walker.check_chunk(&chunk) {
            Ok(broken) => broken,
            Err(()) => walker.check_rows(pool, &chunk).await?,
        };
        if broken.is_some() {
            first_broken = broken;
            break;
        }
    }
    drop(chunks);
    producer
        .await
        .map_err(|e| StoreError::Unavailable(format!("audit verification stopped: {e}")))?;
    if first_broken.is_none() && walker.expected_seq <= head.seq {
        first_broken = Some(BrokenLink {
            seq: walker.expected_seq,
            problem: format!(
                "rows {}..{} are missing (the end of the trail was deleted)",
                walker.expected_seq, head.seq
            ),
        });
    }
    Ok(AuditVerification {
        rows: walker.rows,
        intact: first_broken.is_none(),
        first_broken,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_only_lowercase_hex_of_the_right_length() {
        let hash = [0xabu8; 32];
        assert_eq!(decode_hex(hex::encode(hash).as_bytes()), Some(hash));
        assert_eq!(decode_hex(hex::encode_upper(hash).as_bytes()), None);
        assert_eq!(decode_hex(b"ab"), None);
        assert_eq!(split_exactly("a,b,c", ',', 3), Ok(vec!["a", "b", "c"]));
        assert_eq!(split_exactly("a,b,c", ',', 2), Err(()));
        assert_eq!(fixed_width("aabb", 2, 2), Ok(vec!["aa", "bb"]));
        assert_eq!(fixed_width("aabbc", 2, 2), Err(()));
    }
}
