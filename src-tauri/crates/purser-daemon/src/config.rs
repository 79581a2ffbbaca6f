//! [`HttpConfig`]: the bounds and allowlists of the agent API, with the contract's values
//! as defaults. Every queue, body and wait the edge has is bounded by a number here.

use std::time::Duration;

/// The contract's default agent API port (`127.0.0.1:7402`).
pub const DEFAULT_PORT: u16 = 7402;

/// How the agent API admits and serves requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The port actually bound: `Host` must name it (DNS-rebinding defence).
    pub port: u16,
    /// `host:port` values accepted besides `127.0.0.1`, `localhost` and `[::1]` on
    /// [`HttpConfig::port`] (e.g. a container's name when `--allow-remote` is given).
    pub extra_hosts: Vec<String>,
    /// `Origin` values accepted; any other `Origin` header is refused (browsers are not
    /// agents). Empty by default.
    pub allowed_origins: Vec<String>,
    /// Largest request body.
    pub body_limit_bytes: usize,
    /// Longest `?wait=` an agent may ask for.
    pub max_wait: Duration,
    /// While long-polling, re-read the authorization at least this often, in case a
    /// change was made where no notification reaches (another daemon in team mode).
    pub wait_recheck: Duration,
    /// Concurrent long-polls per agent; more are refused with 429.
    pub max_waiters_per_agent: usize,
    /// Failed token presentations a peer may make in a burst...
    pub auth_failure_burst: u32,
    /// ...refilled at `auth_failure_burst` per this period.
    pub auth_failure_period: Duration,
    /// Peers whose failures are remembered at once.
    pub max_tracked_peers: usize,
}

impl HttpConfig {
    /// The contract's settings for an API bound to `port`.
    pub fn for_port(port: u16) -> HttpConfig {
        HttpConfig {
            port,
            extra_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            body_limit_bytes: 64 * 1024,
            max_wait: Duration::from_secs(120),
            wait_recheck: Duration::from_secs(2),
            max_waiters_per_agent: 64,
            auth_failure_burst: 20,
            auth_failure_period: Duration::from_secs(10),
            max_tracked_peers: 4_096,
        }
    }

    /// Every accepted `Host` value, lowercase.
    pub fn allowed_hosts(&self) -> Vec<String> {
        let port = self.port;
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        hosts.extend(
            self.extra_hosts
                .iter()
                .map(|host| host.to_ascii_lowercase()),
        );
        hosts
    }
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig::for_port(DEFAULT_PORT)
    }
}
