//! [`Control`]: the principal's side of a benchmark (create agents, apply the policy,
//! kill and resume), either in process through the daemon's [`Console`] or over the
//! admin socket of a daemon started elsewhere (`purser-load --url --data-dir`).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use purser_daemon::Console;
use purser_store::Database;
use serde_json::{Value, json};
use tokio::net::UnixStream;

/// Who applies policies and pulls the kill switch in a benchmark.
#[derive(Debug, Clone)]
pub enum Control {
    InProcess(Console<Database>),
    /// `DATA_DIR/admin.sock` of a running daemon.
    AdminSocket(PathBuf),
}

impl Control {
    /// Creates agent `name` and returns its token.
    pub async fn add_agent(&self, name: &str) -> anyhow::Result<String> {
        match self {
            Control::InProcess(console) => {
                let created = console.add_agent(name.parse()?, None).await?;
                Ok(created.token)
            }
            Control::AdminSocket(path) => {
                let answer = admin_post(path, "/admin/agents", json!({ "name": name })).await?;
                answer
                    .get("token")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .context("the admin API's answer to adding an agent has no token")
            }
        }
    }

    pub async fn apply_policy(&self, text: &str) -> anyhow::Result<()> {
        match self {
            Control::InProcess(console) => {
                console
                    .apply_policy("bench.toml", text, "purser-bench")
                    .await?;
            }
            Control::AdminSocket(path) => {
                admin_post(
                    path,
                    "/admin/policy/apply",
                    json!({ "file": "bench.toml", "text": text }),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Engages the kill switch; returns once the daemon says it is durable.
    pub async fn kill(&self) -> anyhow::Result<()> {
        match self {
            Control::InProcess(console) => {
                console.kill(Some("kill switch benchmark".into())).await?;
            }
            Control::AdminSocket(path) => {
                admin_post(
                    path,
                    "/admin/kill",
                    json!({ "reason": "kill switch benchmark" }),
                )
                .await?;
            }
        }
        Ok(())
    }

    pub async fn resume(&self) -> anyhow::Result<()> {
        match self {
            Control::InProcess(console) => {
                console.resume().await?;
            }
            Control::AdminSocket(path) => {
                admin_post(path, "/admin/resume", json!({})).await?;
            }
        }
        Ok(())
    }
}

/// One `POST` over the admin socket; a non-2xx answer is an error with its body.
async fn admin_post(socket: &PathBuf, path: &str, body: Value) -> anyhow::Result<Value> {
    let stream = UnixStream::connect(socket)
        .await
        .with_context(|| format!("cannot connect to the admin socket {}", socket.display()))?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    let connection = tokio::spawn(connection);
    let request = Request::post(path)
        .header(HOST, "localhost")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    drop(sender);
    let _ = connection.await;
    if !(status.is_success() || status == StatusCode::CREATED) {
        bail!(
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_slice(&bytes)?)
}
