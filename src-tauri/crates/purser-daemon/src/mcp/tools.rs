//! The six MCP tools: their names, what they tell the model, their input schemas, how
//! their arguments become an [`AgentCall`], and how an answer becomes a tool result.
//!
//! Arguments are the agent API's own fields. Only the tool-specific ones (`id`,
//! `wait_seconds`, `session_id` of `get_budget`) are read here; everything else goes to
//! the daemon as the request body, so it is validated by the same decoder, with the same
//! messages naming the same fields, as an HTTP request. The schema structs below exist
//! only to describe those fields to the model (schemars); a unit test keeps them in step
//! with the decoder's field lists.

#![expect(
    dead_code,
    reason = "the argument structs are read only by schemars, to describe the tools' inputs"
)]

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{CallToolResult, Content, JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde_json::{Map, Value};

use super::backend::{AgentCall, AgentError};

pub const REQUEST_PAYMENT_AUTHORIZATION: &str = "request_payment_authorization";
pub const GET_AUTHORIZATION: &str = "get_authorization";
pub const CAPTURE_AUTHORIZATION: &str = "capture_authorization";
pub const VOID_AUTHORIZATION: &str = "void_authorization";
pub const RECORD_USAGE: &str = "record_usage";
pub const GET_BUDGET: &str = "get_budget";

/// Every tool, in the order they are listed.
pub const TOOL_NAMES: [&str; 6] = [
    REQUEST_PAYMENT_AUTHORIZATION,
    GET_AUTHORIZATION,
    CAPTURE_AUTHORIZATION,
    VOID_AUTHORIZATION,
    RECORD_USAGE,
    GET_BUDGET,
];

/// How long `request_payment_authorization` waits for the principal by default. Under
/// the 60 s request timeout common MCP clients apply.
pub const DEFAULT_WAIT_SECONDS: u64 = 30;
/// The longest wait a tool accepts (the agent API's `?wait=` maximum).
pub const MAX_WAIT_SECONDS: u64 = 120;

/// What the server tells the model when it connects.
pub const INSTRUCTIONS: &str = "Purser is the spending authorizer your principal (the human who owns this agent's wallet) put in front of every payment. Before you pay anything, call request_payment_authorization and follow the status it returns: pay only when it is approved, and exactly what was approved. A denial is final for that payment: do not retry it smaller, split, under another merchant name or with a new request_id. Meter small per-action costs with record_usage; check what is left with get_budget. If Purser cannot be reached, do not pay.";

const REQUEST_PAYMENT_DESCRIPTION: &str = "Ask permission BEFORE spending money (a purchase, a subscription, API credits, an x402 or card payment). Send the payment exactly as you intend to make it; the principal's policy decides and the decision is recorded in an audit trail the principal reads.

The answer's `status`:
- `approved`: you may pay exactly `amount` `currency` to `merchant`, nothing more. If you asked for capture=\"manual\", this is a hold: after paying, call capture_authorization with the final amount (at most the approved one), or void_authorization if you do not pay.
- `pending`: a human must decide. This tool already waits up to wait_seconds (default 30, at most 120). If it is still pending, do not pay and do not send a new request: call get_authorization with the same `id` and wait_seconds to keep waiting. An unanswered request expires at `expires_at` (= denied).
- `denied` (also `expired`, `cancelled`): do NOT pay. `reason.code` and `reason.message` say why; tell the user. Do not retry with a smaller amount, by splitting the payment into several requests, under another merchant name or with a new request_id to get around the limit: velocity and budget rules count every attempt (splitting fails anyway) and the principal sees them all.

Retrying after a timeout or a lost answer is safe: send the SAME request_id with the SAME fields and you get the same decision, never a second payment. The same request_id with different fields is refused (idempotency_conflict): a new payment needs a new request_id. An error result means nothing was approved: do not pay.";

const GET_AUTHORIZATION_DESCRIPTION: &str = "Read one of your authorizations by its `id` (from request_payment_authorization), e.g. to learn the principal's decision on a `pending` request. With wait_seconds > 0 (at most 120) the answer is held while it is still pending, until the principal decides or the time is up. Follow the `status` as for request_payment_authorization: pay only if `approved`.";

const CAPTURE_DESCRIPTION: &str = "For an approved manual-capture hold (capture=\"manual\"): record what you actually paid. `amount` is optional (default: the whole approved amount) and may not exceed it; the rest of the hold is released. Call it once, after the payment went through.";

const VOID_DESCRIPTION: &str = "Release an approved manual-capture hold you will not use, or withdraw a `pending` request you no longer need. Nothing is spent.";

const RECORD_USAGE_DESCRIPTION: &str = "Meter a small per-action cost that is too small to ask for each time (a web search, a model call): `units` × `unit_cost` in `currency`, e.g. 3 × 0.002 USD. It is checked against the same budgets as payments and answered at once: `status` `approved` (go ahead) or `denied` (do not perform the action; `reason` says why). Never pending. Use a new request_id per metered action; resending the same one is a safe retry.";

const GET_BUDGET_DESCRIPTION: &str = "Your spending limits as they stand now: per currency and window (transaction, session, hour, day, week, month, total), the `limit`, what is `spent`, `held` by manual holds and `remaining`. Read-only. Pass session_id to see that session's windows.";

/// Arguments of `request_payment_authorization`: the fields of `POST /v1/authorizations`,
/// plus how long to wait for the principal.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct RequestPaymentArgs {
    /// Your idempotency key for this payment, unique per agent: 1-128 of A-Z a-z 0-9 . _ : -. Reuse it only to retry the same request.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9._:-]+$"))]
    request_id: String,
    /// The amount as an exact decimal STRING, greater than zero, at most 6 decimals, e.g. "12.50". Never a number.
    #[schemars(regex(pattern = r"^[0-9]{1,12}(\.[0-9]{1,6})?$"))]
    amount: String,
    /// Currency or asset code: 3-10 uppercase letters or digits, e.g. "USD", "EUR", "USDC".
    #[schemars(regex(pattern = r"^[A-Z0-9]{3,10}$"))]
    currency: String,
    /// Who is paid: a host name, a Stripe account, an x402 payTo address (1-200 characters).
    #[schemars(length(min = 1, max = 200))]
    merchant: String,
    /// Optional category slug (lowercase a-z 0-9 _ -), e.g. "software".
    #[schemars(regex(pattern = r"^[a-z0-9_-]{1,64}$"))]
    category: Option<String>,
    /// Optional payment rail slug, e.g. "card", "stripe", "x402", "usdc".
    #[schemars(regex(pattern = r"^[a-z0-9_-]{1,64}$"))]
    rail: Option<String>,
    /// "auto" (default: approval means spent) or "manual" (a hold you capture or void later).
    capture: Option<CaptureArg>,
    /// Optional run or conversation id; scopes session budgets and session grants.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9._:-]+$"))]
    session_id: Option<String>,
    /// Why you want to spend, in 1-1000 characters: the principal reads it before deciding.
    #[schemars(length(min = 1, max = 1000))]
    purpose: String,
    /// Optional JSON object (at most 16 KiB) kept in the audit trail, e.g. {"url": "...", "task": "..."}.
    context: Option<Map<String, Value>>,
    /// Seconds to wait for the principal while the decision is pending: 0-120, default 30.
    #[schemars(range(min = 0, max = 120))]
    wait_seconds: Option<u64>,
}

#[derive(JsonSchema)]
#[schemars(rename_all = "snake_case")]
enum CaptureArg {
    Auto,
    Manual,
}

/// Arguments of `get_authorization`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct GetAuthorizationArgs {
    /// The authorization's `id` (e.g. "auth_01M8..."), not your request_id.
    #[schemars(length(min = 1, max = 128))]
    id: String,
    /// Seconds to wait while it is pending: 0-120, default 0 (answer at once).
    #[schemars(range(min = 0, max = 120))]
    wait_seconds: Option<u64>,
}

/// Arguments of `capture_authorization`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct CaptureArgs {
    /// The approved manual hold's `id`.
    #[schemars(length(min = 1, max = 128))]
    id: String,
    /// What you actually paid, as a decimal string, at most the approved amount. Default: all of it.
    #[schemars(regex(pattern = r"^[0-9]{1,12}(\.[0-9]{1,6})?$"))]
    amount: Option<String>,
}

/// Arguments of `void_authorization`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct VoidArgs {
    /// The hold's or pending request's `id`.
    #[schemars(length(min = 1, max = 128))]
    id: String,
}

/// Arguments of `record_usage`: the fields of `POST /v1/usage`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct RecordUsageArgs {
    /// Your idempotency key for this metered action (1-128 of A-Z a-z 0-9 . _ : -).
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9._:-]+$"))]
    request_id: String,
    /// The action's slug (lowercase a-z 0-9 _ -), e.g. "web_search".
    #[schemars(regex(pattern = r"^[a-z0-9_-]{1,64}$"))]
    action: String,
    /// How many units, as a decimal string, e.g. "3".
    #[schemars(regex(pattern = r"^[0-9]{1,12}(\.[0-9]{1,6})?$"))]
    units: String,
    /// The cost of one unit, as a decimal string, e.g. "0.002".
    #[schemars(regex(pattern = r"^[0-9]{1,12}(\.[0-9]{1,6})?$"))]
    unit_cost: String,
    /// Currency code, e.g. "USD".
    #[schemars(regex(pattern = r"^[A-Z0-9]{3,10}$"))]
    currency: String,
    /// Optional run or conversation id (session budgets).
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9._:-]+$"))]
    session_id: Option<String>,
}

/// Arguments of `get_budget`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct GetBudgetArgs {
    /// Optional: also show this session's `session` windows.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9._:-]+$"))]
    session_id: Option<String>,
}

/// Every tool, as `tools/list` shows it.
pub fn tools() -> Vec<Tool> {
    TOOL_NAMES.iter().filter_map(|name| tool(name)).collect()
}

/// The tool called `name`.
pub fn tool(name: &str) -> Option<Tool> {
    let (title, description, schema, annotations): (_, _, Arc<JsonObject>, _) = match name {
        REQUEST_PAYMENT_AUTHORIZATION => (
            "Request payment authorization",
            REQUEST_PAYMENT_DESCRIPTION,
            schema_for_type::<RequestPaymentArgs>(),
            // The same request_id answers the same decision: a retry is harmless.
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        ),
        GET_AUTHORIZATION => (
            "Get authorization",
            GET_AUTHORIZATION_DESCRIPTION,
            schema_for_type::<GetAuthorizationArgs>(),
            ToolAnnotations::new().read_only(true).open_world(false),
        ),
        CAPTURE_AUTHORIZATION => (
            "Capture authorization",
            CAPTURE_DESCRIPTION,
            schema_for_type::<CaptureArgs>(),
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .idempotent(false)
                .open_world(false),
        ),
        VOID_AUTHORIZATION => (
            "Void authorization",
            VOID_DESCRIPTION,
            schema_for_type::<VoidArgs>(),
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .idempotent(true)
                .open_world(false),
        ),
        RECORD_USAGE => (
            "Record usage",
            RECORD_USAGE_DESCRIPTION,
            schema_for_type::<RecordUsageArgs>(),
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        ),
        GET_BUDGET => (
            "Get budget",
            GET_BUDGET_DESCRIPTION,
            schema_for_type::<GetBudgetArgs>(),
            ToolAnnotations::new().read_only(true).open_world(false),
        ),
        _ => return None,
    };
    Some(
        Tool::new(name.to_owned(), description, schema)
            .with_title(title)
            .annotate(annotations),
    )
}

/// The [`AgentCall`] of tool `name` with `arguments`, or the refusal to show the model.
pub fn agent_call(
    name: &str,
    arguments: Option<Map<String, Value>>,
) -> Result<AgentCall, AgentError> {
    let mut args = arguments.unwrap_or_default();
    match name {
        REQUEST_PAYMENT_AUTHORIZATION => {
            let wait_seconds = take_wait(&mut args, DEFAULT_WAIT_SECONDS)?;
            Ok(AgentCall::Authorize {
                body: args,
                wait_seconds,
            })
        }
        GET_AUTHORIZATION => {
            let id = take_id(&mut args)?;
            let wait_seconds = take_wait(&mut args, 0)?;
            no_other_fields(&args, "id, wait_seconds")?;
            Ok(AgentCall::Get { id, wait_seconds })
        }
        CAPTURE_AUTHORIZATION => {
            let id = take_id(&mut args)?;
            // The rest is capture's body ({"amount"}), checked by the daemon.
            let body = (!args.is_empty()).then_some(args);
            Ok(AgentCall::Capture { id, body })
        }
        VOID_AUTHORIZATION => {
            let id = take_id(&mut args)?;
            no_other_fields(&args, "id")?;
            Ok(AgentCall::Void { id })
        }
        RECORD_USAGE => Ok(AgentCall::Usage { body: args }),
        GET_BUDGET => {
            let session_id = match args.remove("session_id") {
                None | Some(Value::Null) => None,
                Some(Value::String(session)) => Some(session),
                Some(other) => {
                    return Err(invalid(
                        "session_id",
                        format!("session_id must be a string, not {}", kind_of(&other)),
                    ));
                }
            };
            no_other_fields(&args, "session_id")?;
            Ok(AgentCall::Budget { session_id })
        }
        _ => Err(AgentError {
            status: 404,
            code: "not_found".into(),
            message: format!(
                "there is no tool {name:?}; the tools are {}",
                TOOL_NAMES.join(", ")
            ),
            field: None,
        }),
    }
}

fn take_id(args: &mut Map<String, Value>) -> Result<String, AgentError> {
    match args.remove("id") {
        Some(Value::String(id)) => Ok(id),
        None | Some(Value::Null) => Err(invalid(
            "id",
            "id is required: the authorization's id, e.g. \"auth_01M8...\", from request_payment_authorization",
        )),
        Some(other) => Err(invalid(
            "id",
            format!("id must be a string, not {}", kind_of(&other)),
        )),
    }
}

fn take_wait(args: &mut Map<String, Value>, default: u64) -> Result<u64, AgentError> {
    let out_of_range = || {
        invalid(
            "wait_seconds",
            format!("wait_seconds must be a whole number of seconds from 0 to {MAX_WAIT_SECONDS}"),
        )
    };
    match args.remove("wait_seconds") {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(number)) => number
            .as_u64()
            .filter(|secs| *secs <= MAX_WAIT_SECONDS)
            .ok_or_else(out_of_range),
        Some(_) => Err(out_of_range()),
    }
}

fn no_other_fields(args: &Map<String, Value>, allowed: &str) -> Result<(), AgentError> {
    match args.keys().next() {
        Some(unknown) => Err(invalid(
            unknown,
            format!("unknown argument {unknown:?}: this tool takes {allowed}"),
        )),
        None => Ok(()),
    }
}

fn invalid(field: &str, message: impl Into<String>) -> AgentError {
    AgentError {
        status: 422,
        code: "invalid_request".into(),
        message: message.into(),
        field: Some(field.to_owned()),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A successful answer: the agent API's JSON as structured content and as text, then
/// one sentence on what to do next.
pub fn success(tool: &str, answer: Value) -> CallToolResult {
    let next = next_step(tool, &answer);
    let mut result = CallToolResult::structured(answer);
    if let Some(next) = next {
        result.content.push(Content::text(next));
    }
    result
}

/// A refusal: the contract's error JSON, flagged as a tool error, and what it means.
pub fn failure(error: &AgentError) -> CallToolResult {
    let advice = match error.code.as_str() {
        "idempotency_conflict" => {
            " This request_id was already used with different fields: resend the original fields to get its decision, or use a new request_id for a new payment."
        }
        "unauthenticated" => {
            " The agent token was refused: the principal must issue one (`purser agent add`)."
        }
        "rate_limited" => " Wait a little and retry the same call.",
        "unavailable" => " Nothing was approved: do not pay.",
        "invalid_request" | "invalid_json" => " Fix the argument and call again.",
        _ => "",
    };
    let mut result = CallToolResult::structured_error(error.to_json());
    result.content.push(Content::text(format!(
        "Refused ({}, HTTP {}): {}{advice}",
        error.code, error.status, error.message
    )));
    result
}

/// What the model should do with `answer`.
fn next_step(tool: &str, answer: &Value) -> Option<String> {
    if tool == GET_BUDGET {
        return None;
    }
    let text = |key: &str| answer[key].as_str().unwrap_or("");
    let reason = format!(
        "{}: {}",
        answer["reason"]["code"].as_str().unwrap_or("unknown"),
        answer["reason"]["message"].as_str().unwrap_or("")
    );
    if tool == RECORD_USAGE {
        return Some(match text("status") {
            "approved" => format!(
                "Approved: go ahead; {} {} metered.",
                answer["metering"]["cost"].as_str().unwrap_or(""),
                answer["metering"]["currency"].as_str().unwrap_or("")
            ),
            _ => format!("Denied ({reason}). Do not perform this action."),
        });
    }
    let id = text("id");
    Some(match text("status") {
        "approved" if text("capture") == "manual" => format!(
            "Approved hold: you may pay up to {} {} to {}. After paying, call capture_authorization with id {id:?} and the amount paid; if you do not pay, call void_authorization.",
            text("amount"),
            text("currency"),
            text("merchant")
        ),
        "approved" => format!(
            "Approved: you may pay exactly {} {} to {}.",
            text("amount"),
            text("currency"),
            text("merchant")
        ),
        "pending" => format!(
            "Pending ({reason}). The principal has not decided yet: do not pay. Call get_authorization with id {id:?} and wait_seconds (up to {MAX_WAIT_SECONDS}) to wait for the decision; do not send a new request. It expires at {}.",
            text("expires_at")
        ),
        "captured" => format!(
            "Captured: {} {} is recorded as spent.",
            text("captured_amount"),
            text("currency")
        ),
        "voided" => "Voided: nothing is spent.".to_owned(),
        // denied, expired, cancelled
        _ => format!(
            "Not approved ({reason}). Do not pay. Do not retry with a smaller or split amount, another merchant name or a new request_id to get around this; tell the user why."
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn properties(name: &str) -> Vec<String> {
        let tool = tool(name).unwrap();
        let mut keys: Vec<String> = tool.input_schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    fn sorted(fields: &[&str]) -> Vec<String> {
        let mut fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        fields.sort();
        fields
    }

    #[test]
    fn tool_inputs_are_the_agent_api_fields() {
        use crate::http::decode::{AUTHORIZATION_FIELDS, USAGE_FIELDS};
        let mut payment = AUTHORIZATION_FIELDS.to_vec();
        payment.push("wait_seconds");
        assert_eq!(properties(REQUEST_PAYMENT_AUTHORIZATION), sorted(&payment));
        assert_eq!(properties(RECORD_USAGE), sorted(USAGE_FIELDS));
        assert_eq!(properties(CAPTURE_AUTHORIZATION), sorted(&["amount", "id"]));
        assert_eq!(
            properties(GET_AUTHORIZATION),
            sorted(&["id", "wait_seconds"])
        );
        assert_eq!(properties(VOID_AUTHORIZATION), sorted(&["id"]));
        assert_eq!(properties(GET_BUDGET), sorted(&["session_id"]));
        let schema = &tool(REQUEST_PAYMENT_AUTHORIZATION).unwrap().input_schema;
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort_unstable();
        assert_eq!(
            required,
            ["amount", "currency", "merchant", "purpose", "request_id"]
        );
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn every_tool_is_listed_once_with_a_description() {
        let tools = tools();
        assert_eq!(tools.len(), TOOL_NAMES.len());
        for tool in &tools {
            assert!(tool.description.as_ref().is_some_and(|d| d.len() > 40));
        }
        assert!(tool("approve").is_none());
        let description = tool(REQUEST_PAYMENT_AUTHORIZATION)
            .unwrap()
            .description
            .unwrap();
        for must in ["pending", "denied", "split", "same request_id"] {
            assert!(description.contains(must), "{must}");
        }
    }

    #[test]
    fn arguments_become_agent_calls() {
        let args = |value: Value| value.as_object().cloned();
        let call = agent_call(
            REQUEST_PAYMENT_AUTHORIZATION,
            args(json!({"request_id": "r", "amount": "1.00", "wait_seconds": 5})),
        )
        .unwrap();
        let AgentCall::Authorize { body, wait_seconds } = call else {
            panic!("{call:?}")
        };
        assert_eq!(wait_seconds, 5);
        assert_eq!(
            Value::Object(body),
            json!({"request_id": "r", "amount": "1.00"})
        );
        let call = agent_call(REQUEST_PAYMENT_AUTHORIZATION, args(json!({}))).unwrap();
        assert!(matches!(
            call,
            AgentCall::Authorize {
                wait_seconds: DEFAULT_WAIT_SECONDS,
                ..
            }
        ));
        for bad in [json!(121), json!(-1), json!(1.5), json!("30")] {
            let error = agent_call(
                GET_AUTHORIZATION,
                args(json!({"id": "a", "wait_seconds": bad})),
            )
            .unwrap_err();
            assert_eq!(error.field.as_deref(), Some("wait_seconds"));
        }
        assert_eq!(
            agent_call(GET_AUTHORIZATION, None)
                .unwrap_err()
                .field
                .as_deref(),
            Some("id")
        );
        assert_eq!(
            agent_call(VOID_AUTHORIZATION, args(json!({"id": "a", "x": 1})))
                .unwrap_err()
                .field
                .as_deref(),
            Some("x")
        );
        assert_eq!(
            agent_call(CAPTURE_AUTHORIZATION, args(json!({"id": "a"}))).unwrap(),
            AgentCall::Capture {
                id: "a".into(),
                body: None
            }
        );
        assert_eq!(agent_call("approve", None).unwrap_err().code, "not_found");
    }

    #[test]
    fn results_say_what_to_do_next() {
        let denied = success(
            REQUEST_PAYMENT_AUTHORIZATION,
            json!({"id": "auth_1", "status": "denied", "reason": {"code": "over_budget", "message": "m"}}),
        );
        assert_eq!(denied.is_error, Some(false));
        assert_eq!(
            denied.structured_content.as_ref().unwrap()["status"],
            "denied"
        );
        let text = format!("{:?}", denied.content);
        assert!(text.contains("Do not pay"), "{text}");
        let error = failure(&AgentError::unavailable("down"));
        assert_eq!(error.is_error, Some(true));
        assert_eq!(
            error.structured_content.unwrap()["error"]["code"],
            "unavailable"
        );
    }
}
