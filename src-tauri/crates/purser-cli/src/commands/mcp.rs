//! `purser mcp`: Purser's MCP server over stdio, for desktop MCP hosts (Claude Desktop,
//! Cursor, VS Code…) that start a command and talk to its stdin/stdout.
//!
//! It is a front, not a second authorizer: the tools are the daemon's
//! (`purser_daemon::mcp::PurserMcp`, the same six as `/mcp`) and each call goes to the
//! running daemon's agent HTTP API ([`HttpBackend`]) as the agent whose token is in
//! `PURSER_TOKEN`, at `PURSER_URL` (default `http://127.0.0.1:7402`). The daemon owns
//! the data dir (one writer, the approval broker, the principal's console), so it
//! decides, records and audits exactly as for an HTTP request.
//!
//! Start-up: no token, or one that cannot be a Purser token, exits 2 before serving; a
//! daemon that refuses the token exits 2 too. A daemon that cannot be reached yet (the
//! desktop app not started) is not fatal: the server starts and every call answers
//! `unavailable` (fail closed) until it can. Standard output carries only MCP messages;
//! diagnostics go to standard error.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use purser_daemon::mcp::{AgentBackend, AgentCall, AgentError, MAX_WAIT_SECONDS, PurserMcp};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServiceExt};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::net::TcpStream;

use crate::args::McpArgs;
use crate::failure::Failure;

/// The environment variable holding the agent's token.
pub const TOKEN_ENV: &str = "PURSER_TOKEN";
/// Longest answer read from the daemon.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// Connecting, sending and reading an answer that does not wait for the principal.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(args: &McpArgs) -> Result<(), Failure> {
    let token = std::env::var(TOKEN_ENV).unwrap_or_default();
    let backend = HttpBackend::new(&args.url, token.trim())?;
    match backend.check_token().await {
        Ok(()) => {}
        Err(error) if error.status == 401 => {
            return Err(Failure::usage(format!(
                "the daemon at {} refused {TOKEN_ENV}: {} (issue a token with `purser agent add NAME`)",
                args.url, error.message
            )));
        }
        Err(error) => eprintln!(
            "purser mcp: warning: {}; serving anyway, every call fails closed until the daemon answers",
            error.message
        ),
    }
    let (input, output) = handshake_first(tokio::io::stdin(), tokio::io::stdout());
    let server = PurserMcp::new(backend)
        .serve((input, output))
        .await
        .map_err(|error| {
            Failure::failed(format!("cannot start the MCP server on stdio: {error}"))
        })?;
    server
        .waiting()
        .await
        .map_err(|error| Failure::failed(format!("the MCP server stopped: {error}")))?;
    Ok(())
}

/// Newer clients (the 2026-07-28 protocol) open with a `server/discover` probe and fall
/// back to the `initialize` handshake when the server answers it with an error; rmcp
/// 1.x's stdio server instead stops on any request before `initialize`. This sits
/// between stdio and rmcp: until the client sends `initialize`, it answers a `ping`
/// with `{}` and every other request with -32601 (method not found), as a
/// handshake-era server does, and drops notifications; from `initialize` on, it passes
/// every line through untouched. Returns the (reader, writer) rmcp serves on.
pub fn handshake_first<R, W>(input: R, output: W) -> (DuplexStream, DuplexStream)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    const PIPE: usize = 1 << 16;
    let (rmcp_input, mut feed) = tokio::io::duplex(PIPE);
    let (rmcp_output, from_rmcp) = tokio::io::duplex(PIPE);
    let (lines, mut to_output) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    // One writer, so our answers and rmcp's never interleave within a line.
    tokio::spawn(async move {
        let mut output = output;
        while let Some(line) = to_output.recv().await {
            if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
                return;
            }
        }
    });
    let rmcp_lines = lines.clone();
    tokio::spawn(async move {
        let mut from_rmcp = BufReader::new(from_rmcp);
        loop {
            let mut line = Vec::new();
            match from_rmcp.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if rmcp_lines.send(line).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        let mut initialized = false;
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => return, // EOF: dropping `feed` ends rmcp's input
                Ok(_) => {}
            }
            if !initialized {
                match before_initialize(&line) {
                    Early::Forward => initialized = true,
                    Early::Answer(answer) => {
                        if lines.send(answer).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Early::Drop => continue,
                }
            }
            if feed.write_all(&line).await.is_err() {
                return;
            }
        }
    });
    (rmcp_input, rmcp_output)
}

/// What to do with a line that arrives before `initialize`.
#[derive(Debug, PartialEq)]
enum Early {
    /// `initialize` (or something unreadable, which rmcp reports): pass it on.
    Forward,
    /// Answer this line ourselves with these bytes.
    Answer(Vec<u8>),
    /// A notification or response before the handshake: nothing to say.
    Drop,
}

fn before_initialize(line: &[u8]) -> Early {
    let Ok(message) = serde_json::from_slice::<Value>(line) else {
        return Early::Forward;
    };
    let method = message.get("method").and_then(Value::as_str);
    let id = message.get("id").cloned();
    match (method, id) {
        (Some("initialize"), _) => Early::Forward,
        (Some(method), Some(id)) => {
            let answer = if method == "ping" {
                serde_json::json!({"jsonrpc": "2.0", "id": id, "result": {}})
            } else {
                serde_json::json!({
                    "jsonrpc": "2.0",
                    "id": id,
                    "error": {
                        "code": -32601,
                        "message": format!("method {method:?} is not available before initialize: this server speaks the initialize handshake"),
                    },
                })
            };
            let mut bytes = serde_json::to_vec(&answer).unwrap_or_default();
            bytes.push(b'\n');
            Early::Answer(bytes)
        }
        _ => Early::Drop,
    }
}

/// The agent API of a running daemon, as one agent.
#[derive(Debug, Clone)]
pub struct HttpBackend {
    /// `host:port` to connect to and to send as `Host`.
    authority: String,
    token: String,
}

impl HttpBackend {
    /// A backend for `url` (`http://HOST:PORT`) and `token`; a usage error if either
    /// cannot work.
    pub fn new(url: &str, token: &str) -> Result<HttpBackend, Failure> {
        if token.is_empty() {
            return Err(Failure::usage(format!(
                "{TOKEN_ENV} is not set: put the agent's token (from `purser agent add NAME`) in the MCP server's environment"
            )));
        }
        if !token.starts_with("purser_") || token.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(Failure::usage(format!(
                "{TOKEN_ENV} does not hold a Purser agent token (they look like purser_…)"
            )));
        }
        let uri: Uri = url.parse().map_err(|_| {
            Failure::usage(format!(
                "--url {url:?} is not a URL such as http://127.0.0.1:7402"
            ))
        })?;
        let authority = match (uri.scheme_str(), uri.authority(), uri.path()) {
            (Some("http"), Some(authority), "" | "/") if authority.port_u16().is_some() => {
                authority.to_string()
            }
            _ => {
                return Err(Failure::usage(format!(
                    "--url {url:?} must be http://HOST:PORT, the daemon's agent API (e.g. http://127.0.0.1:7402)"
                )));
            }
        };
        Ok(HttpBackend {
            authority,
            token: token.to_owned(),
        })
    }

    /// Asks the daemon something harmless with the token: `GET /v1/budget`.
    pub async fn check_token(&self) -> Result<(), AgentError> {
        self.send(&AgentCall::Budget { session_id: None })
            .await
            .map(|_| ())
    }

    /// One request of the agent API; its JSON answer, or its refusal.
    pub async fn send(&self, call: &AgentCall) -> Result<Value, AgentError> {
        let (method, target) = call.http_target();
        let body = match call.http_body() {
            Some(body) => serde_json::to_vec(body)
                .map_err(|_| AgentError::unavailable("the request could not be encoded"))?,
            None => Vec::new(),
        };
        let waits = match call {
            AgentCall::Authorize { wait_seconds, .. } | AgentCall::Get { wait_seconds, .. } => {
                (*wait_seconds).min(MAX_WAIT_SECONDS)
            }
            _ => 0,
        };
        let deadline = REQUEST_TIMEOUT + Duration::from_secs(waits);
        let exchange = self.exchange(method, &target, body);
        let (status, bytes) = tokio::time::timeout(deadline, exchange)
            .await
            .map_err(|_| {
                AgentError::unavailable(format!(
                    "the Purser daemon at {} did not answer within {}s; nothing was approved",
                    self.authority,
                    deadline.as_secs()
                ))
            })??;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == 200 {
            if value.is_object() {
                Ok(value)
            } else {
                Err(AgentError::unavailable(
                    "the Purser daemon answered 200 without a JSON object; nothing was approved",
                ))
            }
        } else {
            Err(AgentError::from_response(status, &value))
        }
    }

    async fn exchange(
        &self,
        method: &str,
        target: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Bytes), AgentError> {
        let unreachable = |detail: String| {
            AgentError::unavailable(format!(
                "cannot reach the Purser daemon at http://{} ({detail}): is `purser serve` or the desktop app running? Nothing was approved",
                self.authority
            ))
        };
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let method = if method == "POST" {
            Method::POST
        } else {
            Method::GET
        };
        let has_body = !body.is_empty();
        let mut request = Request::builder()
            .method(method)
            .uri(target)
            .header(HOST, &self.authority)
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .header(ACCEPT, "application/json");
        if has_body {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| unreachable(error.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        let status = response.status().as_u16();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|error| unreachable(error.to_string()))?
            .to_bytes();
        Ok((status, bytes))
    }
}

impl AgentBackend for HttpBackend {
    async fn call(
        &self,
        call: AgentCall,
        _context: &RequestContext<RoleServer>,
    ) -> Result<Value, AgentError> {
        self.send(&call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Exit;

    const TOKEN: &str = "purser_UP87bJm1myR3DkdYzd3vn-dAu59I8KBzdLqqjEn4KCA";

    #[test]
    fn token_and_url_are_checked_before_serving() {
        let backend = HttpBackend::new("http://127.0.0.1:7402", TOKEN).unwrap();
        assert_eq!(backend.authority, "127.0.0.1:7402");
        for (url, token) in [
            ("http://127.0.0.1:7402", ""),
            ("http://127.0.0.1:7402", "not-a-token"),
            ("http://127.0.0.1:7402", "purser_a b"),
            ("https://127.0.0.1:7402", TOKEN),
            ("http://127.0.0.1", TOKEN),
            ("http://127.0.0.1:7402/v1", TOKEN),
            ("127.0.0.1:7402", TOKEN),
        ] {
            let failure = HttpBackend::new(url, token).unwrap_err();
            assert_eq!(failure.exit(), Exit::Usage, "{url} {token}");
        }
    }

    #[test]
    fn before_initialize_only_ping_is_answered() {
        assert_eq!(
            before_initialize(br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#),
            Early::Forward
        );
        let Early::Answer(answer) =
            before_initialize(br#"{"jsonrpc":"2.0","id":7,"method":"server/discover"}"#)
        else {
            panic!("a request before initialize is answered")
        };
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["error"]["code"], -32601);
        let Early::Answer(pong) =
            before_initialize(br#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#)
        else {
            panic!("ping is answered")
        };
        assert_eq!(
            serde_json::from_slice::<Value>(&pong).unwrap()["result"],
            serde_json::json!({})
        );
        assert_eq!(
            before_initialize(br#"{"jsonrpc":"2.0","method":"notifications/x"}"#),
            Early::Drop
        );
    }

    #[tokio::test]
    async fn the_shim_answers_early_requests_and_passes_the_rest() {
        use tokio::io::AsyncReadExt;
        let (client, server_input) = tokio::io::duplex(1 << 12);
        let (server_output, mut client_output) = tokio::io::duplex(1 << 12);
        let (mut rmcp_input, mut rmcp_output) = handshake_first(server_input, server_output);
        let mut client = client;
        client
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\"}\n")
            .await
            .unwrap();
        let mut buffer = vec![0_u8; 4096];
        let n = client_output.read(&mut buffer).await.unwrap();
        let answer: Value = serde_json::from_slice(&buffer[..n]).unwrap();
        assert_eq!(answer["id"], 1);
        assert_eq!(answer["error"]["code"], -32601);
        let mut forwarded = BufReader::new(&mut rmcp_input);
        let mut line = String::new();
        forwarded.read_line(&mut line).await.unwrap();
        assert!(line.contains("\"initialize\""), "{line}");
        rmcp_output.write_all(b"{\"id\":2}\n").await.unwrap();
        let n = client_output.read(&mut buffer).await.unwrap();
        assert_eq!(&buffer[..n], b"{\"id\":2}\n");
    }

    #[tokio::test]
    async fn an_unreachable_daemon_fails_closed() {
        // A port nothing listens on: bind one, then free it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let backend = HttpBackend::new(&format!("http://127.0.0.1:{port}"), TOKEN).unwrap();
        let error = backend.check_token().await.unwrap_err();
        assert_eq!((error.status, error.code.as_str()), (503, "unavailable"));
        assert!(
            error.message.contains("Nothing was approved"),
            "{}",
            error.message
        );
    }
}
