//! The quickstarts of `examples/` run as a developer runs them, against a live daemon:
//! `quickstart.py` (Python, httpx) and `quickstart.ts` (TypeScript, fetch; compiled with
//! the pinned `tsc`, type errors included, then run by Node). The principal approves the
//! pending request with the real CLI while the script long-polls. Their output is
//! checked line by line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::process::Command;
use std::sync::LazyLock;
use std::time::Duration;

use purser_system_tests::TestDaemon;
use purser_system_tests::binary::workspace_root;
use purser_system_tests::peers::{self, PeerOutput};
use serde_json::Value;

/// The example policy's limits that the quickstarts show (examples/policy.toml), without
/// its schedule so the test passes at any hour.
const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }
blocked_merchants = ["*casino*"]

[[profiles.default.limit]]
currency = "USD"
window = "transaction"
max = "100.00"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "200.00"
on_exceed = "ask"
"#;

static DAEMON: LazyLock<TestDaemon> = LazyLock::new(|| TestDaemon::start(POLICY));

/// The pending request `request_id` of `agent`, once `purser approvals` lists it. The
/// peer starts an interpreter and connects first, so this allows a slow, busy machine a
/// minute.
fn listed_pending(agent: &str, request_id: &str) -> Value {
    let mut found = None;
    DAEMON.wait_until(
        Duration::from_secs(60),
        &format!("{agent}'s request {request_id} in `purser approvals`"),
        || {
            found = DAEMON
                .approvals()
                .into_iter()
                .find(|p| p["agent"] == agent && p["request_id"] == request_id);
            found.is_some()
        },
    );
    found.expect("found by wait_until")
}

/// Runs a quickstart as a fresh agent, approving its pending request as the principal.
fn run_quickstart(agent: &str, mut command: Command) -> PeerOutput {
    let token = DAEMON.add_agent(agent);
    let run = format!("{agent}-1");
    command
        .env("PURSER_URL", DAEMON.url())
        .env("PURSER_TOKEN", token)
        .env("QUICKSTART_RUN", &run);
    let running = peers::spawn(command);
    let pending = listed_pending(agent, &format!("quickstart-{run}-upgrade"));
    DAEMON.cli_ok(&["approve", pending["id"].as_str().unwrap()]);
    let output = running.finish(Duration::from_secs(90));
    assert!(
        output.status.success(),
        "{agent} failed ({}):\n{}\n{}",
        output.status,
        output.stdout,
        output.stderr
    );
    output
}

/// What both quickstarts must print, in order.
fn check_output(output: &PeerOutput) {
    let lines: Vec<&str> = output.stdout.lines().collect();
    let expected = [
        "1. ask 12.50 USD: approved (within_policy) id=auth_",
        "   retry with the same request_id: approved id=auth_",
        "2. ask 42.00 USD: pending (over_approval_threshold)",
        "   waiting for the principal: purser approve auth_",
        "   decided: approved by principal (approved_by_principal)",
        "3. hold 20.00 USD: approved; captured 18.40: captured",
        "4. usage 3 x web_search at 0.002 USD = 0.006 USD: approved",
        "5. ask 150.00 USD: denied (over_transaction_limit: ",
        "6. budget agent transaction USD: spent 0.00 of 100.00, remaining 100.00",
        // 12.50 + 42.00 + 18.40 + 0.006
        "6. budget agent day USD: spent 72.906 of 200.00, remaining 127.094",
    ];
    assert_eq!(lines.len(), expected.len(), "{}", output.stdout);
    for (line, start) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(start),
            "expected {start:?}…, got {line:?}\n{}",
            output.stdout
        );
    }
    // The retry names the first decision's id: one decision, spent once.
    let first_id = lines[0].rsplit("id=").next().unwrap();
    assert!(
        lines[1].contains(&format!("id={first_id} (same decision, spent once)")),
        "{}",
        lines[1]
    );
    assert!(lines[7].ends_with("): not paying"), "{}", lines[7]);
}

#[test]
fn python_quickstart_runs_against_a_live_daemon() {
    let mut command = Command::new(peers::python());
    command.arg(workspace_root().join("examples/quickstart.py"));
    let output = run_quickstart("quickstart-python", command);
    check_output(&output);
}

#[test]
fn typescript_quickstart_compiles_and_runs_against_a_live_daemon() {
    let root = workspace_root();
    let out = tempfile::tempdir().unwrap();
    let modules = peers::peers_dir().join("node_modules");
    let compiled = peers::run(
        {
            let mut tsc = Command::new("node");
            tsc.arg(modules.join("typescript/bin/tsc"))
                .args(["--strict", "--target", "es2022", "--module", "commonjs"])
                .args(["--types", "node", "--typeRoots"])
                .arg(modules.join("@types"))
                .arg("--outDir")
                .arg(out.path())
                .arg(root.join("examples/quickstart.ts"));
            tsc
        },
        Duration::from_secs(120),
    );
    assert!(
        compiled.status.success(),
        "tsc refused examples/quickstart.ts:\n{}{}",
        compiled.stdout,
        compiled.stderr
    );
    let mut command = Command::new("node");
    command.arg(out.path().join("quickstart.js"));
    let output = run_quickstart("quickstart-typescript", command);
    check_output(&output);
}
