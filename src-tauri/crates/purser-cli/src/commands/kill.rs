//! `purser kill [--reason TEXT]` and `purser resume`: the emergency stop of all agent
//! spending. When `kill` returns, the daemon has durably recorded it and cancelled every
//! pending approval (agent-api.md §3); this command only reports that.

use serde_json::json;

use crate::api::{self, Killed};
use crate::args::KillArgs;
use crate::commands::Context;
use crate::failure::Failure;
use crate::output;

pub async fn kill(context: &Context, args: KillArgs) -> Result<(), Failure> {
    let body = match args.reason {
        Some(reason) => json!({ "reason": reason }),
        None => json!({}),
    };
    let answer = context.client()?.post("/admin/kill", Some(&body)).await?;
    if context.json {
        return output::emit_json(&answer);
    }
    let killed: Killed = api::read(answer)?;
    output::emit(&render_killed(&killed))
}

fn render_killed(killed: &Killed) -> String {
    let cancelled = output::count(
        usize::try_from(killed.cancelled).unwrap_or(usize::MAX),
        "pending approval",
    );
    format!(
        "kill switch engaged: every agent request is denied until `purser resume` ({cancelled} cancelled)\n"
    )
}

pub async fn resume(context: &Context) -> Result<(), Failure> {
    let answer = context.client()?.post("/admin/resume", None).await?;
    if context.json {
        return output::emit_json(&answer);
    }
    output::emit("kill switch lifted: agents may spend again within policy\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_reports_what_was_cancelled() {
        assert_eq!(
            render_killed(&Killed { cancelled: 1 }),
            "kill switch engaged: every agent request is denied until `purser resume` (1 pending approval cancelled)\n"
        );
        assert!(
            render_killed(&Killed { cancelled: 0 }).contains("(0 pending approvals cancelled)")
        );
    }
}
