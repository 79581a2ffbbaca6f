//! `cargo bench -p purser-core --bench decide`: the engine on a policy of about a
//! hundred rules (see `support/mod.rs`). Target: p50 ≤ 1 µs, p99 ≤ 5 µs per decision
//! (`decide_percentiles` prints those).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a broken fixture must fail loudly"
)]

mod support;

use divan::{Bencher, black_box};
use purser_core::engine::{budget_lines, decide};
use support::Fixture;

fn main() {
    support::assert_paths(&Fixture::new());
    divan::main();
}

/// Everything allows it: the common case, and the one that must not allocate beyond
/// the decision.
#[divan::bench]
fn approve(bencher: Bencher) {
    let f = Fixture::new();
    bencher.bench_local(|| {
        decide(
            black_box(&f.policy),
            black_box(&f.approve),
            &f.ledger,
            f.now,
        )
    });
}

/// Blocked merchant, over the transaction cap and over budgets: formats several messages.
#[divan::bench]
fn deny(bencher: Bencher) {
    let f = Fixture::new();
    bencher.bench_local(|| decide(black_box(&f.policy), black_box(&f.deny), &f.ledger, f.now));
}

/// Above the approval threshold: pending.
#[divan::bench]
fn pending(bencher: Bencher) {
    let f = Fixture::new();
    bencher.bench_local(|| {
        decide(
            black_box(&f.policy),
            black_box(&f.pending),
            &f.ledger,
            f.now,
        )
    });
}

/// `GET /v1/budget` for one agent (21 lines).
#[divan::bench]
fn budget(bencher: Bencher) {
    let f = Fixture::new();
    let agent = &f.approve.agent;
    let session = f.approve.session_id.as_ref();
    bencher.bench_local(|| budget_lines(black_box(&f.policy), agent, session, &f.ledger, f.now));
}
