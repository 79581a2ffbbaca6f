//! [`AppState`]: what every request handler of the agent API shares. Cheap to clone.
//!
//! It holds the store behind the [`Authorizer`] port, the clock, the [`Waiters`] that the
//! deciding side also holds, and the edge's configuration. It owns no task: starting and
//! stopping the service is the daemon's job.

use std::sync::Arc;

use purser_core::Clock;

use crate::authorizer::Authorizer;
use crate::config::HttpConfig;
use crate::http::rate_limit::AuthFailures;
use crate::waiters::Waiters;

#[derive(Debug, Clone)]
pub struct AppState {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    authorizer: Arc<dyn Authorizer>,
    clock: Arc<dyn Clock>,
    waiters: Arc<Waiters>,
    auth_failures: AuthFailures,
    allowed_hosts: Vec<String>,
    config: HttpConfig,
}

impl AppState {
    pub fn new(
        authorizer: Arc<dyn Authorizer>,
        clock: Arc<dyn Clock>,
        waiters: Arc<Waiters>,
        config: HttpConfig,
    ) -> AppState {
        let auth_failures = AuthFailures::new(
            config.auth_failure_burst,
            config.auth_failure_period,
            config.max_tracked_peers,
        );
        let allowed_hosts = config.allowed_hosts();
        AppState {
            shared: Arc::new(Shared {
                authorizer,
                clock,
                waiters,
                auth_failures,
                allowed_hosts,
                config,
            }),
        }
    }

    pub fn authorizer(&self) -> &dyn Authorizer {
        self.shared.authorizer.as_ref()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    pub fn waiters(&self) -> &Arc<Waiters> {
        &self.shared.waiters
    }

    pub fn config(&self) -> &HttpConfig {
        &self.shared.config
    }

    pub(crate) fn auth_failures(&self) -> &AuthFailures {
        &self.shared.auth_failures
    }

    /// Accepted `Host` values, lowercase.
    pub(crate) fn allowed_hosts(&self) -> &[String] {
        &self.shared.allowed_hosts
    }
}
