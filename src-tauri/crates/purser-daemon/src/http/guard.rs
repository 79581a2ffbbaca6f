//! The agent API's gates, as middleware, in the order a request meets them:
//!
//! 1. [`admit`] (every route, the fallbacks included): `Host` must be a loopback name on
//!    the bound port or a configured extra host (DNS rebinding), an `Origin` header must
//!    be a configured origin (browsers are not agents), and a declared `Content-Length`
//!    must fit the body limit (the extractors bound the actual stream too).
//! 2. [`authenticate`] (every route but health): a bearer token, looked up by its
//!    SHA-256 (unknown and revoked tokens alike are 401); failures are rate limited per
//!    peer.
//!
//! The gates decide only who may talk; what is said is the handlers' business.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use purser_core::AgentName;

use super::body::payload_too_large;
use super::error::{ApiError, ErrorCode};
use crate::authorizer::AgentStatus;
use crate::state::AppState;
use crate::token::{self, TokenHash};

/// The agent a request was authenticated as, put in the request's extensions by
/// [`authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedAgent {
    pub name: AgentName,
    /// Active or frozen (a frozen agent may ask; the engine denies it).
    pub status: AgentStatus,
}

/// Host, Origin and declared size checks, before anything else happens.
pub(crate) async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Err(error) = admission(&state, &request) {
        return error.into_response();
    }
    next.run(request).await
}

fn admission(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.to_string())
        });
    let host_allowed = host.is_some_and(|host| {
        let host = host.to_ascii_lowercase();
        state.allowed_hosts().contains(&host)
    });
    if !host_allowed {
        return Err(ApiError::new(
            ErrorCode::ForbiddenHost,
            format!(
                "the Host header must be 127.0.0.1:{port}, localhost:{port} or [::1]:{port}: Purser answers only requests addressed to it by a loopback name (DNS-rebinding defence)",
                port = state.config().port
            ),
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|origin| {
            state
                .config()
                .allowed_origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin))
        });
        if !allowed {
            return Err(ApiError::new(
                ErrorCode::ForbiddenOrigin,
                "requests from web pages are refused: agents call Purser without an Origin header",
            ));
        }
    }
    let limit = state.config().body_limit_bytes;
    if declared_length(headers).is_some_and(|length| length > limit as u64) {
        return Err(payload_too_large(limit));
    }
    Ok(())
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Bearer token → [`AuthenticatedAgent`], or 401; peers that fail too often get 429.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = peer_of(&request);
    match authentication(&state, request.headers(), peer).await {
        Ok(agent) => {
            request.extensions_mut().insert(agent);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

pub(crate) async fn authentication(
    state: &AppState,
    headers: &HeaderMap,
    peer: IpAddr,
) -> Result<AuthenticatedAgent, ApiError> {
    let presented = bearer_token(headers).ok_or_else(ApiError::unauthenticated)?;
    // A valid token is always served: every local agent shares 127.0.0.1, so a limit
    // checked before the lookup would let one misbehaving process lock out the others.
    // Tokens carry 256 random bits, so the limiter is not what stops guessing; it stops
    // a client from hammering the daemon with bad tokens.
    if token::is_well_formed(presented) {
        // The store finds the agent by the SHA-256 of the token: a lookup timing can
        // reveal at most something about a hash, never about a token.
        let record = state
            .authorizer()
            .agent_by_token_hash(TokenHash::of(presented))
            .await?;
        match record {
            Some(record) if record.status != AgentStatus::Revoked => {
                return Ok(AuthenticatedAgent {
                    name: record.name,
                    status: record.status,
                });
            }
            Some(record) => tracing::info!(agent = %record.name, "revoked token presented"),
            None => {}
        }
    }
    let failures = state.auth_failures();
    failures.check(peer).map_err(|retry_after| {
        tracing::warn!(%peer, "too many failed authentications from this address");
        ApiError::rate_limited(
            "too many requests with invalid tokens from this address; wait and retry with a valid token",
            retry_after,
        )
    })?;
    failures.record_failure(peer);
    Err(ApiError::unauthenticated())
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The peer's address when the server provides it; otherwise one shared bucket.
fn peer_of(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |info| info.0.ip())
}

impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // Present whenever the route sits behind `authenticate`; absent means a routing
        // mistake, and then nobody is authenticated.
        parts
            .extensions
            .get::<AuthenticatedAgent>()
            .cloned()
            .ok_or_else(ApiError::unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_authorization(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(
            bearer_token(&with_authorization("Bearer purser_abc")),
            Some("purser_abc")
        );
        assert_eq!(
            bearer_token(&with_authorization("bearer  purser_abc ")),
            Some("purser_abc")
        );
        assert_eq!(
            bearer_token(&with_authorization("Basic dXNlcjpwYXNz")),
            None
        );
        assert_eq!(bearer_token(&with_authorization("Bearer")), None);
        assert_eq!(bearer_token(&with_authorization("Bearer ")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
