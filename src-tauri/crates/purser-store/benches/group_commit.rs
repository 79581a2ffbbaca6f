//! Durable decisions per second with 64 concurrent callers, group commit on vs off, in
//! the same run; then the cost of a large trail: open (state rebuild) time, idle memory
//! of a freshly opened store, and `verify` time.
//!
//! `cargo bench -p purser-store --bench group_commit`; `PURSER_BENCH_TRAIL_ROWS=1000000`
//! sizes the large-trail part (default 100000); `PURSER_BENCH_TRAIL_DB=PATH` keeps that
//! database (and reuses it when it exists). Databases live under the target dir, on
//! a real disk, so every COMMIT pays a real fsync.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use purser_core::policy::parse_policy;
use purser_core::{AuthorizationRequest, CaptureMode, Clock, RequestKind};
use purser_store::{SqliteStore, Store, StoreOptions, SystemClock};

const CALLERS: usize = 64;
/// The callers act for this many agents (several tasks per agent, as real agents run).
const AGENTS: usize = 8;

const POLICY: &str = r#"
version = 1
timezone = "UTC"

[[limit]]
currency = "USD"
window = "month"
max = "999999999.00"
on_exceed = "deny"

[profiles.default]
currencies = ["USD"]

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "999999999.00"
on_exceed = "deny"
"#;

type BoxError = Box<dyn Error + Send + Sync>;
type Result<T> = std::result::Result<T, BoxError>;

fn request(agent: &str, request_id: String) -> Result<AuthorizationRequest> {
    Ok(AuthorizationRequest {
        agent: agent.parse()?,
        request_id: request_id.parse()?,
        kind: RequestKind::Payment,
        amount: "0.01".parse()?,
        currency: "USD".parse()?,
        merchant: "api.example.com".parse()?,
        category: None,
        rail: None,
        capture: CaptureMode::Auto,
        session_id: Some("bench".parse()?),
        purpose: "benchmark purchase".into(),
        context: None,
    })
}

async fn prepared_store(path: &Path, options: StoreOptions) -> Result<SqliteStore> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = SqliteStore::open(path, clock, options).await?;
    if store.list_agents().await?.is_empty() {
        store
            .apply_policy(POLICY, parse_policy("bench", POLICY)?, "bench")
            .await?;
        for agent in 0..AGENTS {
            store
                .add_agent(
                    format!("agent-{agent}").parse()?,
                    None,
                    [u8::try_from(agent)?; 32],
                )
                .await?;
        }
    }
    Ok(store)
}

/// `per_caller` requests from each of 64 concurrent callers; returns decisions/s.
async fn run(store: &SqliteStore, label: &str, per_caller: usize) -> Result<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..CALLERS {
        let store = store.clone();
        let prefix = label.replace(['=', ' '], "_");
        tasks.push(tokio::spawn(async move {
            let agent = format!("agent-{}", caller % AGENTS);
            let mut slowest = Duration::ZERO;
            for n in 0..per_caller {
                let asked = Instant::now();
                let answer = store
                    .authorize(request(&agent, format!("{prefix}-{caller}-{n}"))?)
                    .await?;
                slowest = slowest.max(asked.elapsed());
                if answer.status != purser_core::AuthorizationStatus::Approved {
                    return Err(format!("unexpected {answer:?}").into());
                }
            }
            Ok::<Duration, BoxError>(slowest)
        }));
    }
    let mut slowest = Duration::ZERO;
    for task in tasks {
        slowest = slowest.max(task.await??);
    }
    let elapsed = started.elapsed();
    let decisions = CALLERS * per_caller;
    let rate = decisions as f64 / elapsed.as_secs_f64();
    println!(
        "{label:>18}: {decisions:>6} durable decisions in {:>7.3} s = {rate:>8.0}/s (slowest answer {:.1} ms)",
        elapsed.as_secs_f64(),
        slowest.as_secs_f64() * 1e3
    );
    Ok(rate)
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Child mode: open an existing database, report open time and idle RSS, verify.
async fn measure_open(path: &Path) -> Result<()> {
    let started = Instant::now();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = SqliteStore::open(path, clock, StoreOptions::default()).await?;
    let opened = started.elapsed();
    store.status().await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss = rss_kib().unwrap_or(0);
    let started = Instant::now();
    let verification = store.verify_audit().await?;
    let verified = started.elapsed();
    println!(
        "{:>18}: open {:.3} s, idle RSS {:.1} MiB after open, verify {} rows in {:.3} s (intact: {})",
        "large trail",
        opened.as_secs_f64(),
        rss as f64 / 1024.0,
        verification.rows,
        verified.as_secs_f64(),
        verification.intact
    );
    Ok(())
}

fn bench_dir() -> Result<tempfile::TempDir> {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base)?;
    Ok(tempfile::tempdir_in(base)?)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(position) = args.iter().position(|a| a == "--measure-open") {
        let path = args
            .get(position + 1)
            .ok_or("--measure-open needs a path")?;
        return measure_open(Path::new(path)).await;
    }

    println!(
        "group commit: {CALLERS} concurrent callers for {AGENTS} agents, each decision durable (WAL, synchronous=FULL)"
    );
    let dir = bench_dir()?;
    let grouped = prepared_store(&dir.path().join("grouped.db"), StoreOptions::default()).await?;
    run(&grouped, "warm-up", 10).await?;
    let with = run(&grouped, "group_commit=true", 100).await?;
    drop(grouped);
    let single = StoreOptions {
        group_commit: false,
        ..StoreOptions::default()
    };
    let ungrouped = prepared_store(&dir.path().join("single.db"), single).await?;
    let without = run(&ungrouped, "group_commit=false", 10).await?;
    drop(ungrouped);
    println!("{:>18}: {:.1}x", "ratio", with / without);

    let rows: usize = std::env::var("PURSER_BENCH_TRAIL_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // PURSER_BENCH_TRAIL_DB keeps the large database at that path (reused if present).
    let path = std::env::var("PURSER_BENCH_TRAIL_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("trail.db"));
    let reuse = path.exists();
    if !reuse {
        let store = prepared_store(&path, StoreOptions::default()).await?;
        let started = Instant::now();
        run(&store, "fill trail", rows.div_ceil(CALLERS)).await?;
        println!(
            "{:>18}: filled in {:.1} s",
            "large trail",
            started.elapsed().as_secs_f64()
        );
        drop(store);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--measure-open")
        .arg(&path)
        .status()?;
    if !status.success() {
        return Err("the open/verify measurement failed".into());
    }
    Ok(())
}
