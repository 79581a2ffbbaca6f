//! `purser policy check|apply|show|history`: the principal's spending policy.
//!
//! `check` parses the file here, with the same parser the daemon uses, so it works
//! without a running daemon (an editor hook, CI). `apply` leaves the judgement to the
//! daemon, which refuses an invalid file as a whole; both report problems as
//! `file:line:col: message` lines and exit 2.

use std::io::Read;
use std::path::Path;

use serde_json::json;

use crate::admin_client::AdminError;
use crate::api::{self, Applied, PolicyText, PolicyVersion};
use crate::args::PolicyCommand;
use crate::commands::Context;
use crate::failure::{Exit, Failure};
use crate::output::{self, Table};

/// The largest policy file read; real ones are a few KiB.
const MAX_POLICY_BYTES: u64 = 1024 * 1024;

pub async fn run(context: &Context, command: PolicyCommand) -> Result<(), Failure> {
    match command {
        PolicyCommand::Check { file } => check(context, &file),
        PolicyCommand::Apply { file } => apply(context, &file).await,
        PolicyCommand::Show => show(context).await,
        PolicyCommand::History => history(context).await,
    }
}

/// The file's text, or a usage error naming the file.
fn read_policy_file(file: &Path) -> Result<String, Failure> {
    let cannot =
        |problem: String| Failure::usage(format!("cannot read {}: {problem}", file.display()));
    let opened = std::fs::File::open(file).map_err(|error| cannot(error.to_string()))?;
    let mut text = String::new();
    opened
        .take(MAX_POLICY_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|error| cannot(error.to_string()))?;
    if text.len() as u64 > MAX_POLICY_BYTES {
        return Err(cannot(format!(
            "it is larger than {} KiB",
            MAX_POLICY_BYTES / 1024
        )));
    }
    Ok(text)
}

fn check(context: &Context, file: &Path) -> Result<(), Failure> {
    let text = read_policy_file(file)?;
    let name = file.display().to_string();
    match purser_core::policy::parse_policy(&name, &text) {
        Ok(policy) => {
            if context.json {
                return output::emit_json(&json!({ "ok": true }));
            }
            output::emit(&format!(
                "{name}: valid policy ({}, {} assigned)\n",
                output::count(policy.profiles.len(), "profile"),
                output::count(policy.agents.len(), "agent")
            ))
        }
        Err(errors) => {
            let lines: Vec<String> = errors.to_string().lines().map(str::to_owned).collect();
            if context.json {
                output::emit_json(&json!({ "ok": false, "errors": lines }))?;
            }
            Err(Failure::lines(Exit::Usage, lines))
        }
    }
}

async fn apply(context: &Context, file: &Path) -> Result<(), Failure> {
    let text = read_policy_file(file)?;
    let body = json!({ "file": file.display().to_string(), "text": text });
    let answer = match context
        .client()?
        .post("/admin/policy/apply", Some(&body))
        .await
    {
        Ok(answer) => answer,
        Err(AdminError::Api(error))
            if error.code == "policy_invalid" && !error.errors.is_empty() =>
        {
            return Err(Failure::lines(Exit::Usage, error.errors));
        }
        Err(error) => return Err(error.into()),
    };
    if context.json {
        return output::emit_json(&answer);
    }
    let applied: Applied = api::read(answer)?;
    output::emit(&format!(
        "applied {} as policy version {}\n",
        file.display(),
        applied.version
    ))
}

async fn show(context: &Context) -> Result<(), Failure> {
    let answer = context.client()?.get("/admin/policy").await?;
    if context.json {
        return output::emit_json(&answer);
    }
    // The text as the principal wrote it, so that `policy show > p.toml` round-trips.
    let policy: PolicyText = api::read(answer)?;
    if policy.text.ends_with('\n') || policy.text.is_empty() {
        output::emit(&policy.text)
    } else {
        output::emit(&format!("{}\n", policy.text))
    }
}

async fn history(context: &Context) -> Result<(), Failure> {
    let answer = context.client()?.get("/admin/policy/history").await?;
    if context.json {
        return output::emit_json(&answer);
    }
    let versions: Vec<PolicyVersion> = api::read(answer)?;
    output::emit(&render_history(&versions))
}

fn render_history(versions: &[PolicyVersion]) -> String {
    let mut table = Table::new(&["VERSION", "APPLIED AT", "APPLIED BY"]);
    for version in versions {
        table.row(vec![
            version.version.to_string(),
            version
                .applied_at
                .map_or_else(|| "-".to_owned(), output::time),
            version.applied_by.clone().unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn history_lists_versions_newest_first_as_given() {
        let at = Utc.with_ymd_and_hms(2025, 5, 1, 9, 30, 0).unwrap();
        let versions = vec![
            PolicyVersion {
                version: 2,
                applied_at: Some(at),
                applied_by: Some("cli".into()),
            },
            PolicyVersion {
                version: 1,
                applied_at: None,
                applied_by: None,
            },
        ];
        assert_eq!(
            render_history(&versions),
            "VERSION  APPLIED AT            APPLIED BY\n\
             2        2025-05-01T09:30:00Z  cli\n\
             1        -                     -\n"
        );
    }

    #[test]
    fn an_oversized_or_missing_file_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_POLICY_BYTES as usize + 1]).unwrap();
        let failure = read_policy_file(&big).unwrap_err();
        assert_eq!(failure.exit(), Exit::Usage);
        assert!(
            failure.text().contains("larger than 1024 KiB"),
            "{}",
            failure.text()
        );
        let failure = read_policy_file(&dir.path().join("missing.toml")).unwrap_err();
        assert_eq!(failure.exit(), Exit::Usage);
        assert!(
            failure.text().starts_with("purser: cannot read "),
            "{}",
            failure.text()
        );
    }
}
