//! `purser status`: whether the daemon runs, the kill switch, what waits for the
//! principal and what was spent today, in a few lines.

use crate::api::{self, Status};
use crate::commands::Context;
use crate::failure::Failure;
use crate::output::{self, clean};

pub async fn run(context: &Context) -> Result<(), Failure> {
    let answer = context.client()?.get("/admin/status").await?;
    if context.json {
        return output::emit_json(&answer);
    }
    let status: Status = api::read(answer)?;
    output::emit(&render_status(&status))
}

fn render_status(status: &Status) -> String {
    let mut daemon = format!("running, version {}", clean(&status.version));
    if let Some(listen) = &status.listen {
        daemon.push_str(&format!(", agent API on {}", clean(listen)));
    }
    let kill_switch = if status.kill_switch.engaged {
        let mut text = "ENGAGED: all agent spending is stopped".to_owned();
        if let Some(at) = status.kill_switch.changed_at {
            text.push_str(&format!(" since {}", output::time(at)));
        }
        if let Some(reason) = &status.kill_switch.reason {
            text.push_str(&format!(" ({})", clean(reason)));
        }
        text.push_str("; lift it with `purser resume`");
        text
    } else {
        "off".to_owned()
    };
    let pending = match status.pending {
        0 => "none".to_owned(),
        1 => "1 approval waits for you: `purser approvals`".to_owned(),
        n => format!("{n} approvals wait for you: `purser approvals`"),
    };
    let policy = status.policy_version.map_or_else(
        || "none applied (deny-all)".to_owned(),
        |version| format!("version {version}"),
    );
    let today = if status.today.is_empty() {
        "nothing".to_owned()
    } else {
        let spent: Vec<String> = status
            .today
            .iter()
            .map(|spent| output::money(&spent.spent, &spent.currency))
            .collect();
        spent.join(", ")
    };
    let mut lines = vec![("daemon", daemon)];
    if let Some(data_dir) = &status.data_dir {
        lines.push(("data dir", clean(data_dir)));
    }
    // The SQLite file is inside the data dir; only team mode's database is news.
    if let Some(database) = status
        .database
        .as_deref()
        .filter(|d| d.contains("(team mode)"))
    {
        lines.push(("database", clean(database)));
    }
    lines.extend([
        ("kill switch", kill_switch),
        ("pending", pending),
        ("agents", status.agents.to_string()),
        ("policy", policy),
        ("spent today", today),
    ]);
    let width = lines
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0);
    lines
        .iter()
        .map(|(label, value)| format!("{label:width$}  {value}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::api::{KillSwitch, Spent};

    fn status() -> Status {
        Status {
            version: "0.1.0".into(),
            listen: Some("127.0.0.1:7402".into()),
            data_dir: Some("/home/p/.local/share/purser".into()),
            database: Some("/home/p/.local/share/purser/purser.db".into()),
            kill_switch: KillSwitch {
                engaged: false,
                reason: None,
                changed_at: None,
            },
            pending: 2,
            agents: 3,
            policy_version: Some(4),
            today: vec![
                Spent {
                    currency: "USD".into(),
                    spent: "12.50".into(),
                },
                Spent {
                    currency: "EUR".into(),
                    spent: "0.000001".into(),
                },
            ],
        }
    }

    #[test]
    fn status_is_a_few_aligned_lines() {
        assert_eq!(
            render_status(&status()),
            "daemon       running, version 0.1.0, agent API on 127.0.0.1:7402\n\
             data dir     /home/p/.local/share/purser\n\
             kill switch  off\n\
             pending      2 approvals wait for you: `purser approvals`\n\
             agents       3\n\
             policy       version 4\n\
             spent today  12.50 USD, 0.000001 EUR\n"
        );
    }

    #[test]
    fn team_mode_names_the_shared_database() {
        let mut status = status();
        status.database = Some("postgres://purser@db.internal:5432/purser (team mode)".into());
        assert!(
            render_status(&status)
                .contains("\ndatabase     postgres://purser@db.internal:5432/purser (team mode)\n"),
            "{}",
            render_status(&status)
        );
    }

    #[test]
    fn an_engaged_kill_switch_says_since_when_and_why() {
        let mut status = status();
        status.kill_switch = KillSwitch {
            engaged: true,
            reason: Some("runaway loop".into()),
            changed_at: Some(Utc.with_ymd_and_hms(2025, 5, 1, 9, 30, 0).unwrap()),
        };
        status.today.clear();
        let text = render_status(&status);
        assert!(text.contains(
            "kill switch  ENGAGED: all agent spending is stopped since 2025-05-01T09:30:00Z (runaway loop); lift it with `purser resume`\n"
        ), "{text}");
        assert!(text.contains("spent today  nothing\n"), "{text}");
    }
}
