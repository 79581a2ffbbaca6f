//! [`AgentClient`]: one agent's keep-alive HTTP/1.1 connection to the agent API, as an
//! agent would hold it: `Authorization: Bearer`, a loopback `Host`, JSON bodies.
//!
//! Thin on purpose (hyper's connection API, no pool, no retries): the load generator
//! must cost the daemon's two cores as little as it can, and a failure must show, not
//! be retried away.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// What the daemon decided, as far as the benchmarks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    /// Denied because the kill switch is engaged.
    DeniedByKillSwitch,
    /// Denied for any other reason.
    Denied,
    Pending,
    /// Any other status (expired, cancelled...).
    Other,
}

#[derive(Deserialize)]
struct DecisionBody {
    status: String,
    reason: Option<ReasonBody>,
}

#[derive(Deserialize)]
struct ReasonBody {
    code: String,
}

/// One agent's connection.
#[derive(Debug)]
pub struct AgentClient {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    authorization: String,
    connection: JoinHandle<()>,
}

impl AgentClient {
    pub async fn connect(addr: SocketAddr, token: &str) -> anyhow::Result<AgentClient> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to the agent API at {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        let connection = tokio::spawn(async move {
            // Ends when the client is dropped or the daemon closes the connection; the
            // next request then fails and says so.
            let _ = connection.await;
        });
        Ok(AgentClient {
            sender,
            host: format!("127.0.0.1:{}", addr.port()),
            authorization: format!("Bearer {token}"),
            connection,
        })
    }

    /// `POST /v1/authorizations` with `body`; an HTTP error is an error here.
    pub async fn authorize(&mut self, body: Bytes) -> anyhow::Result<Outcome> {
        let (status, bytes) = self
            .send(Method::POST, "/v1/authorizations", Some(body))
            .await?;
        if status != StatusCode::OK {
            bail!(
                "the daemon answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let decision: DecisionBody = serde_json::from_slice(&bytes)
            .with_context(|| format!("not a decision: {}", String::from_utf8_lossy(&bytes)))?;
        Ok(match decision.status.as_str() {
            "approved" => Outcome::Approved,
            "pending" => Outcome::Pending,
            "denied"
                if decision
                    .reason
                    .is_some_and(|reason| reason.code == "kill_switch_engaged") =>
            {
                Outcome::DeniedByKillSwitch
            }
            "denied" => Outcome::Denied,
            _ => Outcome::Other,
        })
    }

    /// `GET /v1/health` answers 200.
    pub async fn health(&mut self) -> anyhow::Result<()> {
        let (status, bytes) = self.send(Method::GET, "/v1/health", None).await?;
        if status != StatusCode::OK {
            bail!(
                "health answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(())
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.sender
            .ready()
            .await
            .context("the connection to the agent API closed")?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.host)
            .header(AUTHORIZATION, &self.authorization);
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(body.unwrap_or_default()))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }
}

impl Drop for AgentClient {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// A payment request body: `amount` USD at a fixed merchant, auto capture.
pub fn payment_body(request_id: &str, amount: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"request_id":"{request_id}","amount":"{amount}","currency":"USD","merchant":"api.example.com","category":"software","rail":"card","session_id":"bench","purpose":"Buy API credits for the benchmark task"}}"#
    ))
}
