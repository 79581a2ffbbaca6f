//! The agent API's OpenAPI 3.1 document, generated from the code with utoipa, served at
//! `GET /v1/openapi.json` and committed as `docs/openapi.json`.
//!
//! Where it comes from:
//! - each handler carries its `#[utoipa::path(...)]` (method, path, parameters, body,
//!   its own answers) and is registered with utoipa-axum's `routes!` in `routes.rs`, so
//!   the document lists exactly the routes the router serves, from the same line;
//! - the JSON an agent receives derives its schema from the types that serialize it
//!   (`view.rs`, `error.rs`); request bodies, decoded field by field from a raw object,
//!   are described by the schema-only structs below, checked against `decode`'s field
//!   lists by the tests;
//! - [`CommonAnswers`] adds what every operation may answer (agent-api.md §1: 403 for
//!   Host/Origin, and for authenticated ones 401, 422, 429, 503; 400, 413, 415 where a
//!   body is read), so the error list lives in one place.
//!
//! Adding an endpoint: annotate its handler with `#[utoipa::path]`, register it with
//! `.routes(routes!(handler))` in `routes.rs` (not `.route`, which would leave it out of
//! the document), add any new body type to `components(schemas(...))` if it is not
//! reached from a handler, then regenerate the committed copy:
//!
//! ```sh
//! cargo run -q -p purser-cli -- openapi > docs/openapi.json
//! ```
//!
//! `docs_openapi_json_is_generated_from_the_code` (below) fails with that command when the
//! committed file differs from what the code generates, and the system tests check the
//! document against agent-api.md and run schemathesis against a live daemon.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, ObjectBuilder, OpenApi as OpenApiDocument, Ref, RefOr,
    ResponseBuilder, Type,
};
use utoipa::{Modify, OpenApi, ToSchema};

/// The security scheme of the agent token.
pub const AGENT_TOKEN: &str = "agent_token";

/// The base document: info, tags and shared schemas. The paths come from the router
/// (`routes.rs`); [`openapi`] then applies [`CommonAnswers`] to all of them.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Purser agent API",
        description = "Ask a local authorizer before spending: Purser answers approved, denied or pending (a human decides) from the principal's policy. The contract, with the reasoning behind each field and code, is docs/agent-api.md; this document is generated from the daemon's code. Money is always an exact decimal string, never a number. A denial is a normal 200 answer; errors are only for requests that could not be decided.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:7402", description = "the daemon's default agent listener (loopback only)")),
    tags(
        (name = "authorizations", description = "Ask to spend, wait for the principal, capture or void a hold"),
        (name = "usage", description = "Meter small per-action costs"),
        (name = "budget", description = "This agent's limits as they stand"),
        (name = "meta", description = "Health and this document; no token needed"),
    ),
    components(schemas(
        super::error::ErrorCode,
        super::error::ErrorBody,
        ReasonCodeSchema,
        AuthorizationStatusSchema,
    )),
)]
pub struct ApiDoc;

/// The whole document: [`ApiDoc`] plus every route of `routes.rs`.
pub fn openapi() -> OpenApiDocument {
    let mut document = super::routes::documented_routes().into_openapi();
    CommonAnswers.modify(&mut document);
    document
}

/// The document as committed in `docs/openapi.json`: pretty JSON, keys in a stable order,
/// a final newline.
pub fn openapi_json_pretty() -> String {
    let mut text = serde_json::to_string_pretty(&*DOCUMENT).unwrap_or_default();
    text.push('\n');
    text
}

static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| sorted_keys(serde_json::to_value(openapi()).unwrap_or(Value::Null)));

/// The same document with every object's keys in order: the text must not depend on
/// whether another crate of the build turned on serde_json's `preserve_order` (a
/// workspace build does, a `purser-daemon` build alone does not).
fn sorted_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: std::collections::BTreeMap<String, Value> = map
                .into_iter()
                .map(|(key, value)| (key, sorted_keys(value)))
                .collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

/// `GET /v1/openapi.json`: this document. No token needed (like health).
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "getOpenApi",
    tag = "meta",
    summary = "This OpenAPI document",
    responses((status = 200, description = "The agent API's OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub(crate) async fn openapi_json() -> Response {
    let mut response = axum::Json(&*DOCUMENT).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Adds the bearer scheme and the answers every operation shares (agent-api.md §1).
#[derive(Debug)]
pub struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.security_schemes.insert(
            AGENT_TOKEN.to_owned(),
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("purser_…")
                    .description(Some(
                        "The agent's token, issued once by `purser agent add NAME`: `Authorization: Bearer purser_…`",
                    ))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_common_answers(operation);
            }
        }
    }
}

fn add_common_answers(operation: &mut Operation) {
    let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let takes_body = operation.request_body.is_some();
    let mut answers = vec![(
        "403",
        "forbidden_host (the Host header is not a loopback name on this port) or forbidden_origin (an Origin header: browsers are not agents)",
    )];
    if authenticated {
        answers.extend([
            ("401", "unauthenticated: missing, unknown or revoked agent token"),
            ("422", "invalid_request: a field or query parameter is invalid; `field` names it"),
            ("429", "rate_limited: too many bad tokens from this address, or too many waiting requests for this agent; retry after `Retry-After` seconds"),
            ("503", "unavailable: Purser cannot durably record right now; nothing was approved (fail closed)"),
        ]);
    }
    if takes_body {
        answers.extend([
            (
                "400",
                "invalid_json: the body is not one JSON object with unique keys",
            ),
            ("413", "payload_too_large: the body is over 64 KiB"),
            (
                "415",
                "unsupported_media_type: send `Content-Type: application/json`",
            ),
        ]);
    }
    for (status, description) in answers {
        let mut response = ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        );
        if status == "429" {
            response = response.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1)),
                    )
                    .description(Some("Seconds to wait before retrying"))
                    .build(),
            );
        }
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(response.build()));
    }
}

// Schema-only types: what the wire carries, where the Rust type serializes itself.

/// An amount in a request: an exact decimal string, greater than zero, at most 12
/// integer and 6 fractional digits. Never a JSON number.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Money, value_type = String, pattern = r"^[0-9]{1,12}(\.[0-9]{1,6})?$", example = "12.50")]
pub struct MoneySchema(String);

/// An amount in an answer: a decimal string with 2 to 6 decimals, e.g. "12.50", "0.000001".
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Amount, value_type = String, pattern = r"^[0-9]{1,12}\.[0-9]{2,6}$", example = "12.50")]
pub struct AmountSchema(String);

/// A currency or asset code: 3-10 uppercase letters or digits. No conversion ever.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Currency, value_type = String, pattern = r"^[A-Z0-9]{3,10}$", example = "USD")]
pub struct CurrencySchema(String);

/// An RFC 3339 time in UTC with milliseconds.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Timestamp, value_type = String, format = DateTime, example = "2026-11-26T10:39:11.123Z")]
pub struct TimestampSchema(String);

/// Where an authorization is in its life.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = AuthorizationStatus)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationStatusSchema {
    Approved,
    Denied,
    Pending,
    Expired,
    Cancelled,
    Captured,
    Voided,
}

/// Every reason code: deny, ask (→ pending), approve.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = ReasonCode)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCodeSchema {
    KillSwitchEngaged,
    AgentFrozen,
    OutsideSchedule,
    CurrencyNotAllowed,
    RailNotAllowed,
    CategoryNotAllowed,
    MerchantBlocked,
    OverTransactionLimit,
    VelocityExceeded,
    OverBudget,
    DeniedByPrincipal,
    ApprovalExpired,
    OverApprovalThreshold,
    MerchantNotListed,
    OverBudgetNeedsApproval,
    WithinPolicy,
    ApprovedByPrincipal,
    StandingGrant,
}

/// One rule that spoke.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Reason)]
pub struct ReasonSchema {
    code: ReasonCodeSchema,
    /// What it means, for a human.
    message: String,
}

/// Who made the final decision.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = DecidedBy)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBySchema {
    Policy,
    Principal,
    KillSwitch,
    Timeout,
}

/// `auto`: approval means spent. `manual`: a hold, captured or voided later.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = CaptureMode)]
#[serde(rename_all = "snake_case")]
pub enum CaptureModeSchema {
    Auto,
    Manual,
}

/// A budget window.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Window)]
#[serde(rename_all = "snake_case")]
pub enum WindowSchema {
    Transaction,
    Session,
    Hour,
    Day,
    Week,
    Month,
    Total,
}

/// Whose spending a budget line counts.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = BudgetScope)]
#[serde(rename_all = "snake_case")]
pub enum BudgetScopeSchema {
    Shared,
    Agent,
    Session,
}

/// What happens past the limit: `deny`, or `ask` the principal.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = OnExceed)]
#[serde(rename_all = "snake_case")]
pub enum OnExceedSchema {
    Deny,
    Ask,
}

/// `POST /v1/authorizations`: a payment the agent intends to make.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = AuthorizationRequest)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationRequestSchema {
    /// Idempotency key, unique per agent: the same id with the same fields replays the
    /// decision; with different fields it is refused (409 idempotency_conflict).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[A-Za-z0-9._:-]+$",
        example = "order-8812-attempt"
    )]
    request_id: String,
    amount: MoneySchema,
    currency: CurrencySchema,
    /// Who is paid (host name, Stripe account, x402 payTo…): 1-200 characters, no
    /// control characters.
    #[schema(min_length = 1, max_length = 200, example = "api.example.com")]
    merchant: String,
    /// Category slug.
    #[schema(
        nullable = false,
        pattern = r"^[a-z0-9_-]{1,64}$",
        example = "software"
    )]
    category: Option<String>,
    /// Rail slug: card, stripe, x402, usdc…
    #[schema(nullable = false, pattern = r"^[a-z0-9_-]{1,64}$", example = "card")]
    rail: Option<String>,
    /// Default `auto`.
    #[schema(nullable = false)]
    capture: Option<CaptureModeSchema>,
    /// Scopes `session` windows and session-long standing grants.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 128,
        pattern = r"^[A-Za-z0-9._:-]+$",
        example = "run-42"
    )]
    session_id: Option<String>,
    /// Why the agent wants to spend, for the principal: 1-1000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 1000,
        example = "Buy 1 month of API credits for the report task"
    )]
    purpose: String,
    /// Any JSON object up to 16 KiB, kept in the audit trail.
    #[schema(nullable = false, value_type = Option<Object>)]
    context: Option<Value>,
}

/// `POST /v1/authorizations/{id}/capture`: how much to capture (default: all).
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = CaptureRequest)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequestSchema {
    /// At most the authorized amount.
    #[schema(nullable = false)]
    amount: Option<MoneySchema>,
}

/// `POST /v1/usage`: a metered per-action cost, `unit_cost × units`.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = UsageRequest)]
#[serde(deny_unknown_fields)]
pub struct UsageRequestSchema {
    /// Idempotency key, unique per agent.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[A-Za-z0-9._:-]+$",
        example = "search-1"
    )]
    request_id: String,
    /// The action's slug.
    #[schema(pattern = r"^[a-z0-9_-]{1,64}$", example = "web_search")]
    action: String,
    units: MoneySchema,
    unit_cost: MoneySchema,
    currency: CurrencySchema,
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 128,
        pattern = r"^[A-Za-z0-9._:-]+$",
        example = "run-42"
    )]
    session_id: Option<String>,
}

/// `POST /v1/authorizations/{id}/void`: no fields (no body, or `{}`).
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = VoidRequest)]
#[serde(deny_unknown_fields)]
pub struct VoidRequestSchema {}

/// `GET /v1/health`.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Health)]
pub struct HealthSchema {
    #[schema(example = "ok")]
    status: String,
    #[schema(example = "0.1.0")]
    version: String,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::http::decode::{AUTHORIZATION_FIELDS, CAPTURE_FIELDS, USAGE_FIELDS};

    fn schema(name: &str) -> Value {
        DOCUMENT["components"]["schemas"][name].clone()
    }

    fn property_names(name: &str) -> Vec<String> {
        let mut names: Vec<String> = schema(name)["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has properties"))
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    fn sorted(fields: &[&str]) -> Vec<String> {
        let mut fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        fields.sort();
        fields
    }

    #[test]
    fn docs_openapi_json_is_generated_from_the_code() {
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../docs/openapi.json");
        let committed = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            committed == openapi_json_pretty(),
            "docs/openapi.json is not what the code generates: run `cargo run -q -p purser-cli -- openapi > docs/openapi.json`"
        );
    }

    #[test]
    fn it_is_openapi_3_1_with_the_bearer_scheme() {
        assert_eq!(DOCUMENT["openapi"], "3.1.0");
        assert_eq!(
            DOCUMENT["components"]["securitySchemes"][AGENT_TOKEN]["scheme"],
            "bearer"
        );
        assert_eq!(DOCUMENT["info"]["version"], env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn request_bodies_are_the_decoders_fields() {
        assert_eq!(
            property_names("AuthorizationRequest"),
            sorted(AUTHORIZATION_FIELDS)
        );
        assert_eq!(property_names("UsageRequest"), sorted(USAGE_FIELDS));
        assert_eq!(property_names("CaptureRequest"), sorted(CAPTURE_FIELDS));
    }

    /// Fails to compile when a core enum gains a variant, pointing here.
    fn status_name(status: purser_core::AuthorizationStatus) -> &'static str {
        use purser_core::AuthorizationStatus::*;
        match status {
            Approved | Denied | Pending | Expired | Cancelled | Captured | Voided => {
                status.as_str()
            }
        }
    }

    #[test]
    fn enums_match_the_core_types() {
        use purser_core::{AuthorizationStatus, ReasonCode};
        let values = |name: &str| -> Vec<String> {
            schema(name)["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{name} is an enum"))
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        let statuses = [
            AuthorizationStatus::Approved,
            AuthorizationStatus::Denied,
            AuthorizationStatus::Pending,
            AuthorizationStatus::Expired,
            AuthorizationStatus::Cancelled,
            AuthorizationStatus::Captured,
            AuthorizationStatus::Voided,
        ];
        let expected: Vec<String> = statuses
            .iter()
            .map(|s| status_name(*s).to_owned())
            .collect();
        assert_eq!(values("AuthorizationStatus"), expected);
        let codes: Vec<String> = values("ReasonCode");
        assert_eq!(codes.len(), 18);
        for code in &codes {
            let parsed: ReasonCode = serde_json::from_value(Value::String(code.clone())).unwrap();
            assert_eq!(parsed.as_str(), code);
        }
        let errors = values("ErrorCode");
        assert_eq!(errors.len(), 13);
    }
}
