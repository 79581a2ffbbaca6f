//! One module per command group of agent-api.md §3; this one dispatches to them.
//!
//! A command turns its arguments into admin API requests, and the answers into a table,
//! a message or `--json`. Commands decide exit codes through [`Failure`]; they do not
//! print errors themselves (main does) and never decide anything the daemon decides.

use std::path::{Path, PathBuf};

use crate::admin_client::AdminClient;
use crate::args::{Cli, Command};
use crate::failure::Failure;

mod agent;
mod approvals;
mod audit;
mod kill;
mod mcp;
mod openapi;
mod policy;
mod serve;
mod status;
mod watch;

/// What every command may use: where the daemon is and how to print.
#[derive(Debug)]
pub struct Context {
    data_dir: Option<PathBuf>,
    /// `--json`: print the daemon's records as JSON instead of tables.
    pub json: bool,
}

impl Context {
    /// The data dir, or a usage error when none was given and the platform has none.
    pub fn data_dir(&self) -> Result<&Path, Failure> {
        self.data_dir.as_deref().ok_or_else(|| {
            Failure::usage(
                "cannot find the platform data directory: pass --data-dir DIR or set PURSER_DATA_DIR",
            )
        })
    }

    /// A client of the daemon serving the data dir.
    pub fn client(&self) -> Result<AdminClient, Failure> {
        Ok(AdminClient::new(self.data_dir()?))
    }
}

/// Runs the command the user asked for.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let context = Context {
        data_dir: cli.data_dir(),
        json: cli.json,
    };
    match cli.command {
        Command::Serve(args) => serve::run(&context, &args).await,
        Command::Agent(command) => agent::run(&context, command).await,
        Command::Policy(command) => policy::run(&context, command).await,
        Command::Approvals => approvals::list(&context).await,
        Command::Approve(args) => approvals::approve(&context, &args).await,
        Command::Deny(args) => approvals::deny(&context, args).await,
        Command::Kill(args) => kill::kill(&context, args).await,
        Command::Resume => kill::resume(&context).await,
        Command::Audit(command) => audit::run(&context, command).await,
        Command::Status => status::run(&context).await,
        Command::Watch => watch::run(&context).await,
        Command::Mcp(args) => mcp::run(&args).await,
        Command::Openapi => openapi::run(),
    }
}
