//! An in-memory [`Authorizer`] with a trivial policy, counting every call that could
//! record something, and helpers to drive the agent API's router with `oneshot`.
//!
//! Fake policy: merchants containing "ask" → pending; amounts above 1000 → denied
//! `over_budget`; everything else → approved `within_policy`.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use chrono::TimeZone;
use http_body_util::BodyExt;
use purser_core::policy::OnExceed;
use purser_core::{
    AgentName, Amount, AuthorizationRequest, AuthorizationStatus, BudgetLine, BudgetLineScope,
    Clock, Reason, ReasonCode, SessionId, Timestamp, Window,
};
use purser_daemon::authorizer::{
    AgentRecord, AgentStatus, Authorization, Authorizer, BoxFuture, DecidedBy, StoreError,
    UsageTotals,
};
use purser_daemon::{AgentToken, AppState, HttpConfig, TokenHash, Waiters};
use serde_json::Value;
use tower::ServiceExt;

pub const HOST: &str = "127.0.0.1:7402";

#[derive(Debug)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

pub fn t0() -> Timestamp {
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 26, 10, 0, 0)
        .single()
        .unwrap()
}

#[derive(Debug, Default)]
pub struct FakeStore {
    state: Mutex<Inner>,
    /// Calls that could have recorded something (authorize, usage, capture, void).
    mutations: AtomicUsize,
    /// Token lookups.
    lookups: AtomicUsize,
    unavailable: AtomicBool,
}

#[derive(Debug, Default)]
struct Inner {
    agents: Vec<(TokenHash, AgentRecord)>,
    records: Vec<(AuthorizationRequest, Authorization)>,
}

impl FakeStore {
    /// Registers an agent and returns its token.
    pub fn add_agent(&self, name: &str, status: AgentStatus) -> String {
        let token = AgentToken::generate().unwrap();
        let record = AgentRecord {
            name: name.parse().unwrap(),
            profile: None,
            status,
            created_at: t0(),
        };
        self.state
            .lock()
            .unwrap()
            .agents
            .push((token.hash(), record));
        token.expose().to_owned()
    }

    pub fn mutations(&self) -> usize {
        self.mutations.load(Ordering::SeqCst)
    }

    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }

    pub fn recorded(&self) -> usize {
        self.state.lock().unwrap().records.len()
    }

    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// The principal's decision on a pending authorization.
    pub fn decide(&self, id: &str, status: AuthorizationStatus, code: ReasonCode) {
        let mut state = self.state.lock().unwrap();
        let (_, record) = state.records.iter_mut().find(|(_, a)| a.id == id).unwrap();
        record.status = status;
        record.reasons = vec![Reason {
            code,
            message: format!("{code} by the test"),
        }];
        record.decided_by = Some(DecidedBy::Principal);
        record.decided_at = Some(t0() + chrono::Duration::seconds(5));
    }

    pub fn ids(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .records
            .iter()
            .map(|(_, a)| a.id.clone())
            .collect()
    }

    fn check_available(&self) -> Result<(), StoreError> {
        if self.unavailable.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("disk full".into()))
        } else {
            Ok(())
        }
    }

    fn record(&self, request: AuthorizationRequest) -> Result<Authorization, StoreError> {
        self.mutations.fetch_add(1, Ordering::SeqCst);
        self.check_available()?;
        let mut state = self.state.lock().unwrap();
        if let Some((original, existing)) = state
            .records
            .iter()
            .find(|(r, _)| r.agent == request.agent && r.request_id == request.request_id)
        {
            return if *original == request {
                Ok(existing.clone())
            } else {
                Err(StoreError::IdempotencyConflict)
            };
        }
        let id = format!("auth_{:026}", state.records.len() + 1);
        let (status, code, decided) = if request.merchant.as_str().contains("ask") {
            (
                AuthorizationStatus::Pending,
                ReasonCode::OverApprovalThreshold,
                false,
            )
        } else if request.amount > Amount::parse_positive("1000").unwrap() {
            (AuthorizationStatus::Denied, ReasonCode::OverBudget, true)
        } else {
            (
                AuthorizationStatus::Approved,
                ReasonCode::WithinPolicy,
                true,
            )
        };
        let expires_at = match (status, request.capture) {
            (AuthorizationStatus::Pending, _) => Some(t0() + chrono::Duration::minutes(10)),
            (AuthorizationStatus::Approved, purser_core::CaptureMode::Manual) => {
                Some(t0() + chrono::Duration::minutes(30))
            }
            _ => None,
        };
        let authorization = Authorization {
            id,
            request_id: request.request_id.clone(),
            agent: request.agent.clone(),
            kind: request.kind.clone(),
            status,
            amount: request.amount,
            captured_amount: None,
            currency: request.currency.clone(),
            merchant: request.merchant.clone(),
            category: request.category.clone(),
            rail: request.rail.clone(),
            capture: request.capture,
            session_id: request.session_id.clone(),
            purpose: request.purpose.clone(),
            context: request.context.clone(),
            reasons: vec![Reason {
                code,
                message: format!("{code} (fake policy)"),
            }],
            decided_by: decided.then_some(DecidedBy::Policy),
            policy_version: 1,
            grant_id: None,
            expires_at,
            created_at: t0(),
            decided_at: decided.then_some(t0()),
        };
        state.records.push((request, authorization.clone()));
        Ok(authorization)
    }

    fn update(
        &self,
        agent: &AgentName,
        id: &str,
        change: impl FnOnce(&mut Authorization) -> Result<(), StoreError>,
    ) -> Result<Authorization, StoreError> {
        self.mutations.fetch_add(1, Ordering::SeqCst);
        self.check_available()?;
        let mut state = self.state.lock().unwrap();
        let (_, record) = state
            .records
            .iter_mut()
            .find(|(_, a)| a.id == id && a.agent == *agent)
            .ok_or_else(|| StoreError::NotFound(format!("authorization {id}")))?;
        change(record)?;
        Ok(record.clone())
    }
}

impl Authorizer for FakeStore {
    fn authorize(
        &self,
        request: AuthorizationRequest,
    ) -> BoxFuture<'_, Result<Authorization, StoreError>> {
        Box::pin(async move { self.record(request) })
    }

    fn record_usage(
        &self,
        request: AuthorizationRequest,
    ) -> BoxFuture<'_, Result<(Authorization, UsageTotals), StoreError>> {
        Box::pin(async move {
            let authorization = self.record(request)?;
            let totals = UsageTotals {
                session_total: authorization.amount,
                budget_remaining: Amount::parse_positive("100")
                    .unwrap()
                    .checked_sub(authorization.amount),
            };
            Ok((authorization, totals))
        })
    }

    fn get_authorization<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Authorization>, StoreError>> {
        Box::pin(async move {
            self.check_available()?;
            let state = self.state.lock().unwrap();
            Ok(state
                .records
                .iter()
                .find(|(_, a)| a.id == id && a.agent == *agent)
                .map(|(_, a)| a.clone()))
        })
    }

    fn capture<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
        amount: Option<Amount>,
    ) -> BoxFuture<'a, Result<Authorization, StoreError>> {
        Box::pin(async move {
            self.update(agent, id, |record| {
                if record.status != AuthorizationStatus::Approved
                    || record.capture != purser_core::CaptureMode::Manual
                {
                    return Err(StoreError::InvalidState(format!(
                        "authorization {id} is not an approved manual hold"
                    )));
                }
                let captured = amount.unwrap_or(record.amount);
                if captured > record.amount {
                    return Err(StoreError::InvalidState(format!(
                        "capture amount {captured} is more than the {} held",
                        record.amount
                    )));
                }
                record.status = AuthorizationStatus::Captured;
                record.captured_amount = Some(captured);
                Ok(())
            })
        })
    }

    fn void<'a>(
        &'a self,
        agent: &'a AgentName,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Authorization, StoreError>> {
        Box::pin(async move {
            self.update(agent, id, |record| {
                let holds = record.status == AuthorizationStatus::Approved
                    && record.capture == purser_core::CaptureMode::Manual;
                if !holds && record.status != AuthorizationStatus::Pending {
                    return Err(StoreError::InvalidState(format!(
                        "authorization {id} is {}: only a hold or a pending request can be voided",
                        record.status.as_str()
                    )));
                }
                record.status = AuthorizationStatus::Voided;
                Ok(())
            })
        })
    }

    fn budget<'a>(
        &'a self,
        _agent: &'a AgentName,
        session: Option<&'a SessionId>,
    ) -> BoxFuture<'a, Result<Vec<BudgetLine>, StoreError>> {
        Box::pin(async move {
            self.check_available()?;
            let mut lines = vec![BudgetLine {
                scope: BudgetLineScope::Agent,
                window: Window::Day,
                currency: "USD".parse().unwrap(),
                on_exceed: OnExceed::Ask,
                limit: Amount::parse_positive("200").unwrap(),
                spent: Amount::parse_positive("12.5").unwrap(),
                held: Amount::ZERO,
                remaining: Amount::parse_positive("187.5").unwrap(),
                window_start: Some(t0() - chrono::Duration::hours(10)),
            }];
            if session.is_some() {
                lines.push(BudgetLine {
                    scope: BudgetLineScope::Session,
                    window: Window::Session,
                    currency: "USD".parse().unwrap(),
                    on_exceed: OnExceed::Deny,
                    limit: Amount::parse_positive("20").unwrap(),
                    spent: Amount::ZERO,
                    held: Amount::ZERO,
                    remaining: Amount::parse_positive("20").unwrap(),
                    window_start: None,
                });
            }
            Ok(lines)
        })
    }

    fn agent_by_token_hash(
        &self,
        hash: TokenHash,
    ) -> BoxFuture<'_, Result<Option<AgentRecord>, StoreError>> {
        Box::pin(async move {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            self.check_available()?;
            let state = self.state.lock().unwrap();
            Ok(state
                .agents
                .iter()
                .find(|(token_hash, record)| {
                    *token_hash == hash && record.status != AgentStatus::Revoked
                })
                .map(|(_, record)| record.clone()))
        })
    }
}

/// A router over a fresh fake with one active agent, `research-bot`.
pub struct Harness {
    pub store: Arc<FakeStore>,
    pub state: AppState,
    pub router: Router,
    pub token: String,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(HttpConfig::default())
    }

    pub fn with_config(config: HttpConfig) -> Harness {
        let store = Arc::new(FakeStore::default());
        let token = store.add_agent("research-bot", AgentStatus::Active);
        let waiters = Waiters::new(config.max_waiters_per_agent);
        let state = AppState::new(store.clone(), Arc::new(FixedClock(t0())), waiters, config);
        let router = purser_daemon::http::router(state.clone());
        Harness {
            store,
            state,
            router,
            token,
        }
    }

    /// A request with the right Host and this harness's token.
    pub fn request(&self, method: &str, uri: &str) -> axum::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, HOST)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
    }

    pub fn post_json(&self, uri: &str, body: &Value) -> Request<Body> {
        self.request("POST", uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    }

    pub fn get(&self, uri: &str) -> Request<Body> {
        self.request("GET", uri).body(Body::empty()).unwrap()
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        send(&self.router, request).await
    }
}

/// What came back: status, `Retry-After`, JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub json: Value,
}

impl Reply {
    /// Asserts the contract's error shape and returns (code, field).
    pub fn error(&self) -> (String, Option<String>) {
        let error = self
            .json
            .get("error")
            .unwrap_or_else(|| panic!("not an error: {self:?}"));
        let object = error.as_object().unwrap();
        for key in object.keys() {
            assert!(
                ["code", "message", "field"].contains(&key.as_str()),
                "extra key {key}"
            );
        }
        assert!(!error["message"].as_str().unwrap().is_empty());
        (
            error["code"].as_str().unwrap().to_owned(),
            error.get("field").map(|f| f.as_str().unwrap().to_owned()),
        )
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let header_text = |name| {
        parts
            .headers
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let retry_after = header_text(header::RETRY_AFTER);
    let content_type = header_text(header::CONTENT_TYPE);
    let status = parts.status;
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Reply {
        status,
        retry_after,
        content_type,
        json,
    }
}

/// Marks a request as coming from `peer`, as `into_make_service_with_connect_info` does.
pub fn from_peer(mut request: Request<Body>, peer: &str) -> Request<Body> {
    let addr: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

pub fn payment() -> Value {
    serde_json::json!({
        "request_id": "order-8812-attempt",
        "amount": "12.50",
        "currency": "USD",
        "merchant": "api.example.com",
        "purpose": "Buy 1 month of API credits for the report task",
    })
}

pub fn payment_with(field: &str, value: Value) -> Value {
    let mut body = payment();
    body[field] = value;
    body
}

pub fn is_rfc3339(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|text| chrono::DateTime::parse_from_rfc3339(text).is_ok())
}
