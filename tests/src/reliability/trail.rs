//! The independent recomputation: what every budget window holds, computed from the
//! exported audit trail (`purser audit export --format jsonl`) alone, never from the
//! daemon's ledger. Each audit row about an authorization carries the authorization as
//! it stood after the event; the last such row of each id is where it ended. From it:
//!
//! - `approved` with auto capture (payments and usage): `amount` is spent;
//! - `approved` with manual capture: `amount` is held;
//! - `captured`: `captured_amount` is spent (the rest was released);
//! - anything else (denied, pending, expired, cancelled, voided): nothing.
//!
//! Money counts in the window of its approval instant (`decided_at`), as the contract
//! says. The scenarios compare these sums with each window's `max` and with what
//! `/v1/budget` reports: equality shows the ledger never drifted from its trail.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::TestDaemon;
use crate::agent::micros;

/// Spent and held micro-units of one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    pub spent: i64,
    pub held: i64,
}

impl Sums {
    pub fn total(self) -> i64 {
        self.spent + self.held
    }
}

/// Where one authorization ended, as its last audit row says.
#[derive(Debug, Clone)]
pub struct Final {
    pub id: String,
    pub request_id: String,
    pub agent: String,
    /// `payment` or `usage`.
    pub kind: String,
    pub status: String,
    pub capture: String,
    pub amount: i64,
    pub captured: Option<i64>,
    pub currency: String,
    pub merchant: String,
    pub session_id: Option<String>,
    /// RFC 3339, `None` while pending.
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub expires_at: Option<String>,
    /// `seq` of the last row about it.
    pub last_seq: u64,
}

impl Final {
    /// What it counts against its windows.
    pub fn sums(&self) -> Sums {
        match (self.status.as_str(), self.capture.as_str()) {
            ("approved", "manual") => Sums {
                spent: 0,
                held: self.amount,
            },
            ("approved", _) => Sums {
                spent: self.amount,
                held: 0,
            },
            ("captured", _) => Sums {
                spent: self.captured.unwrap_or(self.amount),
                held: 0,
            },
            _ => Sums::default(),
        }
    }

    /// The UTC day (`YYYY-MM-DD`) of its approval.
    pub fn day(&self) -> Option<&str> {
        self.decided_at.as_deref().and_then(|at| at.get(..10))
    }
}

/// The exported trail.
#[derive(Debug, Clone)]
pub struct Trail {
    /// Every row, oldest first.
    pub rows: Vec<Value>,
}

impl Trail {
    /// `purser audit export --format jsonl` of `daemon`.
    pub fn export(daemon: &TestDaemon) -> Trail {
        let text = daemon.cli_ok(&["audit", "export", "--format", "jsonl"]);
        Trail::parse(&text)
    }

    pub fn parse(jsonl: &str) -> Trail {
        let rows: Vec<Value> = jsonl
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|error| {
                    panic!("audit export line is not JSON ({error}): {line}")
                })
            })
            .collect();
        for pair in rows.windows(2) {
            assert!(
                pair[0]["seq"].as_u64() < pair[1]["seq"].as_u64(),
                "the export is oldest first: {} then {}",
                pair[0]["seq"],
                pair[1]["seq"]
            );
        }
        Trail { rows }
    }

    /// Rows of `kind` (`kill`, `resume`, `request`, `approval`…).
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.rows.iter().filter(move |row| row["kind"] == kind)
    }

    /// Where every authorization ended, by id.
    pub fn finals(&self) -> BTreeMap<String, Final> {
        let mut finals = BTreeMap::new();
        for row in &self.rows {
            let body = &row["body"];
            let (Some(id), Some(status)) =
                (row["authorization_id"].as_str(), body["status"].as_str())
            else {
                continue;
            };
            let text = |field: &str| body[field].as_str().map(str::to_owned);
            finals.insert(
                id.to_owned(),
                Final {
                    id: id.to_owned(),
                    request_id: text("request_id").unwrap_or_default(),
                    agent: text("agent").unwrap_or_default(),
                    kind: text("kind").unwrap_or_default(),
                    status: status.to_owned(),
                    capture: text("capture").unwrap_or_else(|| "auto".into()),
                    amount: micros(body["amount"].as_str().unwrap_or_else(|| {
                        panic!("audit row {} has no amount: {row}", row["seq"])
                    })),
                    captured: body["captured_amount"].as_str().map(micros),
                    currency: text("currency").unwrap_or_default(),
                    merchant: text("merchant").unwrap_or_default(),
                    session_id: text("session_id"),
                    decided_at: text("decided_at"),
                    decided_by: text("decided_by"),
                    expires_at: text("expires_at"),
                    last_seq: row["seq"].as_u64().unwrap_or(0),
                },
            );
        }
        finals
    }

    /// The sums of every window keyed by `key` (return `None` for authorizations that do
    /// not count in any window of that kind).
    pub fn sums_by<K: Ord>(&self, key: impl Fn(&Final) -> Option<K>) -> BTreeMap<K, Sums> {
        let mut sums: BTreeMap<K, Sums> = BTreeMap::new();
        for authorization in self.finals().values() {
            let counted = authorization.sums();
            if counted == Sums::default() {
                continue;
            }
            if let Some(key) = key(authorization) {
                let entry = sums.entry(key).or_default();
                entry.spent += counted.spent;
                entry.held += counted.held;
            }
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_row_of_an_authorization_decides_what_it_counts() {
        let jsonl = r#"
{"seq":1,"kind":"request","authorization_id":"a","body":{"agent":"x","amount":"5.00","capture":"manual","currency":"USD","status":"approved","decided_at":"2026-11-26T10:00:00Z"}}
{"seq":2,"kind":"request","authorization_id":"b","body":{"agent":"x","amount":"7.00","capture":"auto","currency":"USD","status":"approved","decided_at":"2026-11-26T10:00:01Z"}}
{"seq":3,"kind":"capture","authorization_id":"a","body":{"agent":"x","amount":"5.00","capture":"manual","captured_amount":"3.00","currency":"USD","status":"captured","decided_at":"2026-11-26T10:00:00Z"}}
{"seq":4,"kind":"request","authorization_id":"c","body":{"agent":"y","amount":"9.00","capture":"manual","currency":"USD","status":"approved","decided_at":"2026-11-27T00:00:00Z"}}
{"seq":5,"kind":"kill","authorization_id":null,"body":{"reason":null}}
"#;
        let trail = Trail::parse(jsonl);
        let by_agent_day = trail.sums_by(|a| Some((a.agent.clone(), a.day()?.to_owned())));
        assert_eq!(
            by_agent_day[&("x".to_owned(), "2026-11-26".to_owned())],
            Sums {
                spent: 10_000_000,
                held: 0
            }
        );
        assert_eq!(
            by_agent_day[&("y".to_owned(), "2026-11-27".to_owned())],
            Sums {
                spent: 0,
                held: 9_000_000
            }
        );
        assert_eq!(trail.of_kind("kill").count(), 1);
    }
}
