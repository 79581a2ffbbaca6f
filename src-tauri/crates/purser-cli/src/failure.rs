//! How a command fails: the exit code (agent-api.md §3) and what goes to standard error.
//!
//! 1 is a failure of the thing asked (the daemon is not running, the audit trail is
//! broken, the daemon refused), 2 a usage or input error (clap's own usage errors exit 2
//! too). This module owns only that mapping and the printing; it decides nothing about
//! which failure is which.

use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: the thing asked did not happen.
    Failed,
    /// 2: the command line or its input is wrong.
    Usage,
}

/// A command that did not succeed, with what to tell the user.
#[derive(Debug)]
pub struct Failure {
    exit: Exit,
    report: Report,
}

#[derive(Debug)]
enum Report {
    /// One line: `purser: <message>`.
    Message(String),
    /// Lines printed as they are, e.g. `file:line:col: message` for editors to jump to.
    Lines(Vec<String>),
}

impl Failure {
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Failed,
            report: Report::Message(message.into()),
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Usage,
            report: Report::Message(message.into()),
        }
    }

    pub fn message(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            report: Report::Message(message.into()),
        }
    }

    pub fn lines(exit: Exit, lines: Vec<String>) -> Failure {
        Failure {
            exit,
            report: Report::Lines(lines),
        }
    }

    /// The same failure, its message preceded by `prefix` (e.g. `"the export is incomplete: "`).
    pub fn prefixed(self, prefix: &str) -> Failure {
        match self.report {
            Report::Message(message) => Failure::message(self.exit, format!("{prefix}{message}")),
            Report::Lines(_) => self,
        }
    }

    pub fn exit(&self) -> Exit {
        self.exit
    }

    pub fn exit_code(&self) -> ExitCode {
        match self.exit() {
            Exit::Failed => ExitCode::from(1),
            Exit::Usage => ExitCode::from(2),
        }
    }

    /// What goes to standard error, without the final newline.
    pub fn text(&self) -> String {
        match &self.report {
            // INVARIANT: a message is one line, so that scripts can read it.
            Report::Message(message) => format!("purser: {}", message.replace(['\r', '\n'], " ")),
            Report::Lines(lines) => lines.join("\n"),
        }
    }

    /// Print to standard error. A closed stderr is ignored: there is no one to tell.
    pub fn print(&self) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{}", self.text());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_one_prefixed_line() {
        let failure = Failure::failed("the daemon said:\nno");
        assert_eq!(failure.text(), "purser: the daemon said: no");
        assert_eq!(failure.exit(), Exit::Failed);
        let failure = Failure::failed("timed out").prefixed("the export is incomplete: ");
        assert_eq!(
            failure.text(),
            "purser: the export is incomplete: timed out"
        );
    }

    #[test]
    fn lines_are_printed_as_they_are() {
        let failure = Failure::lines(
            Exit::Usage,
            vec!["p.toml:1:1: a".into(), "p.toml:2:3: b".into()],
        );
        assert_eq!(failure.text(), "p.toml:1:1: a\np.toml:2:3: b");
        assert_eq!(failure.exit(), Exit::Usage);
    }
}
