//! `purser serve [--listen ADDR] [--allow-remote] [--database URL] [--notify]`: the
//! daemon, headless, on the data dir's SQLite file or a team's PostgreSQL database,
//! optionally with desktop notifications for the requests that wait for the principal.
//!
//! This module checks what only the command line can get wrong (a non-loopback address
//! needs `--allow-remote`: agent-api.md §1), hands a [`ServeConfig`] to the daemon
//! library ([`purser_daemon::serve`]) and maps why it stopped to an exit code: 2 when the
//! user must fix something (another daemon holds the data dir, a bad address), 1
//! otherwise. It serves nothing itself.

use std::path::Path;

use std::time::Duration;

use purser_daemon::rails::RailsConfig;
use purser_daemon::rails::stripe::{StripeConfig, StripeSecret};
use purser_daemon::{ServeConfig, StartError};

use crate::args::{ServeArgs, StripeArgs};
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
        rails: rails(&args.stripe, |name| std::env::var(name).ok())?,
        database: args.database.as_deref().map(database_url).transpose()?,
    })
}

/// `--database`: a PostgreSQL URL, or a usage error that says what is expected.
fn database_url(url: &str) -> Result<String, Failure> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url.to_owned())
    } else {
        Err(Failure::usage(
            "--database takes a PostgreSQL URL, postgres://user:password@host:port/database \
             (team mode); leave it out to use the data dir's SQLite file",
        ))
    }
}

/// The rails of `purser serve`: the Stripe proxy when `--stripe-proxy` is given, with the
/// secret key read from the environment variable `--stripe-key-env` names.
fn rails(
    stripe: &StripeArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<RailsConfig, Failure> {
    let Some(listen) = stripe.stripe_proxy else {
        return Ok(RailsConfig::default());
    };
    if !listen.ip().is_loopback() {
        return Err(Failure::usage(format!(
            "--stripe-proxy {listen} is not a loopback address: the proxy spends with the principal's Stripe key and listens on loopback only"
        )));
    }
    let name = &stripe.stripe_key_env;
    let secret = env(name)
        .as_deref()
        .and_then(StripeSecret::new)
        .ok_or_else(|| {
            Failure::usage(format!(
                "--stripe-proxy needs the Stripe secret key in the environment variable {name} (--stripe-key-env names another)"
            ))
        })?;
    purser_daemon::rails::stripe::upstream::check_base_url(&stripe.stripe_upstream)
        .map_err(Failure::usage)?;
    let mut config = StripeConfig::new(listen, stripe.stripe_upstream.clone(), secret);
    config.wait = Duration::from_secs(stripe.stripe_wait);
    Ok(RailsConfig {
        stripe: Some(config),
    })
}

/// Exit 2 for what the user must fix (the data dir is taken, the configuration cannot
/// work), 1 for everything else.
fn failure_of(error: anyhow::Error) -> Failure {
    match error.downcast_ref::<StartError>() {
        Some(start) if start.is_usage() => Failure::usage(start.to_string()),
        // Its message already says why (the cause's text included).
        Some(start) => Failure::failed(start.to_string()),
        None => Failure::failed(format!("{error:#}")),
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
                database: None,
                notify: false,
                notifications: purser_notify::NotifyArgs::default(),
                stripe: StripeArgs::default(),
            },
        )
    }

    #[test]
    fn the_database_must_be_a_postgres_url() {
        assert_eq!(
            database_url(" postgres://purser@db.internal:5432/purser ").unwrap(),
            "postgres://purser@db.internal:5432/purser"
        );
        assert!(database_url("postgresql://localhost/purser").is_ok());
        let error = database_url("/var/lib/purser.db").unwrap_err();
        assert_eq!(error.exit(), Exit::Usage);
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
            rails: RailsConfig::default(),
            database: None,
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

    #[test]
    fn the_stripe_proxy_needs_its_key_and_a_safe_upstream() {
        let args = |proxy: Option<&str>, upstream: &str| StripeArgs {
            stripe_proxy: proxy.map(|p| p.parse().unwrap()),
            stripe_upstream: upstream.into(),
            stripe_key_env: "KEY".into(),
            stripe_wait: 7,
        };
        let with_key = |name: &str| (name == "KEY").then(|| "sk_test_1".to_owned());
        let none = rails(&args(None, "https://api.stripe.com"), with_key).unwrap();
        assert_eq!(none.stripe, None);
        let on = rails(
            &args(Some("127.0.0.1:7403"), "https://api.stripe.com"),
            with_key,
        )
        .unwrap()
        .stripe
        .unwrap();
        assert_eq!(on.secret.expose(), "sk_test_1");
        assert_eq!(on.wait, Duration::from_secs(7));
        assert!(
            !format!("{on:?}").contains("sk_test_1"),
            "the key never shows"
        );
        let missing = rails(
            &args(Some("127.0.0.1:7403"), "https://api.stripe.com"),
            |_| None,
        );
        assert_eq!(missing.unwrap_err().exit(), Exit::Usage);
        let remote = rails(
            &args(Some("0.0.0.0:7403"), "https://api.stripe.com"),
            with_key,
        );
        assert_eq!(remote.unwrap_err().exit(), Exit::Usage);
        let clear = rails(
            &args(Some("127.0.0.1:7403"), "http://stripe.example"),
            with_key,
        );
        assert_eq!(clear.unwrap_err().exit(), Exit::Usage);
    }
}
