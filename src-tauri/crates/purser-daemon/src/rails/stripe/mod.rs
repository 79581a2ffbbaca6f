//! The Stripe guard proxy: a Stripe-compatible HTTP endpoint between agents and Stripe.
//!
//! Agents point the official Stripe SDK's API base at it and use their Purser agent token
//! as the API key. The proxy holds the real secret key ([`StripeSecret`], from the
//! environment, never logged, never sent to an agent) and:
//!
//! - passes read-only calls (`GET`) and a short list of writes that move no money
//!   (customers, products, prices, payment methods, PaymentIntent updates that keep the
//!   amount…) through to Stripe;
//! - turns money-moving calls (PaymentIntents create/confirm/capture, Charges
//!   create/capture, Payment Links, Invoices pay, Refunds) into authorization requests on
//!   the agent API's own path, as manual holds, and carries approved ones out with an
//!   idempotency key derived from the authorization ([`crate::rails::carry_out`]);
//! - refuses every other write (fail closed).
//!
//! See `proxy.rs` for the endpoint table and the README's "Payment rails" section.

pub mod error;
pub mod form;
pub mod proxy;
pub mod upstream;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::rails::Rail;
use crate::rails::receipts::ReceiptBook;
use crate::state::AppState;
pub use error::StripeError;
pub use upstream::StripeUpstream;

/// Stripe's API, the default upstream.
pub const DEFAULT_UPSTREAM: &str = "https://api.stripe.com";
/// How long a pending call is held open for the principal's decision by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// How long Stripe may take to answer.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest request body accepted from an agent.
pub const MAX_BODY: usize = 256 * 1024;

/// The Stripe secret key. Its `Debug` never shows it; only [`StripeSecret::expose`]
/// does, for the upstream `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeSecret(String);

impl StripeSecret {
    /// A key as read from its source, trimmed; `None` when empty.
    pub fn new(key: &str) -> Option<StripeSecret> {
        let key = key.trim();
        (!key.is_empty()).then(|| StripeSecret(key.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for StripeSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeSecret([redacted])")
    }
}

/// The proxy's configuration (`purser serve --stripe-proxy …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeConfig {
    /// Where agents reach the proxy (loopback unless the daemon allows remote).
    pub listen: SocketAddr,
    /// The Stripe API base URL (`https://api.stripe.com`, or a Stripe-compatible server).
    pub upstream: String,
    pub secret: StripeSecret,
    /// How long a call waiting for the principal is held open before the agent is told
    /// to retry later.
    pub wait: Duration,
    pub upstream_timeout: Duration,
}

impl StripeConfig {
    /// A proxy on `listen` in front of `upstream`, with the default bounds.
    pub fn new(
        listen: SocketAddr,
        upstream: impl Into<String>,
        secret: StripeSecret,
    ) -> StripeConfig {
        StripeConfig {
            listen,
            upstream: upstream.into(),
            secret,
            wait: DEFAULT_WAIT,
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
        }
    }
}

/// What the proxy's handler shares.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub(crate) inner: Arc<ProxyInner>,
}

#[derive(Debug)]
pub(crate) struct ProxyInner {
    /// The agent API's state: the same authorizer (broker over the store), waiters and
    /// token checks as `/v1/authorizations`.
    pub app: AppState,
    /// Lookups and pass-through calls.
    pub upstream: Arc<StripeUpstream>,
    /// Where approved orders are carried out (the upstream, unless a test swaps it).
    pub rail: Arc<dyn Rail>,
    pub receipts: ReceiptBook,
    pub wait: Duration,
    /// The port the proxy is bound to, for the `Host` check.
    pub port: u16,
}

impl Proxy {
    /// The proxy over `app` for `config`, bound to `port`, keeping receipts in `data_dir`.
    pub fn new(
        app: AppState,
        config: &StripeConfig,
        port: u16,
        data_dir: &Path,
    ) -> Result<Proxy, String> {
        let upstream = Arc::new(StripeUpstream::new(
            &config.upstream,
            config.secret.clone(),
            config.upstream_timeout,
        )?);
        Ok(Proxy {
            inner: Arc::new(ProxyInner {
                app,
                rail: Arc::clone(&upstream) as Arc<dyn Rail>,
                upstream,
                receipts: ReceiptBook::in_data_dir(data_dir, "stripe"),
                wait: config.wait,
                port,
            }),
        })
    }

    /// The proxy's routes: every path, every method, one handler.
    pub fn router(self) -> Router {
        Router::new()
            .fallback(proxy::handle)
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
            .with_state(self)
    }
}
