//! x402 through Purser: `POST /v1/x402/authorize` decides on 402 answers built by the
//! official x402 SDK's server side (v2, and v1 in the SDK's legacy models), priced
//! exactly from the asset's decimals; and `examples/x402_pay.py` signs and pays a real
//! x402 resource server (the SDK's, with a local stand-in facilitator) only once Purser
//! approved.
//!
//! One daemon for the file; every test has agents of its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::LazyLock;
use std::time::Duration;

use purser_system_tests::binary::workspace_root;
use purser_system_tests::http::Request;
use purser_system_tests::rails::{free_port, x402_payment_required};
use purser_system_tests::{Agent, TestDaemon, assert_error, peers};
use serde_json::{Value, json};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USDC", "MEGAUSD"]
approve_above = { USDC = "1.00" }

[[profiles.default.limit]]
currency = "USDC"
window = "day"
max = "50.00"
on_exceed = "deny"

[profiles.strict]
currencies = ["USDC"]
blocked_merchants = ["127.0.0.1"]
"#;

const PAY_TO: &str = "0x1111111111111111111111111111111111111111";
const BASE_SEPOLIA: &str = "eip155:84532";
const MEGAETH: &str = "eip155:4326";
const WEATHER: &str = "https://api.weather.example/today?city=Oslo";

static DAEMON: LazyLock<TestDaemon> = LazyLock::new(|| TestDaemon::start(POLICY));

fn ask(agent: &Agent, body: &Value, wait: u64) -> (u16, Value) {
    let target = format!("/v1/x402/authorize?wait={wait}");
    let response = agent.send(
        &agent
            .request("POST", &target)
            .json(body)
            .timeout(Duration::from_secs(wait + 30)),
    );
    (response.status, response.json())
}

fn x402_ask(request_id: &str, payment_required: &Value) -> Value {
    json!({"request_id": request_id, "payment_required": payment_required})
}

#[test]
fn sdk_requirements_v2_and_v1_are_priced_exactly_and_decided() {
    let agent = DAEMON.agent("x402-exact");
    let v2 = x402_payment_required(2, BASE_SEPOLIA, "$0.01", PAY_TO, WEATHER);
    assert_eq!(
        v2["accepts"][0]["amount"], "10000",
        "the SDK's atomic units: {v2}"
    );
    let (status, decision) = ask(&agent, &x402_ask("w-v2", &v2), 0);
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["status"], "approved");
    assert_eq!(decision["amount"], "0.01");
    assert_eq!(decision["currency"], "USDC");
    assert_eq!(decision["merchant"], "api.weather.example");
    assert_eq!(decision["rail"], "eip155-84532");

    let v1 = x402_payment_required(1, BASE_SEPOLIA, "$1.234567", PAY_TO, WEATHER);
    assert_eq!(v1["accepts"][0]["maxAmountRequired"], "1234567", "{v1}");
    assert_eq!(v1["accepts"][0]["network"], "base-sepolia");
    let (status, decision) = ask(&agent, &x402_ask("w-v1", &v1), 0);
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["amount"], "1.234567");
    assert_eq!(decision["rail"], "eip155-84532", "v1 names map to CAIP-2");
    assert_eq!(
        decision["status"], "pending",
        "above the 1.00 USDC threshold"
    );
    DAEMON.cli_ok(&["approve", decision["id"].as_str().unwrap()]);
    let (_, decided) = agent.get(decision["id"].as_str().unwrap(), 0);
    assert_eq!(decided["status"], "approved");

    // An 18-decimal asset: exact when it fits 6 decimals.
    let mega = x402_payment_required(2, MEGAETH, "$0.01", PAY_TO, WEATHER);
    assert_eq!(mega["accepts"][0]["amount"], "10000000000000000");
    let (status, decision) = ask(&agent, &x402_ask("m-1", &mega), 0);
    assert_eq!(status, 200, "{decision}");
    assert_eq!(
        (decision["amount"].as_str(), decision["currency"].as_str()),
        (Some("0.01"), Some("MEGAUSD"))
    );

    // The same request_id replays; with another 402 it is a conflict.
    let (_, replay) = ask(&agent, &x402_ask("w-v2", &v2), 0);
    let (_, first) = agent.get(replay["id"].as_str().unwrap(), 0);
    assert_eq!(replay["id"], first["id"]);
    assert_error(
        &ask(&agent, &x402_ask("w-v2", &mega), 0),
        409,
        "idempotency_conflict",
    );
}

#[test]
fn amounts_the_asset_cannot_carry_exactly_are_refused() {
    let agent = DAEMON.agent("x402-refused");
    // The SDK's own answer for 0.0000001 of an 18-decimal asset: 7 decimals.
    let mega = x402_payment_required(2, MEGAETH, "$0.0000001", PAY_TO, WEATHER);
    assert_eq!(mega["accepts"][0]["amount"], "100000000000");
    let answer = ask(&agent, &x402_ask("too-precise", &mega), 0);
    assert_error(&answer, 422, "invalid_request");
    assert!(
        answer.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than 6 decimals"),
        "{}",
        answer.1
    );
    // USDC has 6 decimals: the SDK truncates 0.0000001 to 0, which pays nothing.
    let zero = x402_payment_required(2, BASE_SEPOLIA, "$0.0000001", PAY_TO, WEATHER);
    assert_eq!(zero["accepts"][0]["amount"], "0");
    assert_error(
        &ask(&agent, &x402_ask("zero", &zero), 0),
        422,
        "invalid_request",
    );
    // A fraction of USDC's smallest unit.
    let mut fraction = x402_payment_required(2, BASE_SEPOLIA, "$0.01", PAY_TO, WEATHER);
    fraction["accepts"][0]["amount"] = json!("10000.5");
    let answer = ask(&agent, &x402_ask("fraction", &fraction), 0);
    assert_error(&answer, 422, "invalid_request");
    assert!(
        answer.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a whole number"),
        "{}",
        answer.1
    );
    // An asset Purser does not know: its decimals would be the payee's word.
    let mut unknown = x402_payment_required(2, BASE_SEPOLIA, "$0.01", PAY_TO, WEATHER);
    unknown["accepts"][0]["asset"] = json!("0x2222222222222222222222222222222222222222");
    assert_error(
        &ask(&agent, &x402_ask("unknown", &unknown), 0),
        422,
        "invalid_request",
    );
    // Nothing was recorded for any of them.
    assert!(
        agent.budget_ok()["budgets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|line| line["spent"] == "0.00" && line["held"] == "0.00")
    );
}

/// `tests/peers/x402_server.py serve`: the x402 SDK's resource server on a free port.
struct WeatherServer {
    child: Child,
    port: u16,
}

impl WeatherServer {
    fn start(price: &str) -> WeatherServer {
        let port = free_port();
        let mut child = peers::python_script("x402_server.py")
            .args(["serve", &port.to_string(), BASE_SEPOLIA, price, PAY_TO])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the x402 server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the x402 server did not start");
        WeatherServer { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/weather", self.port)
    }

    /// How many payments the server received.
    fn payments(&self) -> u64 {
        let response = Request::new("GET", "/_payments")
            .header("Host", &format!("127.0.0.1:{}", self.port))
            .send(([127, 0, 0, 1], self.port).into());
        response.json()["count"].as_u64().unwrap()
    }
}

impl Drop for WeatherServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `examples/x402_pay.py URL` as `agent`: (exit code, stdout, stderr).
fn pay(agent: &Agent, url: &str, request_id: &str) -> (i32, String, String) {
    let output = std::process::Command::new(peers::python())
        .arg(workspace_root().join("examples/x402_pay.py"))
        .args([
            url,
            "--purser",
            &format!("http://{}", agent.addr()),
            "--request-id",
            request_id,
            "--wait",
            "0",
        ])
        .env("PURSER_TOKEN", agent.token())
        .env("X402_PRIVATE_KEY", format!("0x{}", "4c".repeat(32)))
        .stdin(Stdio::null())
        .output()
        .expect("run examples/x402_pay.py");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_example_client_signs_and_pays_only_after_approval() {
    let server = WeatherServer::start("$0.01");
    let agent = DAEMON.agent("x402-client");
    let (code, stdout, stderr) = pay(&agent, &server.url(), "weather-1");
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("sunny"), "{stdout}");
    assert_eq!(server.payments(), 1);
    let budget = agent.budget_ok();
    let day = purser_system_tests::spent_and_held(&budget, "agent", "day", "USDC");
    assert_eq!(
        day,
        (10_000, 0),
        "the hold was captured once the server settled: {budget}"
    );

    // Denied by the policy: the client never signs, the server never hears of it.
    let created = DAEMON.cli_json(&["agent", "add", "x402-strict", "--profile", "strict"]);
    let strict = DAEMON.agent_with_token("x402-strict", created["token"].as_str().unwrap());
    let (code, _, stderr) = pay(&strict, &server.url(), "weather-2");
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("merchant_blocked"), "{stderr}");
    assert_eq!(server.payments(), 1, "no payment without approval");

    // Pending (above the threshold) and not answered within the client's wait: no payment.
    let dear = WeatherServer::start("$5");
    let (code, _, stderr) = pay(&agent, &dear.url(), "weather-3");
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("pending"), "{stderr}");
    assert_eq!(dear.payments(), 0);
}
