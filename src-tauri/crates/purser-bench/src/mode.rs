//! [`Mode`]: how big a run is.
//!
//! `cargo bench` runs a `harness = false` target with `--bench`; `cargo test
//! --all-targets` runs the same binary without it. So `--bench` (or `--full`) selects the
//! full run and its absence the quick one: CI checks the benchmarks work without paying
//! for the figures.

/// Quick: small counts, a few seconds, correctness checked. Full: the published figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Quick,
    Full,
}

impl Mode {
    /// Full when the arguments hold `--bench` or `--full`.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Mode {
        if args
            .into_iter()
            .any(|arg| arg == "--bench" || arg == "--full")
        {
            Mode::Full
        } else {
            Mode::Quick
        }
    }

    pub fn is_full(self) -> bool {
        self == Mode::Full
    }

    /// `quick` in quick mode, `full` in full mode.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Mode::Quick => quick,
            Mode::Full => full,
        }
    }

    pub fn name(self) -> &'static str {
        self.pick("quick", "full")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_bench_selects_the_full_run() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(Mode::from_args(args(&["engines", "--bench"])), Mode::Full);
        assert_eq!(
            Mode::from_args(args(&["purser-load", "--full"])),
            Mode::Full
        );
        assert_eq!(Mode::from_args(args(&["engines"])), Mode::Quick);
    }
}
