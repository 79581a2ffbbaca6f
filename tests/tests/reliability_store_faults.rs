//! Reliability scenario 5, store faults (docs/reliability.md): the database cannot
//! record, in three real ways, while agents keep asking:
//!
//! - the data dir is a tiny tmpfs that fills up (`mount -t tmpfs -o size=…`, then a
//!   filler file takes the rest);
//! - the database and its WAL are made immutable (`chattr +i`: read-only even for
//!   root, whose `chmod` would not stop it);
//! - another process holds the write lock (`sqlite3` in `BEGIN EXCLUSIVE`).
//!
//! During a fault every request is answered 503 `unavailable` or, when SQLite still
//! found room, 200 with a decision that is durably in the trail: nothing is approved that
//! is not recorded, and nothing answered 503 is recorded. When the fault clears, the
//! same daemon process (no restart) decides again by itself, the trail verifies intact
//! and the ledger equals the trail.
//!
//! These need root (mount, chattr) and the `sqlite3` CLI, as CI has: without them the
//! test fails saying what is missing, it never skips silently.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use purser_system_tests::reliability::trail::Trail;
use purser_system_tests::reliability::{Row, run_parallel};
use purser_system_tests::{Agent, TestDaemon, payment, spent_and_held};
use serde_json::json;

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "30m"
hold_ttl = "2h"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "1000.00" }

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "100000.00"
on_exceed = "deny"
"#;

/// How long the daemon may take to decide again once a fault cleared.
const RECOVERY_LIMIT: Duration = Duration::from_secs(30);

fn run(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run {program}: {error} (install it: see docs/reliability.md)")
        })
}

fn must(program: &str, args: &[&str]) {
    let output = run(program, args);
    assert!(
        output.status.success(),
        "{program} {} failed: {}{}\nThe store-fault scenario needs root (mount, chattr) and the sqlite3 CLI.",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What one phase of requests was told.
#[derive(Debug, Default)]
struct Phase {
    approved: BTreeSet<String>,
    unavailable: BTreeSet<String>,
}

/// `count` requests from 8 threads with a context of `padding` bytes; every answer is a
/// decision (200) or 503 `unavailable`, nothing else.
fn ask(agent: &Agent, prefix: &str, count: usize, padding: usize) -> Phase {
    let agent = agent.clone();
    let prefix = prefix.to_owned();
    let answers = run_parallel(8, count, move |n| {
        let request_id = format!("{prefix}-{n}");
        let mut body = payment(&request_id, "1.00", "api.example.com");
        body["context"] = json!({"padding": "x".repeat(padding)});
        let (status, answer) = agent.authorize(&body);
        match status {
            200 => {
                assert_eq!(answer["status"], "approved", "{answer}");
                (request_id, true)
            }
            503 => {
                assert_eq!(answer["error"]["code"], "unavailable", "{answer}");
                (request_id, false)
            }
            other => panic!("{request_id}: a store fault must answer 503, not {other}: {answer}"),
        }
    });
    let mut phase = Phase::default();
    for (request_id, approved) in answers {
        if approved {
            phase.approved.insert(request_id);
        } else {
            phase.unavailable.insert(request_id);
        }
    }
    phase
}

/// Asks until a request is approved again; how long that took.
fn recovery(daemon: &TestDaemon, agent: &Agent, prefix: &str) -> Duration {
    let started = Instant::now();
    let mut n = 0;
    loop {
        let (status, answer) = agent.authorize(&payment(
            &format!("{prefix}-{n}"),
            "1.00",
            "api.example.com",
        ));
        if status == 200 {
            assert_eq!(answer["status"], "approved", "{answer}");
            return started.elapsed();
        }
        assert_eq!(status, 503, "{answer}");
        assert!(
            started.elapsed() < RECOVERY_LIMIT,
            "the daemon did not recover by itself within {RECOVERY_LIMIT:?} after the fault cleared; its log ends:\n{}",
            daemon.log_tail(30)
        );
        n += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// After a fault: nothing answered 503 is recorded, every approval is, the trail is
/// intact and equals the ledger; the refused requests are decided afresh when retried.
fn settle(daemon: &TestDaemon, agent: &Agent, fault: &Phase) -> u64 {
    let rows = daemon.assert_audit_intact();
    let trail = Trail::export(daemon);
    let finals = trail.finals();
    let recorded: BTreeSet<&str> = finals.values().map(|a| a.request_id.as_str()).collect();
    for request_id in &fault.unavailable {
        assert!(
            !recorded.contains(request_id.as_str()),
            "{request_id} was answered 503 but is recorded"
        );
    }
    for request_id in &fault.approved {
        assert!(
            recorded.contains(request_id.as_str()),
            "{request_id} was approved but is not recorded"
        );
    }
    for request_id in fault.unavailable.iter().take(5) {
        let decision = agent.decide(&payment(request_id, "1.00", "api.example.com"));
        assert_eq!(
            decision["status"], "approved",
            "a refused request is decided afresh: {decision}"
        );
    }
    let trail = Trail::export(daemon);
    let spent: i64 = trail.finals().values().map(|a| a.sums().spent).sum();
    assert_eq!(
        spent_and_held(&agent.budget_ok(), "agent", "day", "USD"),
        (spent, 0),
        "ledger vs trail"
    );
    rows
}

/// Unmounts the tmpfs (and puts the data dir back) even when the test fails.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_answers_503_approves_nothing_and_recovers_by_itself() {
    let mut daemon = TestDaemon::start_without_policy();
    daemon.stop();
    // The data dir moves onto a 4 MiB tmpfs mounted in its place.
    let data = daemon.data_dir().to_owned();
    let saved = data.with_extension("saved");
    std::fs::rename(&data, &saved).unwrap();
    std::fs::create_dir(&data).unwrap();
    must(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            "size=4m,mode=0700",
            "tmpfs",
            data.to_str().unwrap(),
        ],
    );
    let _mounted = Tmpfs(data.clone());
    must(
        "sh",
        &[
            "-c",
            &format!("cp -a {}/. {}/", saved.display(), data.display()),
        ],
    );
    daemon.restart_stopped();
    daemon.apply_policy(POLICY);
    let agent = daemon.agent("disk-bot");
    let mut row = Row::new("5 store faults: disk full (tmpfs)");
    let before = ask(&agent, "before", 20, 100);
    assert_eq!(before.approved.len(), 20);

    // Fill the rest of the tmpfs.
    let filler = data.join("filler");
    let _ = Command::new("dd")
        .args([
            "if=/dev/zero",
            &format!("of={}", filler.display()),
            "bs=16k",
        ])
        .stderr(Stdio::null())
        .status();
    let fault = ask(&agent, "full", 200, 12_000);
    assert!(
        fault.unavailable.len() >= 150,
        "a full disk must refuse most requests: {} of 200 answered 503",
        fault.unavailable.len()
    );

    std::fs::remove_file(&filler).unwrap();
    let took = recovery(&daemon, &agent, "after-full");
    let rows = settle(&daemon, &agent, &fault);
    row.figure("requests while full", 200)
        .figure("503", fault.unavailable.len())
        .figure(
            "approved (room left in WAL, recorded)",
            fault.approved.len(),
        )
        .figure("approved without a record", 0)
        .figure(
            "recovered without restart",
            format!("in {:.1} s", took.as_secs_f64()),
        )
        .figure("audit", format!("intact, {rows} rows"));
    row.report();
    daemon.stop();
}

/// Makes files immutable (`chattr +i`) until dropped, even when the test fails.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn new(files: Vec<PathBuf>) -> Immutable {
        for file in &files {
            must("chattr", &["+i", file.to_str().unwrap()]);
        }
        Immutable(files)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(file).status();
        }
    }
}

fn database_files(dir: &Path) -> Vec<PathBuf> {
    ["purser.db", "purser.db-wal"]
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| path.exists())
        .collect()
}

#[test]
fn a_read_only_database_answers_503_approves_nothing_and_recovers_by_itself() {
    let daemon = TestDaemon::start(POLICY);
    let agent = daemon.agent("readonly-bot");
    let mut row = Row::new("5 store faults: read-only database");
    assert_eq!(ask(&agent, "before", 20, 100).approved.len(), 20);
    let immutable = Immutable::new(database_files(daemon.data_dir()));
    let fault = ask(&agent, "ro", 100, 100);
    assert!(
        fault.approved.is_empty(),
        "an immutable database approves nothing: {} approved",
        fault.approved.len()
    );
    drop(immutable);
    let took = recovery(&daemon, &agent, "after-ro");
    let rows = settle(&daemon, &agent, &fault);
    row.figure("requests while read-only", 100)
        .figure("503", fault.unavailable.len())
        .figure("approved", 0)
        .figure(
            "recovered without restart",
            format!("in {:.1} s", took.as_secs_f64()),
        )
        .figure("audit", format!("intact, {rows} rows"));
    row.report();
}

/// A `sqlite3` process holding the database's write lock until dropped.
struct WriteLock(Child);

impl WriteLock {
    fn take(database: &Path) -> WriteLock {
        let mut child = Command::new("sqlite3")
            .arg(database)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sqlite3 (the store-fault scenario needs the sqlite3 CLI)");
        let stdin = child.stdin.as_mut().unwrap();
        writeln!(stdin, "BEGIN EXCLUSIVE;\nSELECT 'locked';").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked", "sqlite3 took the write lock");
        WriteLock(child)
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        if let Some(stdin) = self.0.stdin.as_mut() {
            let _ = writeln!(stdin, "ROLLBACK;\n.quit");
        }
        let _ = self.0.wait();
    }
}

#[test]
fn another_process_holding_the_write_lock_gets_503_and_the_daemon_recovers() {
    let daemon = TestDaemon::start(POLICY);
    let agent = daemon.agent("locked-bot");
    let mut row = Row::new("5 store faults: write lock held elsewhere");
    assert_eq!(ask(&agent, "before", 20, 100).approved.len(), 20);
    let lock = WriteLock::take(&daemon.data_dir().join("purser.db"));
    let started = Instant::now();
    let fault = ask(&agent, "locked", 8, 100);
    let waited = started.elapsed();
    assert!(
        fault.approved.is_empty(),
        "nothing is approved while another process holds the lock"
    );
    drop(lock);
    let took = recovery(&daemon, &agent, "after-lock");
    let rows = settle(&daemon, &agent, &fault);
    row.figure("requests while locked", 8)
        .figure("503 (after the 5 s busy timeout)", fault.unavailable.len())
        .figure("approved", 0)
        .figure("phase took", format!("{:.1} s", waited.as_secs_f64()))
        .figure(
            "recovered without restart",
            format!("in {:.1} s", took.as_secs_f64()),
        )
        .figure("audit", format!("intact, {rows} rows"));
    row.report();
}
