//! `purser serve [--listen ADDR] [--allow-remote] [--notify]`: the daemon, headless,
//! optionally with desktop notifications for the requests that wait for the principal.
//!
//! This module checks what only the command line can get wrong (a non-loopback address
//! needs `--allow-remote`: agent-api.md §1), hands a [`ServeConfig`] to the daemon
//! library ([`purser_daemon::serve`]) and maps why it stopped to an exit code: 2 when the
//! user must fix something (another daemon holds the data dir, a bad address), 1
//! otherwise. It serves nothing itself.

use std::path::Path;

use purser_daemon::{ServeConfig, StartError};

use crate::args::ServeArgs;
use crate::commands::Context;
use crate::failure::Failure;

pub async fn run(context: &Context, args: &ServeArgs) -> Result<(), Failure> {
    let config = config(context.data_dir()?, args)?;
    let notify = args.notify.then(|| args.notifications.settings());
    purser_daemon::serve_with(config, |daemon| {
        notify.map(|settings| {
            purser_notify::Notifier::spawn(daemon.console().clone(), settings, None)
        })
    })
    .await
    .map_err(failure_of)
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

/// Exit 2 for what the user must fix (the data dir is taken, the configuration cannot
/// work), 1 for everything else.
fn failure_of(error: anyhow::Error) -> Failure {
    match error.downcast_ref::<StartError>() {
        Some(start) if start.is_usage() => Failure::usage(start.to_string()),
        _ => Failure::failed(format!("{error:#}")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::failure::Exit;

    fn serve(listen: &str, allow_remote: bool) -> Result<ServeConfig, Failure> {
        config(
            Path::new("/data"),
            &ServeArgs {
                listen: listen.parse().unwrap(),
                allow_remote,
                notify: false,
                notifications: purser_notify::NotifyArgs::default(),
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
    async fn a_data_dir_held_by_another_daemon_exits_2_naming_its_pid() {
        let dir = tempfile::tempdir().unwrap();
        let config = ServeConfig {
            data_dir: dir.path().to_owned(),
            listen: "127.0.0.1:0".parse().unwrap(),
            allow_remote: false,
        };
        let first =
            purser_daemon::Daemon::start(config.clone(), Arc::new(purser_daemon::SystemClock))
                .await
                .unwrap();
        let failure = failure_of(purser_daemon::serve(config).await.unwrap_err());
        assert_eq!(failure.exit(), Exit::Usage);
        let pid = std::process::id();
        assert_eq!(
            failure.text(),
            format!(
                "purser: another Purser daemon (pid {pid}) holds {}: stop it first (`kill {pid}`) or use --data-dir",
                dir.path().display()
            )
        );
        first.shutdown().await;
    }

    #[test]
    fn other_failures_exit_1() {
        let failure = failure_of(anyhow::anyhow!("the disk is on fire"));
        assert_eq!(failure.exit(), Exit::Failed);
        assert_eq!(failure.text(), "purser: the disk is on fire");
    }
}
