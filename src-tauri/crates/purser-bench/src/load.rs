//! The load generator (`purser-load`, `cargo bench --bench load`): real agents over
//! loopback HTTP against the real daemon, three scenarios.
//!
//! 1. **Durable throughput**, closed loop: 1, 8 and 64 agents, each on its own
//!    keep-alive connection, send the next request as soon as the last is answered, all
//!    auto-approved. Every answer is durable (the store commits before replying), so
//!    approved answers per second are durable decisions per second. Measured with group
//!    commit on, then the daemon is restarted on the same data dir with it off, and the
//!    ratio taken. After each daemon's run the money it recorded is checked against the
//!    approvals the agents saw.
//! 2. **Latency under load**, open loop: requests leave on a fixed schedule (a pacer
//!    thread, round-robin over 64 connections) whatever the answers do, and latency is
//!    measured from the *intended* send time, so a stall delays every request scheduled
//!    behind it and shows in the percentiles (no coordinated omission).
//! 3. **Kill switch** under closed-loop load from 64 agents: the time from the
//!    principal's kill returning to the first `kill_switch_engaged` answer, and the
//!    approvals after it, which must be zero: none sent after the kill returned may be
//!    approved, and (in process) no approved decision may follow the kill in the audit
//!    trail.
//!
//! The daemon runs in this process by default ([`Daemon::start`] on a scratch data dir
//! on the build disk, port 0), sharing its two cores with the agents; `--url` and
//! `--data-dir` point it at a daemon started elsewhere instead.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use hyper::body::Bytes;
use purser_core::{Amount, AuthorizationStatus};
use purser_daemon::{Daemon, RunningDaemon, ServeConfig, SystemClock};
use purser_store::{AuditFilter, AuditKind, Store, StoreOptions};
use tokio::sync::mpsc;

use crate::client::{AgentClient, Outcome, payment_body};
use crate::control::Control;
use crate::machine::{filesystem_of, scratch_dir};
use crate::mode::Mode;
use crate::report::Figure;
use crate::stats::{Percentiles, human, thousands};

/// Agents created for a run; the largest concurrency measured.
pub const AGENTS: usize = 64;
/// Concurrencies of the closed-loop throughput runs.
pub const CONCURRENCY: [usize; 3] = [1, 8, 64];
/// Open-loop rates, requests per second (full run).
pub const RATES: [u32; 3] = [500, 1_000, 2_000];
/// What each approved request spends (USD): small, so the budgets never bind.
pub(crate) const AMOUNT: &str = "0.01";
pub(crate) const AMOUNT_MICROS: i64 = 10_000;

/// Approves every benchmark request, with budgets large enough never to bind but
/// checked on every request like any policy's.
pub const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[[limit]]
currency = "USD"
window = "month"
max = "999999999999.00"
on_exceed = "deny"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "1000.00" }
blocked_merchants = ["*casino*"]

[[profiles.default.limit]]
currency = "USD"
window = "transaction"
max = "100.00"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "999999999999.00"
on_exceed = "deny"
"#;

/// Which daemon to load.
#[derive(Debug, Clone)]
pub enum Target {
    /// Start one in this process on a scratch data dir.
    InProcess,
    /// A daemon started elsewhere: its agent API and its data dir (for `admin.sock`).
    External { addr: SocketAddr, data_dir: PathBuf },
}

/// How long each part of a run lasts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Durations {
    pub(crate) warm_up: Duration,
    pub(crate) closed_loop: Duration,
    open_loop: Duration,
    before_kill: Duration,
    after_kill: Duration,
}

impl Durations {
    pub(crate) fn of(mode: Mode) -> Durations {
        mode.pick(
            Durations {
                warm_up: Duration::from_millis(200),
                closed_loop: Duration::from_millis(400),
                open_loop: Duration::from_millis(600),
                before_kill: Duration::from_millis(300),
                after_kill: Duration::from_millis(300),
            },
            Durations {
                warm_up: Duration::from_secs(2),
                closed_loop: Duration::from_secs(6),
                open_loop: Duration::from_secs(10),
                before_kill: Duration::from_secs(2),
                after_kill: Duration::from_secs(1),
            },
        )
    }
}

/// Which scenarios a run includes (all by default; `purser-load --only` narrows it, to
/// profile one of them).
#[derive(Debug, Clone, Copy)]
pub struct Scenarios {
    pub throughput: bool,
    pub latency: bool,
    pub kill: bool,
    /// Restart with group commit off and measure throughput again (in process only).
    pub group_commit_off: bool,
}

impl Scenarios {
    pub const ALL: Scenarios = Scenarios {
        throughput: true,
        latency: true,
        kill: true,
        group_commit_off: true,
    };

    /// From `throughput,latency,kill,off`.
    pub fn parse(list: &str) -> anyhow::Result<Scenarios> {
        let mut scenarios = Scenarios {
            throughput: false,
            latency: false,
            kill: false,
            group_commit_off: false,
        };
        for name in list.split(',') {
            match name.trim() {
                "throughput" => scenarios.throughput = true,
                "latency" => scenarios.latency = true,
                "kill" => scenarios.kill = true,
                "off" => scenarios.group_commit_off = true,
                other => bail!("unknown scenario {other:?}: use throughput, latency, kill, off"),
            }
        }
        Ok(scenarios)
    }
}

/// Runs the three scenarios; returns their figures. Fails on any broken guarantee.
pub async fn run(mode: Mode, target: Target) -> anyhow::Result<Vec<Figure>> {
    run_scenarios(mode, target, Scenarios::ALL).await
}

/// [`run`] with a choice of scenarios.
pub async fn run_scenarios(
    mode: Mode,
    target: Target,
    only: Scenarios,
) -> anyhow::Result<Vec<Figure>> {
    let durations = Durations::of(mode);
    let rates: Vec<u32> = mode.pick(vec![250, 500], RATES.to_vec());
    let mut figures = Vec::new();
    match target {
        Target::InProcess => {
            let dir = scratch_dir("load-")?;
            let data_dir = dir.path().join("data");
            let fs = filesystem_of(dir.path());
            let fsync = fsync_latency(dir.path(), mode.pick(50, 500))?;
            println!(
                "  fsync on {fs}: p50 {} p99 {} (4 KiB append + fdatasync)",
                human(fsync.p50),
                human(fsync.p99)
            );
            figures.push(
                Figure::info(
                    "disk",
                    format!(
                        "fsync p50 / p99 ({} appends of 4 KiB + fdatasync)",
                        fsync.count
                    ),
                    format!("{} / {}", human(fsync.p50), human(fsync.p99)),
                )
                .bound(format!(
                    "the {fs} file system under the data dir: the floor of every durable answer"
                )),
            );
            let mut ledger = Ledger::default();

            // Group commit on: create the agents, measure, then latency and kill switch.
            let mut daemon = InProcess::start(&data_dir, StoreOptions::default()).await?;
            let control = Control::InProcess(daemon.running()?.console().clone());
            control.apply_policy(POLICY).await?;
            let mut tokens = Vec::with_capacity(AGENTS);
            for agent in 0..AGENTS {
                tokens.push(control.add_agent(&format!("load-{agent}")).await?);
            }
            let addr = daemon.running()?.agent_addr();
            let mut grouped = Vec::new();
            if only.throughput {
                grouped = throughput_series(addr, &tokens, "gc-on", durations, &mut ledger).await?;
                ledger.check(daemon.running()?).await?;
            }
            if only.latency {
                let open = open_loop_series(addr, &tokens, &rates, durations, &mut ledger).await?;
                ledger.check(daemon.running()?).await?;
                figures.extend(open_loop_figures(&open));
            }
            if only.kill {
                let kill = kill_switch(addr, &tokens, &control, durations, &mut ledger).await?;
                let audited = approvals_after_kill_in_audit(daemon.running()?).await?;
                control.resume().await?;
                ledger.check(daemon.running()?).await?;
                figures.extend(kill.figures(Some(audited)));
            }
            daemon.stop().await;

            // Group commit off: the same data dir, the same agents.
            let mut ungrouped = None;
            if only.group_commit_off {
                let single = StoreOptions {
                    group_commit: false,
                    ..StoreOptions::default()
                };
                let mut daemon = InProcess::start(&data_dir, single).await?;
                let addr = daemon.running()?.agent_addr();
                ungrouped =
                    Some(throughput_series(addr, &tokens, "gc-off", durations, &mut ledger).await?);
                ledger.check(daemon.running()?).await?;
                daemon.stop().await;
            }
            // Disk first, then throughput, then the rest, as the scenarios are described.
            let rest = figures.split_off(1);
            figures.extend(throughput_figures(&grouped, ungrouped.as_deref(), &fs));
            figures.extend(rest);
        }
        Target::External { addr, data_dir } => {
            let control = Control::AdminSocket(data_dir.join(purser_daemon::ADMIN_SOCKET));
            AgentClient::connect(addr, "none").await?.health().await?;
            control.apply_policy(POLICY).await?;
            let run = std::process::id();
            let mut tokens = Vec::with_capacity(AGENTS);
            for agent in 0..AGENTS {
                tokens.push(control.add_agent(&format!("load-{run}-{agent}")).await?);
            }
            // The store is not reachable from here: the approvals seen are not checked
            // against it, and group commit is whatever that daemon was started with.
            let mut ledger = Ledger::default();
            if only.throughput {
                let measured =
                    throughput_series(addr, &tokens, "external", durations, &mut ledger).await?;
                figures.extend(throughput_figures(
                    &measured,
                    None,
                    &filesystem_of(&data_dir),
                ));
            }
            if only.latency {
                let open = open_loop_series(addr, &tokens, &rates, durations, &mut ledger).await?;
                figures.extend(open_loop_figures(&open));
            }
            if only.kill {
                let kill = kill_switch(addr, &tokens, &control, durations, &mut ledger).await?;
                control.resume().await?;
                figures.extend(kill.figures(None));
            }
        }
    }
    Ok(figures)
}

/// A daemon started in this process, stopped gracefully.
pub(crate) struct InProcess {
    daemon: Option<RunningDaemon>,
}

impl InProcess {
    /// On `data_dir`'s SQLite file.
    async fn start(data_dir: &std::path::Path, options: StoreOptions) -> anyhow::Result<InProcess> {
        InProcess::start_on(data_dir, None, options).await
    }

    /// On `data_dir`, with its state in `database` (a `postgres://` URL, team mode) or,
    /// when `None`, in the data dir's SQLite file.
    pub(crate) async fn start_on(
        data_dir: &std::path::Path,
        database: Option<String>,
        options: StoreOptions,
    ) -> anyhow::Result<InProcess> {
        let mut config = ServeConfig::new(data_dir);
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.database = database;
        let daemon = Daemon::start_with_store_options(config, Arc::new(SystemClock), options)
            .await
            .context("cannot start the daemon")?;
        Ok(InProcess {
            daemon: Some(daemon),
        })
    }

    pub(crate) fn running(&self) -> anyhow::Result<&RunningDaemon> {
        self.daemon.as_ref().context("the daemon was stopped")
    }

    pub(crate) async fn stop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            daemon.shutdown().await;
        }
    }
}

/// The approvals the agents were told of, to check against what the store recorded.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub(crate) approved: u64,
}

impl Ledger {
    /// Today's USD spent in the store equals the approvals seen times the amount: every
    /// approval an agent was told of is on disk, and nothing else was spent.
    pub(crate) async fn check(&self, daemon: &RunningDaemon) -> anyhow::Result<()> {
        let status = daemon.store().status().await?;
        let spent = status
            .today
            .iter()
            .find(|totals| totals.currency.as_str() == "USD")
            .map_or(0, |totals| totals.spent.micros());
        let expected = i64::try_from(self.approved)? * AMOUNT_MICROS;
        if spent != expected {
            // A run across midnight (UTC) splits "today": say so rather than fail.
            let midnight = chrono::Utc::now().time()
                < chrono::NaiveTime::from_hms_opt(0, 5, 0).unwrap_or_default();
            ensure!(
                midnight,
                "the store recorded {} USD spent today but agents were told of {} approvals of {AMOUNT} = {}",
                Amount::from_micros(spent).map_or_else(|| spent.to_string(), |a| a.to_string()),
                self.approved,
                Amount::from_micros(expected)
                    .map_or_else(|| expected.to_string(), |a| a.to_string()),
            );
        }
        Ok(())
    }
}

/// One closed-loop measurement.
#[derive(Debug, Clone)]
pub struct Throughput {
    pub agents: usize,
    pub approved: u64,
    pub elapsed: Duration,
    pub latency: Option<Percentiles>,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        self.approved as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A warm-up, then [`CONCURRENCY`] closed-loop runs.
async fn throughput_series(
    addr: SocketAddr,
    tokens: &[String],
    label: &str,
    durations: Durations,
    ledger: &mut Ledger,
) -> anyhow::Result<Vec<Throughput>> {
    closed_loop(
        &[addr],
        tokens,
        &format!("{label}-warm"),
        durations.warm_up,
        ledger,
    )
    .await?;
    let mut runs = Vec::new();
    for agents in CONCURRENCY {
        let agents = agents.min(tokens.len());
        let name = format!("{label}-{agents}");
        let run = closed_loop(
            &[addr],
            &tokens[..agents],
            &name,
            durations.closed_loop,
            ledger,
        )
        .await?;
        println!(
            "  closed loop {label:>8} {agents:>2} agents: {:>8.0} durable decisions/s (p50 {}, p99 {})",
            run.per_second(),
            run.latency.map_or_else(String::new, |p| human(p.p50)),
            run.latency.map_or_else(String::new, |p| human(p.p99)),
        );
        runs.push(run);
    }
    Ok(runs)
}

/// Every agent in `tokens` sends back-to-back approved requests for `duration`, agent
/// `i` to the daemon at `addrs[i % addrs.len()]` (one daemon, or a team sharing a
/// database).
pub(crate) async fn closed_loop(
    addrs: &[SocketAddr],
    tokens: &[String],
    label: &str,
    duration: Duration,
    ledger: &mut Ledger,
) -> anyhow::Result<Throughput> {
    ensure!(!addrs.is_empty(), "a closed loop needs a daemon to load");
    let mut clients = Vec::with_capacity(tokens.len());
    for (token, addr) in tokens.iter().zip(addrs.iter().cycle()) {
        clients.push(AgentClient::connect(*addr, token).await?);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients.len());
    for (index, mut client) in clients.into_iter().enumerate() {
        let prefix = format!("{label}-{index}");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(4_096);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let body = payment_body(&format!("{prefix}-{n}"), AMOUNT);
                let sent = Instant::now();
                let outcome = client.authorize(body).await?;
                latencies.push(sent.elapsed().as_nanos() as u64);
                ensure!(
                    outcome == Outcome::Approved,
                    "request {prefix}-{n} was not approved: {outcome:?}"
                );
                n += 1;
            }
            Ok::<_, anyhow::Error>((n, latencies, Instant::now()))
        }));
    }
    let mut approved = 0;
    let mut latencies = Vec::new();
    let mut finished = started;
    for task in tasks {
        let (n, samples, done) = task.await??;
        approved += n;
        latencies.extend(samples);
        finished = finished.max(done);
    }
    ledger.approved += approved;
    Ok(Throughput {
        agents: tokens.len(),
        approved,
        elapsed: finished - started,
        latency: Percentiles::of_nanos(latencies),
    })
}

fn throughput_figures(
    grouped: &[Throughput],
    ungrouped: Option<&[Throughput]>,
    fs: &str,
) -> Vec<Figure> {
    let mut figures = Vec::new();
    let section = "durable throughput";
    for run in grouped {
        let rate = run.per_second();
        let label = if ungrouped.is_some() {
            format!("{} agents, group commit on", run.agents)
        } else {
            format!("{} agents (daemon as configured)", run.agents)
        };
        let mut figure = Figure::info(section, label, format!("{}/s", thousands(rate as u64)));
        if run.agents == AGENTS {
            figure = figure.goal("≥ 10,000/s", rate >= 10_000.0);
        }
        let p = run.latency.map_or_else(String::new, |p| {
            format!(
                "; closed-loop latency p50 {} p99 {}",
                human(p.p50),
                human(p.p99)
            )
        });
        figures.push(figure.bound(format!(
            "CPU (HTTP + decide + SQLite) and one fsync per batch on {fs}{p}"
        )));
    }
    if let Some(ungrouped) = ungrouped {
        for run in ungrouped {
            let rate = run.per_second();
            figures.push(
                Figure::info(
                    section,
                    format!("{} agents, group commit off", run.agents),
                    format!("{}/s", thousands(rate as u64)),
                )
                .bound(format!("one fsync per decision on {fs}")),
            );
        }
        for (on, off) in grouped.iter().zip(ungrouped) {
            let ratio = on.per_second() / off.per_second().max(1e-9);
            let mut figure = Figure::info(
                section,
                format!("{} agents, on / off", on.agents),
                format!("{ratio:.1}x"),
            );
            if on.agents == AGENTS {
                figure = figure.goal("≥ 10x", ratio >= 10.0);
            }
            figures.push(figure);
        }
    }
    figures
}

/// One open-loop rate.
#[derive(Debug, Clone)]
pub struct OpenLoop {
    pub rate: u32,
    pub sent: u64,
    pub latency: Option<Percentiles>,
    /// How late the pacer itself dispatched its latest request (a generator that cannot
    /// keep its schedule would show here).
    pub pacer_lag: Duration,
    pub achieved_per_second: f64,
}

async fn open_loop_series(
    addr: SocketAddr,
    tokens: &[String],
    rates: &[u32],
    durations: Durations,
    ledger: &mut Ledger,
) -> anyhow::Result<Vec<OpenLoop>> {
    let mut runs = Vec::new();
    for &rate in rates {
        closed_loop(
            &[addr],
            &tokens[..tokens.len().min(8)],
            &format!("ol-warm-{rate}"),
            durations.warm_up / 2,
            ledger,
        )
        .await?;
        let run = open_loop(addr, tokens, rate, durations.open_loop, ledger).await?;
        if let Some(p) = run.latency {
            println!(
                "  open loop {rate:>5}/s: p50 {} p99 {} p99.9 {} max {} ({} requests, pacer lag {})",
                human(p.p50),
                human(p.p99),
                human(p.p999),
                human(p.max),
                run.sent,
                human(run.pacer_lag)
            );
        }
        runs.push(run);
    }
    Ok(runs)
}

/// A job for a connection: which request and when it should have left.
struct Job {
    index: u64,
    intended: Instant,
}

/// `rate` requests per second for `duration` on a fixed schedule, latency from the
/// intended send time.
async fn open_loop(
    addr: SocketAddr,
    tokens: &[String],
    rate: u32,
    duration: Duration,
    ledger: &mut Ledger,
) -> anyhow::Result<OpenLoop> {
    let total = (u64::from(rate) * duration.as_millis() as u64 / 1_000).max(1);
    let interval = Duration::from_nanos(1_000_000_000 / u64::from(rate.max(1)));
    let mut senders = Vec::with_capacity(tokens.len());
    let mut tasks = Vec::with_capacity(tokens.len());
    for (agent, token) in tokens.iter().enumerate() {
        let mut client = AgentClient::connect(addr, token).await?;
        let (sender, mut jobs) = mpsc::unbounded_channel::<Job>();
        senders.push(sender);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while let Some(job) = jobs.recv().await {
                let body = payment_body(&format!("ol-{rate}-{agent}-{}", job.index), AMOUNT);
                let outcome = client.authorize(body).await?;
                latencies.push(job.intended.elapsed().as_nanos() as u64);
                ensure!(
                    outcome == Outcome::Approved,
                    "open-loop request not approved: {outcome:?}"
                );
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    // The pacer: a plain thread, because tokio's timer rounds sleeps up to the
    // millisecond, which would add up to 1 ms of false latency to every request.
    let start = Instant::now() + Duration::from_millis(20);
    let pacer = std::thread::spawn(move || {
        let mut lag = Duration::ZERO;
        for index in 0..total {
            let intended = start + interval * u32::try_from(index).unwrap_or(u32::MAX);
            let now = Instant::now();
            if intended > now {
                std::thread::sleep(intended - now);
            }
            lag = lag.max(Instant::now().saturating_duration_since(intended));
            let connection = (index % senders.len() as u64) as usize;
            if let Some(sender) = senders.get(connection) {
                if sender.send(Job { index, intended }).is_err() {
                    break;
                }
            }
        }
        lag
    });
    let pacer_lag = tokio::task::spawn_blocking(move || pacer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the pacer thread panicked"))?;
    let mut latencies = Vec::with_capacity(total as usize);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let finished = Instant::now();
    let sent = latencies.len() as u64;
    ensure!(
        sent == total,
        "open loop at {rate}/s answered {sent} of {total} requests"
    );
    ledger.approved += sent;
    Ok(OpenLoop {
        rate,
        sent,
        latency: Percentiles::of_nanos(latencies),
        pacer_lag,
        achieved_per_second: sent as f64 / (finished - start).as_secs_f64(),
    })
}

fn open_loop_figures(runs: &[OpenLoop]) -> Vec<Figure> {
    let section = "latency (open loop)";
    let mut figures = Vec::new();
    for run in runs {
        let Some(p) = run.latency else { continue };
        let mut figure = Figure::info(
            section,
            format!("{}/s p50 / p99 / p99.9", thousands(u64::from(run.rate))),
            format!("{} / {} / {}", human(p.p50), human(p.p99), human(p.p999)),
        );
        if run.rate == 1_000 {
            figure = figure.goal("p99 ≤ 2 ms", p.p99 <= Duration::from_millis(2));
        }
        figures.push(figure.bound(format!(
            "{} requests, max {}; fsync per batch + scheduling on 2 shared cores (pacer lag {})",
            thousands(run.sent),
            human(p.max),
            human(run.pacer_lag)
        )));
    }
    figures
}

/// What the kill switch did under load.
#[derive(Debug, Clone)]
pub struct KillSwitch {
    /// Signed: negative when an agent saw a kill denial before the kill call returned.
    pub first_denial_after: Option<f64>,
    /// Requests sent after the kill returned, and of those approved (must be 0).
    pub sent_after: u64,
    pub approved_after: u64,
    /// Sent before the kill returned, answered after, approved (decided before the kill).
    pub in_flight_approved: u64,
    pub kill_call: Duration,
}

impl KillSwitch {
    fn figures(&self, audited: Option<u64>) -> Vec<Figure> {
        let section = "kill switch";
        let mut figures = Vec::new();
        let first = match self.first_denial_after {
            Some(seconds) if seconds < 0.0 => Figure::info(
                section,
                "kill returned → first denial seen",
                format!(
                    "before it returned (-{})",
                    human(Duration::from_secs_f64(-seconds))
                ),
            )
            .goal("< 10 ms", true),
            Some(seconds) => Figure::info(
                section,
                "kill returned → first denial seen",
                human(Duration::from_secs_f64(seconds)),
            )
            .goal("< 10 ms", seconds < 0.010),
            None => Figure::info(
                section,
                "kill returned → first denial seen",
                "no denial seen",
            )
            .goal("< 10 ms", false),
        };
        figures.push(first.bound(format!(
            "one request's round trip (kill call itself took {}: one durable write)",
            human(self.kill_call)
        )));
        figures.push(
            Figure::info(
                section,
                "approvals of requests sent after kill returned",
                format!("{} of {}", self.approved_after, thousands(self.sent_after)),
            )
            .goal("0", self.approved_after == 0),
        );
        if let Some(audited) = audited {
            figures.push(
                Figure::info(
                    section,
                    "approved decisions after the kill row in the audit trail",
                    audited.to_string(),
                )
                .goal("0", audited == 0),
            );
        }
        figures.push(
            Figure::info(
                section,
                "in flight at kill, approved (decided before it)",
                self.in_flight_approved.to_string(),
            )
            .bound("committed in a batch before the kill's"),
        );
        figures
    }
}

/// One answer during the kill run.
struct Answered {
    sent: Instant,
    received: Instant,
    outcome: Outcome,
}

async fn kill_switch(
    addr: SocketAddr,
    tokens: &[String],
    control: &Control,
    durations: Durations,
    ledger: &mut Ledger,
) -> anyhow::Result<KillSwitch> {
    let mut clients = Vec::with_capacity(tokens.len());
    for token in tokens {
        clients.push(AgentClient::connect(addr, token).await?);
    }
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::with_capacity(clients.len());
    for (index, mut client) in clients.into_iter().enumerate() {
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::with_capacity(4_096);
            let mut n = 0u64;
            while !*stop.borrow() {
                let body: Bytes = payment_body(&format!("kill-{index}-{n}"), AMOUNT);
                let sent = Instant::now();
                let outcome = client.authorize(body).await?;
                answers.push(Answered {
                    sent,
                    received: Instant::now(),
                    outcome,
                });
                n += 1;
            }
            Ok::<_, anyhow::Error>(answers)
        }));
    }
    tokio::time::sleep(durations.before_kill).await;
    let asked = Instant::now();
    control.kill().await?;
    let returned = Instant::now();
    tokio::time::sleep(durations.after_kill).await;
    stop_tx.send_replace(true);
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await??);
    }
    let mut first: Option<f64> = None;
    let (mut sent_after, mut approved_after, mut in_flight_approved) = (0, 0, 0);
    for answer in &answers {
        if answer.outcome == Outcome::Approved {
            ledger.approved += 1;
        }
        if answer.outcome == Outcome::DeniedByKillSwitch {
            let after = if answer.received >= returned {
                (answer.received - returned).as_secs_f64()
            } else {
                -(returned - answer.received).as_secs_f64()
            };
            first = Some(first.map_or(after, |f| f.min(after)));
        }
        if answer.sent >= returned {
            sent_after += 1;
            approved_after += u64::from(answer.outcome == Outcome::Approved);
            ensure!(
                matches!(
                    answer.outcome,
                    Outcome::DeniedByKillSwitch | Outcome::Approved
                ),
                "a request sent after the kill switch returned was answered {:?}",
                answer.outcome
            );
        } else if answer.received >= returned && answer.outcome == Outcome::Approved {
            in_flight_approved += 1;
        }
    }
    ensure!(
        sent_after > 0,
        "no request was sent after the kill switch returned"
    );
    if approved_after > 0 {
        bail!("{approved_after} requests sent after the kill switch returned were approved");
    }
    let result = KillSwitch {
        first_denial_after: first,
        sent_after,
        approved_after,
        in_flight_approved,
        kill_call: returned - asked,
    };
    println!(
        "  kill switch: call {}, first denial {:?} s after it returned, {} sent after, {} approved after",
        human(result.kill_call),
        result.first_denial_after,
        result.sent_after,
        result.approved_after
    );
    Ok(result)
}

/// Approved request decisions recorded after the newest kill row (the audit trail is in
/// commit order: the single writer appends every row).
async fn approvals_after_kill_in_audit(daemon: &RunningDaemon) -> anyhow::Result<u64> {
    let store = daemon.store();
    let kills = AuditFilter {
        kind: Some(AuditKind::Kill),
        ..AuditFilter::default()
    };
    let kill = store
        .audit_page(&kills, None, 1)
        .await?
        .entries
        .first()
        .map(|entry| entry.seq)
        .context("the audit trail has no kill row")?;
    let approvals = AuditFilter {
        kind: Some(AuditKind::Request),
        status: Some(AuthorizationStatus::Approved),
        ..AuditFilter::default()
    };
    let mut count = 0;
    let mut before = None;
    loop {
        let page = store.audit_page(&approvals, before, 500).await?;
        let newer = page.entries.iter().filter(|entry| entry.seq > kill).count();
        count += newer as u64;
        if newer < page.entries.len() || page.next_before_seq.is_none() {
            break;
        }
        before = page.next_before_seq;
    }
    ensure!(
        count == 0,
        "{count} approved decisions follow the kill in the audit trail"
    );
    Ok(count)
}

/// Latency of `count` 4 KiB appends each followed by `fdatasync`, in `dir`: what one
/// durable commit costs at least on this disk.
fn fsync_latency(dir: &std::path::Path, count: usize) -> anyhow::Result<Percentiles> {
    use std::io::Write as _;
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path)?;
    let block = [0x5a_u8; 4096];
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        samples.push(started.elapsed().as_nanos() as u64);
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Percentiles::of_nanos(samples).context("no fsync samples")
}
