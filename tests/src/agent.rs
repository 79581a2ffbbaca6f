//! [`Agent`]: what an AI agent does over the agent API (agent-api.md §1), with a correct
//! `Host` header and its bearer token, plus the bodies and budget look-ups the tests
//! share. Answers come back as `(status, JSON)` so a test can assert either.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use crate::http::{Request, Response};

/// One agent's client of one daemon.
#[derive(Debug, Clone)]
pub struct Agent {
    pub name: String,
    addr: SocketAddr,
    token: String,
}

impl Agent {
    pub fn new(name: &str, addr: SocketAddr, token: &str) -> Agent {
        Agent {
            name: name.to_owned(),
            addr,
            token: token.to_owned(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// `Host: 127.0.0.1:PORT`, as a well-behaved local client sends it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// A request with this agent's `Host` and bearer token, to finish and send.
    pub fn request<'a>(&self, method: &'a str, target: &'a str) -> Request<'a> {
        Request::new(method, target)
            .header("Host", &self.host())
            .header("Authorization", &format!("Bearer {}", self.token))
    }

    /// Sends `request` to this agent's daemon.
    pub fn send(&self, request: &Request<'_>) -> Response {
        request.send(self.addr)
    }

    /// `POST /v1/authorizations` that may meet a dead daemon: `Err` when no complete
    /// answer came (refused, reset, closed).
    pub fn try_authorize(&self, body: &Value) -> Result<(u16, Value), String> {
        let request = self.request("POST", "/v1/authorizations").json(body);
        let response = request.try_send(self.addr)?;
        let json = serde_json::from_slice(&response.body).map_err(|error| {
            format!(
                "HTTP {} with a body that is not JSON: {error}",
                response.status
            )
        })?;
        Ok((response.status, json))
    }

    fn exchange(&self, request: Request<'_>) -> (u16, Value) {
        let response = self.send(&request);
        (response.status, response.json())
    }

    /// `POST /v1/authorizations`.
    pub fn authorize(&self, body: &Value) -> (u16, Value) {
        self.exchange(self.request("POST", "/v1/authorizations").json(body))
    }

    /// `POST /v1/authorizations?wait=S`: holds while pending, up to `wait_secs`.
    pub fn authorize_waiting(&self, body: &Value, wait_secs: u64) -> (u16, Value) {
        let target = format!("/v1/authorizations?wait={wait_secs}");
        self.exchange(
            self.request("POST", &target)
                .json(body)
                .timeout(long_poll_timeout(wait_secs)),
        )
    }

    /// `POST /v1/authorizations` that must answer 200; the decision.
    pub fn decide(&self, body: &Value) -> Value {
        let (status, decision) = self.authorize(body);
        assert_eq!(status, 200, "{}: {decision}", self.name);
        decision
    }

    /// `GET /v1/authorizations/{id}[?wait=S]`.
    pub fn get(&self, id: &str, wait_secs: u64) -> (u16, Value) {
        let target = if wait_secs == 0 {
            format!("/v1/authorizations/{id}")
        } else {
            format!("/v1/authorizations/{id}?wait={wait_secs}")
        };
        self.exchange(
            self.request("GET", &target)
                .timeout(long_poll_timeout(wait_secs)),
        )
    }

    /// `POST /v1/authorizations/{id}/capture`, of `amount` or (None) all of it.
    pub fn capture(&self, id: &str, amount: Option<&str>) -> (u16, Value) {
        let target = format!("/v1/authorizations/{id}/capture");
        let request = self.request("POST", &target);
        let request = match amount {
            Some(amount) => request.json(&json!({ "amount": amount })),
            None => request,
        };
        self.exchange(request)
    }

    /// `POST /v1/authorizations/{id}/void`.
    pub fn void(&self, id: &str) -> (u16, Value) {
        let target = format!("/v1/authorizations/{id}/void");
        self.exchange(self.request("POST", &target))
    }

    /// `POST /v1/usage`.
    pub fn usage(&self, body: &Value) -> (u16, Value) {
        self.exchange(self.request("POST", "/v1/usage").json(body))
    }

    /// `GET TARGET` with this agent's credentials (e.g. `/v1/budget?session_id=s1`).
    pub fn get_path(&self, target: &str) -> (u16, Value) {
        self.exchange(self.request("GET", target))
    }

    /// `GET /v1/budget`.
    pub fn budget(&self) -> (u16, Value) {
        self.exchange(self.request("GET", "/v1/budget"))
    }

    /// `GET /v1/budget`, which must answer 200.
    pub fn budget_ok(&self) -> Value {
        let (status, budget) = self.budget();
        assert_eq!(status, 200, "{}: {budget}", self.name);
        budget
    }
}

/// The socket timeout of a long-poll: the wait plus slack.
fn long_poll_timeout(wait_secs: u64) -> Duration {
    Duration::from_secs(wait_secs + 15)
}

/// A valid payment request (USD, category `software`, rail `card`, auto capture).
pub fn payment(request_id: &str, amount: &str, merchant: &str) -> Value {
    json!({
        "request_id": request_id,
        "amount": amount,
        "currency": "USD",
        "merchant": merchant,
        "category": "software",
        "rail": "card",
        "purpose": format!("system test {request_id}: buy API credits"),
        "context": {"task": "system-test", "url": "https://example.com/task"},
    })
}

/// [`payment`] with manual capture: approval places a hold.
pub fn hold(request_id: &str, amount: &str, merchant: &str) -> Value {
    let mut body = payment(request_id, amount, merchant);
    body["capture"] = json!("manual");
    body
}

/// The line of a `/v1/budget` answer for `scope` (`shared`, `agent`, `session`),
/// `window` and `currency`; panics naming what is there when absent.
pub fn budget_line<'a>(budget: &'a Value, scope: &str, window: &str, currency: &str) -> &'a Value {
    budget["budgets"]
        .as_array()
        .unwrap_or_else(|| panic!("no budgets array in {budget}"))
        .iter()
        .find(|line| {
            line["scope"] == scope && line["window"] == window && line["currency"] == currency
        })
        .unwrap_or_else(|| panic!("no {scope} {window} {currency} line in {budget}"))
}

/// `spent` and `held` of that line, in micro-units.
pub fn spent_and_held(budget: &Value, scope: &str, window: &str, currency: &str) -> (i64, i64) {
    let line = budget_line(budget, scope, window, currency);
    (money(&line["spent"]), money(&line["held"]))
}

/// A decimal money string of the API in micro-units; panics on anything else (a JSON
/// number included: money is never a number on the wire).
pub fn money(value: &Value) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("money must be a decimal string, found {value}"));
    micros(text)
}

/// `"12.50"` → 12_500_000.
pub fn micros(text: &str) -> i64 {
    let (integer, fraction) = text.split_once('.').unwrap_or((text, ""));
    assert!(
        !integer.is_empty()
            && integer.bytes().all(|b| b.is_ascii_digit())
            && fraction.len() <= 6
            && fraction.bytes().all(|b| b.is_ascii_digit()),
        "not an exact decimal amount: {text:?}"
    );
    let integer: i64 = integer.parse().unwrap();
    let fraction: i64 = format!("{fraction:0<6}").parse().unwrap();
    integer * 1_000_000 + fraction
}

/// The codes of a decision's `reasons`, in order.
pub fn reason_codes(decision: &Value) -> Vec<String> {
    decision["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no reasons array in {decision}"))
        .iter()
        .map(|reason| reason["code"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_are_exact() {
        assert_eq!(micros("12.50"), 12_500_000);
        assert_eq!(micros("0.000001"), 1);
        assert_eq!(micros("3"), 3_000_000);
        assert_eq!(money(&json!("99.994")), 99_994_000);
    }
}
