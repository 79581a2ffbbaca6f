//! [`SessionTotals`]: all-time committed money per (agent, session), for `session`
//! budget windows.
//!
//! Sessions are unbounded in number, so only the most recently used ones are kept (an
//! LRU of [`SESSION_CACHE_CAPACITY`]); a miss is loaded from the ledger table by an
//! indexed query inside the writer's transaction. The cache holds committed data only;
//! the writer's scratch adds the running batch's deltas on top.

use std::collections::{BTreeMap, HashMap};

use purser_core::{AgentName, Currency, SessionId};
use sqlx::Row;

use super::Conn;

use crate::ledger_index::{LedgerDelta, Sums};

/// Sessions kept in memory at most.
pub(crate) const SESSION_CACHE_CAPACITY: usize = 4096;

/// An agent's session; `None` is the one session of the agent's requests without a
/// `session_id`.
pub(crate) type SessionKey = (AgentName, Option<SessionId>);

/// Committed money of one session, per currency.
pub(crate) type PerCurrency = HashMap<Currency, Sums>;

/// What the `ledger.session_key` column holds for a session.
pub(crate) fn session_column(session: Option<&SessionId>) -> &str {
    session.map(SessionId::as_str).unwrap_or("")
}

#[derive(Debug)]
struct Entry {
    totals: PerCurrency,
    tick: u64,
}

#[derive(Debug, Default)]
pub(crate) struct SessionTotals {
    entries: HashMap<SessionKey, Entry>,
    by_use: BTreeMap<u64, SessionKey>,
    tick: u64,
}

impl SessionTotals {
    pub(crate) fn get(&self, key: &SessionKey) -> Option<&PerCurrency> {
        self.entries.get(key).map(|entry| &entry.totals)
    }

    /// Marks `key` as just used; `false` when it is not cached.
    pub(crate) fn touch(&mut self, key: &SessionKey) -> bool {
        self.tick += 1;
        let tick = self.tick;
        match self.entries.get_mut(key) {
            Some(entry) => {
                self.by_use.remove(&entry.tick);
                entry.tick = tick;
                self.by_use.insert(tick, key.clone());
                true
            }
            None => false,
        }
    }

    pub(crate) fn insert(&mut self, key: SessionKey, totals: PerCurrency) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(old) = self.entries.insert(key.clone(), Entry { totals, tick }) {
            self.by_use.remove(&old.tick);
        }
        self.by_use.insert(tick, key);
        while self.entries.len() > SESSION_CACHE_CAPACITY {
            match self.by_use.pop_first() {
                Some((_, oldest)) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
    }

    /// Applies a committed delta to its session, if that session is cached.
    pub(crate) fn apply(&mut self, delta: &LedgerDelta) {
        let key = (delta.agent.clone(), delta.session.clone());
        if let Some(entry) = self.entries.get_mut(&key) {
            entry
                .totals
                .entry(delta.currency.clone())
                .or_default()
                .add(delta.change);
        }
    }
}

/// Loads one session's totals from the ledger table, as the connection sees it (inside a
/// transaction: including that transaction's own writes).
pub(crate) async fn load_session(
    conn: &mut Conn,
    agent: &AgentName,
    session: Option<&SessionId>,
) -> Result<PerCurrency, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT currency, CAST(SUM(spent_micros) AS BIGINT), CAST(SUM(held_micros) AS BIGINT) FROM ledger \
         WHERE agent = $1 AND session_key = $2 GROUP BY currency",
    )
    .bind(agent.as_str())
    .bind(session_column(session))
    .fetch_all(conn)
    .await?;
    let mut totals = PerCurrency::new();
    for row in rows {
        let currency: String = row.try_get(0)?;
        let currency = currency
            .parse::<Currency>()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        totals.insert(
            currency,
            Sums {
                spent: row.try_get(1)?,
                held: row.try_get(2)?,
            },
        );
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut cache = SessionTotals::default();
        let key = |i: usize| -> SessionKey {
            ("a".parse().unwrap(), Some(format!("s{i}").parse().unwrap()))
        };
        for i in 0..SESSION_CACHE_CAPACITY {
            cache.insert(key(i), PerCurrency::new());
        }
        assert!(cache.touch(&key(0)));
        cache.insert(key(SESSION_CACHE_CAPACITY), PerCurrency::new());
        assert!(cache.get(&key(0)).is_some(), "recently used stays");
        assert!(cache.get(&key(1)).is_none(), "least recently used goes");
        assert_eq!(cache.entries.len(), SESSION_CACHE_CAPACITY);
    }
}
