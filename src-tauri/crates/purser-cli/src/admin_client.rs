//! The client side of the admin API (docs/admin-api.md): HTTP/1.1 with JSON bodies over
//! the unix socket `DATA_DIR/admin.sock`, and the server-sent events of `/admin/events`.
//!
//! It owns the connection, the bounds (a timeout on every request, a size cap on every
//! answer and event) and the translation of the daemon's `{"error": {...}}` answers into
//! [`ApiError`]. It never reaches the daemon over TCP and knows nothing about what the
//! answers mean: the commands do.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;

use crate::failure::{Exit, Failure};

/// The admin socket's file name inside the data dir.
pub const SOCKET_FILE: &str = "admin.sock";
/// How long a request may take, from connecting to the last byte of the answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest JSON answer read (a page of audit entries is far smaller).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// The longest line, and the largest event, accepted on the event stream.
const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Talks to the daemon that owns one data dir.
#[derive(Debug, Clone)]
pub struct AdminClient {
    socket: PathBuf,
}

/// Why a request to the daemon did not get a successful answer.
#[derive(Debug)]
pub enum AdminError {
    /// Nothing listens on the socket: it does not exist, or is left over from a daemon
    /// that stopped (`stale`).
    NotRunning {
        socket: PathBuf,
        stale: bool,
    },
    /// The socket exists but could not be opened (e.g. it belongs to another user).
    Connect {
        socket: PathBuf,
        source: io::Error,
    },
    Timeout,
    /// The daemon answered something that is not the admin API.
    Protocol(String),
    /// The daemon refused: its `{"error": {...}}` answer.
    Api(ApiError),
}

/// An error answer of the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    /// `policy_invalid` only: one `file:line:col: message` per problem.
    pub errors: Vec<String>,
}

impl ApiError {
    fn from_answer(status: u16, body: &[u8]) -> ApiError {
        let error = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|value| value.get("error").cloned());
        let text = |key: &str| {
            error
                .as_ref()
                .and_then(|e| e.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (Some(code), Some(message)) = (text("code"), text("message")) else {
            let snippet: String = String::from_utf8_lossy(body).chars().take(200).collect();
            return ApiError {
                status,
                code: format!("http_{status}"),
                message: format!("the daemon answered HTTP {status}: {}", snippet.trim()),
                field: None,
                errors: Vec::new(),
            };
        };
        let errors = error
            .as_ref()
            .and_then(|e| e.get("errors"))
            .and_then(Value::as_array)
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        ApiError {
            status,
            code,
            message,
            field: text("field"),
            errors,
        }
    }

    /// 2 when the request's input was at fault (400, 413, 415, 422), else 1.
    pub fn exit(&self) -> Exit {
        match self.status {
            400 | 413 | 415 | 422 => Exit::Usage,
            _ => Exit::Failed,
        }
    }
}

impl From<AdminError> for Failure {
    fn from(error: AdminError) -> Failure {
        match error {
            AdminError::NotRunning {
                socket,
                stale: false,
            } => Failure::failed(format!(
                "the daemon is not running (no socket at {}): start it with `purser serve` or the desktop app",
                socket.display()
            )),
            AdminError::NotRunning {
                socket,
                stale: true,
            } => Failure::failed(format!(
                "the daemon is not running (nothing answers at {}): start it with `purser serve` or the desktop app",
                socket.display()
            )),
            AdminError::Connect { socket, source }
                if source.kind() == io::ErrorKind::PermissionDenied =>
            {
                Failure::failed(format!(
                    "cannot open the admin socket {}: permission denied (only the user who runs the daemon may use it)",
                    socket.display()
                ))
            }
            AdminError::Connect { socket, source } => Failure::failed(format!(
                "cannot open the admin socket {}: {source}",
                socket.display()
            )),
            AdminError::Timeout => Failure::failed(format!(
                "the daemon did not answer within {} s",
                REQUEST_TIMEOUT.as_secs()
            )),
            AdminError::Protocol(problem) => {
                Failure::failed(format!("unexpected answer from the daemon: {problem}"))
            }
            AdminError::Api(error) => {
                let message = match &error.field {
                    Some(field) => format!("{} (field: {field})", error.message),
                    None => error.message.clone(),
                };
                Failure::message(error.exit(), message)
            }
        }
    }
}

impl AdminClient {
    pub fn new(data_dir: &Path) -> AdminClient {
        AdminClient {
            socket: data_dir.join(SOCKET_FILE),
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, AdminError> {
        self.json(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, AdminError> {
        self.json(Method::POST, path, body).await
    }

    /// A GET whose answer is read as it arrives (audit export, events): only connecting
    /// and the answer's head are bounded in time.
    pub async fn stream(&self, path: &str, accept: &str) -> Result<ByteStream, AdminError> {
        let request = self.request(Method::GET, path, None, accept)?;
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, self.send(request))
            .await
            .map_err(|_| AdminError::Timeout)??;
        if answer.status().is_success() {
            return Ok(ByteStream {
                body: answer.into_body(),
            });
        }
        let status = answer.status().as_u16();
        let body = tokio::time::timeout(REQUEST_TIMEOUT, read_limited(answer))
            .await
            .map_err(|_| AdminError::Timeout)??;
        Err(AdminError::Api(ApiError::from_answer(status, &body)))
    }

    async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, AdminError> {
        let request = self.request(method, path, body, "application/json")?;
        let exchange = async {
            let answer = self.send(request).await?;
            let status = answer.status();
            let body = read_limited(answer).await?;
            Ok::<_, AdminError>((status, body))
        };
        let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| AdminError::Timeout)??;
        if !status.is_success() {
            return Err(AdminError::Api(ApiError::from_answer(
                status.as_u16(),
                &body,
            )));
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body)
            .map_err(|error| AdminError::Protocol(format!("the answer is not JSON: {error}")))
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        accept: &str,
    ) -> Result<Request<Full<Bytes>>, AdminError> {
        let builder = Request::builder()
            .method(method)
            .uri(path)
            // The socket is the authority; a Host header is required by HTTP/1.1.
            .header(HOST, "localhost")
            .header(ACCEPT, accept);
        let request = match body {
            Some(body) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(body.to_string()))),
            None => builder.body(Full::new(Bytes::new())),
        };
        request.map_err(|error| AdminError::Protocol(format!("cannot build the request: {error}")))
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, AdminError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| match source.kind() {
                    io::ErrorKind::NotFound => AdminError::NotRunning {
                        socket: self.socket.clone(),
                        stale: false,
                    },
                    io::ErrorKind::ConnectionRefused => AdminError::NotRunning {
                        socket: self.socket.clone(),
                        stale: true,
                    },
                    _ => AdminError::Connect {
                        socket: self.socket.clone(),
                        source,
                    },
                })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| AdminError::Protocol(error.to_string()))?;
        // The connection is driven until the answer is read; its error, if any, also
        // surfaces through `send_request` or the body, so it is not reported twice.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        sender
            .send_request(request)
            .await
            .map_err(|error| AdminError::Protocol(error.to_string()))
    }
}

async fn read_limited(answer: Response<Incoming>) -> Result<Bytes, AdminError> {
    Limited::new(answer.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|error| AdminError::Protocol(format!("cannot read the answer: {error}")))
}

/// The body of a streamed answer, chunk by chunk.
#[derive(Debug)]
pub struct ByteStream {
    body: Incoming,
}

impl ByteStream {
    /// The next chunk, or `None` when the daemon ended the answer.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, AdminError> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(error)) => return Err(AdminError::Protocol(error.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

/// One server-sent event: `event: KIND` and its `data:` (JSON for the admin API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEvent {
    pub kind: String,
    pub data: String,
}

/// The events of a `text/event-stream` answer.
#[derive(Debug)]
pub struct EventStream {
    bytes: ByteStream,
    parser: SseParser,
    ready: VecDeque<ServerEvent>,
}

impl EventStream {
    pub fn new(bytes: ByteStream) -> EventStream {
        EventStream {
            bytes,
            parser: SseParser::default(),
            ready: VecDeque::new(),
        }
    }

    /// The next event, or `None` when the daemon closed the stream.
    pub async fn next(&mut self) -> Result<Option<ServerEvent>, AdminError> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(Some(event));
            }
            match self.bytes.chunk().await? {
                None => return Ok(None),
                Some(chunk) => self
                    .ready
                    .extend(self.parser.feed(&chunk).map_err(AdminError::Protocol)?),
            }
        }
    }
}

/// The `text/event-stream` format: lines of `field: value`, an empty line ends an event,
/// lines starting with `:` are comments (keep-alives).
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    kind: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Takes the next bytes of the stream; returns the events they complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<ServerEvent>, String> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(newline) = self.pending.iter().position(|byte| *byte == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=newline).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line =
                String::from_utf8(line).map_err(|_| "the event stream is not UTF-8".to_owned())?;
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        if self.pending.len() > MAX_EVENT_BYTES || self.data.len() > MAX_EVENT_BYTES {
            return Err(format!("an event is larger than {MAX_EVENT_BYTES} bytes"));
        }
        Ok(events)
    }

    fn line(&mut self, line: &str) -> Option<ServerEvent> {
        if line.is_empty() {
            let kind = std::mem::take(&mut self.kind);
            let data = std::mem::take(&mut self.data);
            let complete = std::mem::take(&mut self.has_data);
            return complete.then(|| ServerEvent {
                kind: if kind.is_empty() {
                    "message".to_owned()
                } else {
                    kind
                },
                data,
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.kind),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

/// `text` made safe for one path segment or query value of a URL.
pub fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `path?key=value&...` with the values encoded; pairs without a value are left out.
pub fn with_query(path: &str, pairs: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| {
            value
                .as_ref()
                .map(|value| format!("{key}={}", encode(value)))
        })
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_parsed_across_chunks_and_line_endings() {
        let mut parser = SseParser::default();
        assert_eq!(parser.feed(b": keep-alive\n\nevent: pend").unwrap(), vec![]);
        let events = parser
            .feed(b"ing\r\ndata: {\"id\":\"auth_1\"}\r\n\r\nevent: kill_switch\ndata:{\"a\":1}\ndata: {\"b\":2}\n\n")
            .unwrap();
        assert_eq!(
            events,
            vec![
                ServerEvent {
                    kind: "pending".into(),
                    data: "{\"id\":\"auth_1\"}".into()
                },
                ServerEvent {
                    kind: "kill_switch".into(),
                    data: "{\"a\":1}\n{\"b\":2}".into()
                },
            ]
        );
    }

    #[test]
    fn an_event_without_a_name_is_a_message() {
        let mut parser = SseParser::default();
        let events = parser.feed(b"id: 7\ndata: x\n\n").unwrap();
        assert_eq!(
            events,
            vec![ServerEvent {
                kind: "message".into(),
                data: "x".into()
            }]
        );
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut parser = SseParser::default();
        assert!(parser.feed(&vec![b'x'; MAX_EVENT_BYTES + 1]).is_err());
    }

    #[test]
    fn query_values_and_segments_are_encoded() {
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
        assert_eq!(
            with_query(
                "/admin/audit",
                &[
                    ("agent", Some("bot".into())),
                    ("since", None),
                    ("limit", Some("5".into()))
                ]
            ),
            "/admin/audit?agent=bot&limit=5"
        );
        assert_eq!(
            with_query(
                "/admin/audit",
                &[("since", Some("2025-05-01T00:00:00+00:00".into()))]
            ),
            "/admin/audit?since=2025-05-01T00%3A00%3A00%2B00%3A00"
        );
        assert_eq!(with_query("/admin/audit", &[]), "/admin/audit");
    }

    #[test]
    fn error_answers_keep_message_field_and_policy_errors() {
        let body = br#"{"error":{"code":"policy_invalid","message":"the policy is invalid","errors":["p.toml:3:1: unknown key"]}}"#;
        let error = ApiError::from_answer(422, body);
        assert_eq!(error.code, "policy_invalid");
        assert_eq!(error.errors, vec!["p.toml:3:1: unknown key"]);
        assert_eq!(error.exit(), Exit::Usage);

        let body = br#"{"error":{"code":"not_found","message":"no agent named x","field":"name"}}"#;
        let failure = Failure::from(AdminError::Api(ApiError::from_answer(404, body)));
        assert_eq!(failure.text(), "purser: no agent named x (field: name)");
        assert_eq!(failure.exit(), Exit::Failed);

        let error = ApiError::from_answer(502, b"Bad Gateway");
        assert_eq!(error.message, "the daemon answered HTTP 502: Bad Gateway");
    }
}
