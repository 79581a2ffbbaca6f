//! Notification fatigue: when requests pour in, the principal gets one summary ("5
//! requests waiting") instead of a storm of prompts. [`StormGuard`] remembers when the
//! recent single notifications went out; more than `max_single` of them within `window`
//! and the next ones go to the summary until the burst has passed.
//!
//! Pure: the caller passes the time in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How one new pending request reaches the principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A notification of its own, with Approve / Deny.
    Single,
    /// Counted in the summary notification.
    Summary,
}

/// The sliding window of recent single notifications.
#[derive(Debug, Clone)]
pub struct StormGuard {
    max_single: usize,
    window: Duration,
    recent: VecDeque<Instant>,
}

impl StormGuard {
    pub fn new(max_single: usize, window: Duration) -> StormGuard {
        StormGuard {
            max_single,
            window,
            recent: VecDeque::with_capacity(max_single + 1),
        }
    }

    /// How the request arriving `now` is delivered.
    pub fn arrive(&mut self, now: Instant) -> Delivery {
        while self
            .recent
            .front()
            .is_some_and(|sent| now.saturating_duration_since(*sent) >= self.window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() < self.max_single {
            self.recent.push_back(now);
            Delivery::Single
        } else {
            // INVARIANT: `recent` never holds more than `max_single` instants, so a
            // long storm costs no memory.
            Delivery::Summary
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fourth_within_ten_seconds_goes_to_the_summary() {
        let start = Instant::now();
        let mut guard = StormGuard::new(3, Duration::from_secs(10));
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(guard.arrive(at(0)), Delivery::Single);
        assert_eq!(guard.arrive(at(100)), Delivery::Single);
        assert_eq!(guard.arrive(at(200)), Delivery::Single);
        assert_eq!(guard.arrive(at(300)), Delivery::Summary);
        assert_eq!(guard.arrive(at(9_999)), Delivery::Summary);
        // Ten seconds after the first single one, there is room for one more.
        assert_eq!(guard.arrive(at(10_000)), Delivery::Single);
        assert_eq!(guard.arrive(at(10_050)), Delivery::Summary);
    }

    #[test]
    fn requests_spread_out_are_each_notified() {
        let start = Instant::now();
        let mut guard = StormGuard::new(3, Duration::from_secs(10));
        for i in 0..20 {
            let now = start + Duration::from_secs(4 * i);
            assert_eq!(guard.arrive(now), Delivery::Single, "request {i}");
        }
    }
}
