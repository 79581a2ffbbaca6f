//! The agent API's request decoder (`http::decode`): any bytes that are a JSON object
//! are decoded as a payment, a usage and a capture body; it never panics, and a decoded
//! payment keeps the exact amount string it was given.

#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use purser_core::AgentName;
use purser_daemon::http::decode::{authorization_request, capture_amount, usage_request};
use serde_json::{Map, Value};

fuzz_target!(|bytes: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Map<String, Value>>(bytes) else {
        return;
    };
    let Ok(agent) = AgentName::from_str("fuzz-bot") else {
        return;
    };
    if let Ok(request) = authorization_request(&agent, &body) {
        let sent = body
            .get("amount")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert_eq!(
            purser_core::Amount::from_str(sent).ok(),
            Some(request.amount)
        );
    }
    let _ = usage_request(&agent, &body);
    let _ = capture_amount(Some(&body));
});
