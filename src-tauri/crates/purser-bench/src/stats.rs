//! Latency percentiles over recorded samples (nanoseconds), nearest-rank on the sorted
//! samples: exact, no histogram buckets.

use std::time::Duration;

/// p50 / p99 / p99.9 / max of one set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl Percentiles {
    /// `None` for no samples.
    pub fn of_nanos(mut samples: Vec<u64>) -> Option<Percentiles> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |q: f64| {
            // Nearest rank: the smallest sample with at least q of the samples at or below.
            let rank = (q * samples.len() as f64).ceil() as usize;
            let index = rank.clamp(1, samples.len()) - 1;
            Duration::from_nanos(samples.get(index).copied().unwrap_or_default())
        };
        Some(Percentiles {
            count: samples.len(),
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
            max: Duration::from_nanos(samples.last().copied().unwrap_or_default()),
        })
    }
}

/// `1.23 µs`, `45.6 ms`: three significant digits in a fitting unit.
pub fn human(duration: Duration) -> String {
    let nanos = duration.as_nanos() as f64;
    let (value, unit) = if nanos < 1e3 {
        (nanos, "ns")
    } else if nanos < 1e6 {
        (nanos / 1e3, "µs")
    } else if nanos < 1e9 {
        (nanos / 1e6, "ms")
    } else {
        (nanos / 1e9, "s")
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

/// `12,345`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let p = Percentiles::of_nanos((1..=1000).collect()).unwrap();
        assert_eq!(p.p50, Duration::from_nanos(500));
        assert_eq!(p.p99, Duration::from_nanos(990));
        assert_eq!(p.p999, Duration::from_nanos(999));
        assert_eq!(p.max, Duration::from_nanos(1000));
        assert!(Percentiles::of_nanos(Vec::new()).is_none());
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(human(Duration::from_nanos(850)), "850 ns");
        assert_eq!(human(Duration::from_nanos(1_234)), "1.23 µs");
        assert_eq!(human(Duration::from_micros(45_600)), "45.6 ms");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
