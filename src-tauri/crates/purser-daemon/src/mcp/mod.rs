//! Purser as an MCP server: six tools (`request_payment_authorization`,
//! `get_authorization`, `capture_authorization`, `void_authorization`, `record_usage`,
//! `get_budget`) over the official Rust SDK, `rmcp`.
//!
//! One server, [`PurserMcp`], two transports:
//!
//! - **Streamable HTTP at `/mcp`** on the daemon's agent listener ([`endpoint`]). The
//!   route sits behind the agent API's own gates: `admit` (Host must be a loopback name
//!   on the bound port, any `Origin` not configured is refused) and `authenticate` (the
//!   agent's bearer token, rate limited on failure). rmcp's own Host/Origin checks are
//!   set to the same allowlists as a second line. It runs stateless with JSON answers:
//!   every POST carries one JSON-RPC message and is authenticated on its own, so no
//!   session outlives a request and nothing per client piles up in memory. Bodies are
//!   bounded like the agent API's (64 KiB). Tools run on [`LocalBackend`]: the very
//!   functions the HTTP handlers call (`http::operations`), for the agent the request
//!   was authenticated as.
//! - **stdio**, `purser mcp`, for desktop MCP hosts that start a command. That process
//!   is a front: it runs this same [`PurserMcp`] with a backend that calls the running
//!   daemon's agent HTTP API (`PURSER_URL`, default `http://127.0.0.1:7402`) with the
//!   agent's token (`PURSER_TOKEN`). It does not embed the daemon: the data dir has one
//!   owner (its lock, the store's single writer, the approval broker and the
//!   principal's console all live in the daemon), so a second process deciding would
//!   be a second authorizer.
//!
//! Either way every decision is the daemon's authorizer's, recorded in the audit trail
//! like any HTTP request. The tools are agent operations only: nothing here can reach
//! a principal action (approve, deny, policy, kill switch, agents, audit), which exist
//! only on the admin socket.

mod backend;
mod tools;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, Implementation, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerInfo, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::Serialize;
use serde_json::Value;

pub use backend::{AgentBackend, AgentCall, AgentError};
pub use tools::{
    DEFAULT_WAIT_SECONDS, INSTRUCTIONS, MAX_WAIT_SECONDS, TOOL_NAMES, agent_call, tool, tools,
};

use crate::http::body::read_bounded;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::guard::AuthenticatedAgent;
use crate::http::operations;
use crate::state::AppState;

/// The agent API path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

/// The MCP server: its tools over a [`AgentBackend`].
#[derive(Debug)]
pub struct PurserMcp<B> {
    backend: Arc<B>,
}

impl<B> Clone for PurserMcp<B> {
    fn clone(&self) -> Self {
        PurserMcp {
            backend: Arc::clone(&self.backend),
        }
    }
}

impl<B: AgentBackend> PurserMcp<B> {
    pub fn new(backend: B) -> PurserMcp<B> {
        PurserMcp {
            backend: Arc::new(backend),
        }
    }

    pub fn from_arc(backend: Arc<B>) -> PurserMcp<B> {
        PurserMcp { backend }
    }

    /// Runs tool `name`: a tool result for every answer of the agent API, decisions and
    /// refusals alike (the model reads both); a protocol error only for an unknown tool.
    pub async fn call(
        &self,
        request: CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let name = request.name.as_ref();
        if tool(name).is_none() {
            return Err(ErrorData::invalid_params(
                format!(
                    "there is no tool {name:?}; the tools are {}",
                    TOOL_NAMES.join(", ")
                ),
                None,
            ));
        }
        let call = match agent_call(name, request.arguments) {
            Ok(call) => call,
            Err(refusal) => return Ok(tools::failure(&refusal)),
        };
        Ok(match self.backend.call(call, context).await {
            Ok(answer) => tools::success(name, answer),
            Err(refusal) => tools::failure(&refusal),
        })
    }
}

impl<B: AgentBackend> ServerHandler for PurserMcp<B> {
    fn get_info(&self) -> ServerInfo {
        ServerInfo::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("purser", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(request, &context).await
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tool(name)
    }
}

/// The daemon's backend: the agent API's operations, in process, for the agent that
/// `/mcp` authenticated (found in the MCP request's HTTP parts).
#[derive(Debug, Clone)]
pub struct LocalBackend {
    state: AppState,
}

impl LocalBackend {
    pub fn new(state: AppState) -> LocalBackend {
        LocalBackend { state }
    }

    async fn run(&self, agent: &AuthenticatedAgent, call: AgentCall) -> Result<Value, ApiError> {
        let state = &self.state;
        match call {
            AgentCall::Authorize { body, wait_seconds } => {
                let wait = operations::wait_seconds(state, wait_seconds)?;
                json(operations::create_authorization(state, agent, &body, wait).await?)
            }
            AgentCall::Get { id, wait_seconds } => {
                let wait = operations::wait_seconds(state, wait_seconds)?;
                json(operations::get_authorization(state, agent, &id, wait).await?)
            }
            AgentCall::Capture { id, body } => {
                json(operations::capture_authorization(state, agent, &id, body.as_ref()).await?)
            }
            AgentCall::Void { id } => {
                json(operations::void_authorization(state, agent, &id, None).await?)
            }
            AgentCall::Usage { body } => json(operations::record_usage(state, agent, &body).await?),
            AgentCall::Budget { session_id } => {
                let session = session_id
                    .as_deref()
                    .map(operations::session_id)
                    .transpose()?;
                json(operations::budget(state, agent, session).await?)
            }
        }
    }
}

impl AgentBackend for LocalBackend {
    async fn call(
        &self,
        call: AgentCall,
        context: &RequestContext<RoleServer>,
    ) -> Result<Value, AgentError> {
        // Present whenever the request came through `/mcp`, which only authenticated
        // requests reach; absent means nobody is authenticated.
        let agent = context
            .extensions
            .get::<Parts>()
            .and_then(|parts| parts.extensions.get::<AuthenticatedAgent>())
            .cloned()
            .ok_or_else(|| agent_error(ApiError::unauthenticated()))?;
        self.run(&agent, call).await.map_err(agent_error)
    }
}

fn json(view: impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(view)
        .map_err(|_| ApiError::unavailable("the answer could not be encoded; retry later"))
}

fn agent_error(error: ApiError) -> AgentError {
    AgentError {
        status: error.status().as_u16(),
        code: error.code.as_str().to_owned(),
        message: error.message,
        field: error.field,
    }
}

/// The `/mcp` endpoint over `state`: rmcp's streamable HTTP service, stateless, with
/// JSON answers and the agent API's Host/Origin allowlists.
#[derive(Clone)]
pub struct Endpoint {
    service: StreamableHttpService<PurserMcp<LocalBackend>, NeverSessionManager>,
    body_limit: usize,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

/// An `Origin` that never occurs: rmcp treats an empty allowlist as "any origin", while
/// the agent API's is "no origin". The `admit` gate refuses foreign origins first; this
/// keeps rmcp's own check closed too when no origin is configured.
const NO_ORIGIN: &str = "http://no-origin-is-allowed.invalid";

/// Builds the `/mcp` endpoint for the agent API over `state`.
pub fn endpoint(state: &AppState) -> Endpoint {
    let mut origins = state.config().allowed_origins.clone();
    if origins.is_empty() {
        origins.push(NO_ORIGIN.to_owned());
    }
    let config = StreamableHttpServerConfig::default()
        .with_stateful_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(state.allowed_hosts().iter().cloned())
        .with_allowed_origins(origins);
    let backend = Arc::new(LocalBackend::new(state.clone()));
    let service = StreamableHttpService::new(
        move || Ok(PurserMcp::from_arc(Arc::clone(&backend))),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Endpoint {
        service,
        body_limit: state.config().body_limit_bytes,
    }
}

/// Serves one `/mcp` request (already admitted and authenticated): a POST's body is read
/// within the agent API's limit, then handed to rmcp. Stateless, there is no event
/// stream to GET and no session to DELETE: other methods are 405 in the contract's shape.
pub(crate) async fn serve(State(endpoint): State<Endpoint>, request: Request) -> Response {
    if request.method() != Method::POST {
        return ApiError::new(
            ErrorCode::MethodNotAllowed,
            "/mcp takes POST only: one JSON-RPC message per request (stateless streamable HTTP)",
        )
        .into_response();
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_bounded(body, endpoint.body_limit).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    endpoint.service.handle(request).await.into_response()
}
