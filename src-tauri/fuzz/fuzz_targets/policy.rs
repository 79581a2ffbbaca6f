//! The policy parser (`parse_policy`): never panics, and every policy it accepts
//! serializes to a text that parses to the same policy.

#![no_main]

use libfuzzer_sys::fuzz_target;
use purser_core::policy::{parse_policy, serialize_policy};

fuzz_target!(|text: &str| {
    if let Ok(policy) = parse_policy("fuzz.toml", text) {
        let text = serialize_policy(&policy);
        let again = parse_policy("serialized.toml", &text);
        assert_eq!(again.ok(), Some(policy), "round trip through:\n{text}");
    }
});
