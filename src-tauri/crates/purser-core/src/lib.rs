//! Purser's core: the pure code that decides whether an agent may spend.
//!
//! It owns the vocabulary of the product ([`Amount`], [`Currency`], [`Policy`],
//! [`AuthorizationRequest`], [`Decision`], [`Reason`]) and the decision engine
//! ([`engine::decide`]). It performs no I/O and never reads a clock: the caller passes
//! `now` and a [`LedgerView`] of what has already been spent, so every decision is a
//! deterministic function of its inputs and can be replayed (the console's what-if
//! preview does exactly that).

pub mod clock;
pub mod currency;
pub mod decision;
pub mod duration;
pub mod engine;
pub mod ledger;
pub mod money;
pub mod names;
pub mod policy;
pub mod request;
pub mod window;

pub use clock::Clock;
pub use currency::Currency;
pub use decision::{
    AuthorizationStatus, Decision, DecisionStatus, Reason, ReasonCode, ReasonEffect,
};
pub use duration::PolicyDuration;
pub use engine::{BudgetLine, BudgetLineScope};
pub use ledger::{BudgetScope, Committed, GrantScope, LedgerView, StandingGrant};
pub use money::Amount;
pub use names::{AgentName, Merchant, MerchantPattern, ProfileName, RequestId, SessionId, Slug};
pub use policy::Policy;
pub use request::{AuthorizationRequest, CaptureMode, RequestKind};
pub use window::Window;

/// A point in time. Always UTC inside Purser; calendar windows convert to the
/// policy's zone only to find their boundaries.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
