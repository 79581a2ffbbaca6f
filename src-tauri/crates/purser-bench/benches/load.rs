//! `cargo bench -p purser-bench --bench load`: the load generator's full run against an
//! in-process daemon. Under `cargo test --all-targets` (no `--bench` argument) it runs in
//! quick mode: seconds, small counts, every guarantee still checked.

use purser_bench::load::{self, Target};
use purser_bench::{Mode, Report};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mode = Mode::from_args(std::env::args());
    let mut report = Report::new(mode, "cargo bench -p purser-bench --bench load");
    report.extend(load::run(mode, Target::InProcess).await?);
    print!("{}", report.to_text());
    Ok(())
}
