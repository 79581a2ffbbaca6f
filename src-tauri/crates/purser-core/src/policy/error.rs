//! Errors in a policy file: what was wrong and where, as `file:line:col: message`.
//!
//! This module owns the error types that [`super::parse`] returns and the conversion from
//! byte offsets (what the TOML parser reports) to 1-based line and column numbers (what a
//! person and an editor understand). It knows nothing about the policy format itself.

use std::fmt;

/// One problem in a policy file, at a 1-based line and column (columns count characters,
/// not bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct PolicyError {
    pub line: usize,
    pub column: usize,
    /// One line saying what is wrong and what is allowed instead.
    pub message: String,
}

impl PolicyError {
    /// An error at byte `offset` of `text`. An offset past the end (or inside a
    /// multi-byte character) points at the nearest character boundary before it.
    pub fn at_offset(text: &str, offset: usize, message: impl Into<String>) -> PolicyError {
        let (line, column) = line_column(text, offset);
        // INVARIANT: each error prints on one line of `PolicyErrors`' Display.
        let message = message.into().replace(['\r', '\n'], " ");
        PolicyError {
            line,
            column,
            message,
        }
    }
}

/// Every problem found in one policy file. A file with any problem is refused whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors {
    /// The name shown before each error, usually the path the policy was read from.
    pub file: String,
    /// At least one error, in the order they appear in the file.
    pub errors: Vec<PolicyError>,
}

impl fmt::Display for PolicyErrors {
    /// One `file:line:col: message` per line, without a trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{error}", self.file)?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// The 1-based (line, column) of byte `offset` in `text`; columns count characters.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_one_based_lines_and_character_columns() {
        let text = "ab\ncdé\r\nfg";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 2), (1, 3));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, 5), (2, 3));
        assert_eq!(line_column(text, 6), (2, 3), "inside é: back to its start");
        assert_eq!(
            line_column(text, 7),
            (2, 4),
            "after é: one character further"
        );
        assert_eq!(line_column(text, 9), (3, 1));
        assert_eq!(line_column(text, 100), (3, 3), "past the end: the end");
    }

    #[test]
    fn display_is_one_error_per_line() {
        let errors = PolicyErrors {
            file: "policy.toml".into(),
            errors: vec![
                PolicyError::at_offset("a\nb", 2, "first"),
                PolicyError::at_offset("a\nb", 0, "second\nline"),
            ],
        };
        assert_eq!(
            errors.to_string(),
            "policy.toml:2:1: first\npolicy.toml:1:1: second line"
        );
    }
}
