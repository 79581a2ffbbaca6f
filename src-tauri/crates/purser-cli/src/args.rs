//! The command line of `purser`, exactly as agent-api.md §3 writes it, parsed by clap.
//!
//! This module owns the shape of the arguments and the checks that need nothing but the
//! arguments themselves (durations, `--since`, mutually exclusive grants). Anything that
//! needs the daemon or the file system is done by the commands; nothing here does I/O
//! except reading the data-dir default from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::{NaiveDate, TimeZone, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use purser_core::{PolicyDuration, Timestamp};

/// The agent API address `purser serve` listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7402";

/// Purser: an authorizer for AI-agent spending.
#[derive(Debug, Parser)]
#[command(name = "purser", version, propagate_version = true)]
pub struct Cli {
    /// The data directory: policy, ledger, audit trail and the admin socket live here.
    /// Default: the platform data dir (e.g. ~/.local/share/purser).
    #[arg(long, global = true, env = "PURSER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Print records as JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon headless (the desktop app embeds the same daemon).
    Serve(ServeArgs),
    /// Create and control agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Check, apply and inspect the spending policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Pending approvals, oldest first.
    Approvals,
    /// Approve a pending request once, or grant a standing approval.
    Approve(ApproveArgs),
    /// Deny a pending request.
    Deny(DenyArgs),
    /// Emergency stop: deny all agent spending until `purser resume`.
    Kill(KillArgs),
    /// Lift the kill switch.
    Resume,
    /// Read, export and verify the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The daemon, kill switch, pending count and today's spend.
    Status,
    /// Stream what happens, live, one line per event, until Ctrl-C.
    Watch,
    /// Serve the agent tools over MCP on stdio, for MCP hosts (token in PURSER_TOKEN).
    Mcp(McpArgs),
    /// Print the agent API's OpenAPI 3.1 document (what /v1/openapi.json serves).
    Openapi,
}

/// `purser mcp`: an MCP server on stdin/stdout in front of the running daemon. The
/// agent's token is read from the environment variable PURSER_TOKEN, never from the
/// command line (other users can read command lines).
#[derive(Debug, Args)]
pub struct McpArgs {
    /// The daemon's agent API.
    #[arg(long, env = "PURSER_URL", value_name = "URL", default_value = DEFAULT_URL)]
    pub url: String,
}

/// Where `purser mcp` finds the daemon unless told otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7402";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the agent API listens.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Allow a non-loopback --listen address (no TLS: trusted networks only).
    #[arg(long)]
    pub allow_remote: bool,
    /// Team mode: keep budgets, approvals, agents, policy, the kill switch and the audit
    /// trail in this PostgreSQL database, shared by every daemon started with it
    /// (postgres://user:password@host:port/database; prefer the environment variable
    /// to keep the password off the command line). Default: the data dir's SQLite file.
    #[arg(
        long,
        env = "PURSER_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// Show a desktop notification (Approve / Deny) for each request that waits for the
    /// principal (freedesktop notifications on the session D-Bus).
    #[arg(long)]
    pub notify: bool,
    #[command(flatten)]
    pub notifications: purser_notify::NotifyArgs,
    #[command(flatten)]
    pub stripe: StripeArgs,
}

/// The Stripe guard proxy of `purser serve` (README, "Payment rails").
#[derive(Debug, Clone, Default, Args)]
pub struct StripeArgs {
    /// Serve a Stripe-compatible API on this loopback address (e.g. 127.0.0.1:7403): agents
    /// point the Stripe SDK at it with their Purser token as the API key.
    #[arg(long, value_name = "ADDR")]
    pub stripe_proxy: Option<SocketAddr>,
    /// The Stripe API the proxy forwards approved calls to (https; http on loopback only).
    #[arg(long, value_name = "URL", default_value = purser_daemon::rails::stripe::DEFAULT_UPSTREAM)]
    pub stripe_upstream: String,
    /// The environment variable holding the real Stripe secret key (never logged, never
    /// shown to agents).
    #[arg(long, value_name = "VAR", default_value = "STRIPE_SECRET_KEY")]
    pub stripe_key_env: String,
    /// Seconds a Stripe call waiting for the principal is held open before the agent is
    /// told to retry later with the same Idempotency-Key (0-120).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=120))]
    pub stripe_wait: u64,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent and print its token (shown only this once).
    Add {
        name: String,
        /// The policy profile of the agent (default: the policy's `[agents]` entry or "default").
        #[arg(long, value_name = "P")]
        profile: Option<String>,
    },
    /// All agents.
    List,
    /// Deny every request of the agent until unfrozen.
    Freeze { name: String },
    /// Let a frozen agent spend again within policy.
    Unfreeze { name: String },
    /// Revoke the agent's token for good.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file without applying it (works without a running daemon).
    Check { file: PathBuf },
    /// Apply a policy file: it replaces the running policy as a whole, or not at all.
    Apply { file: PathBuf },
    /// Print the running policy.
    Show,
    /// Every applied policy version, newest first.
    History,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The authorization id (from `purser approvals`).
    pub id: String,
    #[command(flatten)]
    pub grant: GrantArgs,
}

/// How far an approval reaches; at most one of the flags. None: this request only.
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub struct GrantArgs {
    /// Also approve this agent's requests to the same merchant and currency, up to this
    /// amount, for DURATION (e.g. 15m, 1h, 7d).
    #[arg(long = "for", value_name = "DURATION")]
    pub for_duration: Option<PolicyDuration>,
    /// Also approve them, up to this amount, for the rest of this request's session.
    #[arg(long)]
    pub session: bool,
    /// Also approve them, up to this amount, until the grant is revoked.
    #[arg(long)]
    pub always: bool,
}

/// What `purser approve` asks the daemon for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Once,
    For(PolicyDuration),
    Session,
    Always,
}

impl GrantArgs {
    pub fn grant(&self) -> Grant {
        match (self.for_duration, self.session, self.always) {
            (Some(duration), _, _) => Grant::For(duration),
            (None, true, _) => Grant::Session,
            (None, false, true) => Grant::Always,
            (None, false, false) => Grant::Once,
        }
    }
}

#[derive(Debug, Args)]
pub struct DenyArgs {
    /// The authorization id (from `purser approvals`).
    pub id: String,
    /// Why: kept in the audit trail and shown to the agent.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Why: kept in the audit trail.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Audit entries, newest first.
    List(AuditListArgs),
    /// The whole trail, oldest first, as JSON lines or CSV.
    Export(AuditExportArgs),
    /// Check the hash chain; exits 1 when any row was edited or deleted.
    Verify,
}

#[derive(Debug, Args)]
pub struct AuditListArgs {
    /// Only this agent's entries.
    #[arg(long, value_name = "A")]
    pub agent: Option<String>,
    /// Only entries since T: an RFC 3339 time, a date (YYYY-MM-DD, UTC) or a duration
    /// ago (e.g. 1h, 7d).
    #[arg(long, value_name = "T")]
    pub since: Option<Since>,
    /// At most N entries.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }
}

/// The `--since` of `audit list`: a point in time, or a span before now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    At(Timestamp),
    Ago(PolicyDuration),
}

impl Since {
    /// The point in time, taking `now` for a relative `--since`.
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            Since::At(at) => at,
            Since::Ago(duration) => now - duration.to_chrono(),
        }
    }
}

impl FromStr for Since {
    type Err = String;

    fn from_str(text: &str) -> Result<Since, String> {
        if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
            return Ok(Since::At(at.with_timezone(&Utc)));
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            if let Some(midnight) = date.and_hms_opt(0, 0, 0) {
                return Ok(Since::At(Utc.from_utc_datetime(&midnight)));
            }
        }
        text.parse::<PolicyDuration>().map(Since::Ago).map_err(|_| {
            format!(
                "{text:?} is not a time: write an RFC 3339 time (2025-05-01T09:00:00Z), \
                 a date (2025-05-01) or a duration ago (30m, 1h, 7d)"
            )
        })
    }
}

impl Cli {
    /// `--data-dir`, else `PURSER_DATA_DIR` (clap reads it), else the platform data dir;
    /// `None` when there is no platform data dir (no home directory).
    pub fn data_dir(&self) -> Option<PathBuf> {
        match &self.data_dir {
            Some(dir) => Some(dir.clone()),
            None => dirs::data_dir().map(|dir| dir.join("purser")),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("purser").chain(args.iter().copied()))
    }

    fn grant(args: &[&str]) -> Grant {
        match parse(args).unwrap().command {
            Command::Approve(approve) => approve.grant.grant(),
            other => panic!("not approve: {other:?}"),
        }
    }

    #[test]
    fn approve_without_a_flag_approves_once() {
        assert_eq!(grant(&["approve", "auth_1"]), Grant::Once);
    }

    #[test]
    fn approve_flags_choose_the_grant() {
        let fifteen_minutes = PolicyDuration::from_seconds(900).unwrap();
        assert_eq!(
            grant(&["approve", "auth_1", "--for", "15m"]),
            Grant::For(fifteen_minutes)
        );
        assert_eq!(grant(&["approve", "auth_1", "--session"]), Grant::Session);
        assert_eq!(grant(&["approve", "auth_1", "--always"]), Grant::Always);
    }

    #[test]
    fn approve_grant_flags_are_mutually_exclusive() {
        for args in [
            &["approve", "auth_1", "--for", "15m", "--session"][..],
            &["approve", "auth_1", "--for", "15m", "--always"],
            &["approve", "auth_1", "--session", "--always"],
        ] {
            let error = parse(args).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ArgumentConflict, "{args:?}");
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn a_bad_duration_is_a_usage_error() {
        for bad in ["15", "15x", "0m", "1.5h", "m15", "400d", ""] {
            let error = parse(&["approve", "auth_1", "--for", bad]).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ValueValidation, "{bad:?}");
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn global_flags_go_before_or_after_the_command() {
        let before = parse(&["--json", "--data-dir", "/tmp/p", "agent", "list"]).unwrap();
        let after = parse(&["agent", "list", "--json", "--data-dir", "/tmp/p"]).unwrap();
        for cli in [before, after] {
            assert!(cli.json);
            assert_eq!(cli.data_dir().unwrap(), PathBuf::from("/tmp/p"));
        }
    }

    #[test]
    fn serve_listens_on_loopback_by_default() {
        let Command::Serve(serve) = parse(&["serve"]).unwrap().command else {
            panic!("not serve");
        };
        assert_eq!(serve.listen, DEFAULT_LISTEN.parse().unwrap());
        assert!(!serve.allow_remote);
        assert_eq!(
            parse(&["serve", "--listen", "localhost:80"])
                .unwrap_err()
                .kind(),
            ErrorKind::ValueValidation,
            "an address, not a host name"
        );
    }

    #[test]
    fn since_takes_times_dates_and_durations_ago() {
        let now = Utc.with_ymd_and_hms(2025, 5, 2, 12, 0, 0).unwrap();
        let at = |text: &str| text.parse::<Since>().unwrap().resolve(now);
        assert_eq!(
            at("2025-05-01T09:30:00Z"),
            Utc.with_ymd_and_hms(2025, 5, 1, 9, 30, 0).unwrap()
        );
        assert_eq!(
            at("2025-05-01T11:30:00+02:00"),
            Utc.with_ymd_and_hms(2025, 5, 1, 9, 30, 0).unwrap()
        );
        assert_eq!(
            at("2025-05-01"),
            Utc.with_ymd_and_hms(2025, 5, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            at("90m"),
            Utc.with_ymd_and_hms(2025, 5, 2, 10, 30, 0).unwrap()
        );
        let error = parse(&["audit", "list", "--since", "yesterday"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
    }

    #[test]
    fn audit_export_needs_a_known_format() {
        assert_eq!(parse(&["audit", "export"]).unwrap_err().exit_code(), 2);
        assert_eq!(
            parse(&["audit", "export", "--format", "xml"])
                .unwrap_err()
                .exit_code(),
            2
        );
        let Command::Audit(AuditCommand::Export(export)) =
            parse(&["audit", "export", "--format", "csv"])
                .unwrap()
                .command
        else {
            panic!("not audit export");
        };
        assert_eq!(export.format, ExportFormat::Csv);
    }

    #[test]
    fn audit_limit_is_positive() {
        assert_eq!(
            parse(&["audit", "list", "--limit", "0"])
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            parse(&["audit", "list", "--limit", "-3"])
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
