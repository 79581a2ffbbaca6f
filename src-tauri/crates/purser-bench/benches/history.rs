//! `cargo bench -p purser-bench --bench history`: a data dir with 1,000,000 decisions,
//! then audit verify, audit page queries, daemon start time, database size, and the
//! headless daemon's idle RSS and binary size (`purser` must be built: `cargo build
//! --release -p purser-cli`). Under `cargo test --all-targets` it runs quick (3,000
//! decisions).

use purser_bench::{Mode, Report, history};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mode = Mode::from_args(std::env::args());
    let mut report = Report::new(mode, "cargo bench -p purser-bench --bench history");
    let (figures, notes) = history::run(mode).await?;
    report.extend(figures);
    for note in notes {
        report.note(note);
    }
    print!("{}", report.to_text());
    Ok(())
}
