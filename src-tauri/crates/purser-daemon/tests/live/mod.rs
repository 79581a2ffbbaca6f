//! A real daemon in process: [`Live::start`] runs [`Daemon::start`] on a temporary data
//! dir with the system clock and port 0, and the helpers talk to it the way an agent and
//! the CLI do: real HTTP/1.1 over TCP (agent API) and over the unix socket (admin API),
//! including the server-sent event stream.

#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions: a failed step fails the test"
)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use purser_daemon::{Daemon, RunningDaemon, ServeConfig};
use purser_store::SystemClock;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

/// Approves up to 25 USD, asks above; 200 USD a day; pending requests wait `timeout`.
pub fn policy(approval_timeout: &str) -> String {
    format!(
        r#"
version = 1
timezone = "UTC"
approval_timeout = "{approval_timeout}"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD"]
approve_above = {{ USD = "25.00" }}

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "200.00"
on_exceed = "deny"
"#
    )
}

pub struct Live {
    pub dir: tempfile::TempDir,
    pub daemon: Option<RunningDaemon>,
}

/// An answer: status and JSON body (`Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
}

impl Live {
    /// A daemon on a new data dir with `policy("10m")` applied.
    pub async fn start() -> Live {
        Live::with_policy(&policy("10m")).await
    }

    pub async fn with_policy(text: &str) -> Live {
        let dir = tempfile::tempdir().unwrap();
        let mut live = Live { dir, daemon: None };
        live.restart().await;
        let applied = live
            .admin(
                "POST",
                "/admin/policy/apply",
                Some(json!({"file": "policy.toml", "text": text})),
            )
            .await;
        assert_eq!(applied.status, 200, "{applied:?}");
        live
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> ServeConfig {
        ServeConfig {
            data_dir: self.data_dir().to_owned(),
            listen: "127.0.0.1:0".parse().unwrap(),
            allow_remote: false,
            rails: Default::default(),
            database: None,
        }
    }

    /// (Re)starts the daemon on the same data dir.
    pub async fn restart(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            daemon.shutdown().await;
        }
        let daemon = Daemon::start(self.config(), Arc::new(SystemClock))
            .await
            .unwrap();
        self.daemon = Some(daemon);
    }

    pub fn daemon(&self) -> &RunningDaemon {
        self.daemon.as_ref().unwrap()
    }

    pub async fn stop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            daemon.shutdown().await;
        }
    }

    /// A call on the admin socket.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let stream = UnixStream::connect(self.daemon().admin_socket_path())
            .await
            .unwrap();
        let response = send(stream, request(method, path, "localhost", None, body)).await;
        reply(response).await
    }

    /// A call on the agent API with `token`.
    pub async fn agent(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let addr = self.daemon().agent_addr();
        agent_call(addr, token, method, path, body).await
    }

    /// Creates an agent through the admin API; returns its token.
    pub async fn add_agent(&self, name: &str) -> String {
        let created = self
            .admin("POST", "/admin/agents", Some(json!({ "name": name })))
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        created.json["token"].as_str().unwrap().to_owned()
    }

    /// Opens `GET /admin/events`.
    pub async fn events(&self) -> Events {
        let stream = UnixStream::connect(self.daemon().admin_socket_path())
            .await
            .unwrap();
        let response = send(
            stream,
            request("GET", "/admin/events", "localhost", None, None),
        )
        .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Events {
            body: response.into_body(),
            pending: String::new(),
        }
    }

    /// The whole answer of a streamed admin GET (an audit export), as text.
    pub async fn export(&self, path: &str) -> String {
        let stream = UnixStream::connect(self.daemon().admin_socket_path())
            .await
            .unwrap();
        let response = send(stream, request("GET", path, "localhost", None, None)).await;
        assert_eq!(response.status(), 200);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// Waits until the principal's inbox holds `count` requests.
    pub async fn wait_for_pending(&self, count: usize) -> Vec<Value> {
        for _ in 0..200 {
            let pending = self.admin("GET", "/admin/approvals", None).await;
            let list = pending.json.as_array().unwrap().clone();
            if list.len() >= count {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{count} pending approvals never appeared");
    }
}

/// A call on an agent API at `addr`.
pub async fn agent_call(
    addr: std::net::SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let host = format!("127.0.0.1:{}", addr.port());
    let response = send(stream, request(method, path, &host, Some(token), body)).await;
    reply(response).await
}

/// The permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// An RFC 3339 time of an answer.
pub fn instant(value: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .to_utc()
}

/// Log output captured by a test's tracing subscriber.
#[derive(Clone, Default)]
pub struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A payment request of `amount` USD.
pub fn payment(request_id: &str, amount: &str) -> Value {
    json!({
        "request_id": request_id,
        "amount": amount,
        "currency": "USD",
        "merchant": "api.example.com",
        "purpose": "secret purpose text",
        "context": {"prompt": "secret context"},
    })
}

fn request(
    method: &str,
    path: &str,
    host: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap(),
        None => builder.body(Full::new(Bytes::new())).unwrap(),
    }
}

async fn send<IO>(io: IO, request: Request<Full<Bytes>>) -> Response<Incoming>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender.send_request(request).await.unwrap()
}

async fn reply(response: Response<Incoming>) -> Reply {
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply { status, json }
}

/// The client side of `GET /admin/events`.
pub struct Events {
    body: Incoming,
    pending: String,
}

impl Events {
    /// The next event `(kind, data)`, skipping comments; panics after `within`.
    pub async fn next(&mut self, within: Duration) -> (String, Value) {
        tokio::time::timeout(within, self.read())
            .await
            .expect("no event in time")
    }

    /// The next event of `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str, within: Duration) -> Value {
        tokio::time::timeout(within, async {
            loop {
                let (got, data) = self.read().await;
                if got == kind {
                    return data;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {kind} event in time"))
    }

    async fn read(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                let mut kind = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        kind = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if let Some(kind) = kind {
                    return (kind, serde_json::from_str(&data).unwrap());
                }
                continue;
            }
            let frame = self
                .body
                .frame()
                .await
                .expect("event stream ended")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                self.pending.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }

    /// Whether the stream ends within `within`.
    pub async fn ends_within(&mut self, within: Duration) -> bool {
        tokio::time::timeout(within, async {
            while let Some(frame) = self.body.frame().await {
                if frame.is_err() {
                    break;
                }
            }
        })
        .await
        .is_ok()
    }
}
