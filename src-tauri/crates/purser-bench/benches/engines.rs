//! `cargo bench -p purser-bench --bench engines`: Purser's `decide` against Cedar and
//! Rego on the same ~100-rule policy and 10,000 generated requests, after checking all
//! three agree on every one. Under `cargo test --all-targets` (no `--bench` argument)
//! it runs quick: 1,000 requests, agreement still checked on each.

use purser_bench::{Mode, Report, engines};

fn main() -> anyhow::Result<()> {
    let mode = Mode::from_args(std::env::args());
    let mut report = Report::new(mode, "cargo bench -p purser-bench --bench engines");
    report.extend(engines::run(mode)?);
    print!("{}", report.to_text());
    Ok(())
}
