//! `purser-bench [--full] [--write docs/benchmarks.md] [--only engines,load,team,notify,history]`:
//! every benchmark in one run, one table; `--write` puts the table (with the machine,
//! the commit and this command) into the given Markdown file between its markers.
//! `cargo xtask bench` runs it in full and writes `docs/benchmarks.md`.
//!
//! The parts run one after the other, never at the same time, so none measures another's
//! load: the engine comparison first (CPU only), then the daemon under load, then team
//! mode (SQLite against PostgreSQL, one and three daemons), then the large history (which fills a database and would otherwise disturb the rest).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use purser_bench::load::Target;
use purser_bench::{Mode, Report, desktop, engines, history, load, notifications, team};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = Mode::from_args(args.iter().cloned());
    let value = |flag: &str| -> anyhow::Result<Option<String>> {
        args.iter()
            .position(|arg| arg == flag)
            .map(|at| {
                args.get(at + 1)
                    .cloned()
                    .with_context(|| format!("{flag} needs a value"))
            })
            .transpose()
    };
    let write = value("--write")?.map(PathBuf::from);
    let only = value("--only")?.unwrap_or_else(|| "engines,load,team,notify,history".to_owned());
    let parts: Vec<&str> = only.split(',').collect();
    for part in &parts {
        if !matches!(*part, "engines" | "load" | "team" | "notify" | "history") {
            bail!(
                "--only takes engines, load, team, notify and history, comma-separated; not {part:?}"
            );
        }
    }
    let selected = |part: &str| parts.contains(&part);
    let mut report = Report::new(
        mode,
        std::env::var("PURSER_BENCH_COMMAND")
            .unwrap_or_else(|_| format!("purser-bench {}", args.join(" "))),
    );
    println!(
        "purser-bench: {} run ({only}), load average {}",
        mode.name(),
        report.machine.load_at_start
    );
    if selected("engines") {
        println!("== decision engine: Purser vs Cedar vs Rego");
        report.extend(tokio::task::spawn_blocking(move || engines::run(mode)).await??);
    }
    if selected("load") {
        println!("== daemon under load");
        report.extend(load::run(mode, Target::InProcess).await?);
    }
    if selected("team") {
        println!(
            "== team mode: SQLite vs PostgreSQL, 1 and {} daemons",
            team::TEAM_DAEMONS
        );
        let (figures, notes) = team::run(mode).await?;
        report.extend(figures);
        for note in notes {
            report.note(note);
        }
    }
    if selected("notify") {
        println!("== notifications: agent request to the principal's desktop");
        let (figures, notes) = notifications::run(mode).await?;
        report.extend(figures);
        for note in notes {
            report.note(note);
        }
    }
    if selected("history") {
        println!("== history and footprint");
        let (figures, notes) = history::run(mode).await?;
        report.extend(figures);
        for note in notes {
            report.note(note);
        }
    }
    if selected("history") {
        println!("== desktop app footprint");
        let (figures, notes) = tokio::task::spawn_blocking(move || desktop::run(mode)).await??;
        report.extend(figures);
        for note in notes {
            report.note(note);
        }
    }
    print!("{}", report.to_text());
    if let Some(path) = write {
        report.write_markdown(&path)?;
        println!("purser-bench: wrote {}", path.display());
    }
    Ok(())
}
