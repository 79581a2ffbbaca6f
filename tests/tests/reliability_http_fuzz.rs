//! Reliability scenario 7, HTTP fuzzing (docs/reliability.md): a generator of hostile
//! requests sent over raw TCP at the real daemon — every field of the agent API's bodies
//! replaced by values the contract forbids (floats, exponents, signs, overlong strings,
//! wrong types, unknown fields, missing fields), broken JSON (truncated, invalid UTF-8,
//! nested 10,000 deep, over 64 KiB), hostile headers (Host, Origin, Authorization,
//! Content-Type), hostile paths, ids and queries, and bytes that are not HTTP at all.
//!
//! Every answer must be 4xx (bytes that are not HTTP may instead be closed without an
//! answer); never 2xx, never 5xx, never a hang. The process must stay alive, never log a
//! panic, record nothing, and keep its resident memory bounded (`VmRSS` of
//! `/proc/PID/status` after a warm-up vs at the end).
//!
//! The cargo-fuzz targets (src-tauri/fuzz/) fuzz the parsers in process; this test fuzzes
//! the whole edge as an attacker meets it. Sizes: short (default) 6,000 requests;
//! `PURSER_RELIABILITY=full` 100,000.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use purser_system_tests::http::{Request, parse_response};
use purser_system_tests::reliability::trail::Trail;
use purser_system_tests::reliability::{Mode, Rng, Row, rss_kib, run_parallel};
use purser_system_tests::{TestDaemon, payment};
use serde_json::{Value, json};

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "30m"
hold_ttl = "2h"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "500.00"
on_exceed = "deny"
"#;

/// How one hostile request was built, for the failure message and the tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    Field,
    Body,
    Header,
    Route,
    Usage,
    NotHttp,
}

fn invalid_amounts() -> Vec<Value> {
    vec![
        json!(12.5),
        json!(12),
        json!("1e3"),
        json!("-1.00"),
        json!("+1.00"),
        json!("0"),
        json!("0.00"),
        json!("1.0000001"),
        json!("NaN"),
        json!("Infinity"),
        json!("1,00"),
        json!(" 1.00"),
        json!("1.00 "),
        json!("0x10"),
        json!("1_000"),
        json!(""),
        json!("１２"),
        json!("1234567890123.00"),
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!(".5"),
        json!("5."),
        json!("1.2.3"),
        json!("99999999999999999999"),
    ]
}

fn invalid_values(field: &str) -> Vec<Value> {
    let long = |n: usize| json!("x".repeat(n));
    match field {
        "amount" => invalid_amounts(),
        "currency" => vec![
            json!("usd"),
            json!("US"),
            json!("USDUSDUSDUS"),
            json!("US D"),
            json!(""),
            json!(5),
            json!(null),
            json!("€€€"),
        ],
        "request_id" => vec![
            json!(""),
            json!("a b"),
            long(129),
            json!("id/1"),
            json!("id\u{0}"),
            json!(5),
            json!(null),
            json!("ïd"),
        ],
        "merchant" => vec![json!(""), long(201), json!(5), json!(null), json!([])],
        "purpose" => vec![json!(""), long(1001), json!(5), json!(null), json!({})],
        "category" | "rail" => vec![json!("Not A Slug!"), json!(5), json!(""), json!([])],
        "capture" => vec![json!("later"), json!(1), json!(""), json!("MANUAL")],
        "session_id" => vec![json!(""), json!("s p"), json!(5), json!(["a"]), long(300)],
        _ => vec![
            json!("string"),
            json!(5),
            json!([1]),
            json!({"big": "y".repeat(17 * 1024)}),
        ],
    }
}

const FIELDS: &[&str] = &[
    "amount",
    "currency",
    "request_id",
    "merchant",
    "purpose",
    "category",
    "rail",
    "capture",
    "session_id",
    "context",
];
const REQUIRED: &[&str] = &["request_id", "amount", "currency", "merchant", "purpose"];

/// One hostile request: its family and raw bytes.
fn hostile(rng: &mut Rng, n: usize, host: &str, token: &str) -> (Family, Vec<u8>) {
    let bearer = format!("Bearer {token}");
    let post = |target: &str, body: Vec<u8>| -> Vec<u8> {
        Request::new("POST", target)
            .header("Host", host)
            .header("Authorization", &bearer)
            .header("Content-Type", "application/json")
            .body(body)
            .encode()
    };
    let mut body = payment(&format!("fuzz-{n}"), "12.50", "api.example.com");
    match rng.below(6) {
        0 => {
            // One field made invalid, or a required one removed, or an unknown one added.
            match rng.below(10) {
                0 => {
                    body.as_object_mut().unwrap().remove(*rng.pick(REQUIRED));
                }
                1 => {
                    let unknown = *rng.pick(&[
                        "status",
                        "decided_by",
                        "__proto__",
                        "amount_micros",
                        "Amount",
                        "approved",
                    ]);
                    body[unknown] = json!("approved");
                }
                _ => {
                    let field = *rng.pick(FIELDS);
                    body[field] = rng.pick(&invalid_values(field)).clone();
                }
            }
            (
                Family::Field,
                post("/v1/authorizations", body.to_string().into_bytes()),
            )
        }
        1 => {
            let text = body.to_string();
            let bytes: Vec<u8> = match rng.below(9) {
                0 => Vec::new(),
                1 => b"null".to_vec(),
                2 => b"[]".to_vec(),
                3 => text.as_bytes()[..rng.below(text.len() as u64 - 1) as usize].to_vec(),
                4 => text
                    .replacen("api.example.com", "api.\u{0}", 1)
                    .replace('\u{0}', "\u{FFFD}")
                    .into_bytes()
                    .into_iter()
                    .map(|b| if b == 0xEF { 0xFF } else { b })
                    .collect(),
                5 => format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
                6 => format!("{{\"amount\": 1e999999, {}", &text[1..]).into_bytes(),
                7 => format!("{}{}", " ".repeat(70 * 1024), text).into_bytes(),
                _ => format!("{text}garbage").into_bytes(),
            };
            (Family::Body, post("/v1/authorizations", bytes))
        }
        2 => {
            let json_body = body.to_string();
            let port = host.rsplit(':').next().unwrap();
            let request = match rng.below(8) {
                0 => Request::new("POST", "/v1/authorizations")
                    .header("Host", &format!("evil.example:{port}"))
                    .header("Authorization", &bearer),
                1 => Request::new("POST", "/v1/authorizations")
                    .header("Host", host)
                    .header("Authorization", &bearer)
                    .header("Origin", "https://evil.example"),
                2 => Request::new("POST", "/v1/authorizations")
                    .header("Host", host)
                    .header(
                        "Authorization",
                        &format!("Bearer {}", &token[..token.len() - 1]),
                    ),
                3 => Request::new("POST", "/v1/authorizations")
                    .header("Host", host)
                    .header("Authorization", &bearer)
                    .header("Content-Type", "text/plain"),
                4 => Request::new("POST", "/v1/authorizations")
                    .header("Host", host)
                    .header("Authorization", &bearer),
                5 => Request::new("POST", "/v1/authorizations")
                    .header("Host", host)
                    .header("Authorization", &bearer)
                    .header("Content-Type", "application/x-www-form-urlencoded"),
                6 => Request::new("POST", "/v1/authorizations")
                    .header("Authorization", &bearer)
                    .header("Content-Type", "application/json"),
                _ => Request::new("POST", "/v1/authorizations")
                    .header("Host", host)
                    .header("Authorization", &format!("Bearer {token}\u{7f}")),
            };
            let request = request.body(json_body);
            (Family::Header, request.encode())
        }
        3 => {
            let targets = [
                "/v1/authorizations/../../admin/kill".to_owned(),
                format!(
                    "/v1/authorizations/{}",
                    "a".repeat(rng.range(200, 5_000) as usize)
                ),
                "/v1/authorizations/%00/capture".into(),
                "/v1/authorizations/auth_%2e%2e%2fadmin/void".into(),
                "/v1/authorizations?wait=-1".into(),
                "/v1/authorizations?wait=1e9".into(),
                "/v1/authorizations?wait=abc".into(),
                "/v1/authorizations/auth_01M8C07C2TRVXW566SJ74P9E1Q?wait=121".into(),
                "/v1/budget?session_id=a%20b".into(),
                "/admin/kill".into(),
                "/v1/../admin/resume".into(),
                "/V1/AUTHORIZATIONS".into(),
                "/v1/authorizations/x/capture/extra".into(),
            ];
            let target = rng.pick(&targets).clone();
            let method = *rng.pick(&["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]);
            let request = Request::new(method, &target)
                .header("Host", host)
                .header("Authorization", &bearer);
            let request = if method == "POST" {
                request
                    .header("Content-Type", "application/json")
                    .body(b"{\"amount\":\"x\"}".to_vec())
            } else {
                request
            };
            (Family::Route, request.encode())
        }
        4 => {
            let mut usage = json!({"request_id": format!("fuzz-u-{n}"), "action": "web_search", "units": "3", "unit_cost": "0.002", "currency": "USD"});
            match rng.below(4) {
                0 => usage["units"] = rng.pick(&invalid_amounts()).clone(),
                1 => usage["unit_cost"] = rng.pick(&invalid_amounts()).clone(),
                2 => {
                    usage["units"] = json!("999999999999");
                    usage["unit_cost"] = json!("999999999999");
                }
                _ => {
                    // 0.0001 × 0.001 is not a whole number of micro-units.
                    usage["units"] = json!("0.0001");
                    usage["unit_cost"] = json!("0.001");
                }
            }
            (
                Family::Usage,
                post("/v1/usage", usage.to_string().into_bytes()),
            )
        }
        _ => {
            let raw: Vec<u8> = match rng.below(6) {
                0 => {
                    // Random bytes, ended like a request head so the server has all of it.
                    let mut bytes: Vec<u8> =
                        (0..rng.range(1, 2_000)).map(|_| rng.below(256) as u8).collect();
                    bytes.extend_from_slice(b"\r\n\r\n");
                    bytes
                }
                1 => b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
                2 => b"GET /v1/health\r\n\r\n".to_vec(),
                3 => format!("POST /v1/authorizations HTTP/1.1\r\nHost: {host}\r\nContent-Length: -5\r\n\r\n").into_bytes(),
                4 => format!("POST /v1/authorizations HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz\r\n").into_bytes(),
                _ => format!("GET /v1/budget HTTP/1.1\r\nHost: {host}\r\nBad Header Name: x\r\n\r\n").into_bytes(),
            };
            (Family::NotHttp, raw)
        }
    }
}

/// Sends raw bytes and reads until the server closes: the status, or `None` when it
/// closed without an answer.
fn exchange(addr: SocketAddr, bytes: &[u8]) -> Result<Option<u16>, String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(bytes).and_then(|()| stream.flush());
    let mut raw = Vec::new();
    let mut buffer = [0_u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(error) if matches!(error.kind(), std::io::ErrorKind::ConnectionReset) => break,
            Err(error) => {
                return Err(format!(
                    "no answer within 10 s ({error}) after {} bytes",
                    raw.len()
                ));
            }
        }
    }
    if raw.is_empty() {
        return Ok(None);
    }
    let status = parse_response(&raw)
        .map(|response| response.status)
        .or_else(|| std::str::from_utf8(raw.get(9..12)?).ok()?.parse().ok());
    Ok(status.or(Some(0)))
}

#[test]
fn hostile_requests_get_only_4xx_no_panic_no_memory_growth() {
    let mode = Mode::from_env();
    let total: usize = mode.size(6_000, 100_000);
    let seed = Rng::seed_from_env();
    let daemon = TestDaemon::start(POLICY);
    let agent = daemon.agent("fuzz-bot");
    let addr = agent.addr();
    let pid = daemon.pid();
    let mut row = Row::new("7 HTTP fuzzing");
    let host = Arc::new(agent.host());
    let token = Arc::new(agent.token().to_owned());
    let send_batch = move |from: usize, count: usize| {
        let host = Arc::clone(&host);
        let token = Arc::clone(&token);
        run_parallel(8, count, move |job| {
            let n = from + job;
            let mut rng = Rng::new(seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let (family, bytes) = hostile(&mut rng, n, &host, &token);
            let answer = exchange(addr, &bytes);
            let shown =
                || String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(1500)..]).into_owned();
            match answer {
                Ok(Some(status)) if (400..500).contains(&status) => (family, status),
                Ok(None) if family == Family::NotHttp => (family, 0),
                other => panic!(
                    "hostile request #{n} ({family:?}, seed {seed}) answered {other:?}:\n{}",
                    shown()
                ),
            }
        })
    };
    let warm_up = total / 10;
    let mut answers = send_batch(0, warm_up);
    let rss_warm = rss_kib(pid);
    answers.extend(send_batch(warm_up, total - warm_up));
    let rss_end = rss_kib(pid);

    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the daemon is alive"
    );
    let (status, health) = agent.get_path("/v1/health");
    assert_eq!(status, 200, "{health}");
    let log = daemon.stderr();
    assert!(
        !log.contains("panicked"),
        "the daemon panicked:\n{}",
        daemon.log_tail(30)
    );
    let trail = Trail::export(&daemon);
    assert_eq!(
        trail.of_kind("request").count() + trail.of_kind("usage").count(),
        0,
        "no hostile request was recorded"
    );
    assert!(
        rss_end <= rss_warm + rss_warm / 2 + 16 * 1024,
        "memory grew from {rss_warm} KiB after the warm-up to {rss_end} KiB"
    );
    let decision = agent.decide(&payment("after-fuzz", "1.00", "api.example.com"));
    assert_eq!(decision["status"], "approved", "still deciding: {decision}");

    let mut statuses: std::collections::BTreeMap<u16, usize> = Default::default();
    for (_, status) in &answers {
        *statuses.entry(*status).or_default() += 1;
    }
    let closed = statuses.remove(&0).unwrap_or(0);
    let by_status: Vec<String> = statuses
        .iter()
        .map(|(status, count)| format!("{status}×{count}"))
        .collect();
    row.figure("hostile requests", answers.len())
        .figure("answers", by_status.join(" "))
        .figure("closed without answer (not HTTP)", closed)
        .figure("2xx / 5xx / hangs / panics", "0 / 0 / 0 / 0")
        .figure("recorded", 0)
        .figure(
            "RSS after warm-up → end",
            format!("{} → {} MiB", rss_warm / 1024, rss_end / 1024),
        );
    row.report();
}
