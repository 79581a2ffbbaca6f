//! Purser's `decide` against the engines people would pick instead: Cedar
//! (`cedar-policy`) and Rego (`regorus`), on the same decision.
//!
//! 1. One [`spec::Spec`] renders the policy for all three; one seeded generator makes the
//!    requests (10,000 in the full run).
//! 2. **Agreement first**: every request is decided by all three, and the status
//!    (approved / pending / denied) and the reason codes behind it (the deny codes of a
//!    denial, the ask codes of a pending) must be equal. Any difference fails the run
//!    loudly, naming the request: timing engines that decide differently would compare
//!    nothing.
//! 3. Then timing: each call timed alone with `Instant` (whose own cost is printed as
//!    `timer`), engines interleaved pass by pass so a noisy moment hurts them alike;
//!    p50 and p99 per decision and Cedar's and Rego's ratios to Purser.
//!
//! Each engine gets its inputs prepared before timing: Purser its typed request and a
//! ledger view, Cedar a built `Request` with its context, Rego a built input value.

pub mod cedar;
pub mod purser;
pub mod rego;
pub mod spec;

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::mode::Mode;
use crate::report::Figure;
use crate::stats::{Percentiles, human, thousands};
use cedar::CedarEngine;
use purser::PurserEngine;
use rego::RegoEngine;
use spec::{Case, Spec};

/// The generator's seed: the same requests on every run.
pub const SEED: u64 = 0x5075_7273_6572;

/// A decision's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Approved,
    Pending,
    Denied,
}

/// A decision with the reason codes that made it (empty for an approval).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    pub status: Status,
    pub codes: BTreeSet<String>,
}

impl Explained {
    fn missing() -> Explained {
        Explained {
            status: Status::Denied,
            codes: BTreeSet::from(["no such case".to_owned()]),
        }
    }
}

/// What the comparison measured.
#[derive(Debug, Clone)]
pub struct EngineTimes {
    pub name: &'static str,
    pub latency: Percentiles,
}

/// Runs the comparison; fails if the engines disagree on any request.
pub fn run(mode: Mode) -> anyhow::Result<Vec<Figure>> {
    let (count, passes) = mode.pick((1_000, 1), (10_000, 5));
    let spec = Spec::new();
    let (rules, rules_text) = spec.rules();
    let cases = spec::generate(&spec, count, SEED)?;
    let purser = PurserEngine::new(&spec, &cases)?;
    let cedar = CedarEngine::new(&spec, &cases)?;
    let mut rego = RegoEngine::new(&spec, &cases)?;

    let tally = agree(&cases, &purser, &cedar, &mut rego)?;
    println!(
        "  engines agree on all {} requests ({} approved, {} pending, {} denied); {rules_text}",
        thousands(count as u64),
        tally[0],
        tally[1],
        tally[2]
    );

    let mut samples: [Vec<u64>; 4] = Default::default();
    // Warm-up: one untimed pass each (caches, branch predictors, regorus' glob cache).
    for index in 0..cases.len() {
        black_box(purser.status(&cases, index));
        black_box(cedar.status(index));
        black_box(rego.status(index));
    }
    for _ in 0..passes {
        for _ in 0..cases.len() {
            samples[0].push(time(|| ()));
        }
        for index in 0..cases.len() {
            samples[1].push(time(|| black_box(purser.status(&cases, black_box(index)))));
        }
        for index in 0..cases.len() {
            samples[2].push(time(|| black_box(cedar.status(black_box(index)))));
        }
        for index in 0..cases.len() {
            samples[3].push(time(|| black_box(rego.status(black_box(index)))));
        }
    }
    let [timer, purser_ns, cedar_ns, rego_ns] = samples;
    let percentiles = |samples: Vec<u64>| {
        Percentiles::of_nanos(samples).ok_or_else(|| anyhow::anyhow!("no samples"))
    };
    let timer = percentiles(timer)?;
    let times = [
        EngineTimes {
            name: "Purser decide",
            latency: percentiles(purser_ns)?,
        },
        EngineTimes {
            name: "Cedar (cedar-policy 4)",
            latency: percentiles(cedar_ns)?,
        },
        EngineTimes {
            name: "Rego (regorus 0.14)",
            latency: percentiles(rego_ns)?,
        },
    ];
    for engine in &times {
        println!(
            "  {:<24} p50 {:>9}  p99 {:>9}  ({} calls)",
            engine.name,
            human(engine.latency.p50),
            human(engine.latency.p99),
            thousands(engine.latency.count as u64)
        );
    }
    Ok(figures(rules, count, tally, timer, &times))
}

/// Times one call in nanoseconds.
#[inline]
fn time<T>(call: impl FnOnce() -> T) -> u64 {
    let start = Instant::now();
    black_box(call());
    start.elapsed().as_nanos() as u64
}

/// Decides every case with all three engines; the first difference is an error.
/// Returns how many were approved, pending and denied.
fn agree(
    cases: &[Case],
    purser: &PurserEngine,
    cedar: &CedarEngine,
    rego: &mut RegoEngine,
) -> anyhow::Result<[usize; 3]> {
    let mut tally = [0; 3];
    for (index, case) in cases.iter().enumerate() {
        let ours = purser.explain(cases, index);
        let theirs = [
            ("Cedar", cedar.explain(index)?),
            ("Rego", rego.explain(index)?),
        ];
        for (name, other) in &theirs {
            if *other != ours {
                bail!(
                    "the engines disagree on request {index}: Purser {ours:?}, {name} {other:?}\nrequest: {:?} at {} (local weekday {} minute {}), spent today {} this month {}",
                    case.request,
                    case.now,
                    case.weekday,
                    case.minute,
                    case.spent_day,
                    case.spent_month
                );
            }
        }
        // The fast paths must say what the explained ones say.
        let fast = [
            purser.status(cases, index),
            cedar.status(index),
            rego.status(index),
        ];
        if fast.iter().any(|status| *status != ours.status) {
            bail!(
                "request {index}: the timed calls answered {fast:?}, the explained ones {:?}",
                ours.status
            );
        }
        tally[ours.status as usize] += 1;
    }
    if tally.contains(&0) && cases.len() >= 100 {
        bail!("the generated requests do not cover every outcome: {tally:?}");
    }
    Ok(tally)
}

fn figures(
    rules: usize,
    count: usize,
    tally: [usize; 3],
    timer: Percentiles,
    times: &[EngineTimes; 3],
) -> Vec<Figure> {
    let section = "decision engine";
    let mut figures = vec![
        Figure::info(
            section,
            "agreement before timing",
            format!(
                "{} / {} requests identical (status + reason codes): {} approved, {} pending, {} denied",
                thousands(count as u64),
                thousands(count as u64),
                thousands(tally[0] as u64),
                thousands(tally[1] as u64),
                thousands(tally[2] as u64)
            ),
        )
        .goal("all agree", true)
        .bound(format!("{rules}-rule policy")),
    ];
    for engine in times {
        figures.push(
            Figure::info(
                section,
                format!("{} p50 / p99", engine.name),
                format!(
                    "{} / {}",
                    human(engine.latency.p50),
                    human(engine.latency.p99)
                ),
            )
            .bound(format!(
                "CPU, one core; {} timed calls, each including the timer ({} p50)",
                thousands(engine.latency.count as u64),
                human(timer.p50)
            )),
        );
    }
    let [ours, cedar, rego] = times;
    let ratio =
        |theirs: Duration, ours: Duration| theirs.as_secs_f64() / ours.as_secs_f64().max(1e-12);
    let cedar_p50 = ratio(cedar.latency.p50, ours.latency.p50);
    let cedar_p99 = ratio(cedar.latency.p99, ours.latency.p99);
    figures.push(
        Figure::info(
            section,
            "Cedar / Purser, p50 and p99",
            format!("{cedar_p50:.1}x / {cedar_p99:.1}x"),
        )
        .goal("≥ 3x at both", cedar_p50 >= 3.0 && cedar_p99 >= 3.0),
    );
    figures.push(Figure::info(
        section,
        "Rego / Purser, p50 and p99",
        format!(
            "{:.1}x / {:.1}x",
            ratio(rego.latency.p50, ours.latency.p50),
            ratio(rego.latency.p99, ours.latency.p99)
        ),
    ));
    figures
}
