//! Payment rails: Purser decides, rails move money.
//!
//! A rail adapter turns a rail-native payment (a Stripe API call, an x402 `402 Payment
//! Required`) into an [`AuthorizationRequest`] with an exact amount, and asks the one
//! authorization path every agent request takes ([`Authorizer`], i.e. the broker over the
//! store): rails never decide anything themselves.
//!
//! - [`stripe`]: a Stripe-compatible HTTP endpoint (its own listener). Money-moving calls
//!   are authorized as manual holds; an approved call is carried out on the upstream
//!   [`Rail`] with the real secret key, and its outcome settles the hold (see
//!   [`carry_out`]). Read-only calls pass through; unknown writes are refused.
//! - [`x402`]: `POST /v1/x402/authorize` on the agent API prices a 402 response's payment
//!   requirements; the agent signs and pays itself (Purser never holds a wallet key) and
//!   captures or voids the hold through the agent API.
//!
//! Which rails run is configuration ([`RailsConfig`]): the Stripe proxy only when
//! `purser serve --stripe-proxy ADDR` (or the embedding app) configures it, against the
//! upstream it names (real Stripe, or any Stripe-compatible server).

pub mod amounts;
pub mod receipts;
pub mod stripe;
pub mod x402;

use std::fmt;

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue, Method};
use purser_core::{AgentName, AuthorizationStatus};

use crate::authorizer::{Authorization, Authorizer, BoxFuture, StoreError};
use receipts::{Receipt, ReceiptBook, ReceiptOutcome};
pub use stripe::StripeConfig;

/// The rails a daemon runs besides the agent API (whose x402 endpoint is always there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RailsConfig {
    /// The Stripe guard proxy, when configured.
    pub stripe: Option<StripeConfig>,
}

/// A rail that Purser carries payments out on: it receives an approved order and says
/// what became of it. The adapter is chosen by configuration (the Stripe proxy's
/// upstream); tests substitute their own.
pub trait Rail: Send + Sync + fmt::Debug + 'static {
    /// The rail's slug, as `rail` in authorization requests (`stripe`).
    fn name(&self) -> &'static str;

    /// Carries out `order`, an approved hold's call, exactly once per idempotency key:
    /// sending the same order again must not move money twice.
    fn execute<'a>(&'a self, order: &'a Order) -> BoxFuture<'a, Outcome>;
}

/// An approved call for a [`Rail`].
#[derive(Debug, Clone)]
pub struct Order {
    /// The authorization that approved it.
    pub authorization_id: String,
    /// Derived from the authorization id, the same on every retry, sent to the rail.
    pub idempotency_key: String,
    pub method: Method,
    /// Path and query on the rail, e.g. `/v1/payment_intents`.
    pub path: String,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
    /// Rail headers the agent sent that the rail should see (e.g. `Stripe-Version`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// What the rail did with an [`Order`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The rail answered for good: carried out ([`ReceiptOutcome::Done`]: the hold is
    /// captured) or refused (a decline, an invalid request: nothing moved, the hold is
    /// voided and its budget released).
    Answered(Receipt),
    /// Unknown (the rail did not answer, failed, or asked to retry): money may have moved,
    /// so the hold is kept; the same order sent again (same idempotency key) settles it.
    /// The text says what happened, for the agent; it never carries a secret.
    Unknown(String),
}

/// What [`carry_out`] ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarriedOut {
    /// The rail's answer: now, or recorded by an earlier attempt (a replay).
    Answer(Receipt),
    /// See [`Outcome::Unknown`]: the hold is kept.
    Unknown(String),
    /// The authorization is no longer an approved hold and no answer was recorded for it
    /// (e.g. the agent voided it, or the hold lapsed): nothing was sent.
    NotHeld(AuthorizationStatus),
}

/// Carries out an approved manual hold on `rail`, once: under the authorization's lock,
/// a recorded answer is replayed (and the hold settled, should an earlier attempt have
/// stopped in between); otherwise the order is executed, its answer recorded *before* the
/// hold is captured (done) or voided (refused). An unknown outcome records nothing and
/// keeps the hold, so a retry sends the same order with the same idempotency key.
pub async fn carry_out(
    authorizer: &dyn Authorizer,
    receipts: &ReceiptBook,
    rail: &dyn Rail,
    agent: &AgentName,
    order: &Order,
) -> Result<CarriedOut, StoreError> {
    let id = order.authorization_id.as_str();
    let _guard = receipts.lock(id).await;
    let current = authorizer
        .get_authorization(agent, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("authorization {id}")))?;
    if let Some(receipt) = receipts.read(id).await {
        settle(authorizer, agent, &current, &receipt).await?;
        return Ok(CarriedOut::Answer(receipt));
    }
    if current.status != AuthorizationStatus::Approved {
        return Ok(CarriedOut::NotHeld(current.status));
    }
    let receipt = match rail.execute(order).await {
        Outcome::Answered(receipt) => receipt,
        Outcome::Unknown(what) => {
            tracing::warn!(id, rail = rail.name(), "outcome unknown; the hold is kept");
            return Ok(CarriedOut::Unknown(what));
        }
    };
    receipts.write(id, &receipt).await.map_err(|error| {
        StoreError::Unavailable(format!("cannot record the rail's answer: {error}"))
    })?;
    settle(authorizer, agent, &current, &receipt).await?;
    Ok(CarriedOut::Answer(receipt))
}

/// Captures (done) or voids (refused) the hold of `authorization` after the rail's
/// answer, unless that already happened.
async fn settle(
    authorizer: &dyn Authorizer,
    agent: &AgentName,
    authorization: &Authorization,
    receipt: &Receipt,
) -> Result<(), StoreError> {
    if authorization.status != AuthorizationStatus::Approved {
        return Ok(());
    }
    let settled = match receipt.outcome {
        ReceiptOutcome::Done => authorizer.capture(agent, &authorization.id, None).await,
        ReceiptOutcome::Refused => authorizer.void(agent, &authorization.id).await,
    };
    match settled {
        Ok(_) => Ok(()),
        // The hold lapsed meanwhile: nothing is held any more, the answer still stands.
        Err(StoreError::InvalidState(message)) => {
            tracing::warn!(id = %authorization.id, %message, "the hold could not be settled");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// The agent API's capture and void refuse a hold the Stripe proxy is carrying out:
/// only Stripe's answer settles it (else an agent could void a hold whose money moved,
/// and spend its budget twice). Anything else passes, including unknown ids (the store
/// then answers as usual).
pub(crate) async fn refuse_proxy_hold(
    state: &crate::state::AppState,
    agent: &crate::http::AuthenticatedAgent,
    id: &str,
) -> Result<(), crate::http::ApiError> {
    let Some(authorization) = state
        .authorizer()
        .get_authorization(&agent.name, id)
        .await?
    else {
        return Ok(());
    };
    if authorization.status == AuthorizationStatus::Approved
        && stripe::proxy::is_proxy_hold(&authorization)
    {
        return Err(crate::http::ApiError::new(
            crate::http::ErrorCode::InvalidState,
            format!(
                "authorization {id} is a hold of Purser's Stripe proxy: the proxy captures or voids it with Stripe's answer; retry the Stripe call with the same Idempotency-Key instead"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use purser_core::{AuthorizationRequest, CaptureMode, RequestKind};
    use purser_store::{SqliteStore, Store, StoreOptions, SystemClock};

    use super::*;

    /// A rail that answers what it is told and counts what it was sent.
    #[derive(Debug)]
    struct CountingRail {
        sent: AtomicUsize,
        answer: std::sync::Mutex<Outcome>,
    }

    impl CountingRail {
        fn answering(outcome: Outcome) -> CountingRail {
            CountingRail {
                sent: AtomicUsize::new(0),
                answer: std::sync::Mutex::new(outcome),
            }
        }

        fn set(&self, outcome: Outcome) {
            *self
                .answer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = outcome;
        }
    }

    impl Rail for CountingRail {
        fn name(&self) -> &'static str {
            "counting"
        }

        fn execute<'a>(&'a self, _order: &'a Order) -> BoxFuture<'a, Outcome> {
            self.sent.fetch_add(1, Ordering::SeqCst);
            let answer = self
                .answer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            Box::pin(async move { answer })
        }
    }

    fn receipt(outcome: ReceiptOutcome, status: u16) -> Receipt {
        Receipt {
            outcome,
            status,
            body: format!("{{\"status\":{status}}}"),
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        store: SqliteStore,
        receipts: ReceiptBook,
        agent: AgentName,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let store = SqliteStore::open(
            &dir.path().join("purser.db"),
            Arc::new(SystemClock),
            StoreOptions::default(),
        )
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
        let text = "version = 1\n[profiles.default]\ncurrencies = [\"USD\"]\n";
        let policy = purser_core::policy::parse_policy("p.toml", text)
            .unwrap_or_else(|e| unreachable!("{e:?}"));
        store
            .apply_policy(text, policy, "test")
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        let agent: AgentName = "bot".parse().unwrap_or_else(|_| unreachable!());
        store
            .add_agent(agent.clone(), None, [7; 32])
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        let receipts = ReceiptBook::in_data_dir(dir.path(), "counting");
        Fixture {
            _dir: dir,
            store,
            receipts,
            agent,
        }
    }

    impl Fixture {
        async fn hold(&self, request_id: &str) -> Order {
            let request = AuthorizationRequest {
                agent: self.agent.clone(),
                request_id: request_id.parse().unwrap_or_else(|_| unreachable!()),
                kind: RequestKind::Payment,
                amount: "12.50".parse().unwrap_or_default(),
                currency: "USD".parse().unwrap_or_else(|_| unreachable!()),
                merchant: "shop.example".parse().unwrap_or_else(|_| unreachable!()),
                category: None,
                rail: None,
                capture: CaptureMode::Manual,
                session_id: None,
                purpose: "test".into(),
                context: None,
            };
            let held = Authorizer::authorize(&self.store, request)
                .await
                .unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(held.status, AuthorizationStatus::Approved);
            Order {
                authorization_id: held.id.clone(),
                idempotency_key: format!("purser-{}", held.id),
                method: axum::http::Method::POST,
                path: "/v1/things".into(),
                content_type: None,
                body: Bytes::new(),
                headers: Vec::new(),
            }
        }

        async fn carry(&self, rail: &CountingRail, order: &Order) -> CarriedOut {
            carry_out(&self.store, &self.receipts, rail, &self.agent, order)
                .await
                .unwrap_or_else(|e| unreachable!("{e}"))
        }

        async fn status(&self, order: &Order) -> AuthorizationStatus {
            Authorizer::get_authorization(&self.store, &self.agent, &order.authorization_id)
                .await
                .ok()
                .flatten()
                .map(|authorization| authorization.status)
                .unwrap_or(AuthorizationStatus::Denied)
        }
    }

    #[tokio::test]
    async fn done_is_captured_once_and_replayed() {
        let f = fixture().await;
        let order = f.hold("a").await;
        let rail = CountingRail::answering(Outcome::Answered(receipt(ReceiptOutcome::Done, 200)));
        let first = f.carry(&rail, &order).await;
        assert_eq!(
            first,
            CarriedOut::Answer(receipt(ReceiptOutcome::Done, 200))
        );
        assert_eq!(f.status(&order).await, AuthorizationStatus::Captured);
        let again = f.carry(&rail, &order).await;
        assert_eq!(again, first, "the recorded answer is replayed");
        assert_eq!(rail.sent.load(Ordering::SeqCst), 1, "sent to the rail once");
    }

    #[tokio::test]
    async fn refused_voids_the_hold_and_unknown_keeps_it_until_a_retry_settles_it() {
        let f = fixture().await;
        let refused = f.hold("refused").await;
        let rail =
            CountingRail::answering(Outcome::Answered(receipt(ReceiptOutcome::Refused, 402)));
        f.carry(&rail, &refused).await;
        assert_eq!(f.status(&refused).await, AuthorizationStatus::Voided);

        let flaky = f.hold("flaky").await;
        rail.set(Outcome::Unknown("no answer".into()));
        assert_eq!(
            f.carry(&rail, &flaky).await,
            CarriedOut::Unknown("no answer".into())
        );
        assert_eq!(
            f.status(&flaky).await,
            AuthorizationStatus::Approved,
            "the hold is kept"
        );
        rail.set(Outcome::Answered(receipt(ReceiptOutcome::Done, 200)));
        f.carry(&rail, &flaky).await;
        assert_eq!(f.status(&flaky).await, AuthorizationStatus::Captured);
        assert_eq!(rail.sent.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_recorded_answer_settles_a_hold_left_by_a_crash_without_sending_again() {
        let f = fixture().await;
        let order = f.hold("crash").await;
        // The answer was recorded, then the daemon stopped before capturing.
        f.receipts
            .write(&order.authorization_id, &receipt(ReceiptOutcome::Done, 200))
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        let rail = CountingRail::answering(Outcome::Unknown("must not be sent".into()));
        let answer = f.carry(&rail, &order).await;
        assert_eq!(
            answer,
            CarriedOut::Answer(receipt(ReceiptOutcome::Done, 200))
        );
        assert_eq!(f.status(&order).await, AuthorizationStatus::Captured);
        assert_eq!(rail.sent.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn concurrent_retries_send_once() {
        let f = Arc::new(fixture().await);
        let order = f.hold("race").await;
        let rail = Arc::new(CountingRail::answering(Outcome::Answered(receipt(
            ReceiptOutcome::Done,
            200,
        ))));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (f, rail, order) = (Arc::clone(&f), Arc::clone(&rail), order.clone());
                tokio::spawn(async move { f.carry(&rail, &order).await })
            })
            .collect();
        for task in tasks {
            let answer = task.await.unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(
                answer,
                CarriedOut::Answer(receipt(ReceiptOutcome::Done, 200))
            );
        }
        assert_eq!(rail.sent.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_hold_that_is_gone_is_not_sent() {
        let f = fixture().await;
        let order = f.hold("gone").await;
        Authorizer::void(&f.store, &f.agent, &order.authorization_id)
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        let rail = CountingRail::answering(Outcome::Answered(receipt(ReceiptOutcome::Done, 200)));
        assert_eq!(
            f.carry(&rail, &order).await,
            CarriedOut::NotHeld(AuthorizationStatus::Voided)
        );
        assert_eq!(rail.sent.load(Ordering::SeqCst), 0);
    }
}
