//! [`AuthFailures`]: a token bucket per peer address that only failed authentications
//! drain, so tokens cannot be guessed at speed while agents with valid tokens are never
//! slowed by their own traffic.
//!
//! A peer with an empty bucket is refused (429 with `Retry-After`) *before* its token is
//! looked at, so even a correct guess is not confirmed while it is limited. The table of
//! peers is bounded; when full, the peer with the fullest bucket (the least suspicious)
//! is forgotten first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct AuthFailures {
    burst: u32,
    /// Time to earn back one failure.
    refill_every: Duration,
    max_peers: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    available: u32,
    /// When `available` was last brought up to date.
    refilled_at: Instant,
}

impl AuthFailures {
    /// `burst` failures at once, refilled at `burst` per `period`, for at most
    /// `max_peers` addresses.
    pub fn new(burst: u32, period: Duration, max_peers: usize) -> AuthFailures {
        let burst = burst.max(1);
        AuthFailures {
            burst,
            refill_every: period / burst,
            max_peers: max_peers.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when `peer` has used up its failures.
    pub fn check(&self, peer: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.lock();
        let Some(bucket) = buckets.get_mut(&peer) else {
            return Ok(());
        };
        self.refill(bucket, now);
        if bucket.available > 0 {
            Ok(())
        } else {
            Err((bucket.refilled_at + self.refill_every).saturating_duration_since(now))
        }
    }

    /// Counts one failed authentication of `peer`.
    pub fn record_failure(&self, peer: IpAddr) {
        let now = Instant::now();
        let mut buckets = self.lock();
        if !buckets.contains_key(&peer) && buckets.len() >= self.max_peers {
            self.forget_one(&mut buckets, now);
        }
        let bucket = buckets.entry(peer).or_insert(Bucket {
            available: self.burst,
            refilled_at: now,
        });
        self.refill(bucket, now);
        bucket.available = bucket.available.saturating_sub(1);
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        if self.refill_every.is_zero() {
            bucket.available = self.burst;
            bucket.refilled_at = now;
            return;
        }
        let elapsed = now.saturating_duration_since(bucket.refilled_at);
        let earned = elapsed.as_nanos() / self.refill_every.as_nanos();
        if earned == 0 {
            return;
        }
        let missing = self.burst - bucket.available.min(self.burst);
        if earned >= u128::from(missing) {
            bucket.available = self.burst;
            bucket.refilled_at = now;
        } else {
            // earned < missing <= burst, so the conversion cannot fail.
            let earned = u32::try_from(earned).unwrap_or(missing);
            bucket.available += earned;
            bucket.refilled_at += self.refill_every * earned;
        }
    }

    /// Drops the fullest bucket to make room.
    fn forget_one(&self, buckets: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        for bucket in buckets.values_mut() {
            self.refill(bucket, now);
        }
        let fullest = buckets
            .iter()
            .max_by_key(|(_, bucket)| bucket.available)
            .map(|(ip, _)| *ip);
        if let Some(ip) = fullest {
            buckets.remove(&ip);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, Bucket>> {
        // Each update leaves a bucket valid, so a poisoned lock is still usable.
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[tokio::test(start_paused = true)]
    async fn twenty_failures_then_limited_until_refill() {
        let failures = AuthFailures::new(20, Duration::from_secs(10), 16);
        for _ in 0..20 {
            assert!(failures.check(PEER).is_ok());
            failures.record_failure(PEER);
        }
        let retry_after = failures.check(PEER).unwrap_err();
        assert_eq!(retry_after, Duration::from_millis(500));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(failures.check(PEER).is_ok(), "one failure earned back");
        failures.record_failure(PEER);
        assert!(failures.check(PEER).is_err());
        tokio::time::advance(Duration::from_secs(10)).await;
        for _ in 0..20 {
            assert!(failures.check(PEER).is_ok());
            failures.record_failure(PEER);
        }
        assert!(
            failures.check(PEER).is_err(),
            "refill never exceeds the burst"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn peers_are_independent_and_the_table_is_bounded() {
        let failures = AuthFailures::new(1, Duration::from_secs(10), 2);
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        failures.record_failure(PEER);
        assert!(failures.check(PEER).is_err());
        assert!(failures.check(other).is_ok());
        failures.record_failure(other);
        failures.record_failure(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
        assert!(failures.lock().len() <= 2);
    }
}
