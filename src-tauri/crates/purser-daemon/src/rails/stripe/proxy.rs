//! The proxy's one handler: admit, authenticate, classify, then pass through, refuse, or
//! authorize and carry out.
//!
//! | call | what Purser does |
//! |---|---|
//! | any `GET /v1/…` | passes through (read-only) |
//! | `POST /v1/payment_intents`, `POST /v1/charges` | authorizes `amount` `currency`; adds `metadata[purser_authorization]` |
//! | `POST /v1/payment_intents/{id}/confirm`, `…/capture`, `POST /v1/charges/{id}/capture` | passes through when the object was authorized by Purser for this agent (its `purser_authorization` matches amount and currency); otherwise authorizes the object's amount |
//! | `POST /v1/payment_links` | authorizes the sum of `unit_amount × quantity` of its prices (looked up) |
//! | `POST /v1/invoices/{id}/pay` | authorizes the invoice's `amount_remaining` |
//! | `POST /v1/refunds` | authorizes the refund (`amount`, or what is left to refund) with category `refund` |
//! | customers, products, prices, payment methods, invoice items, PaymentIntent update (not its amount or currency) and cancel, draft invoices with `auto_advance=false` | pass through |
//! | anything else that writes | refused, 403 `purser_refused` |
//!
//! Agents may never write `metadata[purser_*]`, nor act on connected accounts
//! (`Stripe-Account`).

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use purser_core::{
    AgentName, AuthorizationRequest, AuthorizationStatus, CaptureMode, Currency, Merchant,
    RequestId, RequestKind, SessionId, Slug,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use tokio::time::Instant;

use super::Proxy;
use super::error::StripeError;
use super::form::{Form, append_metadata};
use super::upstream::{UpstreamRequest, UpstreamResponse};
use crate::authorizer::Authorization;
use crate::http::AuthenticatedAgent;
use crate::rails::amounts::{amount_from_minor, stripe_exponent};
use crate::rails::{CarriedOut, Order, carry_out};

/// The metadata key Purser writes on what it authorized.
pub const AUTHORIZATION_METADATA: &str = "purser_authorization";
/// Marks an authorization as the proxy's (the agent API will not capture or void it).
pub const CONTEXT_MARKER: &str = "stripe_proxy";
/// Request headers passed on to Stripe besides the body's content type.
const FORWARDED_REQUEST_HEADERS: &[&str] = &["stripe-version"];
/// The agent's optional session, for `session` budget windows.
const SESSION_HEADER: &str = "purser-session-id";

/// What a call is, by method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Read-only.
    Read,
    /// A write that moves no money, with its guard.
    Write(WriteGuard),
    /// A money-moving call.
    Money(Money),
    /// Refused, with why.
    Refused(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteGuard {
    None,
    /// PaymentIntent update: not its amount or currency.
    KeepAmount,
    /// Invoice create/finalize: only with `auto_advance=false` (else Stripe charges it
    /// by itself later, past Purser).
    NoAutoAdvance,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Money {
    CreatePaymentIntent,
    ConfirmPaymentIntent(String),
    CapturePaymentIntent(String),
    CreateCharge,
    CaptureCharge(String),
    CreatePaymentLink,
    PayInvoice(String),
    CreateRefund,
}

/// Classifies `method path`. Unknown writes are refused: only what is listed moves on.
pub fn classify(method: &Method, path: &str) -> Endpoint {
    let Some(rest) = path.strip_prefix("/v1/") else {
        return Endpoint::Refused(format!(
            "{path} is not part of Stripe's v1 API, the only one Purser's proxy serves"
        ));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments
        .iter()
        .any(|segment| segment.is_empty() || !is_path_segment(segment))
    {
        return Endpoint::Refused(format!("{path} is not a Stripe API path"));
    }
    if *method == Method::GET {
        return Endpoint::Read;
    }
    let id = |i: usize| segments.get(i).map(|s| (*s).to_owned()).unwrap_or_default();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["payment_intents"]) => Endpoint::Money(Money::CreatePaymentIntent),
        ("POST", ["payment_intents", _, "confirm"]) => {
            Endpoint::Money(Money::ConfirmPaymentIntent(id(1)))
        }
        ("POST", ["payment_intents", _, "capture"]) => {
            Endpoint::Money(Money::CapturePaymentIntent(id(1)))
        }
        ("POST", ["payment_intents", _]) => Endpoint::Write(WriteGuard::KeepAmount),
        ("POST", ["payment_intents", _, "cancel"]) => Endpoint::Write(WriteGuard::None),
        ("POST", ["charges"]) => Endpoint::Money(Money::CreateCharge),
        ("POST", ["charges", _, "capture"]) => Endpoint::Money(Money::CaptureCharge(id(1))),
        ("POST", ["payment_links"]) => Endpoint::Money(Money::CreatePaymentLink),
        ("POST", ["invoices", _, "pay"]) => Endpoint::Money(Money::PayInvoice(id(1))),
        ("POST", ["refunds"]) => Endpoint::Money(Money::CreateRefund),
        ("POST", ["customers" | "products" | "prices" | "payment_methods" | "invoiceitems"])
        | (
            "POST",
            [
                "customers" | "products" | "prices" | "payment_methods" | "invoiceitems",
                _,
            ],
        )
        | ("POST", ["payment_methods", _, "attach" | "detach"])
        | ("DELETE", ["customers" | "products" | "invoiceitems", _]) => {
            Endpoint::Write(WriteGuard::None)
        }
        ("POST", ["invoices"]) | ("POST", ["invoices", _, "finalize"]) => {
            Endpoint::Write(WriteGuard::NoAutoAdvance)
        }
        ("DELETE", ["invoices", _]) => Endpoint::Write(WriteGuard::None),
        _ => Endpoint::Refused(format!(
            "{method} {path} may move money and is not one Purser knows how to authorize, so it is refused (fail closed); see the README's \"Payment rails\" section for the calls Purser guards"
        )),
    }
}

fn is_path_segment(segment: &str) -> bool {
    segment.len() <= 255
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// The handler of every proxied call.
pub(crate) async fn handle(
    State(proxy): State<Proxy>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match serve_call(&proxy, Some(peer.ip()), method, uri, headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn serve_call(
    proxy: &Proxy,
    peer: Option<std::net::IpAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, StripeError> {
    admit(proxy, &headers)?;
    let agent = authenticate(proxy, &headers, peer).await?;
    if headers.contains_key("stripe-account") || headers.contains_key("stripe-context") {
        return Err(StripeError::refused(
            "Purser's proxy acts on the principal's own Stripe account only: Stripe-Account and Stripe-Context are refused",
        ));
    }
    let path = uri.path().to_owned();
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let endpoint = classify(&method, &path);
    let content_type = headers.get(header::CONTENT_TYPE).cloned();
    let form = if method == Method::GET {
        Form::default()
    } else {
        Form::parse(
            content_type.as_ref().and_then(|value| value.to_str().ok()),
            &body,
        )?
    };
    if let Some(key) = form.purser_key() {
        return Err(StripeError::refused(format!(
            "{key} is written by Purser only (it binds a Stripe object to its authorization)"
        )));
    }
    tracing::info!(agent = %agent.name, %method, path = %path, "stripe call");
    let call = Call {
        method,
        path: path_and_query,
        content_type,
        body,
        headers: forwarded_headers(&headers),
        idempotency_key: headers.get("idempotency-key").cloned(),
    };
    match endpoint {
        Endpoint::Read => pass_through(proxy, &call).await,
        Endpoint::Write(guard) => {
            check_write(guard, &form)?;
            pass_through(proxy, &call).await
        }
        Endpoint::Refused(why) => Err(StripeError::refused(why)),
        Endpoint::Money(money) => {
            let plan = price(proxy, &agent.name, &money, &form).await?;
            match plan {
                Plan::AlreadyAuthorized => pass_through(proxy, &call).await,
                Plan::Authorize(priced) => {
                    authorize_and_carry_out(proxy, &agent, &headers, &call, &money, priced).await
                }
            }
        }
    }
}

/// The agent's call, as it will be sent on.
#[derive(Debug, Clone)]
struct Call {
    method: Method,
    path: String,
    content_type: Option<HeaderValue>,
    body: Bytes,
    headers: Vec<(HeaderName, HeaderValue)>,
    idempotency_key: Option<HeaderValue>,
}

fn forwarded_headers(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    headers
        .iter()
        .filter(|(name, _)| FORWARDED_REQUEST_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// `Host` must name the proxy by a loopback name (DNS-rebinding defence), and browsers
/// (an `Origin` header) are refused, as on the agent API.
fn admit(proxy: &Proxy, headers: &HeaderMap) -> Result<(), StripeError> {
    let port = proxy.inner.port;
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_ascii_lowercase);
    let allowed = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    if !host.is_some_and(|host| allowed.contains(&host)) {
        return Err(StripeError::refused(format!(
            "the Host header must be 127.0.0.1:{port}, localhost:{port} or [::1]:{port} (DNS-rebinding defence)"
        )));
    }
    if headers.contains_key(header::ORIGIN) {
        return Err(StripeError::refused(
            "requests from web pages are refused: agents call Purser without an Origin header",
        ));
    }
    Ok(())
}

/// The agent whose Purser token is the API key: `Authorization: Bearer purser_…` as the
/// SDKs send it, or HTTP Basic with the token as user name (`curl -u purser_…:`).
async fn authenticate(
    proxy: &Proxy,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> Result<AuthenticatedAgent, StripeError> {
    let mut bearer = HeaderMap::new();
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().unwrap_or("");
        let token = match text.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => {
                base64::engine::general_purpose::STANDARD
                    .decode(rest.trim())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .map(|user| user.split(':').next().unwrap_or("").to_owned())
            }
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
                Some(rest.trim().to_owned())
            }
            _ => None,
        };
        if let Some(value) =
            token.and_then(|token| HeaderValue::from_str(&format!("Bearer {token}")).ok())
        {
            bearer.insert(header::AUTHORIZATION, value);
        }
    }
    let peer = peer.unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
    crate::http::guard::authentication(&proxy.inner.app, &bearer, peer)
        .await
        .map_err(StripeError::from_api)
}

fn check_write(guard: WriteGuard, form: &Form) -> Result<(), StripeError> {
    match guard {
        WriteGuard::None => Ok(()),
        WriteGuard::KeepAmount => {
            if form.has("amount") || form.has("currency") {
                Err(StripeError::refused(
                    "changing a PaymentIntent's amount or currency is refused: Purser authorized the amount it was created with; create a new PaymentIntent instead",
                ))
            } else {
                Ok(())
            }
        }
        WriteGuard::NoAutoAdvance => {
            if form.get("auto_advance") == Some("false") {
                Ok(())
            } else {
                Err(StripeError::refused(
                    "invoices must be created and finalized with auto_advance=false: otherwise Stripe charges them by itself later, past Purser. Pay them with POST /v1/invoices/{id}/pay through Purser",
                ))
            }
        }
    }
}

/// Sends the agent's call as it is (with the real key) and relays Stripe's answer.
async fn pass_through(proxy: &Proxy, call: &Call) -> Result<Response, StripeError> {
    let response = proxy
        .inner
        .upstream
        .send(UpstreamRequest {
            method: call.method.clone(),
            path: &call.path,
            content_type: call.content_type.clone(),
            body: call.body.clone(),
            idempotency_key: call.idempotency_key.clone(),
            headers: &call.headers,
        })
        .await
        .map_err(|error| StripeError::upstream_unknown(None, &error.0))?;
    Ok(relay(response))
}

fn relay(response: UpstreamResponse) -> Response {
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() = response.status;
    for (name, value) in response.headers {
        out.headers_mut().insert(name, value);
    }
    out
}

/// What a money-moving call amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// The object was authorized by Purser for this agent when it was created: the call
    /// spends nothing new.
    AlreadyAuthorized,
    Authorize(Priced),
}

/// A money-moving call, priced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Priced {
    minor: u64,
    /// Lowercase, as Stripe writes it.
    currency: String,
    merchant: Option<String>,
    purpose: Option<String>,
    category: Option<String>,
    /// The Stripe object acted on (confirm, capture, pay, refund).
    object: Option<String>,
    /// A create: Purser adds `metadata[purser_authorization]`.
    creates: bool,
}

async fn price(
    proxy: &Proxy,
    agent: &AgentName,
    money: &Money,
    form: &Form,
) -> Result<Plan, StripeError> {
    let from_form = |creates: bool, category: Option<String>| -> Result<Priced, StripeError> {
        let minor = form.integer("amount")?.ok_or_else(|| {
            StripeError::invalid_request("Missing required param: amount.", Some("amount"))
        })?;
        let currency = form.get("currency").ok_or_else(|| {
            StripeError::invalid_request("Missing required param: currency.", Some("currency"))
        })?;
        Ok(Priced {
            minor,
            currency: currency.to_ascii_lowercase(),
            merchant: form
                .metadata("merchant")
                .or(form.get("description"))
                .map(str::to_owned),
            purpose: form
                .metadata("purpose")
                .or(form.get("description"))
                .map(str::to_owned),
            category: category.or_else(|| form.metadata("category").map(str::to_owned)),
            object: None,
            creates,
        })
    };
    match money {
        Money::CreatePaymentIntent | Money::CreateCharge => {
            Ok(Plan::Authorize(from_form(true, None)?))
        }
        Money::ConfirmPaymentIntent(id) | Money::CapturePaymentIntent(id) => {
            let intent = lookup(proxy, &format!("/v1/payment_intents/{id}")).await?;
            if authorized_by_purser(proxy, agent, &intent).await? {
                return Ok(Plan::AlreadyAuthorized);
            }
            let minor = match money {
                Money::CapturePaymentIntent(_) => form
                    .integer("amount_to_capture")?
                    .or_else(|| positive(&intent, "amount_capturable"))
                    .or_else(|| positive(&intent, "amount")),
                _ => positive(&intent, "amount"),
            };
            Ok(Plan::Authorize(priced_object(&intent, id, minor, None)?))
        }
        Money::CaptureCharge(id) => {
            let charge = lookup(proxy, &format!("/v1/charges/{id}")).await?;
            if authorized_by_purser(proxy, agent, &charge).await? {
                return Ok(Plan::AlreadyAuthorized);
            }
            let minor = form
                .integer("amount")?
                .or_else(|| positive(&charge, "amount"));
            Ok(Plan::Authorize(priced_object(&charge, id, minor, None)?))
        }
        Money::PayInvoice(id) => {
            let invoice = lookup(proxy, &format!("/v1/invoices/{id}")).await?;
            let minor =
                positive(&invoice, "amount_remaining").or_else(|| positive(&invoice, "amount_due"));
            Ok(Plan::Authorize(priced_object(&invoice, id, minor, None)?))
        }
        Money::CreateRefund => {
            let (path, id) = match (form.get("charge"), form.get("payment_intent")) {
                (Some(charge), _) => (format!("/v1/charges/{charge}"), charge),
                (None, Some(intent)) => (format!("/v1/payment_intents/{intent}"), intent),
                (None, None) => {
                    return Err(StripeError::invalid_request(
                        "a refund names the charge or the payment_intent it refunds",
                        Some("charge"),
                    ));
                }
            };
            if !is_path_segment(id) {
                return Err(StripeError::invalid_request(
                    "not a Stripe id",
                    Some("charge"),
                ));
            }
            let object = lookup(proxy, &path).await?;
            let refundable = match (
                positive(&object, "amount"),
                object.get("amount_refunded").and_then(Value::as_u64),
            ) {
                (Some(amount), Some(refunded)) => {
                    amount.checked_sub(refunded).filter(|left| *left > 0)
                }
                (amount, _) => amount,
            };
            let minor = form.integer("amount")?.or(refundable);
            let mut priced = priced_object(&object, id, minor, Some("refund".into()))?;
            priced.creates = true;
            priced.merchant = form
                .metadata("merchant")
                .map(str::to_owned)
                .or_else(|| Some(format!("refund of {id}")));
            priced.purpose = form
                .metadata("purpose")
                .or(form.get("reason"))
                .map(str::to_owned)
                .or(priced.purpose);
            Ok(Plan::Authorize(priced))
        }
        Money::CreatePaymentLink => price_payment_link(proxy, form).await.map(Plan::Authorize),
    }
}

/// A Payment Link's total: `unit_amount × quantity` of each line item's price, all in
/// one currency. Prices without a fixed `unit_amount` (customer-chosen, tiered) and
/// adjustable quantities are refused: Purser could not bound what the link collects.
async fn price_payment_link(proxy: &Proxy, form: &Form) -> Result<Priced, StripeError> {
    let items = link_items(form)?;
    let mut prices = Vec::with_capacity(items.len());
    for item in &items {
        prices.push(lookup(proxy, &format!("/v1/prices/{}", item.price)).await?);
    }
    let (minor, currency) = link_total(&items, &prices)?;
    Ok(Priced {
        minor,
        currency,
        merchant: form.metadata("merchant").map(str::to_owned),
        purpose: form.metadata("purpose").map(str::to_owned),
        category: form.metadata("category").map(str::to_owned),
        object: None,
        creates: true,
    })
}

/// One line of a Payment Link: its price id, quantity, and the param naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LinkItem {
    price: String,
    quantity: u64,
    param: String,
}

/// A Payment Link's line items, checked: each names a price, quantities are positive
/// integers (default 1), and none is adjustable by the customer.
fn link_items(form: &Form) -> Result<Vec<LinkItem>, StripeError> {
    if form
        .pairs()
        .iter()
        .any(|(key, value)| key.ends_with("[adjustable_quantity][enabled]") && value == "true")
    {
        return Err(StripeError::refused(
            "Payment Links with adjustable quantities are refused: Purser authorizes a fixed amount",
        ));
    }
    let items = form.line_items();
    if items.is_empty() {
        return Err(StripeError::invalid_request(
            "Missing required param: line_items.",
            Some("line_items"),
        ));
    }
    items
        .into_iter()
        .map(|(index, price, quantity)| {
            let param = format!("line_items[{index}][price]");
            if price.is_empty() || !is_path_segment(&price) {
                return Err(StripeError::invalid_request(
                    "each line item needs a price id",
                    Some(&param),
                ));
            }
            let quantity = if quantity.is_empty() {
                1
            } else {
                quantity.parse().ok().filter(|q| *q > 0).ok_or_else(|| {
                    StripeError::invalid_request(
                        format!("Invalid integer: {quantity}"),
                        Some(&format!("line_items[{index}][quantity]")),
                    )
                })?
            };
            Ok(LinkItem {
                price: price.into_owned(),
                quantity,
                param,
            })
        })
        .collect()
}

/// Σ `unit_amount × quantity` of `items` priced by `prices` (Stripe Price objects, in
/// the same order), and their one currency. A price without a fixed `unit_amount`
/// (customer-chosen, tiered) or a recurring one (a subscription: charged again and
/// again) is refused: Purser could not bound what the link collects.
fn link_total(items: &[LinkItem], prices: &[Value]) -> Result<(u64, String), StripeError> {
    let mut total: u64 = 0;
    let mut currency: Option<String> = None;
    for (item, price) in items.iter().zip(prices) {
        if price
            .get("recurring")
            .is_some_and(|recurring| !recurring.is_null())
        {
            return Err(StripeError::refused(format!(
                "price {} is recurring: a Payment Link for it would charge again and again, past Purser",
                item.price
            )));
        }
        let unit = price
            .get("unit_amount")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                StripeError::refused(format!(
                    "price {} has no fixed unit_amount, so Purser cannot authorize what the link collects",
                    item.price
                ))
            })?;
        let price_currency = price
            .get("currency")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        match &currency {
            Some(first) if *first != price_currency => {
                return Err(StripeError::invalid_request(
                    "all of a Payment Link's prices must share one currency",
                    Some(&item.param),
                ));
            }
            _ => currency = Some(price_currency),
        }
        total = unit
            .checked_mul(item.quantity)
            .and_then(|line| total.checked_add(line))
            .ok_or_else(|| {
                StripeError::invalid_request("the link's total is too large", Some(&item.param))
            })?;
    }
    Ok((total, currency.unwrap_or_default()))
}

fn positive(object: &Value, field: &str) -> Option<u64> {
    object
        .get(field)
        .and_then(Value::as_u64)
        .filter(|value| *value > 0)
}

/// A Stripe object's amount and description, priced.
fn priced_object(
    object: &Value,
    id: &str,
    minor: Option<u64>,
    category: Option<String>,
) -> Result<Priced, StripeError> {
    let minor = minor
        .ok_or_else(|| StripeError::refused(format!("{id} has no amount Purser can authorize")))?;
    let currency = object
        .get("currency")
        .and_then(Value::as_str)
        .ok_or_else(|| StripeError::refused(format!("{id} has no currency")))?
        .to_ascii_lowercase();
    let metadata = |key: &str| {
        object
            .get("metadata")
            .and_then(|metadata| metadata.get(key))
            .and_then(Value::as_str)
            .filter(|value| !value.trim().is_empty())
            .map(str::to_owned)
    };
    let description = object
        .get("description")
        .and_then(Value::as_str)
        .filter(|value| !value.trim().is_empty())
        .map(str::to_owned);
    Ok(Priced {
        minor,
        currency,
        merchant: metadata("merchant")
            .or_else(|| description.clone())
            .or_else(|| {
                object
                    .get("customer_name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .or_else(|| {
                object
                    .get("customer")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
        purpose: metadata("purpose").or(description),
        category: category.or_else(|| metadata("category")),
        object: Some(id.to_owned()),
        creates: false,
    })
}

/// `GET path` upstream for pricing; Stripe's own error is relayed as is.
async fn lookup(proxy: &Proxy, path: &str) -> Result<Value, StripeError> {
    match proxy.inner.upstream.get_json(path).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(response)) => {
            let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or("Stripe refused the lookup")
                .to_owned();
            let mut error = StripeError::invalid_request(message, None);
            error.status = response.status;
            error.code = body["error"]["code"]
                .as_str()
                .unwrap_or("resource_missing")
                .to_owned();
            Err(error)
        }
        Err(error) => Err(StripeError::upstream_unknown(None, &error.0)),
    }
}

/// Did Purser authorize `object` for `agent`, for its current amount and currency, and
/// count it as spent? An object that names another agent's authorization, or whose
/// amount changed since, is refused; one whose authorization spent nothing (voided,
/// denied) is not authorized, so paying it is decided anew.
async fn authorized_by_purser(
    proxy: &Proxy,
    agent: &AgentName,
    object: &Value,
) -> Result<bool, StripeError> {
    let Some(id) = object
        .get("metadata")
        .and_then(|metadata| metadata.get(AUTHORIZATION_METADATA))
        .and_then(Value::as_str)
    else {
        return Ok(false);
    };
    let authorization = proxy
        .inner
        .app
        .authorizer()
        .get_authorization(agent, id)
        .await
        .map_err(|error| StripeError::from_api(error.into()))?
        .ok_or_else(|| {
            StripeError::refused(format!(
                "this object was authorized by Purser as {id}, which is not one of this agent's authorizations"
            ))
        })?;
    let currency = object.get("currency").and_then(Value::as_str).unwrap_or("");
    let amount = object
        .get("amount")
        .and_then(Value::as_u64)
        .and_then(|minor| amount_from_minor(minor, stripe_exponent(currency)).ok());
    let same = amount == Some(authorization.amount)
        && currency.eq_ignore_ascii_case(authorization.currency.as_str());
    let spent = matches!(
        authorization.status,
        AuthorizationStatus::Captured | AuthorizationStatus::Approved
    );
    if !spent {
        // Its creation spent nothing (Stripe refused it, e.g. a declined card, and the
        // hold was voided): paying it now is a new payment to decide.
        return Ok(false);
    }
    if same {
        Ok(true)
    } else {
        Err(StripeError::refused(format!(
            "this object no longer matches its authorization {id} ({} {} {}): create a new one",
            authorization.status.as_str(),
            authorization.amount,
            authorization.currency
        )))
    }
}

/// The authorization request for a priced call: exact amount from minor units, the
/// Idempotency-Key as request id, a manual hold on rail `stripe`.
fn authorization_request(
    agent: &AgentName,
    headers: &HeaderMap,
    call: &Call,
    money: &Money,
    priced: &Priced,
) -> Result<AuthorizationRequest, StripeError> {
    let exponent = stripe_exponent(&priced.currency);
    let amount = amount_from_minor(priced.minor, exponent)
        .map_err(|error| StripeError::invalid_request(error.to_string(), Some("amount")))?;
    let currency: Currency = priced.currency.to_ascii_uppercase().parse().map_err(|_| {
        StripeError::invalid_request(
            format!("Invalid currency: {}", priced.currency),
            Some("currency"),
        )
    })?;
    let request_id = request_id_for(call.idempotency_key.as_ref())?;
    let what = describe(money);
    let merchant_text = priced
        .merchant
        .clone()
        .map(|text| truncate(&text, 200))
        .unwrap_or_else(|| "stripe".to_owned());
    let merchant: Merchant = merchant_text.parse().map_err(|_| {
        StripeError::invalid_request(
            "metadata[merchant] must be 1-200 characters without control characters",
            Some("metadata[merchant]"),
        )
    })?;
    let purpose = priced
        .purpose
        .clone()
        .map(|text| truncate(&text, 1_000))
        .unwrap_or_else(|| format!("Stripe: {what} for {amount} {currency}"));
    let category = priced
        .category
        .as_deref()
        .map(|text| {
            text.parse::<Slug>().map_err(|_| {
                StripeError::invalid_request(
                    "metadata[category] must be a slug (1-64 of a-z 0-9 _ -)",
                    Some("metadata[category]"),
                )
            })
        })
        .transpose()?;
    let session_id = headers
        .get(SESSION_HEADER)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| text.parse::<SessionId>().ok())
                .ok_or_else(|| {
                    StripeError::invalid_request(
                        "Purser-Session-Id must be 1-128 of A-Z a-z 0-9 . _ : -",
                        None,
                    )
                })
        })
        .transpose()?;
    let mut stripe = Map::new();
    stripe.insert(
        "call".into(),
        json!(format!("{} {}", call.method, call.path)),
    );
    stripe.insert("amount".into(), json!(priced.minor));
    stripe.insert("currency".into(), json!(priced.currency));
    if let Some(object) = &priced.object {
        stripe.insert("object".into(), json!(object));
    }
    let mut context = Map::new();
    context.insert(CONTEXT_MARKER.into(), Value::Object(stripe));
    Ok(AuthorizationRequest {
        agent: agent.clone(),
        request_id,
        kind: RequestKind::Payment,
        amount,
        currency,
        merchant,
        category,
        rail: "stripe".parse().ok(),
        capture: CaptureMode::Manual,
        session_id,
        purpose,
        context: Some(context),
    })
}

/// `stripe:KEY` when the agent's Idempotency-Key is a valid request id, else
/// `stripe:sha256:HEX` of it; a call without one gets a fresh random id (each such call
/// is a new payment, as at Stripe).
fn request_id_for(key: Option<&HeaderValue>) -> Result<RequestId, StripeError> {
    let text = match key {
        Some(key) => {
            let key = key.to_str().map_err(|_| {
                StripeError::invalid_request("the Idempotency-Key header must be ASCII", None)
            })?;
            if key.is_empty() || key.len() > 255 {
                return Err(StripeError::invalid_request(
                    "the Idempotency-Key must have 1-255 characters",
                    None,
                ));
            }
            let direct = format!("stripe:{key}");
            if direct.parse::<RequestId>().is_ok() {
                direct
            } else {
                format!(
                    "stripe:sha256:{}",
                    hex::encode(Sha256::digest(key.as_bytes()))
                )
            }
        }
        None => {
            let mut bytes = [0_u8; 16];
            getrandom::fill(&mut bytes)
                .map_err(|_| StripeError::unavailable("no randomness for a request id"))?;
            format!("stripe:generated:{}", hex::encode(bytes))
        }
    };
    text.parse()
        .map_err(|_| StripeError::invalid_request("the Idempotency-Key cannot be used", None))
}

fn describe(money: &Money) -> &'static str {
    match money {
        Money::CreatePaymentIntent => "create a PaymentIntent",
        Money::ConfirmPaymentIntent(_) => "confirm a PaymentIntent",
        Money::CapturePaymentIntent(_) => "capture a PaymentIntent",
        Money::CreateCharge => "create a Charge",
        Money::CaptureCharge(_) => "capture a Charge",
        Money::CreatePaymentLink => "create a Payment Link",
        Money::PayInvoice(_) => "pay an Invoice",
        Money::CreateRefund => "create a Refund",
    }
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(chars)
        .collect()
}

/// Authorizes the call through the agent API's path, waits (bounded) while pending,
/// then carries an approved hold out on the rail.
async fn authorize_and_carry_out(
    proxy: &Proxy,
    agent: &AuthenticatedAgent,
    headers: &HeaderMap,
    call: &Call,
    money: &Money,
    priced: Priced,
) -> Result<Response, StripeError> {
    let request = authorization_request(&agent.name, headers, call, money, &priced)?;
    let app = &proxy.inner.app;
    let wait = proxy.inner.wait.min(app.config().max_wait);
    let slot = crate::http::operations::reserve_if_waiting(app, agent, wait)
        .map_err(StripeError::from_api)?;
    let authorization = app
        .authorizer()
        .authorize(request)
        .await
        .map_err(|error| StripeError::from_api(error.into()))?;
    let authorization = match slot {
        Some(slot) => {
            crate::http::operations::settle(app, agent, authorization, slot, Instant::now() + wait)
                .await
                .map_err(StripeError::from_api)?
        }
        None => authorization,
    };
    if !is_proxy_hold(&authorization) {
        // The request id was used on the agent API for something else.
        return Err(StripeError::from_api(crate::http::ApiError::new(
            crate::http::ErrorCode::IdempotencyConflict,
            "conflict",
        )));
    }
    match authorization.status {
        AuthorizationStatus::Pending => Err(StripeError::pending(
            &authorization.id,
            authorization
                .expires_at
                .map(crate::http::view::rfc3339)
                .as_deref(),
        )),
        AuthorizationStatus::Denied
        | AuthorizationStatus::Expired
        | AuthorizationStatus::Cancelled => {
            let reason = authorization.reason();
            Err(StripeError::denied(
                &authorization.id,
                authorization.status.as_str(),
                reason.map_or("denied", |reason| reason.code.as_str()),
                reason.map_or("", |reason| reason.message.as_str()),
            ))
        }
        AuthorizationStatus::Approved
        | AuthorizationStatus::Captured
        | AuthorizationStatus::Voided => {
            carry(proxy, &agent.name, &authorization, call, &priced).await
        }
    }
}

async fn carry(
    proxy: &Proxy,
    agent: &AgentName,
    authorization: &Authorization,
    call: &Call,
    priced: &Priced,
) -> Result<Response, StripeError> {
    let body = if priced.creates {
        Bytes::from(append_metadata(
            &call.body,
            AUTHORIZATION_METADATA,
            &authorization.id,
        ))
    } else {
        call.body.clone()
    };
    let content_type = if body.is_empty() {
        call.content_type.clone()
    } else {
        Some(HeaderValue::from_static(
            "application/x-www-form-urlencoded",
        ))
    };
    let order = Order {
        authorization_id: authorization.id.clone(),
        idempotency_key: format!("purser-{}", authorization.id),
        method: call.method.clone(),
        path: call.path.clone(),
        content_type,
        body,
        headers: call.headers.clone(),
    };
    let inner = &proxy.inner;
    let carried = carry_out(
        inner.app.authorizer(),
        &inner.receipts,
        inner.rail.as_ref(),
        agent,
        &order,
    )
    .await
    .map_err(|error| StripeError::from_api(error.into()))?;
    match carried {
        CarriedOut::Answer(receipt) => {
            let status = StatusCode::from_u16(receipt.status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut response = Response::new(Body::from(receipt.body));
            *response.status_mut() = status;
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Ok(id) = HeaderValue::from_str(&authorization.id) {
                headers.insert("purser-authorization", id);
            }
            Ok(response)
        }
        CarriedOut::Unknown(what) => Err(StripeError::upstream_unknown(
            Some(&authorization.id),
            &what,
        )),
        CarriedOut::NotHeld(status) => {
            Err(StripeError::not_held(&authorization.id, status.as_str()))
        }
    }
}

/// Was `authorization` made by the Stripe proxy (a manual hold with its context)?
pub fn is_proxy_hold(authorization: &Authorization) -> bool {
    authorization.capture == CaptureMode::Manual
        && authorization
            .context
            .as_ref()
            .is_some_and(|context| context.contains_key(CONTEXT_MARKER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(method: &str, path: &str) -> Endpoint {
        classify(&method.parse().unwrap_or(Method::GET), path)
    }

    #[test]
    fn reads_pass_money_is_authorized_the_rest_is_refused() {
        assert_eq!(endpoint("GET", "/v1/payment_intents"), Endpoint::Read);
        assert_eq!(endpoint("GET", "/v1/balance"), Endpoint::Read);
        assert_eq!(
            endpoint("POST", "/v1/payment_intents"),
            Endpoint::Money(Money::CreatePaymentIntent)
        );
        assert_eq!(
            endpoint("POST", "/v1/payment_intents/pi_1/confirm"),
            Endpoint::Money(Money::ConfirmPaymentIntent("pi_1".into()))
        );
        assert_eq!(
            endpoint("POST", "/v1/payment_intents/pi_1/capture"),
            Endpoint::Money(Money::CapturePaymentIntent("pi_1".into()))
        );
        assert_eq!(
            endpoint("POST", "/v1/charges"),
            Endpoint::Money(Money::CreateCharge)
        );
        assert_eq!(
            endpoint("POST", "/v1/charges/ch_1/capture"),
            Endpoint::Money(Money::CaptureCharge("ch_1".into()))
        );
        assert_eq!(
            endpoint("POST", "/v1/payment_links"),
            Endpoint::Money(Money::CreatePaymentLink)
        );
        assert_eq!(
            endpoint("POST", "/v1/invoices/in_1/pay"),
            Endpoint::Money(Money::PayInvoice("in_1".into()))
        );
        assert_eq!(
            endpoint("POST", "/v1/refunds"),
            Endpoint::Money(Money::CreateRefund)
        );
        assert_eq!(
            endpoint("POST", "/v1/customers"),
            Endpoint::Write(WriteGuard::None)
        );
        assert_eq!(
            endpoint("POST", "/v1/payment_intents/pi_1"),
            Endpoint::Write(WriteGuard::KeepAmount)
        );
        assert_eq!(
            endpoint("POST", "/v1/invoices"),
            Endpoint::Write(WriteGuard::NoAutoAdvance)
        );
        for (method, path) in [
            ("POST", "/v1/payouts"),
            ("POST", "/v1/transfers"),
            ("POST", "/v1/subscriptions"),
            ("POST", "/v1/checkout/sessions"),
            ("POST", "/v1/payment_intents/pi_1/increment_authorization"),
            ("POST", "/v1/topups"),
            ("DELETE", "/v1/payment_intents/pi_1"),
            ("PUT", "/v1/customers"),
            ("POST", "/v2/core/accounts"),
            ("GET", "/v1/../admin"),
            ("GET", "/v1//x"),
        ] {
            assert!(
                matches!(endpoint(method, path), Endpoint::Refused(_)),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn idempotency_keys_map_to_request_ids() {
        let key = HeaderValue::from_static("0b8f2c1e-5a5b-4c1e-9a77-1f0e2f9d7c11");
        assert_eq!(
            request_id_for(Some(&key)).ok().map(|id| id.to_string()),
            Some("stripe:0b8f2c1e-5a5b-4c1e-9a77-1f0e2f9d7c11".into())
        );
        let odd = HeaderValue::from_static("order #12 / retry");
        let mapped = request_id_for(Some(&odd))
            .ok()
            .map(|id| id.to_string())
            .unwrap_or_default();
        assert!(mapped.starts_with("stripe:sha256:"), "{mapped}");
        assert_eq!(
            request_id_for(Some(&odd)).ok().map(|id| id.to_string()),
            Some(mapped),
            "the same key maps to the same request id"
        );
        let fresh = |_| request_id_for(None).ok().map(|id| id.to_string());
        assert_ne!(fresh(1), fresh(2));
    }

    #[test]
    fn payment_links_total_their_fixed_prices() {
        let form = |body: &[u8]| {
            Form::parse(Some("application/x-www-form-urlencoded"), body).unwrap_or_default()
        };
        let items = link_items(&form(
            b"line_items[0][price]=price_a&line_items[0][quantity]=3&line_items[1][price]=price_b",
        ))
        .unwrap_or_default();
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].quantity, items[1].quantity), (3, 1));
        let prices = [
            json!({"id": "price_a", "unit_amount": 1250, "currency": "usd", "recurring": null}),
            json!({"id": "price_b", "unit_amount": 500, "currency": "USD"}),
        ];
        assert_eq!(
            link_total(&items, &prices).ok(),
            Some((4_250, "usd".to_owned()))
        );

        let refused = |prices: &[Value]| link_total(&items, prices).err().map(|e| e.code.clone());
        let recurring = [
            json!({"unit_amount": 1250, "currency": "usd", "recurring": {"interval": "month"}}),
            prices[1].clone(),
        ];
        assert_eq!(refused(&recurring).as_deref(), Some("purser_refused"));
        let custom = [
            json!({"unit_amount": null, "currency": "usd", "custom_unit_amount": {}}),
            prices[1].clone(),
        ];
        assert_eq!(refused(&custom).as_deref(), Some("purser_refused"));
        let mixed = [
            prices[0].clone(),
            json!({"unit_amount": 500, "currency": "eur"}),
        ];
        assert_eq!(refused(&mixed).as_deref(), Some("purser_invalid_request"));
        let huge = [
            json!({"unit_amount": u64::MAX, "currency": "usd"}),
            prices[1].clone(),
        ];
        assert_eq!(refused(&huge).as_deref(), Some("purser_invalid_request"));

        assert!(
            link_items(&form(
                b"line_items[0][price]=p&line_items[0][adjustable_quantity][enabled]=true"
            ))
            .is_err()
        );
        assert!(link_items(&form(b"line_items[0][price]=p&line_items[0][quantity]=0")).is_err());
        assert!(link_items(&form(b"line_items[0][quantity]=2")).is_err());
        assert!(link_items(&form(b"after_completion[type]=redirect")).is_err());
    }

    #[test]
    fn objects_are_priced_from_their_own_fields() {
        let invoice = json!({"id": "in_1", "amount_due": 5000, "amount_remaining": 4000, "currency": "EUR",
                             "customer": "cus_1", "customer_name": "Acme GmbH", "metadata": {}});
        let minor =
            positive(&invoice, "amount_remaining").or_else(|| positive(&invoice, "amount_due"));
        let priced =
            priced_object(&invoice, "in_1", minor, None).unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!((priced.minor, priced.currency.as_str()), (4000, "eur"));
        assert_eq!(priced.merchant.as_deref(), Some("Acme GmbH"));
        assert_eq!(priced.object.as_deref(), Some("in_1"));
        assert!(!priced.creates);
        let tagged = json!({"amount": 700, "currency": "usd", "description": "Order 7",
                            "metadata": {"merchant": "shop.example", "category": "hardware"}});
        let priced = priced_object(&tagged, "pi_7", Some(700), None)
            .unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(priced.merchant.as_deref(), Some("shop.example"));
        assert_eq!(priced.purpose.as_deref(), Some("Order 7"));
        assert_eq!(priced.category.as_deref(), Some("hardware"));
        assert!(
            priced_object(&tagged, "pi_7", None, None).is_err(),
            "no amount, no authorization"
        );
        assert!(
            priced_object(&json!({"amount": 1}), "pi_8", Some(1), None).is_err(),
            "no currency"
        );
    }

    #[test]
    fn write_guards() {
        let form = |body: &[u8]| {
            Form::parse(Some("application/x-www-form-urlencoded"), body).unwrap_or_default()
        };
        assert!(check_write(WriteGuard::KeepAmount, &form(b"description=x")).is_ok());
        assert!(check_write(WriteGuard::KeepAmount, &form(b"amount=99999")).is_err());
        assert!(check_write(WriteGuard::NoAutoAdvance, &form(b"customer=cus_1")).is_err());
        assert!(
            check_write(
                WriteGuard::NoAutoAdvance,
                &form(b"customer=cus_1&auto_advance=false")
            )
            .is_ok()
        );
    }
}
