//! [`StripeUpstream`]: the Stripe API (or a Stripe-compatible server) behind the proxy,
//! called with the real secret key. It is the Stripe [`Rail`]: an approved order is
//! sent with an idempotency key derived from its authorization, and Stripe's answer is
//! classified as done, refused (nothing moved) or unknown (keep the hold).
//!
//! The secret key goes only into the `Authorization` header of upstream requests. It is
//! never logged, and every upstream body is scrubbed of it before anyone sees it.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::StripeSecret;
use crate::authorizer::BoxFuture;
use crate::rails::receipts::{Receipt, ReceiptOutcome};
use crate::rails::{Order, Outcome, Rail};

/// Largest upstream body read (list responses can be large).
const MAX_UPSTREAM_BODY: usize = 16 * 1024 * 1024;
/// What the key is replaced with wherever it would show.
const REDACTED: &[u8] = b"sk_[redacted by Purser]";

/// Upstream response headers passed on to the agent.
const FORWARDED_RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "request-id",
    "stripe-version",
    "idempotency-key",
];

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

pub struct StripeUpstream {
    /// `scheme://authority` and an optional path prefix, without a trailing slash.
    base: String,
    secret: StripeSecret,
    client: HttpsClient,
    timeout: Duration,
}

impl std::fmt::Debug for StripeUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeUpstream")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// One call upstream.
#[derive(Debug, Clone)]
pub struct UpstreamRequest<'a> {
    pub method: Method,
    pub path: &'a str,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
    pub idempotency_key: Option<HeaderValue>,
    pub headers: &'a [(HeaderName, HeaderValue)],
}

/// Stripe's answer, scrubbed.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

/// No answer from Stripe (the text never carries the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UpstreamError(pub String);

impl StripeUpstream {
    /// An upstream at `base_url` (`https://api.stripe.com`; plain `http://` only on a
    /// loopback address, for local Stripe-compatible servers: the key never crosses a
    /// network in clear text).
    pub fn new(
        base_url: &str,
        secret: StripeSecret,
        timeout: Duration,
    ) -> Result<StripeUpstream, String> {
        let base = check_base_url(base_url)?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(StripeUpstream {
            base,
            secret,
            client,
            timeout,
        })
    }

    /// Sends `request` with the real key; `Err` when no complete answer came back.
    pub async fn send(
        &self,
        request: UpstreamRequest<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let uri: Uri = format!("{}{}", self.base, request.path)
            .parse()
            .map_err(|_| UpstreamError("the request path is not a valid URI".into()))?;
        let mut builder = hyper::Request::builder().method(request.method).uri(uri);
        let authorization = HeaderValue::from_str(&format!("Bearer {}", self.secret.expose()))
            .map_err(|_| {
                UpstreamError("the Stripe secret key is not a valid header value".into())
            })?;
        builder = builder.header(header::AUTHORIZATION, authorization).header(
            header::USER_AGENT,
            concat!("purser/", env!("CARGO_PKG_VERSION")),
        );
        if let Some(content_type) = request.content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        if let Some(key) = request.idempotency_key {
            builder = builder.header("idempotency-key", key);
        }
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        let upstream = builder
            .body(Full::new(request.body))
            .map_err(|_| UpstreamError("cannot build the request to Stripe".into()))?;
        let exchange = async {
            let response = self
                .client
                .request(upstream)
                .await
                .map_err(|error| UpstreamError(describe(&error)))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_UPSTREAM_BODY)
                .collect()
                .await
                .map_err(|_| UpstreamError("Stripe's answer was cut off or too large".into()))?
                .to_bytes();
            Ok::<_, UpstreamError>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| UpstreamError(format!("no answer within {:?}", self.timeout)))??;
        let headers = parts
            .headers
            .iter()
            .filter(|(name, _)| FORWARDED_RESPONSE_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Ok(UpstreamResponse {
            status: parts.status,
            headers,
            body: scrub(body, self.secret.expose()),
        })
    }

    /// `GET path` as JSON (a lookup the proxy needs to price a call), or why not.
    pub async fn get_json(
        &self,
        path: &str,
    ) -> Result<Result<Value, UpstreamResponse>, UpstreamError> {
        let response = self
            .send(UpstreamRequest {
                method: Method::GET,
                path,
                content_type: None,
                body: Bytes::new(),
                idempotency_key: None,
                headers: &[],
            })
            .await?;
        if !response.status.is_success() {
            return Ok(Err(response));
        }
        serde_json::from_slice(&response.body)
            .map(Ok)
            .map_err(|_| UpstreamError("Stripe's answer is not JSON".into()))
    }
}

impl Rail for StripeUpstream {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn execute<'a>(&'a self, order: &'a Order) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let Ok(key) = HeaderValue::from_str(&order.idempotency_key) else {
                return Outcome::Unknown("the idempotency key is not a header value".into());
            };
            let sent = self
                .send(UpstreamRequest {
                    method: order.method.clone(),
                    path: &order.path,
                    content_type: order.content_type.clone(),
                    body: order.body.clone(),
                    idempotency_key: Some(key),
                    headers: &order.headers,
                })
                .await;
            match sent {
                Ok(response) => classify(response),
                Err(error) => Outcome::Unknown(error.0),
            }
        })
    }
}

/// Done (2xx); refused for good (other 4xx: declined, invalid); unknown (409: a
/// concurrent request with the same key; 429: rate limited; 5xx; anything else).
fn classify(response: UpstreamResponse) -> Outcome {
    let status = response.status.as_u16();
    let outcome = match status {
        200..=299 => ReceiptOutcome::Done,
        409 | 429 => return Outcome::Unknown(format!("Stripe answered {status}, asking to retry")),
        400..=499 => ReceiptOutcome::Refused,
        _ => return Outcome::Unknown(format!("Stripe answered {status}")),
    };
    Outcome::Answered(Receipt {
        outcome,
        status,
        body: String::from_utf8_lossy(&response.body).into_owned(),
    })
}

/// A transport error's kind, without its details (which could name the URL, never the
/// key, but say nothing useful to an agent).
fn describe(error: &hyper_util::client::legacy::Error) -> String {
    if error.is_connect() {
        "cannot connect to Stripe".into()
    } else {
        "the connection to Stripe failed".into()
    }
}

/// `body` with every occurrence of `secret` replaced.
pub fn scrub(body: Bytes, secret: &str) -> Bytes {
    let needle = secret.as_bytes();
    if needle.is_empty() || body.len() < needle.len() {
        return body;
    }
    if !body.windows(needle.len()).any(|window| window == needle) {
        return body;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut rest: &[u8] = &body;
    while let Some(at) = rest
        .windows(needle.len())
        .position(|window| window == needle)
    {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(REDACTED);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    Bytes::from(out)
}

/// The upstream base URL, checked: `https://HOST[:PORT][/PREFIX]`, or `http://` on a
/// loopback address only.
pub fn check_base_url(url: &str) -> Result<String, String> {
    let uri: Uri = url.parse().map_err(|_| {
        format!("--stripe-upstream {url:?} is not a URL such as https://api.stripe.com")
    })?;
    let host = uri.host().unwrap_or("");
    let scheme = uri.scheme_str().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match scheme {
        "https" if !host.is_empty() => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "--stripe-upstream {url:?} is plain http to a non-loopback host: the secret key would cross the network in clear text; use https"
            ));
        }
        _ => return Err(format!("--stripe-upstream {url:?} must be an https:// URL")),
    }
    if uri.query().is_some() {
        return Err(format!("--stripe-upstream {url:?} must not have a query"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_scrubbed_everywhere() {
        let body = Bytes::from_static(
            b"{\"message\":\"Invalid API Key provided: sk_test_abc; sk_test_abc\"}",
        );
        let clean = scrub(body, "sk_test_abc");
        let text = String::from_utf8_lossy(&clean);
        assert!(!text.contains("sk_test_abc"), "{text}");
        assert_eq!(text.matches("[redacted by Purser]").count(), 2, "{text}");
        let untouched = Bytes::from_static(b"{}");
        assert_eq!(scrub(untouched.clone(), "sk_test_abc"), untouched);
    }

    #[test]
    fn base_urls_keep_the_key_off_clear_networks() {
        assert_eq!(
            check_base_url("https://api.stripe.com/").as_deref(),
            Ok("https://api.stripe.com")
        );
        assert!(check_base_url("http://127.0.0.1:8420").is_ok());
        assert!(check_base_url("http://localhost:8420").is_ok());
        assert!(check_base_url("http://[::1]:8420").is_ok());
        assert!(check_base_url("http://stripe.internal:8420").is_err());
        assert!(check_base_url("http://10.0.0.5").is_err());
        assert!(check_base_url("ftp://x").is_err());
        assert!(check_base_url("api.stripe.com").is_err());
    }

    #[test]
    fn answers_are_classified_fail_safe() {
        let answer = |status: u16| {
            classify(UpstreamResponse {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
                headers: Vec::new(),
                body: Bytes::from_static(b"{}"),
            })
        };
        let outcome_of = |status| match answer(status) {
            Outcome::Answered(receipt) => Some(receipt.outcome),
            Outcome::Unknown(_) => None,
        };
        assert_eq!(outcome_of(200), Some(ReceiptOutcome::Done));
        assert_eq!(outcome_of(402), Some(ReceiptOutcome::Refused));
        assert_eq!(outcome_of(400), Some(ReceiptOutcome::Refused));
        assert_eq!(outcome_of(404), Some(ReceiptOutcome::Refused));
        for unknown in [409, 429, 500, 502, 503, 302] {
            assert_eq!(outcome_of(unknown), None, "{unknown}");
        }
    }
}
