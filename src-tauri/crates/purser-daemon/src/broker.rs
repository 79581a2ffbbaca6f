//! The approval broker on the agent side: [`Broker`] wraps the store as the agent API's
//! [`Authorizer`] and, after each durable change an agent causes, tells the rest of the
//! daemon: it publishes the event (`decision`, `pending`, `usage`, `capture`, `void`),
//! logs one line per decision, and rings the [`ExpiryAlarm`] when a new deadline exists
//! (a pending approval or a manual hold), so the expiry task honours it on time.
//!
//! It adds no power: every call is the store's, unchanged, and nothing is published or
//! logged unless the store succeeded. Logs carry ids, agent, status, reason code, amount
//! and currency, never tokens, purposes or contexts.

use std::fmt;
use std::sync::Arc;

use purser_core::{
    AgentName, Amount, AuthorizationRequest, AuthorizationStatus, BudgetLine, Clock, SessionId,
};
use purser_store::Store;
use serde::Serialize;

use crate::authorizer::{
    AgentRecord, Authorization, Authorizer, BoxFuture, DecidedBy, StoreError, UsageTotals,
};
use crate::console::view::AuthorizationDetail;
use crate::events::{EventBus, EventKind};
use crate::expiry::ExpiryAlarm;
use crate::http::view::UsageView;
use crate::token::TokenHash;

/// The store as the agent API sees it, with events, logs and the expiry alarm.
pub struct Broker<S> {
    store: S,
    clock: Arc<dyn Clock>,
    events: EventBus,
    alarm: ExpiryAlarm,
}

impl<S> fmt::Debug for Broker<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker").finish_non_exhaustive()
    }
}

impl<S: Store + 'static> Broker<S> {
    pub fn new(store: S, clock: Arc<dyn Clock>, events: EventBus, alarm: ExpiryAlarm) -> Broker<S> {
        Broker {
            store,
            clock,
            events,
            alarm,
        }
    }

    /// Tells about a request the store just answered, unless it was a replay of one
    /// decided before `asked_at` (told about then).
    fn decided(&self, authorization: &Authorization, asked_at: purser_core::Timestamp) {
        if authorization.created_at < asked_at {
            return;
        }
        log_authorization("decision", authorization);
        if authorization.expires_at.is_some() {
            self.alarm.ring();
        }
        let kind = if authorization.status == AuthorizationStatus::Pending {
            EventKind::Pending
        } else {
            EventKind::Decision
        };
        self.events
            .publish(kind, &AuthorizationDetail::from(authorization));
    }
}

/// A usage event: the authorization and its metering.
#[derive(Serialize)]
struct UsageEvent<'a> {
    #[serde(flatten)]
    authorization: AuthorizationDetail,
    metering: &'a crate::http::view::MeteringView,
}

impl<S: Store + 'static> Authorizer for Broker<S> {
    fn authorize(
        &self,
        request: AuthorizationRequest,
    ) -> BoxFuture<'_, Result<Authorization, StoreError>> {
        Box::pin(async move {
            let asked_at = self.clock.now();
            let authorization = self.store.authorize(request).await?;
            self.decided(&authorization, asked_at);
            Ok(authorization)
        })
    }

    fn record_usage(
        &self,
        request: AuthorizationRequest,
    ) -> BoxFuture<'_, Result<(Authorization, UsageTotals), StoreError>> {
        Box::pin(async move {
            let asked_at = self.clock.now();
            let (authorization, totals) = self.store.record_usage(request).await?;
            if authorization.created_at >= asked_at {
                log_authorization("usage", &authorization);
                let view = UsageView::new(&authorization, &totals);
                self.events.publish(
                    EventKind::Usage,
                    &UsageEvent {
                        authorization: AuthorizationDetail::from(&authorization),
                        metering: &view.metering,
                    },
                );
            }
            Ok((authorization, totals))
        })
    }

    fn get_authorization<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Authorization>, StoreError>> {
        Box::pin(self.store.get_authorization(agent, id))
    }

    fn capture<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
        amount: Option<Amount>,
    ) -> BoxFuture<'a, Result<Authorization, StoreError>> {
        Box::pin(async move {
            let authorization = self.store.capture(agent, id, amount).await?;
            log_authorization("capture", &authorization);
            self.events.publish(
                EventKind::Capture,
                &AuthorizationDetail::from(&authorization),
            );
            Ok(authorization)
        })
    }

    fn void<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Authorization, StoreError>> {
        Box::pin(async move {
            let authorization = self.store.void(agent, id).await?;
            log_authorization("void", &authorization);
            self.events
                .publish(EventKind::Void, &AuthorizationDetail::from(&authorization));
            Ok(authorization)
        })
    }

    fn budget<'a>(
        &'a self,
        agent: &'a AgentName,
        session: Option<&'a SessionId>,
    ) -> BoxFuture<'a, Result<Vec<BudgetLine>, StoreError>> {
        Box::pin(self.store.budget(agent, session))
    }

    fn agent_by_token_hash(
        &self,
        hash: TokenHash,
    ) -> BoxFuture<'_, Result<Option<AgentRecord>, StoreError>> {
        Box::pin(async move { self.store.agent_by_token_hash(&hash.0).await })
    }
}

/// One log line about an authorization: what happened, its id, agent, status, headline
/// reason code, amount and currency, and who decided. Never its purpose or context.
pub(crate) fn log_authorization(what: &'static str, authorization: &Authorization) {
    tracing::info!(
        id = %authorization.id,
        agent = %authorization.agent,
        status = %authorization.status.as_str(),
        reason = %authorization.reason().map_or("-", |reason| reason.code.as_str()),
        amount = %authorization.amount,
        currency = %authorization.currency,
        decided_by = %authorization.decided_by.map_or("-", DecidedBy::as_str),
        "{what}",
    );
}
