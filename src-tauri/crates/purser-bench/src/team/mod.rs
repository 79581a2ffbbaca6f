//! Team mode's cost (issue #11): durable decisions per second from the same 64-agent
//! closed loop as the "64 agents" throughput figure, in one run, against
//!
//! 1. the embedded SQLite store, one daemon (that figure's setup),
//! 2. PostgreSQL, one daemon,
//! 3. PostgreSQL, three daemons sharing one database, the agents spread round-robin
//!    over their agent APIs.
//!
//! The cluster is a throwaway one ([`TestPostgres`]: the Debian server binaries on a
//! temporary directory, `fsync=on`), with a fresh database per configuration; every
//! daemon runs in this process on its own data dir. After each configuration the
//! approvals the agents were told of must equal the approved request rows in the audit
//! trail and the USD every daemon's store reports as spent today, and the hash chain must
//! verify; otherwise the run fails.
//!
//! On PostgreSQL, [`commits`] listens to the daemons' commit announcements during the
//! measured run: decisions per COMMIT, and how often a batch followed another daemon's.
//!
//! Without the PostgreSQL server binaries the scenario is skipped with a note (CI has
//! them). What it must not do: tune the cluster or the daemons to look faster than
//! `purser serve --database` with a default PostgreSQL would be.

use std::net::SocketAddr;

use anyhow::{Context as _, ensure};
use purser_core::AuthorizationStatus;
use purser_store::{AuditFilter, AuditKind, Database, Store, StoreOptions};
use purser_testpg::TestPostgres;

use self::commits::{CommitWatch, Commits};
use crate::control::Control;
use crate::load::{AGENTS, Durations, InProcess, Ledger, POLICY, Throughput, closed_loop};
use crate::machine::{filesystem_of, scratch_dir};
use crate::mode::Mode;
use crate::report::Figure;
use crate::stats::{human, thousands};

mod commits;

/// Daemons sharing one database in the team configuration.
pub const TEAM_DAEMONS: usize = 3;

/// One measured configuration.
#[derive(Debug, Clone)]
struct Measured {
    name: &'static str,
    daemons: usize,
    run: Throughput,
    /// The write batches of the measured run (PostgreSQL only).
    commits: Option<Commits>,
    /// Approved request rows in the audit trail after the run (warm-up included), equal
    /// to the approvals the agents were told of.
    audited_approvals: u64,
    audit_rows: u64,
}

/// Runs the three configurations; their figures and notes (a skip says why). Fails on
/// any broken guarantee.
pub async fn run(mode: Mode) -> anyhow::Result<(Vec<Figure>, Vec<String>)> {
    if let Some(missing) = missing_server_binaries() {
        let note = format!("team mode not measured: {missing}");
        println!("  skipped: {note}");
        return Ok((Vec::new(), vec![note]));
    }
    let cluster = tokio::task::spawn_blocking(TestPostgres::start)
        .await?
        .context("cannot start a throwaway PostgreSQL cluster")?;
    let measured = measure_all(mode, &cluster).await;
    let log = match &measured {
        Ok(_) => String::new(),
        Err(_) => cluster.log_tail(30),
    };
    // Stopping the cluster waits for pg_ctl: not on the runtime's workers.
    tokio::task::spawn_blocking(move || drop(cluster)).await?;
    let measured = measured.with_context(|| format!("the PostgreSQL server's log ends:\n{log}"))?;
    Ok((figures(&measured), Vec::new()))
}

async fn measure_all(mode: Mode, cluster: &TestPostgres) -> anyhow::Result<Vec<Measured>> {
    let durations = Durations::of(mode);
    let pg_1 = cluster.create_database("team_one_daemon")?;
    let pg_3 = cluster.create_database("team_three_daemons")?;
    let configurations = [
        ("SQLite embedded, 1 daemon", 1, None),
        ("PostgreSQL, 1 daemon", 1, Some(pg_1)),
        (
            "PostgreSQL, 3 daemons on one database",
            TEAM_DAEMONS,
            Some(pg_3),
        ),
    ];
    let mut measured = Vec::with_capacity(configurations.len());
    for (name, daemons, database) in configurations {
        let result = configuration(name, daemons, database, durations)
            .await
            .with_context(|| format!("team mode benchmark, {name}"))?;
        measured.push(result);
    }
    Ok(measured)
}

/// Starts `daemons` daemons on `database` (the SQLite file of the only one when `None`),
/// creates the agents, warms up, measures, checks, stops.
async fn configuration(
    name: &'static str,
    daemons: usize,
    database: Option<String>,
    durations: Durations,
) -> anyhow::Result<Measured> {
    let dir = scratch_dir("team-")?;
    let mut team = Vec::with_capacity(daemons);
    for index in 0..daemons {
        let data_dir = dir.path().join(format!("daemon-{index}"));
        team.push(InProcess::start_on(&data_dir, database.clone(), StoreOptions::default()).await?);
    }
    let measured = load_team(name, database.as_deref(), &team, durations).await;
    for daemon in &mut team {
        daemon.stop().await;
    }
    measured
}

async fn load_team(
    name: &'static str,
    database: Option<&str>,
    team: &[InProcess],
    durations: Durations,
) -> anyhow::Result<Measured> {
    let first = team.first().context("a team of no daemons")?.running()?;
    let control = Control::InProcess(first.console().clone());
    control.apply_policy(POLICY).await?;
    let mut tokens = Vec::with_capacity(AGENTS);
    for agent in 0..AGENTS {
        tokens.push(control.add_agent(&format!("team-{agent}")).await?);
    }
    let mut addrs: Vec<SocketAddr> = Vec::with_capacity(team.len());
    for daemon in team {
        let running = daemon.running()?;
        // A status is a batch of the daemon's writer: it catches up with what the first
        // daemon committed (policy, agents) before any agent asks it.
        let status = running.store().status().await?;
        ensure!(
            status.agents.active == AGENTS as u64 && status.policy_version >= 1,
            "a daemon of the team sees {} active agents and policy version {} after the first created {AGENTS} and applied one",
            status.agents.active,
            status.policy_version
        );
        addrs.push(running.agent_addr());
    }
    let mut ledger = Ledger::default();
    closed_loop(&addrs, &tokens, "team-warm", durations.warm_up, &mut ledger).await?;
    let watch = match database {
        Some(url) => Some(CommitWatch::start(url).await?),
        None => None,
    };
    let run = closed_loop(&addrs, &tokens, "team", durations.closed_loop, &mut ledger).await?;
    let commits = match watch {
        Some(watch) => Some(watch.finish().await?),
        None => None,
    };
    if let Some(commits) = commits {
        // The warm-up's commits came before the watch listened, and each answer of the
        // run came after its commit: the commits heard are exactly the run's decisions.
        ensure!(
            commits.rows == run.approved,
            "the daemons announced {} decisions in {} commits during the run, but the agents were told of {} approvals",
            commits.rows,
            commits.count,
            run.approved
        );
    }
    println!(
        "  {name:<38} {:>2} agents: {:>8.0} durable decisions/s (p50 {}, p99 {})",
        run.agents,
        run.per_second(),
        run.latency.map_or_else(String::new, |p| human(p.p50)),
        run.latency.map_or_else(String::new, |p| human(p.p99)),
    );
    // Every daemon's writer catches up before it answers, so each reports the team's
    // spend, not only its own.
    for daemon in team {
        ledger.check(daemon.running()?).await?;
    }
    let (requests, audited_approvals) = requests_in_audit(first.store()).await?;
    ensure!(
        audited_approvals == ledger.approved && requests == audited_approvals,
        "the audit trail holds {requests} request decisions, {audited_approvals} of them approved, but the agents were told of {} approvals and nothing else",
        ledger.approved
    );
    // One chain, whichever daemon walks it (each up to the head it caught up with).
    let mut audit_rows = None;
    for daemon in team {
        let verification = daemon.running()?.store().verify_audit().await?;
        ensure!(
            verification.intact,
            "the audit trail's hash chain is broken: {:?}",
            verification.first_broken
        );
        ensure!(
            verification.rows > audited_approvals
                && audit_rows.is_none_or(|rows| rows == verification.rows),
            "audit verify walked {} rows (another daemon: {audit_rows:?}) for {audited_approvals} approvals, the policy and the agents",
            verification.rows
        );
        audit_rows = Some(verification.rows);
    }
    Ok(Measured {
        name,
        daemons: team.len(),
        run,
        commits,
        audited_approvals,
        audit_rows: audit_rows.unwrap_or_default(),
    })
}

/// Request decisions in the audit trail, and how many of them were approvals. Read page
/// by page and the status taken from each row's body: the store's status filter is not
/// used, so the count does not depend on the backend's SQL for it.
async fn requests_in_audit(store: &Database) -> anyhow::Result<(u64, u64)> {
    let requests = AuditFilter {
        kind: Some(AuditKind::Request),
        ..AuditFilter::default()
    };
    let approved = AuthorizationStatus::Approved.as_str();
    let (mut total, mut approvals) = (0, 0);
    let mut before = None;
    loop {
        let page = store
            .audit_page(&requests, before, purser_store::MAX_AUDIT_PAGE)
            .await?;
        total += page.entries.len() as u64;
        approvals += page
            .entries
            .iter()
            .filter(|entry| entry.body.get("status").and_then(|s| s.as_str()) == Some(approved))
            .count() as u64;
        match page.next_before_seq {
            Some(seq) => before = Some(seq),
            None => break,
        }
    }
    Ok((total, approvals))
}

fn figures(measured: &[Measured]) -> Vec<Figure> {
    let section = "team mode (64 agents)";
    let postgres_fs = filesystem_of(&std::env::temp_dir());
    let mut figures = Vec::new();
    for config in measured {
        let bound = if config.commits.is_none() {
            "the store's single writer, one fsync per batch (the durable throughput figure's setup, measured again here)".to_owned()
        } else if config.daemons == 1 {
            format!(
                "one writer; per batch a serial chain of loopback round trips to the server (writers' lock, audit head, idempotency lookup, multi-row INSERTs, NOTIFY, COMMIT with a WAL fsync on {postgres_fs})"
            )
        } else {
            format!(
                "{} daemons' batches take turns under one advisory lock; a batch after another daemon's commit first reloads its writer's state; a COMMIT (WAL fsync on {postgres_fs}) per batch",
                config.daemons
            )
        };
        let latency = config.run.latency.map_or_else(String::new, |p| {
            format!(
                "; closed-loop latency p50 {} p99 {}",
                human(p.p50),
                human(p.p99)
            )
        });
        figures.push(
            Figure::info(
                section,
                config.name,
                format!("{}/s", thousands(config.run.per_second() as u64)),
            )
            .bound(format!("{bound}{latency}")),
        );
    }
    for config in measured {
        let Some(commits) = config.commits else {
            continue;
        };
        let mut bound = format!(
            "{} decisions in {} commits in the measured run",
            thousands(commits.rows),
            thousands(commits.count)
        );
        if config.daemons > 1 {
            bound.push_str(&format!(
                "; {:.0}% of them right after another daemon's (whose writer then reloads its state first)",
                commits.after_another_daemon * 100.0
            ));
        }
        figures.push(
            Figure::info(
                section,
                format!("{}: decisions per COMMIT", config.name),
                format!("{:.1}", commits.rows_per_commit),
            )
            .bound(bound),
        );
    }
    let rate = |at: usize| measured.get(at).map(|m| m.run.per_second());
    if let (Some(sqlite), Some(one), Some(three)) = (rate(0), rate(1), rate(2)) {
        figures.push(Figure::info(
            section,
            "PostgreSQL 1 daemon / SQLite",
            format!("{:.2}x", one / sqlite.max(1e-9)),
        ));
        figures.push(Figure::info(
            section,
            format!("PostgreSQL {TEAM_DAEMONS} daemons / 1 daemon"),
            format!("{:.2}x", three / one.max(1e-9)),
        ));
    }
    let counts: Vec<String> = measured
        .iter()
        .map(|m| {
            format!(
                "{} of {} rows",
                thousands(m.audited_approvals),
                thousands(m.audit_rows)
            )
        })
        .collect();
    figures.push(
        Figure::info(
            section,
            "approvals answered = approved in the audit trail = USD spent; chain intact",
            format!("{} of {} configurations", measured.len(), measured.len()),
        )
        .goal("all", true)
        .bound(format!("checked, or the run fails: {}", counts.join(", "))),
    );
    figures
}

/// Why the PostgreSQL server binaries are not installed, or `None` when Debian's
/// `/usr/lib/postgresql/VERSION/bin` has them or `PURSER_TESTPG_BIN_DIR` names a
/// directory (then [`TestPostgres::start`] says whether it is a good one).
fn missing_server_binaries() -> Option<String> {
    if std::env::var_os(purser_testpg::BIN_DIR_ENV).is_some() {
        return None;
    }
    let found = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let bin = entry.path().join("bin");
            ["initdb", "pg_ctl", "createdb"]
                .iter()
                .all(|tool| bin.join(tool).is_file())
        });
    (!found).then(|| {
        format!(
            "the PostgreSQL server binaries are not installed (no /usr/lib/postgresql/VERSION/bin \
             with initdb, pg_ctl and createdb): install the Debian package `postgresql`, or set {} \
             to their directory",
            purser_testpg::BIN_DIR_ENV
        )
    })
}
