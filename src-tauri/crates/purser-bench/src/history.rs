//! The cost of a long history and the daemon's footprint.
//!
//! A data dir is filled with decisions (1,000,000 in the full run) through the store's
//! own write path (64 concurrent callers, group commit, every batch fsynced: the rows are
//! exactly what the daemon would have written, without paying HTTP for each). Then:
//!
//! - **daemon start** on it, in process (`Daemon::start` until both APIs accept), and the
//!   real `purser serve` binary until it prints its listening line;
//! - **audit verify**: the whole hash chain;
//! - **audit page queries**: the newest page, one agent's page, a page from the middle
//!   of the trail, one status's page (what the console and `purser audit list` ask);
//! - **database size** per million decisions (database + WAL);
//! - **footprint**: idle RSS of a spawned headless `purser serve` (empty and with the
//!   large trail), and binary sizes.
//!
//! `PURSER_BENCH_HISTORY_ROWS` changes the row count; `PURSER_BENCH_HISTORY_DIR` keeps
//! the filled data dir there and reuses it when it already holds enough rows.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use purser_core::policy::parse_policy;
use purser_core::{AuthorizationRequest, AuthorizationStatus, CaptureMode, Clock, RequestKind};
use purser_daemon::{DATABASE_FILE, Daemon, ServeConfig, SystemClock};
use purser_store::{AuditFilter, AuditKind, SqliteStore, Store, StoreOptions};

use crate::machine::{filesystem_of, scratch_dir, target_profile_dir};
use crate::mode::Mode;
use crate::report::Figure;
use crate::stats::{human, thousands};

const CALLERS: usize = 64;
const PAGE: u32 = 50;

/// Runs the history and footprint measurements.
pub async fn run(mode: Mode) -> anyhow::Result<(Vec<Figure>, Vec<String>)> {
    let rows: u64 = std::env::var("PURSER_BENCH_HISTORY_ROWS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(mode.pick(3_000, 1_000_000));
    let mut notes = Vec::new();
    let scratch;
    let data_dir = match std::env::var_os("PURSER_BENCH_HISTORY_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            scratch = scratch_dir("history-")?;
            scratch.path().join("data")
        }
    };
    let mut figures = Vec::new();
    let section = "history";
    let fs = filesystem_of(data_dir.parent().unwrap_or(&data_dir));

    let existing = count_decisions(&data_dir).await?;
    let decisions = if existing >= rows {
        notes.push(format!(
            "history: reused the data dir {} ({} decisions already in it)",
            data_dir.display(),
            thousands(existing)
        ));
        existing
    } else {
        let (filled, elapsed) = fill(&data_dir, rows - existing).await?;
        figures.push(
            Figure::info(
                section,
                format!("fill {} decisions through the store", thousands(filled)),
                format!(
                    "{} s ({}/s)",
                    format_args!("{:.1}", elapsed.as_secs_f64()),
                    thousands((filled as f64 / elapsed.as_secs_f64()) as u64)
                ),
            )
            .bound(format!(
                "single writer, group commit, fsync per batch on {fs}; no HTTP"
            )),
        );
        existing + filled
    };
    let label = thousands(decisions);

    // Start in process, three times; the median.
    let mut starts = Vec::new();
    let mut daemon = None;
    for attempt in 0..3 {
        let mut config = ServeConfig::new(&data_dir);
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let started = Instant::now();
        let running = Daemon::start_with_store_options(
            config,
            Arc::new(SystemClock),
            StoreOptions::default(),
        )
        .await
        .context("cannot start the daemon on the large data dir")?;
        starts.push(started.elapsed());
        if attempt < 2 {
            running.shutdown().await;
        } else {
            daemon = Some(running);
        }
    }
    starts.sort();
    let start = starts.get(1).copied().unwrap_or_default();
    figures.push(
        Figure::info(section, format!("daemon start with {label} decisions"), human(start))
            .bound("open + migrate check + rebuilding the writer's state (budget sums, velocity, head of the chain); median of 3, warm page cache"),
    );
    let daemon = daemon.context("no daemon")?;
    let store = daemon.store();

    let started = Instant::now();
    let verification = store.verify_audit().await?;
    let verify = started.elapsed();
    ensure!(
        verification.intact,
        "audit verify found the trail broken: {verification:?}"
    );
    let verify_rows = verification.rows;
    figures.push(
        Figure::info(
            section,
            format!("audit verify, {} rows", thousands(verify_rows)),
            human(verify),
        )
        .goal(
            "< 2 s at 1M",
            scale(verify, verify_rows) < Duration::from_secs(2),
        )
        .bound("SHA-256 of every row (CPU, one core) + a sequential read of the table"),
    );

    let middle = i64::try_from(verify_rows / 2).unwrap_or(i64::MAX);
    let queries: [(&str, AuditFilter, Option<i64>); 4] = [
        ("newest page", AuditFilter::default(), None),
        (
            "one agent's page",
            AuditFilter {
                agent: Some("hist-7".parse()?),
                ..AuditFilter::default()
            },
            None,
        ),
        (
            "a page from the middle",
            AuditFilter::default(),
            Some(middle),
        ),
        (
            "approved requests, from the middle",
            AuditFilter {
                kind: Some(AuditKind::Request),
                status: Some(AuthorizationStatus::Approved),
                ..AuditFilter::default()
            },
            Some(middle),
        ),
    ];
    let mut slowest = Duration::ZERO;
    let mut each = Vec::new();
    for (name, filter, before) in &queries {
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let page = store.audit_page(filter, *before, PAGE).await?;
            times.push(started.elapsed());
            ensure!(
                !page.entries.is_empty(),
                "the audit query \"{name}\" found nothing"
            );
        }
        times.sort();
        let median = times.get(2).copied().unwrap_or_default();
        slowest = slowest.max(median);
        each.push(format!("{name} {}", human(median)));
    }
    figures.push(
        Figure::info(
            section,
            format!("audit page query ({PAGE} rows) at {label} decisions, slowest"),
            human(slowest),
        )
        .goal("< 50 ms", slowest < Duration::from_millis(50))
        .bound(format!("indexed SQLite reads: {}", each.join(", "))),
    );
    daemon.shutdown().await;

    // The real binary: start time and idle RSS, empty and with the trail.
    match purser_binary() {
        Some(binary) => {
            let empty = scratch_dir("footprint-")?;
            let settle = mode.pick(Duration::from_millis(300), Duration::from_secs(2));
            let fresh = serve_footprint(&binary, &empty.path().join("data"), settle)?;
            figures.push(
                Figure::info("footprint", "idle RSS, headless `purser serve`, empty data dir", mib(fresh.rss_kib))
                    .goal("≤ 30 MB", fresh.rss_kib * 1024 <= 30 * 1_000_000)
                    .bound(format!(
                        "tokio runtime (a worker per core), SQLite page caches, axum; started in {}",
                        human(fresh.started)
                    )),
            );
            let large = serve_footprint(&binary, &data_dir, settle)?;
            figures.push(
                Figure::info("footprint", format!("idle RSS, `purser serve` with {label} decisions"), mib(large.rss_kib))
                    .bound(format!("+ the writer's in-memory state and SQLite's cache; process start to listening {}", human(large.started))),
            );
        }
        None => notes.push(
            "footprint: no `purser` binary next to this one: build it first (`cargo build --release -p purser-cli`; `cargo xtask bench` does)".to_owned(),
        ),
    }
    // Size, once every connection closed (SQLite checkpoints the WAL on the last close).
    let bytes = database_bytes(&data_dir);
    let per_million = bytes as f64 * 1_000_000.0 / decisions.max(1) as f64;
    figures.push(
        Figure::info(
            section,
            "database size per 1M decisions",
            format!("{:.0} MiB", per_million / 1024.0 / 1024.0),
        )
        .bound(format!(
            "{:.1} MiB for {label} decisions (database + WAL): one authorization row, one audit row with its JSON body and two hashes, indexes",
            bytes as f64 / 1024.0 / 1024.0
        )),
    );

    figures.extend(binary_sizes());
    Ok((figures, notes))
}

/// `duration` scaled to a million rows (for a quick run's goal check).
fn scale(duration: Duration, rows: u64) -> Duration {
    if rows >= 1_000_000 || rows == 0 {
        duration
    } else {
        duration.mul_f64(1_000_000.0 / rows as f64)
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Decisions already in `data_dir`'s database (0 when there is none).
async fn count_decisions(data_dir: &Path) -> anyhow::Result<u64> {
    let path = data_dir.join(DATABASE_FILE);
    if !path.exists() {
        return Ok(0);
    }
    let store = SqliteStore::open(&path, Arc::new(SystemClock), StoreOptions::default()).await?;
    // The newest request row's sequence number bounds the count from above; the chain
    // holds policy and agent rows too, so subtract nothing and call it decisions.
    let filter = AuditFilter {
        kind: Some(AuditKind::Request),
        ..AuditFilter::default()
    };
    let newest = store
        .audit_page(&filter, None, 1)
        .await?
        .entries
        .first()
        .map_or(0, |entry| entry.seq);
    Ok(u64::try_from(newest).unwrap_or(0))
}

/// Writes `count` approved decisions from 64 agents; returns how many and how long.
async fn fill(data_dir: &Path, count: u64) -> anyhow::Result<(u64, Duration)> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(DATABASE_FILE);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = SqliteStore::open(&path, clock, StoreOptions::default()).await?;
    if store.list_agents().await?.is_empty() {
        let policy = parse_policy("bench.toml", crate::load::POLICY)
            .map_err(|errors| anyhow::anyhow!("the load policy does not parse: {errors}"))?;
        store
            .apply_policy(crate::load::POLICY, policy, "purser-bench")
            .await?;
        for caller in 0..CALLERS {
            let hash = [u8::try_from(caller)?; 32];
            store
                .add_agent(format!("hist-{caller}").parse()?, None, hash)
                .await?;
        }
    }
    let run = std::process::id();
    let per_caller = count.div_ceil(CALLERS as u64);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(CALLERS);
    for caller in 0..CALLERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..per_caller {
                let request = history_request(caller, &format!("h{run}-{caller}-{n}"), n)?;
                let answer = store.authorize(request).await?;
                ensure!(
                    answer.status == AuthorizationStatus::Approved,
                    "a history request was not approved: {answer:?}"
                );
                if caller == 0 && n > 0 && n % (100_000 / CALLERS as u64) == 0 {
                    println!(
                        "  history: {} decisions written",
                        thousands(n * CALLERS as u64)
                    );
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    drop(store);
    // Let the writer task see its channel close and drop its connection.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok((per_caller * CALLERS as u64, elapsed))
}

/// A realistic small request: varied merchants, a purpose and a little context.
fn history_request(
    caller: usize,
    request_id: &str,
    n: u64,
) -> anyhow::Result<AuthorizationRequest> {
    let context = serde_json::json!({
        "task": format!("report-{}", n % 997),
        "url": format!("https://docs.example.com/pricing/{}", n % 101),
    });
    let serde_json::Value::Object(context) = context else {
        bail!("context is not an object");
    };
    Ok(AuthorizationRequest {
        agent: format!("hist-{caller}").parse()?,
        request_id: request_id.parse()?,
        kind: RequestKind::Payment,
        amount: "0.01".parse()?,
        currency: "USD".parse()?,
        merchant: format!("api.vendor{}.com", n % 37).parse()?,
        category: Some("software".parse()?),
        rail: Some("card".parse()?),
        capture: CaptureMode::Auto,
        session_id: Some(format!("run-{}", n / 100).parse()?),
        purpose: "Buy API credits for the report task".to_owned(),
        context: Some(context),
    })
}

/// Bytes of the database and its WAL and shared-memory files.
fn database_bytes(data_dir: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            std::fs::metadata(data_dir.join(format!("{DATABASE_FILE}{suffix}"))).ok()
        })
        .map(|metadata| metadata.len())
        .sum()
}

/// The `purser` binary built next to this one (same profile).
pub fn purser_binary() -> Option<PathBuf> {
    let path = target_profile_dir()?.join("purser");
    path.is_file().then_some(path)
}

struct Footprint {
    rss_kib: u64,
    started: Duration,
}

/// Spawns `purser serve` on `data_dir`, waits for its listening line, lets it idle for
/// `settle`, reads its VmRSS, stops it with SIGTERM.
fn serve_footprint(binary: &Path, data_dir: &Path, settle: Duration) -> anyhow::Result<Footprint> {
    let spawned = Instant::now();
    let mut child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("PURSER_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let result = measure_child(&mut child, spawned, settle);
    // SIGTERM for a graceful stop (the lock file and socket removed), then reap it.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
        }
    }
    result
}

fn measure_child(
    child: &mut Child,
    spawned: Instant,
    settle: Duration,
) -> anyhow::Result<Footprint> {
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    ensure!(
        line.contains("listening"),
        "purser serve did not start: {line:?}"
    );
    let started = spawned.elapsed();
    std::thread::sleep(settle);
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
    let rss_kib = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .context("no VmRSS in /proc/PID/status")?;
    Ok(Footprint { rss_kib, started })
}

/// Sizes of the binaries built next to this one, as built and stripped.
fn binary_sizes() -> Vec<Figure> {
    let Some(dir) = target_profile_dir() else {
        return Vec::new();
    };
    let profile = dir
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    let mut figures = Vec::new();
    for name in ["purser", "purser-desktop"] {
        let path = dir.join(name);
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        let stripped = stripped_size(&path).map_or_else(String::new, |bytes| {
            format!(", {} stripped", mib(bytes / 1024))
        });
        figures.push(
            Figure::info(
                "footprint",
                format!("binary size: {name} ({profile})"),
                mib(metadata.len() / 1024),
            )
            .bound(format!(
                "as built, with the profile's debug info{stripped}; SQLite bundled"
            )),
        );
    }
    figures
}

/// The size of a stripped copy of `path`, when `strip` is installed.
fn stripped_size(path: &Path) -> Option<u64> {
    let dir = tempfile::tempdir().ok()?;
    let copy = dir.path().join("stripped");
    let status = Command::new("strip")
        .arg("-o")
        .arg(&copy)
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    std::fs::metadata(&copy).ok().map(|m| m.len())
}
