//! The desktop app's idle footprint: `purser-desktop` (built next to this binary, same
//! profile) on a private X display (`xvfb-run -a`), a fresh data dir, no notifications
//! and no shortcut, left idle on its inbox; then the memory of its whole process tree
//! (the app with the embedded daemon, and WebKitGTK's web and network processes).
//!
//! Two sums: RSS (what `ps` shows; pages shared between the processes count once per
//! process) and PSS (each shared page divided among its sharers: the honest total).
//! Goal (issue "Benchmarks…"): ≤ 200 MB.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::machine::target_profile_dir;
use crate::{Figure, Mode};

/// One process of the tree.
#[derive(Debug, Clone)]
struct ProcessMemory {
    name: String,
    rss_kib: u64,
    pss_kib: u64,
}

pub fn run(mode: Mode) -> anyhow::Result<(Vec<Figure>, Vec<String>)> {
    let Some(app) = target_profile_dir()
        .map(|dir| dir.join("purser-desktop"))
        .filter(|path| path.is_file())
    else {
        return Ok((
            Vec::new(),
            vec!["desktop footprint: no `purser-desktop` next to this binary: `cargo xtask bench` builds it".to_owned()],
        ));
    };
    if Command::new("xvfb-run").arg("--help").output().is_err() {
        return Ok((
            Vec::new(),
            vec!["desktop footprint: xvfb-run is missing (apt-get install xvfb xauth)".to_owned()],
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("purser-bench-desktop-")
        .tempdir()?;
    let data_dir = dir.path().join("data");
    let mut child = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(&app)
        .arg("--data-dir")
        .arg(&data_dir)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-notify",
            "--kill-shortcut",
            "off",
        ])
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
        .env("PURSER_LOG", "warn")
        .env("XDG_DATA_HOME", dir.path().join("xdg-data"))
        .env("XDG_CACHE_HOME", dir.path().join("xdg-cache"))
        .env("XDG_CONFIG_HOME", dir.path().join("xdg-config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("run xvfb-run purser-desktop")?;
    let result = measure(
        &mut child,
        &data_dir,
        mode.pick(Duration::from_secs(5), Duration::from_secs(15)),
    );
    stop_tree(child.id());
    let _ = child.wait();
    let processes = result?;
    let rss: u64 = processes.iter().map(|p| p.rss_kib).sum();
    let pss: u64 = processes.iter().map(|p| p.pss_kib).sum();
    let each = processes
        .iter()
        .map(|p| format!("{} {:.0}", p.name, p.pss_kib as f64 / 1024.0))
        .collect::<Vec<_>>()
        .join(" + ");
    Ok((
        vec![
            Figure::info(
                "footprint",
                "idle memory, desktop app (app + WebKit processes), PSS / RSS",
                format!(
                    "{:.0} MB / {:.0} MB",
                    pss as f64 * 1.024 / 1000.0,
                    rss as f64 * 1.024 / 1000.0
                ),
            )
            .goal("≤ 200 MB", pss * 1024 <= 200 * 1_000_000)
            .bound(format!(
                "WebKitGTK's web process and the app's GTK/WebKit libraries; PSS in MiB: {each}"
            )),
        ],
        Vec::new(),
    ))
}

/// Waits for the embedded daemon's admin socket, lets the app idle for `settle`, reads
/// the memory of the app's process tree.
fn measure(
    child: &mut Child,
    data_dir: &Path,
    settle: Duration,
) -> anyhow::Result<Vec<ProcessMemory>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !data_dir.join("admin.sock").exists() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "purser-desktop did not start its daemon within 60 s"
        );
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("xvfb-run purser-desktop exited early ({status})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(settle);
    let app = descendants(child.id())
        .into_iter()
        .find(|pid| comm(*pid).as_deref() == Some("purser-desktop"))
        .context("no purser-desktop process under xvfb-run")?;
    let mut processes = Vec::new();
    for pid in std::iter::once(app).chain(descendants(app)) {
        if let Some(memory) = memory_of(pid) {
            processes.push(memory);
        }
    }
    Ok(processes)
}

fn memory_of(pid: u32) -> Option<ProcessMemory> {
    let name = comm(pid)?;
    let field = |text: &str, key: &str| -> Option<u64> {
        text.lines()
            .find(|line| line.starts_with(key))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse().ok())
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    Some(ProcessMemory {
        name,
        rss_kib: field(&status, "VmRSS:")?,
        pss_kib: field(&rollup, "Pss:")?,
    })
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|name| name.trim().to_owned())
}

/// Every process below `root`, breadth first (from `/proc/*/stat`'s parent ids).
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The name is in parentheses and may hold spaces: the parent id is the second
            // field after the last ')'.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, _) in parents.iter().filter(|(_, ppid)| *ppid == parent) {
            found.push(*pid);
            frontier.push(*pid);
        }
    }
    found
}

/// SIGTERM to the whole tree (the app stops its daemon gracefully), then SIGKILL to
/// what is left.
fn stop_tree(root: u32) {
    let tree: Vec<u32> = descendants(root);
    for pid in tree.iter().rev() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
    }
    std::thread::sleep(Duration::from_secs(2));
    for pid in tree.iter().chain(std::iter::once(&root)) {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .stderr(Stdio::null())
            .status();
    }
}
