//! Agent JSON → purser-core types, one field at a time, so that every refusal names the
//! field at fault and says how to fix it (422 `invalid_request`).
//!
//! Validation rules live in the core types' parsers ([`Amount`], [`Currency`],
//! [`RequestId`], ...); this module only adds what is specific to the wire: JSON types
//! (money is a string, never a number), unknown fields, required fields and the size of
//! free-form parts. It never touches the store.

use std::str::FromStr;

use purser_core::names::NameError;
use purser_core::{
    AgentName, Amount, AuthorizationRequest, CaptureMode, Currency, Merchant, RequestId,
    RequestKind, SessionId, Slug,
};
use serde_json::{Map, Value};

use super::body::kind_of;
use super::error::{ApiError, ErrorCode};

/// Longest `purpose`, in characters.
pub const MAX_PURPOSE_CHARS: usize = 1_000;
/// Largest `context` object, serialized, in bytes.
pub const MAX_CONTEXT_BYTES: usize = 16 * 1024;

/// The fields of `POST /v1/authorizations`.
pub const AUTHORIZATION_FIELDS: &[&str] = &[
    "request_id",
    "amount",
    "currency",
    "merchant",
    "category",
    "rail",
    "capture",
    "session_id",
    "purpose",
    "context",
];
/// The fields of `POST /v1/usage`.
pub const USAGE_FIELDS: &[&str] = &[
    "request_id",
    "action",
    "units",
    "unit_cost",
    "currency",
    "session_id",
];
/// The fields of `POST /v1/authorizations/{id}/capture`.
pub const CAPTURE_FIELDS: &[&str] = &["amount"];

/// `POST /v1/authorizations`: a payment request of `agent`.
pub fn authorization_request(
    agent: &AgentName,
    body: &Map<String, Value>,
) -> Result<AuthorizationRequest, ApiError> {
    let fields = Fields::new(body, AUTHORIZATION_FIELDS)?;
    let request_id = fields.required_parsed::<RequestId>("request_id")?;
    let amount = fields.required_amount("amount", "12.50")?;
    let currency = fields.required_currency()?;
    let merchant = fields.required_parsed::<Merchant>("merchant")?;
    let category = fields.optional_parsed::<Slug>("category")?;
    let rail = fields.optional_parsed::<Slug>("rail")?;
    let capture = fields.capture_mode()?;
    let session_id = fields.optional_parsed::<SessionId>("session_id")?;
    let purpose = fields.purpose()?;
    let context = fields.context()?;
    Ok(AuthorizationRequest {
        agent: agent.clone(),
        request_id,
        kind: RequestKind::Payment,
        amount,
        currency,
        merchant,
        category,
        rail,
        capture,
        session_id,
        purpose,
        context,
    })
}

/// `POST /v1/usage`: a metered cost of `agent`; `amount` is `unit_cost × units`, exactly.
pub fn usage_request(
    agent: &AgentName,
    body: &Map<String, Value>,
) -> Result<AuthorizationRequest, ApiError> {
    let fields = Fields::new(body, USAGE_FIELDS)?;
    let request_id = fields.required_parsed::<RequestId>("request_id")?;
    let action = fields.required_parsed::<Slug>("action")?;
    let units = fields.required_amount("units", "3")?;
    let unit_cost = fields.required_amount("unit_cost", "0.002")?;
    let currency = fields.required_currency()?;
    let session_id = fields.optional_parsed::<SessionId>("session_id")?;
    let amount = unit_cost.checked_mul_quantity(units).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "the cost unit_cost × units = {unit_cost} × {units} is not a whole number of micro-units (6 decimals) or is too large; meter in units whose cost is exact"
            ),
        )
    })?;
    let merchant = Merchant::from_str(action.as_str())
        .map_err(|e| ApiError::invalid_field("action", e.to_string()))?;
    Ok(AuthorizationRequest {
        agent: agent.clone(),
        request_id,
        kind: RequestKind::Usage {
            action: action.clone(),
            units,
            unit_cost,
        },
        amount,
        currency,
        merchant,
        category: None,
        rail: None,
        capture: CaptureMode::Auto,
        session_id,
        purpose: format!("metered usage: {units} × {action} at {unit_cost} each"),
        context: None,
    })
}

/// `POST /v1/authorizations/{id}/capture`: an optional amount; no body captures it all.
pub fn capture_amount(body: Option<&Map<String, Value>>) -> Result<Option<Amount>, ApiError> {
    let Some(body) = body else { return Ok(None) };
    let fields = Fields::new(body, CAPTURE_FIELDS)?;
    if fields.present("amount").is_none() {
        return Ok(None);
    }
    fields.required_amount("amount", "12.50").map(Some)
}

/// A body's fields, checked for unknown names up front.
struct Fields<'a> {
    body: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(body: &'a Map<String, Value>, allowed: &[&str]) -> Result<Fields<'a>, ApiError> {
        if let Some(unknown) = body.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(ApiError::invalid_field(
                unknown.clone(),
                format!(
                    "unknown field {unknown:?}: the fields are {}",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(Fields { body })
    }

    /// The field's value; `null` counts as absent.
    fn present(&self, name: &str) -> Option<&'a Value> {
        self.body.get(name).filter(|value| !value.is_null())
    }

    fn required(&self, name: &str) -> Result<&'a Value, ApiError> {
        self.present(name)
            .ok_or_else(|| ApiError::invalid_field(name, format!("{name} is required")))
    }

    fn string(name: &str, value: &'a Value) -> Result<&'a str, ApiError> {
        value.as_str().ok_or_else(|| {
            ApiError::invalid_field(
                name,
                format!("{name} must be a JSON string, not {}", kind_of(value)),
            )
        })
    }

    fn required_parsed<T: FromStr<Err = NameError>>(&self, name: &str) -> Result<T, ApiError> {
        let text = Self::string(name, self.required(name)?)?;
        parse_name(name, text)
    }

    fn optional_parsed<T: FromStr<Err = NameError>>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(value) => parse_name(name, Self::string(name, value)?).map(Some),
        }
    }

    /// A decimal string > 0 with at most 6 decimals and 12 integer digits.
    fn required_amount(&self, name: &str, example: &str) -> Result<Amount, ApiError> {
        let value = self.required(name)?;
        let Some(text) = value.as_str() else {
            return Err(ApiError::invalid_field(
                name,
                format!(
                    "{name} must be a JSON string, not {}: send the amount as a decimal string such as \"{example}\"",
                    kind_of(value)
                ),
            ));
        };
        Amount::parse_positive(text).map_err(|e| {
            // The core's messages speak of "amount"; say the wire's field name instead.
            let message = e.to_string();
            let rest = message.strip_prefix("amount ").unwrap_or(&message);
            ApiError::invalid_field(name, format!("{name} {rest}"))
        })
    }

    fn required_currency(&self) -> Result<Currency, ApiError> {
        let text = Self::string("currency", self.required("currency")?)?;
        text.parse()
            .map_err(|e: purser_core::currency::CurrencyError| {
                ApiError::invalid_field("currency", e.to_string())
            })
    }

    fn capture_mode(&self) -> Result<CaptureMode, ApiError> {
        match self.present("capture") {
            None => Ok(CaptureMode::Auto),
            Some(value) => match Self::string("capture", value)? {
                "auto" => Ok(CaptureMode::Auto),
                "manual" => Ok(CaptureMode::Manual),
                other => Err(ApiError::invalid_field(
                    "capture",
                    format!(
                        "capture {other:?} is unknown: use \"auto\" (the default) or \"manual\""
                    ),
                )),
            },
        }
    }

    fn purpose(&self) -> Result<String, ApiError> {
        let value = self.present("purpose").ok_or_else(|| {
            ApiError::invalid_field(
                "purpose",
                "purpose is required: say in 1-1000 characters why the agent wants to spend; the principal reads it",
            )
        })?;
        let text = Self::string("purpose", value)?;
        let chars = text.chars().count();
        if text.trim().is_empty() || chars > MAX_PURPOSE_CHARS {
            return Err(ApiError::invalid_field(
                "purpose",
                format!(
                    "purpose must have 1-{MAX_PURPOSE_CHARS} characters and not be blank (it has {chars})"
                ),
            ));
        }
        Ok(text.to_owned())
    }

    fn context(&self) -> Result<Option<Map<String, Value>>, ApiError> {
        let Some(value) = self.present("context") else {
            return Ok(None);
        };
        let Value::Object(object) = value else {
            return Err(ApiError::invalid_field(
                "context",
                format!("context must be a JSON object, not {}", kind_of(value)),
            ));
        };
        let size = serde_json::to_vec(object)
            .map(|bytes| bytes.len())
            .unwrap_or(usize::MAX);
        if size > MAX_CONTEXT_BYTES {
            return Err(ApiError::invalid_field(
                "context",
                format!(
                    "context is {size} bytes as JSON; at most {MAX_CONTEXT_BYTES} (16 KiB) are kept: send a summary"
                ),
            ));
        }
        Ok(Some(object.clone()))
    }
}

/// Parses a validated name, with the wire's field name in the message.
fn parse_name<T: FromStr<Err = NameError>>(name: &str, text: &str) -> Result<T, ApiError> {
    text.parse().map_err(|e: NameError| {
        ApiError::invalid_field(name, format!("{name} {:?} is invalid: {}", e.value, e.rule))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agent() -> AgentName {
        "research-bot".parse().unwrap()
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn payment() -> Value {
        json!({
            "request_id": "order-8812-attempt",
            "amount": "12.50",
            "currency": "USD",
            "merchant": "api.example.com",
            "purpose": "Buy API credits",
        })
    }

    fn with(field: &str, value: Value) -> Map<String, Value> {
        let mut body = object(payment());
        body.insert(field.to_owned(), value);
        body
    }

    fn refusal(body: Map<String, Value>) -> ApiError {
        authorization_request(&agent(), &body).unwrap_err()
    }

    #[test]
    fn decodes_a_full_request() {
        let body = object(json!({
            "request_id": "order-8812-attempt",
            "amount": "12.5",
            "currency": "USDC",
            "merchant": "api.example.com",
            "category": "software",
            "rail": "x402",
            "capture": "manual",
            "session_id": "run-42",
            "purpose": "Buy 1 month of API credits",
            "context": {"url": "https://example.com"},
        }));
        let request = authorization_request(&agent(), &body).unwrap();
        assert_eq!(request.agent, agent());
        assert_eq!(request.amount.micros(), 12_500_000);
        assert_eq!(request.currency.as_str(), "USDC");
        assert_eq!(request.capture, CaptureMode::Manual);
        assert_eq!(request.category.unwrap().as_str(), "software");
        assert_eq!(request.session_id.unwrap().as_str(), "run-42");
        assert_eq!(request.context.unwrap()["url"], "https://example.com");
        assert_eq!(request.kind, RequestKind::Payment);
    }

    #[test]
    fn optional_fields_default_and_null_is_absent() {
        let request = authorization_request(&agent(), &with("category", Value::Null)).unwrap();
        assert_eq!(request.capture, CaptureMode::Auto);
        assert_eq!(request.category, None);
        assert_eq!(request.context, None);
    }

    #[test]
    fn money_is_only_a_decimal_string() {
        for bad in [
            json!(12.5),
            json!(12),
            json!(-1),
            json!(1e3),
            json!(true),
            json!(["1"]),
        ] {
            let error = refusal(with("amount", bad.clone()));
            assert_eq!(error.field.as_deref(), Some("amount"), "{bad}");
            assert!(
                error
                    .message
                    .contains("send the amount as a decimal string such as \"12.50\""),
                "{bad}: {}",
                error.message
            );
        }
        for bad in [
            "-1",
            "+1",
            "1e3",
            "NaN",
            "1,000",
            "0",
            "0.000",
            "1.0000001",
            "1000000000000",
            " 1",
            "",
        ] {
            let error = refusal(with("amount", json!(bad)));
            assert_eq!(error.field.as_deref(), Some("amount"), "{bad}");
            assert_eq!(error.code, super::ErrorCode::InvalidRequest);
        }
        assert!(
            refusal(with("amount", json!("1.0000001")))
                .message
                .contains("6 digits")
        );
        assert!(
            refusal(with("amount", json!("0")))
                .message
                .contains("greater than zero")
        );
    }

    #[test]
    fn every_field_error_names_its_field() {
        let cases = [
            ("request_id", json!("has space")),
            ("request_id", json!("x".repeat(129))),
            ("request_id", json!("")),
            ("request_id", json!(7)),
            ("currency", json!("usd")),
            ("merchant", json!("")),
            ("merchant", json!("m".repeat(201))),
            ("category", json!("Software")),
            ("rail", json!("card rail")),
            ("capture", json!("later")),
            ("session_id", json!("run 42")),
            ("purpose", json!("")),
            ("purpose", json!("   ")),
            ("purpose", json!("p".repeat(1001))),
            ("context", json!("not an object")),
            ("context", json!({"blob": "x".repeat(16 * 1024)})),
        ];
        for (field, value) in cases {
            let error = refusal(with(field, value.clone()));
            assert_eq!(
                error.field.as_deref(),
                Some(field),
                "{field}={value}: {error:?}"
            );
        }
    }

    #[test]
    fn missing_and_unknown_fields_are_named() {
        for field in ["request_id", "amount", "currency", "merchant", "purpose"] {
            let mut body = object(payment());
            body.remove(field);
            let error = refusal(body);
            assert_eq!(error.field.as_deref(), Some(field));
            assert!(error.message.contains("required"), "{error:?}");
        }
        let error = refusal(with("amount_usd", json!("1")));
        assert_eq!(error.field.as_deref(), Some("amount_usd"));
        assert!(error.message.contains("unknown field"));
    }

    #[test]
    fn limits_are_inclusive() {
        assert!(authorization_request(&agent(), &with("purpose", json!("p".repeat(1000)))).is_ok());
        assert!(
            authorization_request(&agent(), &with("request_id", json!("r".repeat(128)))).is_ok()
        );
        assert!(
            authorization_request(&agent(), &with("amount", json!("999999999999.999999"))).is_ok()
        );
        assert!(authorization_request(&agent(), &with("amount", json!("0.000001"))).is_ok());
    }

    #[test]
    fn usage_cost_is_the_exact_product() {
        let body = object(json!({
            "request_id": "u-1", "action": "web_search", "units": "3", "unit_cost": "0.002",
            "currency": "USD", "session_id": "run-42"
        }));
        let request = usage_request(&agent(), &body).unwrap();
        assert_eq!(request.amount.to_string(), "0.006");
        assert_eq!(request.merchant.as_str(), "web_search");
        assert!(request.is_usage());

        let inexact = object(json!({
            "request_id": "u-2", "action": "tokens", "units": "0.5", "unit_cost": "0.000001",
            "currency": "USD"
        }));
        let error = usage_request(&agent(), &inexact).unwrap_err();
        assert_eq!(error.code, super::ErrorCode::InvalidRequest);

        let float_units = object(json!({
            "request_id": "u-3", "action": "tokens", "units": 3, "unit_cost": "0.1", "currency": "USD"
        }));
        assert_eq!(
            usage_request(&agent(), &float_units)
                .unwrap_err()
                .field
                .as_deref(),
            Some("units")
        );
        let purpose = object(json!({
            "request_id": "u-4", "action": "tokens", "units": "3", "unit_cost": "0.1",
            "currency": "USD", "purpose": "x"
        }));
        assert_eq!(
            usage_request(&agent(), &purpose)
                .unwrap_err()
                .field
                .as_deref(),
            Some("purpose")
        );
    }

    #[test]
    fn capture_body_is_optional() {
        assert_eq!(capture_amount(None).unwrap(), None);
        assert_eq!(capture_amount(Some(&Map::new())).unwrap(), None);
        let some = capture_amount(Some(&object(json!({"amount": "5.00"})))).unwrap();
        assert_eq!(some.map(|a| a.micros()), Some(5_000_000));
        let error = capture_amount(Some(&object(json!({"amount": 5})))).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("amount"));
        let error = capture_amount(Some(&object(json!({"total": "5"})))).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("total"));
    }
}
