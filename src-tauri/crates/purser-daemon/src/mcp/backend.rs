//! [`AgentBackend`]: where the MCP tools send what the agent asked, as one of the agent
//! API's operations ([`AgentCall`]), and the JSON it answers or the contract's error.
//!
//! Two backends exist. In the daemon, [`super::LocalBackend`] calls the same functions as
//! the HTTP handlers (`http::operations`) for the agent that `/mcp` authenticated. In
//! `purser mcp` (stdio), the CLI's backend sends the call to the running daemon's agent
//! HTTP API with the agent's token. Either way the daemon's authorizer decides.

use std::future::Future;

use rmcp::RoleServer;
use rmcp::service::RequestContext;
use serde_json::{Map, Value};

/// One operation of the agent API, with the request's JSON as the agent gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentCall {
    /// `POST /v1/authorizations?wait=S` with `body`.
    Authorize {
        body: Map<String, Value>,
        wait_seconds: u64,
    },
    /// `GET /v1/authorizations/{id}?wait=S`.
    Get { id: String, wait_seconds: u64 },
    /// `POST /v1/authorizations/{id}/capture` with `body` (`{"amount"}` or nothing).
    Capture {
        id: String,
        body: Option<Map<String, Value>>,
    },
    /// `POST /v1/authorizations/{id}/void`.
    Void { id: String },
    /// `POST /v1/usage` with `body`.
    Usage { body: Map<String, Value> },
    /// `GET /v1/budget[?session_id=]`.
    Budget { session_id: Option<String> },
}

impl AgentCall {
    /// The HTTP method and path (with query) of this call on the agent API; `id` and
    /// `session_id` are percent-encoded.
    pub fn http_target(&self) -> (&'static str, String) {
        let encode =
            |text: &str| -> String { form_urlencoded::byte_serialize(text.as_bytes()).collect() };
        match self {
            AgentCall::Authorize { wait_seconds, .. } => {
                ("POST", format!("/v1/authorizations?wait={wait_seconds}"))
            }
            AgentCall::Get { id, wait_seconds } => (
                "GET",
                format!("/v1/authorizations/{}?wait={wait_seconds}", encode(id)),
            ),
            AgentCall::Capture { id, .. } => {
                ("POST", format!("/v1/authorizations/{}/capture", encode(id)))
            }
            AgentCall::Void { id } => ("POST", format!("/v1/authorizations/{}/void", encode(id))),
            AgentCall::Usage { .. } => ("POST", "/v1/usage".to_owned()),
            AgentCall::Budget { session_id: None } => ("GET", "/v1/budget".to_owned()),
            AgentCall::Budget {
                session_id: Some(session),
            } => ("GET", format!("/v1/budget?session_id={}", encode(session))),
        }
    }

    /// The JSON body this call sends, if any.
    pub fn http_body(&self) -> Option<&Map<String, Value>> {
        match self {
            AgentCall::Authorize { body, .. } | AgentCall::Usage { body } => Some(body),
            AgentCall::Capture { body, .. } => body.as_ref(),
            AgentCall::Get { .. } | AgentCall::Void { .. } | AgentCall::Budget { .. } => None,
        }
    }
}

/// The agent API's refusal: its HTTP status and `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl AgentError {
    /// An error the backend itself raises (the daemon cannot be reached, an answer that
    /// is not the contract's): 503 `unavailable`, so the agent fails closed.
    pub fn unavailable(message: impl Into<String>) -> AgentError {
        AgentError {
            status: 503,
            code: "unavailable".to_owned(),
            message: message.into(),
            field: None,
        }
    }

    /// Reads the contract's error body; anything else becomes `unavailable`.
    pub fn from_response(status: u16, body: &Value) -> AgentError {
        let error = &body["error"];
        match (error["code"].as_str(), error["message"].as_str()) {
            (Some(code), Some(message)) => AgentError {
                status,
                code: code.to_owned(),
                message: message.to_owned(),
                field: error["field"].as_str().map(str::to_owned),
            },
            _ => AgentError::unavailable(format!(
                "the Purser daemon answered HTTP {status} without the agent API's error shape; nothing was approved"
            )),
        }
    }

    /// The contract's JSON shape of this error.
    pub fn to_json(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), Value::String(self.code.clone()));
        error.insert("message".into(), Value::String(self.message.clone()));
        if let Some(field) = &self.field {
            error.insert("field".into(), Value::String(field.clone()));
        }
        let mut body = Map::new();
        body.insert("error".into(), Value::Object(error));
        Value::Object(body)
    }
}

/// Runs [`AgentCall`]s for the MCP tools. `context` is the MCP request's: the daemon's
/// backend finds the authenticated agent in it.
pub trait AgentBackend: Send + Sync + 'static {
    fn call(
        &self,
        call: AgentCall,
        context: &RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<Value, AgentError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_map_to_the_agent_api() {
        let body = Map::new();
        let cases = [
            (
                AgentCall::Authorize {
                    body: body.clone(),
                    wait_seconds: 30,
                },
                "POST",
                "/v1/authorizations?wait=30",
            ),
            (
                AgentCall::Get {
                    id: "auth_1".into(),
                    wait_seconds: 0,
                },
                "GET",
                "/v1/authorizations/auth_1?wait=0",
            ),
            (
                AgentCall::Capture {
                    id: "a/b".into(),
                    body: None,
                },
                "POST",
                "/v1/authorizations/a%2Fb/capture",
            ),
            (
                AgentCall::Void {
                    id: "auth_1".into(),
                },
                "POST",
                "/v1/authorizations/auth_1/void",
            ),
            (AgentCall::Usage { body }, "POST", "/v1/usage"),
            (AgentCall::Budget { session_id: None }, "GET", "/v1/budget"),
            (
                AgentCall::Budget {
                    session_id: Some("run:42".into()),
                },
                "GET",
                "/v1/budget?session_id=run%3A42",
            ),
        ];
        for (call, method, target) in cases {
            assert_eq!(call.http_target(), (method, target.to_owned()), "{call:?}");
        }
    }

    #[test]
    fn errors_keep_the_contract_shape() {
        let body =
            json!({"error": {"code": "invalid_request", "message": "bad", "field": "amount"}});
        let error = AgentError::from_response(422, &body);
        assert_eq!(error.code, "invalid_request");
        assert_eq!(error.field.as_deref(), Some("amount"));
        assert_eq!(error.to_json(), body);
        let odd = AgentError::from_response(502, &json!("<html>"));
        assert_eq!((odd.status, odd.code.as_str()), (503, "unavailable"));
    }
}
