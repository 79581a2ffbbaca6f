//! `purser-load [--full] [--only throughput,latency,kill,off] [--url
//! http://127.0.0.1:PORT --data-dir DIR]`: the load
//! generator (see `purser_bench::load`). Without `--url` it starts the daemon in this
//! process on a scratch data dir; with it, it loads that daemon and drives it as the
//! principal through `DIR/admin.sock`. Prints one table; exits 1 when a guarantee broke.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use purser_bench::load::{self, Target};
use purser_bench::{Mode, Report};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = Mode::from_args(args.iter().cloned());
    let target = target(&args)?;
    let mut report = Report::new(mode, format!("purser-load {}", args.join(" ")));
    println!("purser-load: {} run against {target:?}", mode.name());
    let only = match value_of(&args, "--only")? {
        Some(list) => load::Scenarios::parse(&list)?,
        None => load::Scenarios::ALL,
    };
    report.extend(load::run_scenarios(mode, target, only).await?);
    print!("{}", report.to_text());
    Ok(())
}

/// The value after `flag`, if the flag is there.
fn value_of(args: &[String], flag: &str) -> anyhow::Result<Option<String>> {
    args.iter()
        .position(|arg| arg == flag)
        .map(|at| {
            args.get(at + 1)
                .cloned()
                .with_context(|| format!("{flag} needs a value"))
        })
        .transpose()
}

fn target(args: &[String]) -> anyhow::Result<Target> {
    let value = |flag: &str| value_of(args, flag);
    for arg in args {
        if arg.starts_with("--")
            && !matches!(
                arg.as_str(),
                "--full" | "--bench" | "--url" | "--data-dir" | "--only"
            )
        {
            bail!(
                "unknown option {arg}: purser-load [--full] [--only throughput,latency,kill,off] [--url http://127.0.0.1:PORT --data-dir DIR]"
            );
        }
    }
    match (value("--url")?, value("--data-dir")?) {
        (None, None) => Ok(Target::InProcess),
        (Some(url), Some(data_dir)) => {
            let addr: SocketAddr = url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .parse()
                .with_context(|| format!("--url {url}: give http://127.0.0.1:PORT"))?;
            Ok(Target::External {
                addr,
                data_dir: PathBuf::from(data_dir),
            })
        }
        _ => bail!("--url and --data-dir go together (the admin socket is DIR/admin.sock)"),
    }
}
