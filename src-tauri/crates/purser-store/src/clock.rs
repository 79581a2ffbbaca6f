//! [`SystemClock`]: the real wall clock, for the daemon. Tests pass their own clock.

use purser_core::{Clock, Timestamp};

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}
