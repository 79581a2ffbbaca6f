//! `purser agent add|list|freeze|unfreeze|revoke`: the agents that may ask to spend.
//!
//! The token of a new agent is printed exactly once, here, and never stored or logged by
//! the CLI; the daemon keeps only its hash.

use chrono::Utc;
use serde_json::{Value, json};

use purser_core::Timestamp;

use crate::admin_client::encode;
use crate::api::{self, Agent, NewAgent};
use crate::args::AgentCommand;
use crate::commands::Context;
use crate::failure::Failure;
use crate::output::{self, Table, clean};

pub async fn run(context: &Context, command: AgentCommand) -> Result<(), Failure> {
    match command {
        AgentCommand::Add { name, profile } => add(context, name, profile).await,
        AgentCommand::List => list(context).await,
        AgentCommand::Freeze { name } => change(context, &name, Change::Freeze).await,
        AgentCommand::Unfreeze { name } => change(context, &name, Change::Unfreeze).await,
        AgentCommand::Revoke { name } => change(context, &name, Change::Revoke).await,
    }
}

async fn add(context: &Context, name: String, profile: Option<String>) -> Result<(), Failure> {
    let mut body = json!({ "name": name });
    if let Some(profile) = profile {
        body["profile"] = Value::String(profile);
    }
    let answer = context.client()?.post("/admin/agents", Some(&body)).await?;
    let created: NewAgent = api::read(answer)?;
    if context.json {
        output::emit_json(&json!({ "name": created.name, "token": created.token }))
    } else {
        output::emit(&render_new_agent(&created))
    }
}

/// The human answer to `agent add`: the token alone on the last line, easy to copy.
fn render_new_agent(created: &NewAgent) -> String {
    let profile = match &created.profile {
        Some(profile) => format!("profile {}", clean(profile)),
        None => "profile from the policy".to_owned(),
    };
    format!(
        "created agent {} ({profile})\n\
         its token, shown only this once (the agent sends it as `Authorization: Bearer <token>`):\n\
         {}\n",
        clean(&created.name),
        clean(&created.token),
    )
}

async fn list(context: &Context) -> Result<(), Failure> {
    let answer = context.client()?.get("/admin/agents").await?;
    if context.json {
        return output::emit_json(&answer);
    }
    let agents: Vec<Agent> = api::read(answer)?;
    output::emit(&render_agents(&agents, Utc::now()))
}

fn render_agents(agents: &[Agent], now: Timestamp) -> String {
    if agents.is_empty() {
        return "no agents yet: create one with `purser agent add NAME`\n".to_owned();
    }
    let mut table = Table::new(&["NAME", "PROFILE", "STATUS", "LAST SEEN"]);
    for agent in agents {
        table.row(vec![
            agent.name.clone(),
            agent.profile.clone().unwrap_or_else(|| "-".to_owned()),
            agent.status.clone(),
            output::ago(agent.last_seen_at, now),
        ]);
    }
    table.render()
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Freeze,
    Unfreeze,
    Revoke,
}

async fn change(context: &Context, name: &str, change: Change) -> Result<(), Failure> {
    let action = match change {
        Change::Freeze => "freeze",
        Change::Unfreeze => "unfreeze",
        Change::Revoke => "revoke",
    };
    let path = format!("/admin/agents/{}/{action}", encode(name));
    let answer = context.client()?.post(&path, None).await?;
    if context.json {
        return output::emit_json(&answer);
    }
    let agent: Agent = api::read(answer)?;
    let name = clean(&agent.name);
    output::emit(&match change {
        Change::Freeze => format!(
            "agent {name} is frozen: its requests are denied until `purser agent unfreeze {name}`\n"
        ),
        Change::Unfreeze => format!("agent {name} is active again: it may spend within policy\n"),
        Change::Revoke => format!("agent {name} is revoked: its token no longer works\n"),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn agents_table_shows_name_profile_status_last_seen() {
        let now = Utc.with_ymd_and_hms(2025, 5, 2, 12, 0, 0).unwrap();
        let agents = vec![
            Agent {
                name: "research-bot".into(),
                profile: Some("default".into()),
                status: "active".into(),
                last_seen_at: Some(now - chrono::Duration::minutes(3)),
            },
            Agent {
                name: "ci".into(),
                profile: None,
                status: "frozen".into(),
                last_seen_at: None,
            },
        ];
        assert_eq!(
            render_agents(&agents, now),
            "NAME          PROFILE  STATUS  LAST SEEN\n\
             research-bot  default  active  3m ago\n\
             ci            -        frozen  never\n"
        );
        assert!(render_agents(&[], now).starts_with("no agents yet"));
    }

    #[test]
    fn a_new_agent_token_is_printed_once_on_its_own_line() {
        let created = NewAgent {
            name: "research-bot".into(),
            profile: Some("default".into()),
            token: "psr_secret".into(),
        };
        let text = render_new_agent(&created);
        assert_eq!(text.matches("psr_secret").count(), 1);
        assert_eq!(text.lines().last(), Some("psr_secret"));
    }
}
