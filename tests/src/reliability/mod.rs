//! The reliability and security suite's shared parts (docs/reliability.md): how big a
//! run is ([`Mode`]), how each scenario reports its figures ([`Row`]), a pool of agent
//! threads ([`run_parallel`]), a seeded random source ([`Rng`]), the principal's admin
//! socket spoken directly ([`admin`]) and the independent recomputation of the ledger
//! from the exported audit trail ([`trail`]).
//!
//! The scenarios are `tests/tests/reliability_*.rs`. They attack the real `purser serve`
//! process from outside, exactly like the rest of this crate: nothing here may reach
//! into the daemon's crates, so every figure is what an agent, a principal or an auditor
//! could observe.

pub mod admin;
pub mod trail;

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Environment variable that sizes the suite: `full` runs the figures of the issue
/// (10,000 racing requests, 100 crashes, 100,000 hostile HTTP requests…); anything else,
/// or unset, runs the short version every `cargo test` runs.
pub const MODE_ENV: &str = "PURSER_RELIABILITY";
/// Environment variable naming a file each scenario appends its [`Row`] to (one JSON
/// object a line); `cargo xtask reliability` reads it to print and write the table.
pub const REPORT_ENV: &str = "PURSER_RELIABILITY_REPORT";

/// How big a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Short,
    Full,
}

impl Mode {
    pub fn from_env() -> Mode {
        match std::env::var(MODE_ENV) {
            Ok(value) if value.trim().eq_ignore_ascii_case("full") => Mode::Full,
            _ => Mode::Short,
        }
    }

    /// `short` in the short run, `full` in the full one.
    pub fn size<T>(self, short: T, full: T) -> T {
        match self {
            Mode::Short => short,
            Mode::Full => full,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Short => "short",
            Mode::Full => "full",
        }
    }
}

/// One line of the reliability table: which scenario, the load it ran, the property it
/// checked and the figures it measured. Printed (`cargo test -- --nocapture` shows it)
/// and appended to [`REPORT_ENV`]'s file when set.
#[derive(Debug)]
pub struct Row {
    pub scenario: &'static str,
    pub started: Instant,
    /// (name, value) pairs, in order.
    pub figures: Vec<(String, String)>,
}

impl Row {
    pub fn new(scenario: &'static str) -> Row {
        Row {
            scenario,
            started: Instant::now(),
            figures: Vec::new(),
        }
    }

    pub fn figure(&mut self, name: &str, value: impl ToString) -> &mut Row {
        self.figures.push((name.to_owned(), value.to_string()));
        self
    }

    /// Prints the row and appends it to the report file; call once every assertion of
    /// the scenario passed.
    pub fn report(&mut self) {
        let elapsed = self.started.elapsed();
        self.figure("time", format!("{:.1} s", elapsed.as_secs_f64()));
        let mode = Mode::from_env();
        let mut text = String::new();
        for (name, value) in &self.figures {
            let _ = write!(text, "{name}: {value}; ");
        }
        let text = text.trim_end_matches("; ").to_owned();
        println!(
            "reliability | {} | {} | {text} | PASS",
            self.scenario,
            mode.name()
        );
        if let Some(path) = std::env::var_os(REPORT_ENV) {
            let figures: serde_json::Map<String, serde_json::Value> = self
                .figures
                .iter()
                .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
                .collect();
            let line = serde_json::json!({
                "scenario": self.scenario,
                "mode": mode.name(),
                "figures": figures,
                "order": self.figures.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>(),
            });
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .expect("open the reliability report file");
            writeln!(file, "{line}").expect("append to the reliability report file");
        }
    }
}

/// A small, seeded pseudo-random source (SplitMix64): runs are reproducible from the
/// seed a failure message prints, and the crate needs no dependency for it.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A seed from `PURSER_RELIABILITY_SEED`, else from the clock.
    pub fn seed_from_env() -> u64 {
        std::env::var("PURSER_RELIABILITY_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(7)
            })
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `low..=high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn sleep_up_to(&mut self, max: Duration) {
        let micros = self.below(max.as_micros() as u64 + 1);
        std::thread::sleep(Duration::from_micros(micros));
    }
}

/// Runs `jobs` jobs on `threads` threads (each takes the next job index until none is
/// left) and returns every job's result, in job order.
pub fn run_parallel<T, F>(threads: usize, jobs: usize, work: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> T + Send + Sync + 'static,
{
    let next = Arc::new(AtomicU64::new(0));
    let results: Arc<Mutex<Vec<Option<T>>>> =
        Arc::new(Mutex::new((0..jobs).map(|_| None).collect()));
    let work = Arc::new(work);
    let handles: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let next = Arc::clone(&next);
            let results = Arc::clone(&results);
            let work = Arc::clone(&work);
            std::thread::spawn(move || {
                loop {
                    let job = next.fetch_add(1, Ordering::SeqCst) as usize;
                    if job >= jobs {
                        return;
                    }
                    let result = work(job);
                    results.lock().unwrap()[job] = Some(result);
                }
            })
        })
        .collect();
    for handle in handles {
        if let Err(panic) = handle.join() {
            std::panic::resume_unwind(panic);
        }
    }
    Arc::try_unwrap(results)
        .unwrap_or_else(|_| panic!("every worker has finished"))
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|result| result.expect("every job ran"))
        .collect()
}

/// `12_500_000` → `"12.50"`-style exact decimal (at least two fraction digits), for
/// request bodies and messages.
pub fn decimal(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    let fraction = format!("{:06}", micros % 1_000_000);
    let fraction = fraction.trim_end_matches('0');
    let fraction = format!("{fraction:0<2}");
    format!("{sign}{}.{fraction}", micros / 1_000_000)
}

/// An RFC 3339 UTC time of the API or the trail (`2026-11-26T13:35:12.566Z`, any number
/// of fraction digits, `Z` or `+00:00`) in microseconds since 1970: times compare as
/// numbers, never as strings of different precision.
pub fn unix_micros(text: &str) -> i64 {
    try_unix_micros(text).unwrap_or_else(|| panic!("not an RFC 3339 UTC time: {text:?}"))
}

fn try_unix_micros(text: &str) -> Option<i64> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.split('-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock = clock.split(':').map(|part| part.parse::<i64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    let fraction: String = fraction
        .chars()
        .chain(std::iter::repeat('0'))
        .take(6)
        .collect();
    let fraction: i64 = fraction.parse().ok()?;
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000 + fraction)
}

/// The resident memory of process `pid` in KiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|error| panic!("read /proc/{pid}/status: {error}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(12_500_000), "12.50");
        assert_eq!(decimal(1), "0.000001");
        assert_eq!(decimal(3_000_000), "3.00");
        assert_eq!(decimal(-1_250_000), "-1.25");
    }

    #[test]
    fn times_compare_as_instants() {
        assert_eq!(unix_micros("1970-01-01T00:00:00Z"), 0);
        assert_eq!(unix_micros("2000-03-01T00:00:01.5Z"), 951_868_801_500_000);
        assert!(
            unix_micros("2026-11-26T13:35:12.566493Z") > unix_micros("2026-11-26T13:35:12.566Z")
        );
        assert_eq!(
            unix_micros("2026-11-26T13:35:12.566+00:00"),
            unix_micros("2026-11-26T13:35:12.566000000Z")
        );
    }

    #[test]
    fn parallel_jobs_come_back_in_order() {
        let squares = run_parallel(4, 50, |job| job * job);
        assert_eq!(squares, (0..50).map(|job| job * job).collect::<Vec<_>>());
    }

    #[test]
    fn the_rng_is_reproducible_and_in_range() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..1000 {
            let x = a.range(3, 9);
            assert_eq!(x, b.range(3, 9));
            assert!((3..=9).contains(&x));
        }
    }
}
