//! [`LedgerIndex`]: committed money per agent and currency (and for all agents together)
//! in 15-minute buckets, so "how much since the start of this day/week/month" is a sum of
//! a few thousand integers instead of a query.
//!
//! Every time zone's offset is a multiple of 15 minutes, so calendar window starts fall
//! on bucket boundaries and the sums are exact. Buckets older than [`RETENTION_BUCKETS`]
//! (35 days, more than any month) are dropped; all-time totals are kept beside them for
//! `total` windows. Session windows are answered by [`crate::session_totals`].
//!
//! The index only ever holds committed data: a batch's uncommitted effects live in the
//! writer's scratch as [`LedgerDelta`]s and are applied here after COMMIT.

use std::collections::{BTreeMap, HashMap};

use purser_core::{AgentName, Currency, SessionId};

/// One bucket is 15 minutes.
pub(crate) const BUCKET_MICROS: i64 = 15 * 60 * 1_000_000;
/// Buckets kept: 35 days.
pub(crate) const RETENTION_BUCKETS: i64 = 35 * 24 * 4;

/// Spent and held micro-units. Signed so that deltas (a release, a capture) add up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sums {
    pub spent: i64,
    pub held: i64,
}

impl Sums {
    pub(crate) fn add(&mut self, other: Sums) {
        self.spent = self.spent.saturating_add(other.spent);
        self.held = self.held.saturating_add(other.held);
    }
}

/// A change of committed money: the ledger row of one authorization, at the instant it
/// was approved, gained `change` (a new approval is positive; a capture moves held to
/// spent; a release is negative held).
#[derive(Debug, Clone)]
pub(crate) struct LedgerDelta {
    pub agent: AgentName,
    pub session: Option<SessionId>,
    pub currency: Currency,
    pub at_micros: i64,
    pub change: Sums,
}

pub(crate) fn bucket_of(at_micros: i64) -> i64 {
    at_micros.div_euclid(BUCKET_MICROS)
}

#[derive(Debug, Default)]
struct Series {
    buckets: BTreeMap<i64, Sums>,
    total: Sums,
}

impl Series {
    fn apply(&mut self, bucket: i64, change: Sums, horizon: i64) {
        self.total.add(change);
        if bucket >= horizon {
            let sums = self.buckets.entry(bucket).or_default();
            sums.add(change);
            if *sums == Sums::default() {
                self.buckets.remove(&bucket);
            }
        }
    }

    fn since(&self, since_bucket: Option<i64>, horizon: i64) -> Sums {
        match since_bucket {
            // INVARIANT: buckets before the horizon are gone, so an older `since` is
            // answered with the all-time total: it can only count more, never less.
            Some(since) if since >= horizon => {
                let mut sums = Sums::default();
                for (_, bucket) in self.buckets.range(since..) {
                    sums.add(*bucket);
                }
                sums
            }
            _ => self.total,
        }
    }
}

/// Committed money in buckets; see the module comment.
#[derive(Debug)]
pub(crate) struct LedgerIndex {
    shared: HashMap<Currency, Series>,
    agents: HashMap<AgentName, HashMap<Currency, Series>>,
    /// The oldest bucket still held complete.
    horizon: i64,
}

impl LedgerIndex {
    pub(crate) fn new(now_micros: i64) -> LedgerIndex {
        LedgerIndex {
            shared: HashMap::new(),
            agents: HashMap::new(),
            horizon: bucket_of(now_micros) - RETENTION_BUCKETS,
        }
    }

    /// The first instant whose bucket the index keeps (what to load on open).
    pub(crate) fn horizon_micros(&self) -> i64 {
        self.horizon.saturating_mul(BUCKET_MICROS)
    }

    /// Adds an all-time total loaded from the database (no bucket).
    pub(crate) fn add_total(&mut self, agent: &AgentName, currency: &Currency, sums: Sums) {
        self.shared
            .entry(currency.clone())
            .or_default()
            .total
            .add(sums);
        self.agent_series(agent, currency).total.add(sums);
    }

    /// Adds a bucketed row loaded from the database, whose amount is already in the
    /// totals.
    pub(crate) fn add_bucketed(
        &mut self,
        agent: &AgentName,
        currency: &Currency,
        at_micros: i64,
        sums: Sums,
    ) {
        let bucket = bucket_of(at_micros);
        if bucket < self.horizon {
            return;
        }
        self.shared
            .entry(currency.clone())
            .or_default()
            .buckets
            .entry(bucket)
            .or_default()
            .add(sums);
        self.agent_series(agent, currency)
            .buckets
            .entry(bucket)
            .or_default()
            .add(sums);
    }

    pub(crate) fn apply(&mut self, delta: &LedgerDelta) {
        let bucket = bucket_of(delta.at_micros);
        let horizon = self.horizon;
        self.shared
            .entry(delta.currency.clone())
            .or_default()
            .apply(bucket, delta.change, horizon);
        self.agent_series(&delta.agent, &delta.currency)
            .apply(bucket, delta.change, horizon);
    }

    /// Committed money of `currency` for `agent` (`None`: every agent) since `since`.
    pub(crate) fn committed(
        &self,
        agent: Option<&AgentName>,
        currency: &Currency,
        since_micros: Option<i64>,
    ) -> Sums {
        let series = match agent {
            None => self.shared.get(currency),
            Some(agent) => self
                .agents
                .get(agent)
                .and_then(|series| series.get(currency)),
        };
        series
            .map(|s| s.since(since_micros.map(bucket_of), self.horizon))
            .unwrap_or_default()
    }

    /// Would a delta at `at_micros` count for a query since `since_micros`, by the same
    /// rounding [`LedgerIndex::committed`] uses?
    pub(crate) fn counts_since(&self, at_micros: i64, since_micros: Option<i64>) -> bool {
        match since_micros.map(bucket_of) {
            Some(since) if since >= self.horizon => bucket_of(at_micros) >= since,
            _ => true,
        }
    }

    /// Drops buckets that fell out of the retention period.
    pub(crate) fn prune(&mut self, now_micros: i64) {
        let horizon = bucket_of(now_micros) - RETENTION_BUCKETS;
        if horizon <= self.horizon {
            return;
        }
        self.horizon = horizon;
        let all = self
            .shared
            .values_mut()
            .chain(self.agents.values_mut().flat_map(|m| m.values_mut()));
        for series in all {
            series.buckets = series.buckets.split_off(&horizon);
        }
    }

    /// Currencies with any committed money.
    pub(crate) fn currencies(&self) -> impl Iterator<Item = &Currency> {
        self.shared.keys()
    }

    fn agent_series(&mut self, agent: &AgentName, currency: &Currency) -> &mut Series {
        self.agents
            .entry(agent.clone())
            .or_default()
            .entry(currency.clone())
            .or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: &str) -> AgentName {
        name.parse().unwrap()
    }

    #[test]
    fn sums_since_a_boundary_and_keeps_totals_past_the_horizon() {
        let usd: Currency = "USD".parse().unwrap();
        let day = 96 * BUCKET_MICROS;
        let now = 100 * day;
        let mut index = LedgerIndex::new(now);
        let spend = |at: i64, micros: i64, who: &str| LedgerDelta {
            agent: agent(who),
            session: None,
            currency: usd.clone(),
            at_micros: at,
            change: Sums {
                spent: micros,
                held: 0,
            },
        };
        index.apply(&spend(now - 40 * day, 7, "a"));
        index.apply(&spend(now - day, 5, "a"));
        index.apply(&spend(now - 1, 3, "b"));
        assert_eq!(index.committed(None, &usd, Some(now - day)).spent, 8);
        assert_eq!(
            index
                .committed(Some(&agent("a")), &usd, Some(now - day))
                .spent,
            5
        );
        assert_eq!(index.committed(Some(&agent("a")), &usd, None).spent, 12);
        assert_eq!(
            index.committed(None, &usd, Some(now - BUCKET_MICROS)).spent,
            3
        );
        // Older than the horizon: all-time total, never less than the truth.
        assert_eq!(index.committed(None, &usd, Some(now - 50 * day)).spent, 15);
        index.prune(now + 2 * day);
        assert_eq!(index.committed(None, &usd, Some(now - day)).spent, 8);
        assert_eq!(index.committed(None, &usd, None).spent, 15);
    }
}
