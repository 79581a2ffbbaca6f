//! [`TestPostgres`] against the real server binaries: a database can be created and
//! reached, a stopped cluster refuses connections and comes back on the same port, and
//! dropping it stops the server and removes its directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failed step is a failed test, with its message"
)]

use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

use purser_testpg::TestPostgres;

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(2)).is_ok()
}

#[test]
fn create_stop_start_again_and_drop() {
    let mut cluster = TestPostgres::start().expect("start a throwaway PostgreSQL");
    let port = cluster.port();
    assert!(cluster.is_running());
    assert!(accepts(port), "the server listens on 127.0.0.1:{port}");

    let url = cluster.create_database("team_one").unwrap();
    assert_eq!(
        url,
        format!("postgres://postgres@127.0.0.1:{port}/team_one")
    );
    let again = cluster.create_database("team_one").unwrap_err();
    assert!(again.message().contains("already exists"), "{again}");
    let invalid = cluster.create_database("Team-1").unwrap_err();
    assert!(
        invalid.message().contains("invalid database name"),
        "{invalid}"
    );

    cluster.stop().unwrap();
    assert!(!cluster.is_running());
    assert!(!accepts(port), "a stopped cluster refuses connections");
    assert!(cluster.create_database("team_two").is_err());
    assert!(cluster.stop().is_err(), "stopping twice says so");

    cluster.start_again().unwrap();
    assert_eq!(cluster.port(), port, "the same port after a restart");
    cluster.create_database("team_two").unwrap();
    let log = cluster.log_tail(200);
    assert!(log.contains("ready to accept connections"), "{log}");

    drop(cluster);
    assert!(!accepts(port), "dropping the cluster stops the server");
}
