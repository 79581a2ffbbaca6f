//! [`VelocityIndex`]: each agent's recent payment approvals, for the policy's
//! `velocity = { count, window }` rule.
//!
//! Only what a decision can need is kept: approvals within the longest velocity window
//! of the current policy, and at most one more than its largest count (once an agent has
//! `count` approvals in the window, more history changes nothing). When a new policy
//! needs more, the writer reloads the index from the ledger table.

use std::collections::{HashMap, VecDeque};

use futures_util::TryStreamExt;
use purser_core::{AgentName, Policy};
use sqlx::Row;

use super::Conn;

/// How much history the current policy needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct VelocityBounds {
    /// Approvals kept per agent; 0 when no profile has a velocity rule.
    pub cap: usize,
    pub window_micros: i64,
}

impl VelocityBounds {
    pub(crate) fn of(policy: &Policy) -> VelocityBounds {
        policy
            .profiles
            .values()
            .filter_map(|profile| profile.velocity)
            .fold(VelocityBounds::default(), |bounds, velocity| {
                VelocityBounds {
                    cap: bounds.cap.max(
                        usize::try_from(velocity.count)
                            .unwrap_or(usize::MAX)
                            .saturating_add(1),
                    ),
                    window_micros: bounds
                        .window_micros
                        .max(i64::from(velocity.window.seconds()).saturating_mul(1_000_000)),
                }
            })
    }

    /// Does history kept for `self` answer every question `needed` can ask?
    pub(crate) fn covers(self, needed: VelocityBounds) -> bool {
        self.cap >= needed.cap && self.window_micros >= needed.window_micros
    }
}

#[derive(Debug, Default)]
pub(crate) struct VelocityIndex {
    per_agent: HashMap<AgentName, VecDeque<i64>>,
    bounds: VelocityBounds,
}

impl VelocityIndex {
    pub(crate) fn bounds(&self) -> VelocityBounds {
        self.bounds
    }

    pub(crate) fn push(&mut self, agent: &AgentName, at_micros: i64, now_micros: i64) {
        if self.bounds.cap == 0 {
            return;
        }
        let recent = self.per_agent.entry(agent.clone()).or_default();
        recent.push_back(at_micros);
        let oldest_needed = now_micros.saturating_sub(self.bounds.window_micros);
        while recent.len() > self.bounds.cap || recent.front().is_some_and(|&at| at < oldest_needed)
        {
            recent.pop_front();
        }
    }

    pub(crate) fn count_since(&self, agent: &AgentName, since_micros: i64) -> u32 {
        self.per_agent.get(agent).map_or(0, |recent| {
            u32::try_from(recent.iter().filter(|&&at| at >= since_micros).count())
                .unwrap_or(u32::MAX)
        })
    }

    /// Rebuilds the index from the ledger table for `bounds`.
    pub(crate) async fn load(
        conn: &mut Conn,
        bounds: VelocityBounds,
        now_micros: i64,
    ) -> Result<VelocityIndex, sqlx::Error> {
        let mut index = VelocityIndex {
            per_agent: HashMap::new(),
            bounds,
        };
        if bounds.cap == 0 {
            return Ok(index);
        }
        // Only the newest `cap` approvals per agent cross over from SQLite.
        let mut rows = sqlx::query(
            "SELECT agent, at FROM (SELECT agent, at, row_number() OVER (PARTITION BY agent ORDER BY at DESC) AS n \
             FROM ledger WHERE at >= $1 AND kind = 'payment') AS recent WHERE n <= $2 ORDER BY at",
        )
        .bind(now_micros.saturating_sub(bounds.window_micros))
        .bind(i64::try_from(bounds.cap).unwrap_or(i64::MAX))
        .fetch(conn);
        while let Some(row) = rows.try_next().await? {
            let agent: String = row.try_get(0)?;
            let agent = agent
                .parse::<AgentName>()
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            index.push(&agent, row.try_get(1)?, now_micros);
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_what_decisions_need() {
        let agent: AgentName = "a".parse().unwrap();
        let mut index = VelocityIndex {
            per_agent: HashMap::new(),
            bounds: VelocityBounds {
                cap: 3,
                window_micros: 100,
            },
        };
        for at in [10, 20, 30, 40, 50] {
            index.push(&agent, at, 50);
        }
        assert_eq!(index.count_since(&agent, 0), 3, "capped at count + 1");
        assert_eq!(index.count_since(&agent, 45), 1);
        index.push(&agent, 200, 200);
        assert_eq!(
            index.count_since(&agent, 0),
            1,
            "older than the window is dropped"
        );
    }
}
