//! `cargo bench -p purser-core --bench decide_percentiles`: times 100,000 single
//! decisions per path with `Instant` and prints p50/p99/max, the figures the engine's
//! budget is stated in (p50 ≤ 1 µs, p99 ≤ 5 µs). Each figure includes one
//! `Instant::now()` pair, printed as `timer` for reference.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a broken fixture must fail loudly"
)]

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use purser_core::AuthorizationRequest;
use purser_core::engine::decide;
use support::Fixture;

const CALLS: usize = 100_000;

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.50), at(0.99), at(1.0))
}

fn measure(name: &str, mut call: impl FnMut()) {
    for _ in 0..10_000 {
        call();
    }
    let samples = (0..CALLS)
        .map(|_| {
            let start = Instant::now();
            call();
            start.elapsed()
        })
        .collect();
    let (p50, p99, max) = percentiles(samples);
    println!("{name:<8} p50 {p50:>9.2?}   p99 {p99:>9.2?}   max {max:>9.2?}   ({CALLS} calls)");
}

fn main() {
    let f = Fixture::new();
    support::assert_paths(&f);
    let path = |request: &AuthorizationRequest| {
        let f = &f;
        let request = request.clone();
        move || {
            black_box(decide(
                black_box(&f.policy),
                black_box(&request),
                &f.ledger,
                f.now,
            ));
        }
    };
    measure("timer", || {});
    measure("approve", path(&f.approve));
    measure("deny", path(&f.deny));
    measure("pending", path(&f.pending));
}
