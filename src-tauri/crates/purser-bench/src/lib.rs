//! Purser's benchmarks, as a library the bench targets and binaries share.
//!
//! - [`load`]: the load generator (`purser-load`) against the real daemon over loopback:
//!   durable throughput with group commit on and off, open-loop latency, the kill switch.
//! - [`engines`]: Purser's `decide` against Cedar and Rego (regorus) on the same policy
//!   and the same generated requests, after checking all three agree on every one.
//! - [`team`]: team mode (issue #11): the same 64-agent closed loop against SQLite, and
//!   against PostgreSQL with one and with three daemons sharing a database.
//! - [`history`]: what a large audit trail costs (verify, page query, start time, size)
//!   and the footprint of the headless daemon (idle RSS, binary sizes).
//! - [`report`]: the one table every run prints, and `docs/benchmarks.md`.
//!
//! Every entry point takes a [`Mode`]: quick (small counts, seconds, what `cargo test
//! --all-targets` runs to prove the benchmarks work and the engines agree) or full (what
//! `cargo bench` and `cargo xtask bench` run). Figures are never asserted; correctness
//! (agreement, zero approvals after kill, a durable count that matches) always is.
//!
//! What this crate must not do: change the product's behaviour to look faster, or talk
//! to anything but loopback.

pub mod client;
pub mod control;
pub mod desktop;
pub mod engines;
pub mod history;
pub mod load;
pub mod machine;
pub mod mode;
pub mod notifications;
pub mod report;
pub mod stats;
pub mod team;

pub use mode::Mode;
pub use report::{Figure, Report};
