//! [`Authorizer`]: the part of the store the agent API may use, as an object-safe trait.
//!
//! The HTTP edge needs only a few of [`purser_store::Store`]'s operations. Naming them
//! here lets the edge be tested against an in-memory fake, and keeps the store's other
//! powers (policy, kill switch, principal decisions) out of the agent's reach by
//! construction: nothing reachable through this trait can approve a pending request or
//! change a policy. Every [`Store`] is an `Authorizer` (the blanket impl below), so the
//! daemon hands the edge its SQLite (or, later, PostgreSQL) store as it is.
//!
//! Every method is fail-closed: an error means nothing was approved or changed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use purser_core::{AgentName, Amount, AuthorizationRequest, BudgetLine, SessionId};
use purser_store::Store;
pub use purser_store::{
    AgentRecord, AgentStatus, Authorization, DecidedBy, StoreError, UsageTotals,
};

use crate::token::TokenHash;

/// A boxed `Send` future, so [`Authorizer`] can be used as `Arc<dyn Authorizer>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The store operations the agent API uses.
pub trait Authorizer: Send + Sync + fmt::Debug + 'static {
    /// Decides and durably records a payment request, or returns the recorded decision
    /// for an exact replay of the same `request_id`.
    fn authorize(
        &self,
        request: AuthorizationRequest,
    ) -> BoxFuture<'_, Result<Authorization, StoreError>>;

    /// Decides and records a metered usage request (never pending).
    fn record_usage(
        &self,
        request: AuthorizationRequest,
    ) -> BoxFuture<'_, Result<(Authorization, UsageTotals), StoreError>>;

    /// One of `agent`'s authorizations; another agent's is `None`, like an unknown one.
    fn get_authorization<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Authorization>, StoreError>>;

    /// Captures a manual hold, all of it or `amount` (≤ the hold).
    fn capture<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
        amount: Option<Amount>,
    ) -> BoxFuture<'a, Result<Authorization, StoreError>>;

    /// Releases a hold, or withdraws a pending request.
    fn void<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Authorization, StoreError>>;

    /// The limits that apply to `agent` (and its `session`) as they stand now.
    fn budget<'a>(
        &'a self,
        agent: &'a AgentName,
        session: Option<&'a SessionId>,
    ) -> BoxFuture<'a, Result<Vec<BudgetLine>, StoreError>>;

    /// The agent whose token hashes to `hash`; `None` when unknown or revoked.
    fn agent_by_token_hash(
        &self,
        hash: TokenHash,
    ) -> BoxFuture<'_, Result<Option<AgentRecord>, StoreError>>;
}

impl<S: Store + fmt::Debug + 'static> Authorizer for S {
    fn authorize(
        &self,
        request: AuthorizationRequest,
    ) -> BoxFuture<'_, Result<Authorization, StoreError>> {
        Box::pin(Store::authorize(self, request))
    }

    fn record_usage(
        &self,
        request: AuthorizationRequest,
    ) -> BoxFuture<'_, Result<(Authorization, UsageTotals), StoreError>> {
        Box::pin(Store::record_usage(self, request))
    }

    fn get_authorization<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Authorization>, StoreError>> {
        Box::pin(Store::get_authorization(self, agent, id))
    }

    fn capture<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
        amount: Option<Amount>,
    ) -> BoxFuture<'a, Result<Authorization, StoreError>> {
        Box::pin(Store::capture(self, agent, id, amount))
    }

    fn void<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Authorization, StoreError>> {
        Box::pin(Store::void(self, agent, id))
    }

    fn budget<'a>(
        &'a self,
        agent: &'a AgentName,
        session: Option<&'a SessionId>,
    ) -> BoxFuture<'a, Result<Vec<BudgetLine>, StoreError>> {
        Box::pin(Store::budget(self, agent, session))
    }

    fn agent_by_token_hash(
        &self,
        hash: TokenHash,
    ) -> BoxFuture<'_, Result<Option<AgentRecord>, StoreError>> {
        Box::pin(async move { Store::agent_by_token_hash(self, &hash.0).await })
    }
}
