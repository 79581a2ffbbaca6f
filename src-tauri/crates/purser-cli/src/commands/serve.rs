//! `purser serve [--listen ADDR] [--allow-remote]`: the daemon, headless.
//!
//! This module checks what only the command line can get wrong (a non-loopback address
//! needs `--allow-remote`: agent-api.md §1) and hands a [`ServeConfig`] to the daemon
//! library through [`run_daemon`]. It serves nothing itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::args::ServeArgs;
use crate::commands::Context;
use crate::failure::Failure;

/// What the daemon needs to start: mirrors `purser_daemon::ServeConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    /// Where the agent API listens; the admin API is always `data_dir/admin.sock`.
    pub listen: SocketAddr,
    pub allow_remote: bool,
}

pub async fn run(context: &Context, args: &ServeArgs) -> Result<(), Failure> {
    let config = config(context.data_dir()?, args)?;
    run_daemon(config)
        .await
        .map_err(|error| Failure::failed(format!("{error:#}")))
}

/// The daemon's configuration, or a usage error for a non-loopback address without
/// `--allow-remote`.
fn config(data_dir: &Path, args: &ServeArgs) -> Result<ServeConfig, Failure> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        return Err(Failure::usage(format!(
            "--listen {} is not a loopback address: agents on other machines could reach the agent API \
             (without TLS); pass --allow-remote as well if that is what you want",
            args.listen
        )));
    }
    Ok(ServeConfig {
        data_dir: data_dir.to_owned(),
        listen: args.listen,
        allow_remote: args.allow_remote,
    })
}

/// Runs the daemon until it is asked to stop (Ctrl-C, SIGTERM).
///
/// WIRING POINT: the daemon library's entry point is not written yet. Once
/// `purser_daemon::serve(purser_daemon::ServeConfig { data_dir, listen, allow_remote })
/// -> anyhow::Result<()>` exists, add `purser-daemon.workspace = true` to this crate's
/// `[dependencies]` and make this body
/// `purser_daemon::serve(purser_daemon::ServeConfig { data_dir: config.data_dir,
/// listen: config.listen, allow_remote: config.allow_remote }).await`.
async fn run_daemon(config: ServeConfig) -> anyhow::Result<()> {
    anyhow::bail!(
        "daemon library not linked: this build cannot serve {} on {}{}",
        config.data_dir.display(),
        config.listen,
        if config.allow_remote {
            " (remote allowed)"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Exit;

    fn serve(listen: &str, allow_remote: bool) -> Result<ServeConfig, Failure> {
        config(
            Path::new("/data"),
            &ServeArgs {
                listen: listen.parse().unwrap(),
                allow_remote,
            },
        )
    }

    #[test]
    fn loopback_addresses_need_no_flag() {
        for listen in ["127.0.0.1:7402", "[::1]:7402", "127.0.0.2:80"] {
            let config = serve(listen, false).unwrap();
            assert_eq!(config.listen, listen.parse().unwrap());
            assert_eq!(config.data_dir, PathBuf::from("/data"));
        }
    }

    #[test]
    fn a_remote_address_needs_allow_remote() {
        for listen in ["0.0.0.0:7402", "192.168.1.5:7402", "[::]:7402"] {
            let failure = serve(listen, false).unwrap_err();
            assert_eq!(failure.exit(), Exit::Usage, "{listen}");
            assert!(
                failure.text().contains("--allow-remote"),
                "{}",
                failure.text()
            );
            assert!(serve(listen, true).unwrap().allow_remote);
        }
    }

    #[tokio::test]
    async fn until_wired_the_daemon_says_it_is_not_linked() {
        let error = run_daemon(serve("127.0.0.1:7402", false).unwrap())
            .await
            .unwrap_err();
        assert!(
            error.to_string().starts_with("daemon library not linked"),
            "{error}"
        );
    }
}
