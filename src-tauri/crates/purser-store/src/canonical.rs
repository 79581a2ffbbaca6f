//! Canonical JSON (object keys sorted, no whitespace) and the request fingerprint built
//! on it. Both feed hashes — the idempotency `params_hash` and the audit chain — so the
//! same content must always give the same bytes, whatever order a client sent keys in.

use purser_core::AuthorizationRequest;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// `value` as canonical JSON text.
pub(crate) fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            out.push_str(&value.to_string());
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

/// A request ready for the writer: its canonical JSON and fingerprint are computed by
/// the caller's task, not by the single writer.
#[derive(Debug, Clone)]
pub(crate) struct PreparedRequest {
    pub request: AuthorizationRequest,
    /// Canonical JSON of the whole request (stored in `authorizations.request`).
    pub json: String,
    /// SHA-256 of `json`: an idempotent replay must match it exactly.
    pub params_hash: [u8; 32],
}

impl PreparedRequest {
    pub(crate) fn new(request: AuthorizationRequest) -> Result<PreparedRequest, StoreError> {
        let value = serde_json::to_value(&request)
            .map_err(|e| StoreError::InvalidInput(format!("request cannot be encoded: {e}")))?;
        let json = canonical_json(&value);
        let params_hash = Sha256::digest(json.as_bytes()).into();
        Ok(PreparedRequest {
            request,
            json,
            params_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,"x"],"x":null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":null,"y":[1,"x"]},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(canonical_json(&a), r#"{"a":{"x":null,"y":[1,"x"]},"b":1}"#);
        let quoted: Value = serde_json::json!({"k\"": "line\nbreak"});
        assert_eq!(canonical_json(&quoted), r#"{"k\"":"line\nbreak"}"#);
    }
}
