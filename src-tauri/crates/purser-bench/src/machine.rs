//! What the figures were measured on: CPU, cores, load, the commit, the file system the
//! databases live on. Read from `/proc` and `git`; anything unreadable says so.

use std::path::Path;
use std::process::Command;

/// The machine and the code a run measured.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub memory: String,
    pub kernel: String,
    pub commit: String,
    /// `uptime`'s load averages at the start of the run.
    pub load_at_start: String,
}

impl Machine {
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map_or_else(
                || "unknown CPU".to_owned(),
                |(_, model)| model.trim().to_owned(),
            );
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned());
        Machine {
            cpu_model,
            cores,
            memory,
            kernel,
            commit: commit(),
            load_at_start: load_average(),
        }
    }
}

/// `git rev-parse HEAD`, with `+changes` when the work tree differs from it.
fn commit() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(head) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|status| !status.is_empty());
            if dirty {
                format!("{head} (+ uncommitted changes)")
            } else {
                head
            }
        }
        None => "unknown (not a git checkout)".to_owned(),
    }
}

/// The 1, 5 and 15 minute load averages, as `uptime` shows them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The file system type `path` lives on (longest matching mount point in
/// `/proc/mounts`): tells whether an fsync reaches a disk (`ext4`) or not (`tmpfs`).
pub fn filesystem_of(path: &Path) -> String {
    let Ok(path) = path.canonicalize() else {
        return "unknown".to_owned();
    };
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, mount, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(mount)
                .then(|| (mount.len(), kind.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown".to_owned(), |(_, kind)| kind)
}

/// The directory cargo builds into, from where this binary runs
/// (`target/<profile>/<bin>` or `target/<profile>/deps/<bench>`).
pub fn target_profile_dir() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().map(Path::to_path_buf)
    } else {
        Some(dir.to_path_buf())
    }
}

/// A scratch directory on the same disk as the build (never tmpfs, so every COMMIT
/// pays a real fsync): `PURSER_BENCH_DIR`, else `target/purser-bench`.
pub fn scratch_root() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("PURSER_BENCH_DIR") {
        return dir.into();
    }
    target_profile_dir()
        .and_then(|profile| profile.parent().map(|target| target.join("purser-bench")))
        .unwrap_or_else(std::env::temp_dir)
}

/// A fresh temporary directory under [`scratch_root`].
pub fn scratch_dir(prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    let root = scratch_root();
    std::fs::create_dir_all(&root)?;
    Ok(tempfile::Builder::new().prefix(prefix).tempdir_in(root)?)
}
