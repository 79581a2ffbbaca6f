//! `cargo xtask reliability [--short] [--fuzz-seconds N]`: the reliability and security
//! suite at full size (docs/reliability.md). It builds the release `purser`, runs every
//! scenario test (`tests/tests/reliability_*.rs` and the in-process clock test) with
//! `PURSER_RELIABILITY=full` against that binary, runs each cargo-fuzz target for a
//! bounded time, prints the table of figures and writes it into `docs/reliability.md`
//! between its markers. `--short` runs the sizes CI runs (and writes nothing).
//!
//! [`fuzz`] is also `cargo xtask test`'s bounded fuzzing step (CI), so the fuzz targets
//! are built and run on every submission.
//!
//! This file only orchestrates other programs; what each scenario proves is in the tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cargo_in, find_program, step};

/// The system-test files of the suite, in the table's order.
const SCENARIOS: &[&str] = &[
    "reliability_overspend",
    "reliability_idempotency",
    "reliability_kill_switch",
    "reliability_crash",
    "reliability_store_faults",
    "reliability_clock",
    "reliability_http_fuzz",
    "reliability_security",
];
/// The cargo-fuzz targets (src-tauri/fuzz/fuzz_targets/).
const FUZZ_TARGETS: &[&str] = &["amount", "policy", "request"];
/// Seconds each fuzz target runs in CI and in `--short`.
pub const CI_FUZZ_SECONDS: u64 = 20;
/// Seconds each fuzz target runs in the full suite (longer runs: see the docs).
const FULL_FUZZ_SECONDS: u64 = 120;
const BEGIN: &str = "<!-- reliability:begin -->";
const END: &str = "<!-- reliability:end -->";

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let short = args.iter().any(|a| a == "--short");
    let fuzz_seconds = args
        .iter()
        .position(|a| a == "--fuzz-seconds")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse::<u64>())
        .transpose()
        .context("--fuzz-seconds takes a number of seconds")?
        .unwrap_or(if short {
            CI_FUZZ_SECONDS
        } else {
            FULL_FUZZ_SECONDS
        });
    let target = crate::peers::target_dir(root);
    let report = target.join("reliability/rows.jsonl");
    std::fs::create_dir_all(report.parent().context("report has a parent")?)?;
    let _ = std::fs::remove_file(&report);
    step(
        "build purser (release)",
        cargo_in(root).args(["build", "--release", "-p", "purser-cli", "--bin", "purser"]),
    )?;
    let mode = if short { "short" } else { "full" };
    let mut tests = cargo_in(root);
    tests.args(["test", "-p", "purser-system-tests"]);
    for scenario in SCENARIOS {
        tests.args(["--test", scenario]);
    }
    tests
        .args(["--", "--test-threads=1", "--nocapture"])
        .env("PURSER_RELIABILITY", mode)
        .env("PURSER_BIN", target.join("release/purser"))
        .env("PURSER_RELIABILITY_REPORT", &report);
    step("reliability scenarios (system tests)", &mut tests)?;
    step(
        "reliability: clock through the injected Clock (in process)",
        cargo_in(root)
            .args([
                "test",
                "-p",
                "purser-daemon",
                "--test",
                "reliability_clock",
                "--",
                "--nocapture",
            ])
            .env("PURSER_RELIABILITY_REPORT", &report),
    )?;
    let fuzz_rows = fuzz(root, fuzz_seconds)?;
    let mut rows = read_rows(&report)?;
    rows.extend(fuzz_rows);
    // Tests run in any order; the table follows the scenario numbers.
    rows.sort_by(|a, b| a["scenario"].as_str().cmp(&b["scenario"].as_str()));
    let table = table(&rows);
    println!("\n{table}");
    if !short {
        write_docs(root, &table, fuzz_seconds)?;
        println!("xtask: wrote the table into docs/reliability.md");
    }
    Ok(())
}

/// Installs cargo-fuzz when missing and runs every fuzz target for `seconds`; one table
/// row per target. A crash fails the step with libFuzzer's report (the input is kept
/// under `target/fuzz/artifacts/TARGET/`).
pub fn fuzz(root: &Path, seconds: u64) -> Result<Vec<Value>> {
    if find_program("cargo-fuzz").is_none() {
        step(
            "cargo-fuzz: install",
            Command::new(env!("CARGO")).args(["install", "cargo-fuzz", "--locked"]),
        )?;
    }
    let target = crate::peers::target_dir(root).join("fuzz");
    let mut rows = Vec::new();
    for name in FUZZ_TARGETS {
        let corpus = target.join("corpus").join(name);
        let artifacts = target.join("artifacts").join(name);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        seed(root, name, &corpus)?;
        let output = fuzz_command(root, &target)
            .args([
                "run",
                "--fuzz-dir",
                "src-tauri/fuzz",
                "--sanitizer",
                "none",
                name,
            ])
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg("-print_final_stats=1")
            .output()
            .with_context(|| format!("cannot run cargo fuzz for {name}"))?;
        let log = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            bail!(
                "fuzz target {name} failed ({}):\n{}",
                output.status,
                tail(&log, 60)
            );
        }
        let runs = stat(&log, "stat::number_of_executed_units:").unwrap_or_else(|| "?".into());
        let features = stat(&log, "stat::new_units_added:").unwrap_or_else(|| "?".into());
        println!("xtask: fuzz {name}: {runs} runs in {seconds} s, no crash");
        rows.push(serde_json::json!({
            "scenario": format!("7 cargo-fuzz: {name}"),
            "order": ["runs", "seconds", "new corpus units", "crashes"],
            "figures": {"runs": runs, "seconds": seconds.to_string(),
                        "new corpus units": features, "crashes": "0"},
        }));
    }
    Ok(rows)
}

/// `cargo fuzz` on stable (`RUSTC_BOOTSTRAP=1`: no nightly toolchain here), without a
/// sanitizer (the workspace forbids `unsafe`; libFuzzer still finds panics, overflows
/// and hangs), in `target/fuzz`.
fn fuzz_command(root: &Path, target: &Path) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", target)
        .args(["fuzz"]);
    command
}

/// A few valid inputs to start from, so the fuzzer explores past the first byte.
fn seed(root: &Path, name: &str, corpus: &Path) -> Result<()> {
    let seeds: Vec<(String, Vec<u8>)> = match name {
        "amount" => ["12.50", "0.000001", "999999999999.999999", "3"]
            .iter()
            .map(|s| (format!("seed-{s}"), s.as_bytes().to_vec()))
            .collect(),
        "policy" => vec![(
            "seed-example".into(),
            std::fs::read(root.join("examples/policy.toml")).context("read examples/policy.toml")?,
        )],
        _ => vec![
            ("seed-payment".into(), br#"{"request_id":"r-1","amount":"12.50","currency":"USD","merchant":"api.example.com","purpose":"p","capture":"manual","session_id":"s1","context":{"k":"v"}}"#.to_vec()),
            ("seed-usage".into(), br#"{"request_id":"u-1","action":"web_search","units":"3","unit_cost":"0.002","currency":"USD"}"#.to_vec()),
        ],
    };
    for (file, bytes) in seeds {
        std::fs::write(corpus.join(file), bytes)?;
    }
    Ok(())
}

fn stat(log: &str, key: &str) -> Option<String> {
    log.lines()
        .find_map(|line| line.trim().strip_prefix(key))
        .map(|value| value.trim().to_owned())
}

fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn read_rows(path: &PathBuf) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("no scenario wrote its figures to {}", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).context("a report line is not JSON"))
        .collect()
}

/// The Markdown table: one row per scenario (test), its figures in the order measured.
fn table(rows: &[Value]) -> String {
    let mut text = String::from("| scenario | figures |\n|---|---|\n");
    for row in rows {
        let figures = &row["figures"];
        let cells: Vec<String> = row["order"]
            .as_array()
            .map(|order| {
                order
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|name| format!("{name}: **{}**", figures[name].as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        text.push_str(&format!(
            "| {} | {} |\n",
            row["scenario"].as_str().unwrap_or("?"),
            cells.join("; ").replace('|', "\\|")
        ));
    }
    text
}

fn write_docs(root: &Path, table: &str, fuzz_seconds: u64) -> Result<()> {
    let path = root.join("docs/reliability.md");
    let doc = std::fs::read_to_string(&path).context("read docs/reliability.md")?;
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        bail!("docs/reliability.md has no {BEGIN} … {END} markers for the table");
    };
    let machine = Command::new("uname")
        .arg("-srm")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let generated = format!(
        "{BEGIN}\n_Written by `cargo xtask reliability` (full sizes, release `purser`, each fuzz target {fuzz_seconds} s) on {machine}, {cores} cores._\n\n{table}{END}"
    );
    let doc = format!("{}{generated}{}", &doc[..start], &doc[end + END.len()..]);
    std::fs::write(&path, doc).context("write docs/reliability.md")
}
