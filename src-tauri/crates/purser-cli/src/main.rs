//! `purser`: run the daemon headless, or control the running one over its admin socket.
//!
//! The binary is thin (agent-api.md §3): clap parses, a command turns the arguments into
//! admin API requests and the answers into tables, and this file maps the outcome to an
//! exit code: 0 success, 1 failure of the thing asked, 2 usage or input error. Errors go
//! to standard error in one clear line. Nothing here decides anything the daemon decides.

use std::process::ExitCode;

use clap::Parser;

mod admin_client;
mod api;
mod args;
mod commands;
mod failure;
mod output;

fn main() -> ExitCode {
    // Usage errors print clap's message and exit 2; --help and --version exit 0.
    let cli = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let failure =
                failure::Failure::failed(format!("cannot start the async runtime: {error}"));
            failure.print();
            return failure.exit_code();
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.print();
            failure.exit_code()
        }
    }
}
