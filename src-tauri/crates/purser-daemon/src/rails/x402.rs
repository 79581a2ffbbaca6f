//! x402: `POST /v1/x402/authorize[?wait=S]` on the agent API.
//!
//! An agent that got `402 Payment Required` from an x402 server sends Purser the body
//! (x402 v1: `accepts[].maxAmountRequired`, legacy network names; v2: `accepts[].amount`,
//! CAIP-2 networks, a top-level `resource`) and which of its `accepts` it would pay.
//! Purser prices it exactly — the atomic amount with the asset's decimals from Purser's
//! own table of known assets, never the server's word — and decides on the one
//! authorization path of `POST /v1/authorizations`:
//!
//! - currency: the asset's symbol (`USDC`); an asset Purser does not know is refused;
//! - amount: atomic units / 10^decimals, exact; a fraction of an atomic unit, zero, or
//!   more decimals than Purser's 6 is refused (422), never rounded;
//! - merchant: the resource's host (`api.example.com`), or `payTo` when there is no
//!   resource URL; `payTo`, network, asset and atomic amount go into the context;
//! - rail: the network as a slug (`eip155-8453`; v1 names are mapped to CAIP-2 first).
//!
//! The agent signs and pays only after `approved`; with `"capture": "manual"` it then
//! captures the hold once the server settled, or voids it if the payment failed.

use axum::Json;
use axum::extract::State;
use purser_core::{
    AgentName, Amount, AuthorizationRequest, CaptureMode, Currency, Merchant, RequestId,
    RequestKind, SessionId, Slug,
};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::http::body::JsonObject;
use crate::http::operations::{reserve_if_waiting, settle};
use crate::http::query::Wait;
use crate::http::view::AuthorizationView;
use crate::http::{ApiError, AuthenticatedAgent};
use crate::rails::amounts::{UnitsError, amount_from_units};
use crate::state::AppState;

const FIELDS: &[&str] = &[
    "request_id",
    "payment_required",
    "accept",
    "purpose",
    "category",
    "capture",
    "session_id",
    "context",
];

/// A token Purser can price: its currency code and decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    pub network: &'static str,
    /// The token's address (EVM: compared case-insensitively) or mint (Solana).
    pub address: &'static str,
    pub symbol: &'static str,
    pub decimals: u32,
}

/// The assets Purser prices, with the decimals their contracts define. Anything else is
/// refused: an unknown asset's decimals would be the payee's word.
pub const ASSETS: &[Asset] = &[
    Asset {
        network: "eip155:8453",
        address: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        symbol: "USDC",
        decimals: 6,
    },
    Asset {
        network: "eip155:84532",
        address: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        symbol: "USDC",
        decimals: 6,
    },
    Asset {
        network: "eip155:1",
        address: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
        symbol: "USDC",
        decimals: 6,
    },
    Asset {
        network: "eip155:137",
        address: "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359",
        symbol: "USDC",
        decimals: 6,
    },
    Asset {
        network: "eip155:43114",
        address: "0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E",
        symbol: "USDC",
        decimals: 6,
    },
    Asset {
        network: "eip155:42161",
        address: "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
        symbol: "USDC",
        decimals: 6,
    },
    Asset {
        network: "eip155:421614",
        address: "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d",
        symbol: "USDC",
        decimals: 6,
    },
    Asset {
        network: "eip155:4326",
        address: "0xFAfDdbb3FC7688494971a79cc65DCa3EF82079E7",
        symbol: "MEGAUSD",
        decimals: 18,
    },
    Asset {
        network: "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
        address: "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        symbol: "USDC",
        decimals: 6,
    },
    Asset {
        network: "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
        address: "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU",
        symbol: "USDC",
        decimals: 6,
    },
];

/// x402 v1's network names, as CAIP-2.
const V1_NETWORKS: &[(&str, &str)] = &[
    ("base", "eip155:8453"),
    ("base-sepolia", "eip155:84532"),
    ("ethereum", "eip155:1"),
    ("polygon", "eip155:137"),
    ("avalanche", "eip155:43114"),
    ("arbitrum", "eip155:42161"),
    ("arbitrum-sepolia", "eip155:421614"),
    ("solana", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"),
    ("solana-devnet", "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"),
];

/// One of a 402 response's `accepts`, priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub version: u64,
    pub scheme: String,
    /// CAIP-2.
    pub network: String,
    pub asset: Asset,
    pub atomic: String,
    pub amount: Amount,
    pub currency: Currency,
    pub pay_to: String,
    pub resource: Option<String>,
    pub description: Option<String>,
}

/// Prices `accepts[index]` of a 402 body (v1 or v2).
pub fn price(payment_required: &Map<String, Value>, index: usize) -> Result<Priced, ApiError> {
    let field = "payment_required";
    let invalid = |message: String| ApiError::invalid_field(field, message);
    let version = payment_required
        .get("x402Version")
        .and_then(Value::as_u64)
        .filter(|version| matches!(version, 1 | 2))
        .ok_or_else(|| invalid("payment_required.x402Version must be 1 or 2".into()))?;
    let accepts = payment_required
        .get("accepts")
        .and_then(Value::as_array)
        .filter(|accepts| !accepts.is_empty())
        .ok_or_else(|| invalid("payment_required.accepts must be a non-empty array".into()))?;
    let requirement = accepts
        .get(index)
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "accept",
                format!(
                    "accept {index} is not one of the {} payment requirements",
                    accepts.len()
                ),
            )
        })?;
    let text = |key: &str| {
        requirement
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let required = |key: &str| {
        text(key).ok_or_else(|| {
            invalid(format!(
                "payment_required.accepts[{index}].{key} is required (a string)"
            ))
        })
    };
    let amount_key = if version == 1 {
        "maxAmountRequired"
    } else {
        "amount"
    };
    let atomic = required(amount_key)?;
    let scheme = required("scheme")?;
    let network = required("network")?;
    let network = if version == 1 {
        V1_NETWORKS
            .iter()
            .find(|(name, _)| *name == network)
            .map_or(network, |(_, caip2)| caip2)
    } else {
        network
    };
    let asset_address = required("asset")?;
    let pay_to = required("payTo")?;
    let asset = ASSETS
        .iter()
        .find(|asset| asset.network == network && same_address(asset, asset_address))
        .copied()
        .ok_or_else(|| {
            invalid(format!(
                "asset {asset_address} on {network} is not one Purser knows the decimals of (USDC on Base, Ethereum, Polygon, Avalanche, Arbitrum, Solana…); refused rather than trusting the payee"
            ))
        })?;
    let amount = amount_from_units(atomic, asset.decimals).map_err(|error| {
        let message = match error {
            UnitsError::NotWhole(_) => format!(
                "payment_required.accepts[{index}].{amount_key} {atomic:?} is not a whole number of {}'s smallest unit ({} decimals): refused",
                asset.symbol, asset.decimals
            ),
            other => format!("payment_required.accepts[{index}].{amount_key}: {other}"),
        };
        invalid(message)
    })?;
    let currency: Currency = asset
        .symbol
        .parse()
        .map_err(|_| ApiError::unavailable("an asset's symbol is not a currency code"))?;
    let (resource, description) = if version == 1 {
        (
            text("resource").map(str::to_owned),
            text("description").map(str::to_owned),
        )
    } else {
        let info = payment_required.get("resource").and_then(Value::as_object);
        let get = |key: &str| {
            info.and_then(|info| info.get(key))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        (
            get("url"),
            get("description").or_else(|| text("description").map(str::to_owned)),
        )
    };
    Ok(Priced {
        version,
        scheme: scheme.to_owned(),
        network: network.to_owned(),
        asset,
        atomic: atomic.to_owned(),
        amount,
        currency,
        pay_to: pay_to.to_owned(),
        resource,
        description,
    })
}

fn same_address(asset: &Asset, address: &str) -> bool {
    if asset.network.starts_with("eip155:") {
        asset.address.eq_ignore_ascii_case(address)
    } else {
        asset.address == address
    }
}

/// The host of an `http(s)://` URL, lowercase.
fn host_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if host.starts_with('[') {
        host.split_once(']').map(|(h, _)| format!("{h}]"))?
    } else {
        host.split(':').next()?.to_owned()
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The network as a rail slug: `eip155:8453` → `eip155-8453`.
pub fn rail_slug(network: &str) -> Option<Slug> {
    let slug: String = network
        .chars()
        .map(|c| {
            if c == ':' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .take(64)
        .collect();
    slug.parse().ok()
}

/// The authorization request for `priced`, from the body's other fields.
pub fn authorization_request(
    agent: &AgentName,
    body: &Map<String, Value>,
) -> Result<AuthorizationRequest, ApiError> {
    if let Some(unknown) = body.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return Err(ApiError::invalid_field(
            unknown.clone(),
            format!(
                "unknown field {unknown:?}: the fields are {}",
                FIELDS.join(", ")
            ),
        ));
    }
    let string = |key: &str| -> Result<Option<&str>, ApiError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.as_str())),
            Some(_) => Err(ApiError::invalid_field(
                key,
                format!("{key} must be a JSON string"),
            )),
        }
    };
    let request_id: RequestId = string("request_id")?
        .ok_or_else(|| ApiError::invalid_field("request_id", "request_id is required"))?
        .parse()
        .map_err(|e: purser_core::names::NameError| {
            ApiError::invalid_field("request_id", e.to_string())
        })?;
    let payment_required = body
        .get("payment_required")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "payment_required",
                "payment_required is required: the JSON body of the server's 402 response (x402 v1 or v2)",
            )
        })?;
    let index = match body.get("accept") {
        None | Some(Value::Null) => 0,
        Some(value) => value
            .as_u64()
            .and_then(|index| usize::try_from(index).ok())
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "accept",
                    "accept must be an index into payment_required.accepts",
                )
            })?,
    };
    let priced = price(payment_required, index)?;
    let merchant_text = priced
        .resource
        .as_deref()
        .and_then(host_of)
        .unwrap_or_else(|| priced.pay_to.clone());
    let merchant: Merchant =
        merchant_text
            .parse()
            .map_err(|e: purser_core::names::NameError| {
                ApiError::invalid_field("payment_required", e.to_string())
            })?;
    let purpose = match string("purpose")? {
        Some(text) if !text.trim().is_empty() && text.chars().count() <= 1_000 => text.to_owned(),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "purpose",
                "purpose must have 1-1000 characters and not be blank",
            ));
        }
        None => {
            let what = priced
                .description
                .clone()
                .or_else(|| priced.resource.clone())
                .unwrap_or_else(|| merchant_text.clone());
            let text = format!("x402 payment: {what}");
            text.chars().take(1_000).collect()
        }
    };
    let category = string("category")?
        .map(|text| {
            text.parse::<Slug>()
                .map_err(|e| ApiError::invalid_field("category", e.to_string()))
        })
        .transpose()?;
    let session_id = string("session_id")?
        .map(|text| {
            text.parse::<SessionId>()
                .map_err(|e| ApiError::invalid_field("session_id", e.to_string()))
        })
        .transpose()?;
    let capture = match string("capture")? {
        None | Some("auto") => CaptureMode::Auto,
        Some("manual") => CaptureMode::Manual,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "capture",
                format!("capture {other:?} is unknown: use \"auto\" (the default) or \"manual\""),
            ));
        }
    };
    let mut x402 = Map::new();
    x402.insert("x402Version".into(), Value::from(priced.version));
    x402.insert("scheme".into(), Value::from(priced.scheme.clone()));
    x402.insert("network".into(), Value::from(priced.network.clone()));
    x402.insert("asset".into(), Value::from(priced.asset.address));
    x402.insert("decimals".into(), Value::from(priced.asset.decimals));
    x402.insert("atomic_amount".into(), Value::from(priced.atomic.clone()));
    x402.insert("pay_to".into(), Value::from(priced.pay_to.clone()));
    if let Some(resource) = &priced.resource {
        x402.insert("resource".into(), Value::from(resource.clone()));
    }
    let mut context = match body.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "context",
                "context must be a JSON object",
            ));
        }
    };
    context.insert("x402".into(), Value::Object(x402));
    if serde_json::to_vec(&context).map_or(usize::MAX, |bytes| bytes.len())
        > crate::http::decode::MAX_CONTEXT_BYTES
    {
        return Err(ApiError::invalid_field(
            "context",
            "context is larger than 16 KiB",
        ));
    }
    Ok(AuthorizationRequest {
        agent: agent.clone(),
        request_id,
        kind: RequestKind::Payment,
        amount: priced.amount,
        currency: priced.currency,
        merchant,
        category,
        rail: rail_slug(&priced.network),
        capture,
        session_id,
        purpose,
        context: Some(context),
    })
}

/// `POST /v1/x402/authorize`: a 402 answer the agent would pay.
#[derive(Debug, utoipa::ToSchema, serde::Serialize)]
#[schema(as = X402AuthorizeRequest)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "schema only")]
pub struct X402AuthorizeRequestSchema {
    /// Idempotency key, unique per agent (as for `POST /v1/authorizations`).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[A-Za-z0-9._:-]+$",
        example = "weather-oslo-1"
    )]
    request_id: String,
    /// The JSON body of the server's `402 Payment Required` answer, x402 v1
    /// (`accepts[].maxAmountRequired`) or v2 (`accepts[].amount`, `resource`).
    #[schema(value_type = Object)]
    payment_required: Value,
    /// Which of `payment_required.accepts` the agent would pay (default 0).
    #[schema(nullable = false, minimum = 0)]
    accept: Option<u32>,
    /// Why, for the principal (default: from the resource's description).
    #[schema(nullable = false, min_length = 1, max_length = 1000)]
    purpose: Option<String>,
    #[schema(nullable = false, pattern = r"^[a-z0-9_-]{1,64}$")]
    category: Option<String>,
    /// `auto` (default: approval is spending) or `manual` (a hold: capture once the
    /// server settled, void if the payment failed).
    #[schema(nullable = false, pattern = "^(auto|manual)$")]
    capture: Option<String>,
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 128,
        pattern = r"^[A-Za-z0-9._:-]+$"
    )]
    session_id: Option<String>,
    /// Any JSON object, kept in the audit trail beside Purser's `x402` entry.
    #[schema(nullable = false, value_type = Option<Object>)]
    context: Option<Value>,
}

/// `POST /v1/x402/authorize[?wait=S]`: the decision, as `POST /v1/authorizations`.
#[utoipa::path(
    post,
    path = "/v1/x402/authorize",
    operation_id = "authorizeX402",
    tag = "authorizations",
    summary = "Ask to pay an x402 402 response",
    description = "Prices one of an x402 `402 Payment Required` response's payment requirements (v1 or v2) exactly — the atomic amount with the asset's decimals from Purser's own table of known assets (USDC: 6) — and decides it like `POST /v1/authorizations`: merchant is the resource's host (or payTo), rail the network (`eip155-8453`). An unknown asset, a zero amount, a fraction of an atomic unit or more than 6 decimals is refused (422), never rounded. Sign and pay only after `approved`.",
    params(("wait" = Option<u32>, Query, minimum = 0, maximum = 120, description = "Seconds to hold the answer while the decision is pending (0-120, default 0)")),
    request_body(content = X402AuthorizeRequestSchema, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision, for a new request and for an exact replay of its request_id", body = AuthorizationView),
        (status = 409, description = "idempotency_conflict: this request_id was used with different fields; nothing changed", body = crate::http::error::ErrorBody),
    ),
    security(("agent_token" = [])),
)]
#[tracing::instrument(skip_all, fields(agent = %agent.name))]
pub(crate) async fn authorize(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    Wait(wait): Wait,
    JsonObject(body): JsonObject,
) -> Result<Json<AuthorizationView>, ApiError> {
    let request = authorization_request(&agent.name, &body)?;
    let slot = reserve_if_waiting(&state, &agent, wait)?;
    let authorization = state.authorizer().authorize(request).await?;
    let authorization = match slot {
        Some(slot) => settle(&state, &agent, authorization, slot, Instant::now() + wait).await?,
        None => authorization,
    };
    Ok(Json(AuthorizationView::from(&authorization)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn agent() -> AgentName {
        "bot".parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn v2_requirements_are_priced_exactly() {
        let body = object(json!({
            "request_id": "w-1",
            "payment_required": {
                "x402Version": 2,
                "resource": {"url": "https://api.weather.example/today?city=Oslo", "description": "Weather"},
                "accepts": [{"scheme": "exact", "network": "eip155:84532",
                    "asset": "0x036cbd53842c5426634e7929541ec2318f3dcf7e", "amount": "10000",
                    "payTo": "0x1111111111111111111111111111111111111111", "maxTimeoutSeconds": 300}]
            }
        }));
        let request =
            authorization_request(&agent(), &body).unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(request.amount.to_string(), "0.01");
        assert_eq!(request.currency.as_str(), "USDC");
        assert_eq!(request.merchant.as_str(), "api.weather.example");
        assert_eq!(
            request.rail.map(|r| r.to_string()).as_deref(),
            Some("eip155-84532")
        );
        assert_eq!(request.purpose, "x402 payment: Weather");
        let context = request.context.unwrap_or_default();
        assert_eq!(
            context["x402"]["pay_to"],
            "0x1111111111111111111111111111111111111111"
        );
        assert_eq!(context["x402"]["atomic_amount"], "10000");
    }

    #[test]
    fn v1_requirements_map_network_names() {
        let required = object(json!({
            "x402Version": 1,
            "accepts": [{"scheme": "exact", "network": "base", "maxAmountRequired": "1234567",
                "resource": "http://127.0.0.1:9/x", "description": "d",
                "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                "payTo": "0x2222222222222222222222222222222222222222", "maxTimeoutSeconds": 60}]
        }));
        let priced = price(&required, 0).unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(priced.network, "eip155:8453");
        assert_eq!(priced.amount.to_string(), "1.234567");
        assert_eq!(
            host_of("http://127.0.0.1:9/x").as_deref(),
            Some("127.0.0.1")
        );
    }

    #[test]
    fn what_cannot_be_priced_exactly_is_refused() {
        let with = |network: &str, asset: &str, amount: &str| {
            object(
                json!({"x402Version": 2, "accepts": [{"scheme": "exact", "network": network,
                "asset": asset, "amount": amount, "payTo": "0xabc"}]}),
            )
        };
        let usdc = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
        for bad in ["0", "1.5", "-1", "1e6", ""] {
            assert!(
                price(&with("eip155:84532", usdc, bad), 0).is_err(),
                "{bad:?}"
            );
        }
        let mega = "0xFAfDdbb3FC7688494971a79cc65DCa3EF82079E7";
        assert!(price(&with("eip155:4326", mega, "10000000000000000"), 0).is_ok());
        let error = price(&with("eip155:4326", mega, "100000000000"), 0)
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(error.contains("more than 6 decimals"), "{error}");
        assert!(
            price(&with("eip155:84532", "0xdeadbeef", "1"), 0).is_err(),
            "unknown asset"
        );
        assert!(
            price(&with("eip155:8453", usdc, "1"), 0).is_err(),
            "asset of another network"
        );
        assert!(
            price(&with("eip155:84532", usdc, "1"), 1).is_err(),
            "no such accept"
        );
    }
}
