//! The amount parser (`Amount::from_str`, `Amount::parse_positive`): never panics, and
//! whatever it accepts formats back to text that parses to the same amount.

#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use purser_core::Amount;

fuzz_target!(|text: &str| {
    if let Ok(amount) = Amount::from_str(text) {
        let again = Amount::from_str(&amount.to_string());
        assert_eq!(again.ok(), Some(amount), "round trip of {text:?}");
    }
    if let Ok(amount) = Amount::parse_positive(text) {
        assert_eq!(
            Amount::parse_positive(&amount.to_string()).ok(),
            Some(amount)
        );
    }
});
