//! What the CLI prints on standard output: aligned tables, JSON, times and amounts.
//!
//! Every text that came from an agent (merchant, purpose, names) passes through [`clean`]
//! before it reaches the principal's terminal, so an agent cannot hide or forge output
//! with control characters. Amounts are printed as the decimal strings the daemon sent,
//! with their currency; nothing here parses money. A closed standard output (`| head`)
//! ends the output quietly.

use std::io::{self, Write};

use serde_json::Value;

use purser_core::Timestamp;

use crate::failure::Failure;

/// Rows of cells under a header, rendered with columns aligned by two spaces.
#[derive(Debug)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|cell| (*cell).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; each cell is [`clean`]ed. Missing cells are empty, extra ones dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells: Vec<String> = cells.iter().map(|cell| clean(cell)).collect();
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    /// The header and rows, one line each (ending in a newline), without trailing spaces.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|column| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .map(|row| row[column].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (column, cell) in row.iter().enumerate() {
                if column > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let padding = widths[column] - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', padding));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `text` on one line with every control character shown escaped (`\u{1b}`), never
/// interpreted by the terminal.
pub fn clean(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            cleaned.extend(c.escape_default());
        } else {
            cleaned.push(c);
        }
    }
    cleaned
}

/// [`clean`], cut to at most `max_chars` characters with an ellipsis when it was longer.
pub fn truncate(text: &str, max_chars: usize) -> String {
    let cleaned = clean(text);
    if cleaned.chars().count() <= max_chars {
        return cleaned;
    }
    let mut cut: String = cleaned.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// An amount as the daemon sent it, followed by its currency: `12.50 USD`.
pub fn money(amount: &str, currency: &str) -> String {
    clean(&format!("{amount} {currency}"))
}

/// A time in UTC, to the second: `2025-05-01T09:30:00Z`.
pub fn time(at: Timestamp) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// How long ago `at` was: `12s ago`, `3m ago`, `2h ago`, `5d ago`, or `never`.
pub fn ago(at: Option<Timestamp>, now: Timestamp) -> String {
    let Some(at) = at else {
        return "never".to_owned();
    };
    let seconds = (now - at).num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s ago"),
        60..3_600 => format!("{}m ago", seconds / 60),
        3_600..86_400 => format!("{}h ago", seconds / 3_600),
        _ => format!("{}d ago", seconds / 86_400),
    }
}

/// How long until `at`: `45s`, `9m 12s`, `1h 5m`, `2d 3h`, or `expired` once past.
pub fn until(at: Timestamp, now: Timestamp) -> String {
    let seconds = (at - now).num_seconds();
    match seconds {
        ..=0 => "expired".to_owned(),
        1..60 => format!("{seconds}s"),
        60..3_600 => format!("{}m {}s", seconds / 60, seconds % 60),
        3_600..86_400 => format!("{}h {}m", seconds / 3_600, seconds % 3_600 / 60),
        _ => format!("{}d {}h", seconds / 86_400, seconds % 86_400 / 3_600),
    }
}

/// `1 agent`, `2 agents`: a count with its noun, plural when it is not one.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Writes `text` to standard output as it is.
pub fn emit(text: &str) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    finish(
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush()),
    )
}

/// Writes a JSON value, pretty-printed, followed by a newline.
pub fn emit_json(value: &Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| Failure::failed(format!("cannot print JSON: {error}")))?;
    emit(&format!("{text}\n"))
}

/// Maps a write to standard output to the command's result: a reader that went away
/// (`purser audit list | head`) is not an error.
pub fn finish(written: io::Result<()>) -> Result<(), Failure> {
    match written {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure::failed(format!(
            "cannot write to standard output: {error}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn tables_align_columns_without_trailing_spaces() {
        let mut table = Table::new(&["NAME", "PROFILE", "STATUS"]);
        table.row(vec![
            "research-bot".into(),
            "default".into(),
            "active".into(),
        ]);
        table.row(vec!["b".into(), "".into(), "frozen".into()]);
        assert_eq!(
            table.render(),
            "NAME          PROFILE  STATUS\n\
             research-bot  default  active\n\
             b                      frozen\n"
        );
    }

    #[test]
    fn a_table_without_rows_is_its_header() {
        assert_eq!(Table::new(&["A", "B"]).render(), "A  B\n");
    }

    #[test]
    fn cells_cannot_carry_terminal_control_characters() {
        let mut table = Table::new(&["PURPOSE"]);
        table.row(vec!["buy\x1b[2Jnow\nrm".into()]);
        assert_eq!(table.render(), "PURPOSE\nbuy\\u{1b}[2Jnow\\nrm\n");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("exactly10!", 10), "exactly10!");
        assert_eq!(truncate("this is far too long", 10), "this is f…");
    }

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(0, "agent"), "0 agents");
        assert_eq!(count(1, "agent"), "1 agent");
        assert_eq!(count(2, "profile"), "2 profiles");
    }

    #[test]
    fn amounts_keep_their_digits_and_currency() {
        assert_eq!(money("0.000001", "USDC"), "0.000001 USDC");
        assert_eq!(money("12.50", "USD"), "12.50 USD");
    }

    #[test]
    fn relative_times_are_short() {
        let now = Utc.with_ymd_and_hms(2025, 5, 2, 12, 0, 0).unwrap();
        let minus = |seconds| Some(now - chrono::Duration::seconds(seconds));
        assert_eq!(ago(None, now), "never");
        assert_eq!(ago(minus(5), now), "5s ago");
        assert_eq!(ago(minus(185), now), "3m ago");
        assert_eq!(ago(minus(7_300), now), "2h ago");
        assert_eq!(ago(minus(3 * 86_400), now), "3d ago");
        assert_eq!(
            ago(minus(-30), now),
            "0s ago",
            "a clock a little ahead is not the future"
        );

        let plus = |seconds| now + chrono::Duration::seconds(seconds);
        assert_eq!(until(plus(-1), now), "expired");
        assert_eq!(until(plus(0), now), "expired");
        assert_eq!(until(plus(45), now), "45s");
        assert_eq!(until(plus(552), now), "9m 12s");
        assert_eq!(until(plus(3_900), now), "1h 5m");
        assert_eq!(until(plus(2 * 86_400 + 3 * 3_600), now), "2d 3h");
        assert_eq!(time(now), "2025-05-02T12:00:00Z");
    }
}
