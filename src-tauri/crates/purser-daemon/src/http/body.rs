//! Request bodies as far as JSON: media type, size bound, syntax, one object with unique
//! keys. [`JsonObject`] and [`OptionalJsonObject`] are the only body extractors of the
//! agent API (axum's `Json` is not used, so its rejections never reach an agent).
//!
//! This module does not know any field: `decode` turns the object into core types.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// A JSON object body; required.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonObject(pub Map<String, Value>);

/// A JSON object body that may be absent (empty body, with or without a content type).
#[derive(Debug, Clone, PartialEq)]
pub struct OptionalJsonObject(pub Option<Map<String, Value>>);

impl FromRequest<AppState> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<JsonObject, ApiError> {
        require_json_media_type(request.headers())?;
        let bytes = read_bounded(request.into_body(), state.config().body_limit_bytes).await?;
        if bytes.is_empty() {
            return Err(ApiError::invalid_json(
                "the body is empty: send a JSON object with `Content-Type: application/json`",
            ));
        }
        parse_object(&bytes).map(JsonObject)
    }
}

impl FromRequest<AppState> for OptionalJsonObject {
    type Rejection = ApiError;

    async fn from_request(
        request: Request,
        state: &AppState,
    ) -> Result<OptionalJsonObject, ApiError> {
        let (parts, body) = request.into_parts();
        let bytes = read_bounded(body, state.config().body_limit_bytes).await?;
        if bytes.is_empty() {
            return Ok(OptionalJsonObject(None));
        }
        require_json_media_type(&parts.headers)?;
        parse_object(&bytes).map(|object| OptionalJsonObject(Some(object)))
    }
}

/// `application/json`, parameters such as `charset=utf-8` allowed.
fn require_json_media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with the header `Content-Type: application/json`",
        ))
    }
}

/// Reads the whole body, refusing it as soon as it grows past `limit` bytes, whatever
/// `Content-Length` said (or did not say).
pub(crate) async fn read_bounded(mut body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::invalid_json("the request body could not be read to its end; send it again")
        })?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(payload_too_large(limit));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

pub(crate) fn payload_too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "the body is larger than {} KiB: send less context",
            limit / 1024
        ),
    )
}

/// Syntax first (400), then shape (422): valid JSON that is not an object is a request
/// error, not a JSON error. Duplicate top-level keys are refused, so no two parsers can
/// disagree about which `amount` was meant.
fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid_json(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("the body must be a JSON object, not {}", kind_of(&value)),
        ));
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    if let Err(e) = deserializer.deserialize_map(UniqueKeys) {
        return Err(ApiError::invalid_json(format!(
            "the body is not valid JSON: {e}"
        )));
    }
    Ok(object)
}

/// What kind of JSON value this is, for messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Walks a top-level object's keys and fails on the first one seen twice.
struct UniqueKeys;

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<IgnoredAny>()?;
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate field {key:?}: send each field once"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn media_type_allows_parameters_and_case() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ok));
            assert!(require_json_media_type(&headers).is_ok(), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/jsonp",
            "application/x-www-form-urlencoded",
            "",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(bad));
            let error = require_json_media_type(&headers).unwrap_err();
            assert_eq!(error.code, ErrorCode::UnsupportedMediaType, "{bad}");
        }
        assert!(require_json_media_type(&HeaderMap::new()).is_err());
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_422() {
        assert_eq!(
            parse_object(b"{\"a\":").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            parse_object(b"[1]").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            parse_object(b"\"x\"").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            parse_object(b"{} {}").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        let duplicate = parse_object(br#"{"amount":"1","amount":"1000"}"#).unwrap_err();
        assert_eq!(duplicate.code, ErrorCode::InvalidJson);
        assert!(
            duplicate.message.contains("duplicate field \"amount\""),
            "{duplicate:?}"
        );
        let nested_duplicates_are_data = parse_object(br#"{"context":{"a":1,"a":2}}"#);
        assert!(nested_duplicates_are_data.is_ok());
    }

    #[tokio::test]
    async fn bounded_read_refuses_one_byte_too_many() {
        let exact = read_bounded(Body::from(vec![b' '; 10]), 10).await.unwrap();
        assert_eq!(exact.len(), 10);
        let over = read_bounded(Body::from(vec![b' '; 11]), 10)
            .await
            .unwrap_err();
        assert_eq!(over.code, ErrorCode::PayloadTooLarge);
    }
}
