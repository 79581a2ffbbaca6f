//! [`Clock`]: the only way Purser learns the time.
//!
//! Core code never reads a clock; services hold an `Arc<dyn Clock>` and pass `now` into
//! the engine, so tests (and the reliability suite's clock jumps) can move time at will.

use crate::Timestamp;

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}
