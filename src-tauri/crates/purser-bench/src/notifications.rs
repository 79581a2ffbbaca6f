//! The time from an agent's `POST /v1/authorizations` to the principal's notification:
//! the real `purser serve --notify` (release, built next to this binary) on a private
//! session bus with the fake notification server (`purser_notify::fake_server`), which
//! stamps each `Notify` call as it arrives. Requests are sent one at a time, each after
//! the previous notification arrived (and was answered with Deny, as a principal would),
//! so every sample is one request's whole path: HTTP, the decision committed (fsync), the
//! event, the notifier, D-Bus.
//!
//! Goal (issue "Approvals reach the principal"): p99 ≤ 200 ms.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hyper::body::Bytes;
use purser_notify::fake_server::FakeNotificationServer;

use crate::client::AgentClient;
use crate::control::Control;
use crate::history::purser_binary;
use crate::stats::{Percentiles, human};
use crate::{Figure, Mode};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "1h"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "1.00" }
"#;

/// Runs on a thread of its own: the fake server's blocking API must not run inside the
/// caller's async runtime.
pub async fn run(mode: Mode) -> anyhow::Result<(Vec<Figure>, Vec<String>)> {
    tokio::task::spawn_blocking(move || {
        std::thread::spawn(move || run_blocking(mode))
            .join()
            .map_err(|_| anyhow::anyhow!("the notification benchmark panicked"))?
    })
    .await?
}

fn run_blocking(mode: Mode) -> anyhow::Result<(Vec<Figure>, Vec<String>)> {
    let Some(binary) = purser_binary() else {
        return Ok((
            Vec::new(),
            vec!["notifications: no `purser` binary next to this one: build it first (`cargo xtask bench` does)".to_owned()],
        ));
    };
    let server = FakeNotificationServer::start().context("start the fake notification server")?;
    let dir = tempfile::Builder::new()
        .prefix("purser-bench-notify-")
        .tempdir()?;
    let data_dir = dir.path().join("data");
    let mut daemon = Command::new(&binary)
        .args(["serve", "--notify", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        // Every request its own prompt: the storm summary is not what is measured.
        .args(["--notify-storm-max", "1000000"])
        .env("DBUS_SESSION_BUS_ADDRESS", server.address())
        .env("PURSER_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let result = measure(mode, &mut daemon, &server, &data_dir);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status();
    let _ = daemon.wait();
    let samples = result?;
    let count = samples.len();
    let percentiles = Percentiles::of_nanos(samples).context("no samples")?;
    Ok((
        vec![
            Figure::info(
                "notifications",
                format!("agent POST → Notify on the bus, p50 / p99 ({count} requests)"),
                format!("{} / {}", human(percentiles.p50), human(percentiles.p99)),
            )
            .goal("p99 ≤ 200 ms", percentiles.p99 <= Duration::from_millis(200))
            .bound("the decision's fsync, then one D-Bus round trip (a new session connection per notification)"),
        ],
        Vec::new(),
    ))
}

/// The agent's side runs on a small runtime of its own, the waits for the server outside it.
fn measure(
    mode: Mode,
    daemon: &mut Child,
    server: &FakeNotificationServer,
    data_dir: &std::path::Path,
) -> anyhow::Result<Vec<u64>> {
    let addr = ready_address(daemon)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let control = Control::AdminSocket(data_dir.join("admin.sock"));
    runtime.block_on(control.apply_policy(POLICY))?;
    let token = runtime.block_on(control.add_agent("notify-bench"))?;
    let mut client = runtime.block_on(AgentClient::connect(addr, &token))?;
    let requests = mode.pick(20, 300);
    let mut samples = Vec::with_capacity(requests);
    for i in 0..requests {
        let merchant = format!("m{i}.example.com");
        let body = Bytes::from(format!(
            r#"{{"request_id":"notify-{i}","amount":"5.00","currency":"USD","merchant":"{merchant}","purpose":"notification latency"}}"#
        ));
        let sent = Instant::now();
        runtime.block_on(client.authorize(body))?;
        let call = server
            .wait_for_summary(&format!("at {merchant}"), Duration::from_secs(10))
            .with_context(|| format!("no notification for request {i} within 10 s"))?;
        let latency = call.at.saturating_duration_since(sent);
        samples.push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
        // The principal answers it, so prompts do not pile up beyond what a screen shows.
        server.invoke_action(call.id, "deny")?;
    }
    Ok(samples)
}

/// The address from `purser serve`'s ready line.
fn ready_address(daemon: &mut Child) -> anyhow::Result<SocketAddr> {
    let stdout = daemon.stdout.take().context("stdout is piped")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let Some(rest) = line.strip_prefix("purser: listening on http://") else {
        bail!("purser serve did not say it listens: {line:?}");
    };
    rest.split_whitespace()
        .next()
        .context("no address in the ready line")?
        .parse()
        .context("the ready line's address")
}
