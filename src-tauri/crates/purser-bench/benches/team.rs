//! `cargo bench -p purser-bench --bench team`: team mode's durable decisions/s, 64 agents
//! in a closed loop against SQLite (one daemon), PostgreSQL with one daemon and with three
//! sharing a throwaway cluster's database. Under `cargo test --all-targets` it runs quick
//! (a few seconds of load, every count still checked); without the PostgreSQL server
//! binaries it prints why and skips.

use purser_bench::{Mode, Report, team};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mode = Mode::from_args(std::env::args());
    let mut report = Report::new(mode, "cargo bench -p purser-bench --bench team");
    let (figures, notes) = team::run(mode).await?;
    report.extend(figures);
    for note in notes {
        report.note(note);
    }
    print!("{}", report.to_text());
    Ok(())
}
