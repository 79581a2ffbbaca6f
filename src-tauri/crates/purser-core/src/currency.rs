//! [`Currency`]: a currency or asset code such as `USD`, `EUR` or `USDC`.
//!
//! Purser never converts between currencies: every limit is per currency, so the code is
//! only ever compared, never interpreted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 3–10 uppercase ASCII letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "currency {0:?} is not a code of 3-10 uppercase letters or digits, e.g. \"USD\" or \"USDC\""
)]
pub struct CurrencyError(pub String);

impl Currency {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;

    fn from_str(code: &str) -> Result<Currency, CurrencyError> {
        let valid = (3..=10).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if valid {
            Ok(Currency(code.to_owned()))
        } else {
            Err(CurrencyError(code.to_owned()))
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Currency, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_codes_and_refuses_the_rest() {
        for ok in ["USD", "EUR", "USDC", "ABCDEFGHIJ", "X402"] {
            assert!(ok.parse::<Currency>().is_ok(), "{ok}");
        }
        for bad in ["", "US", "usd", "U$D", "ABCDEFGHIJK", " USD", "ÜSD"] {
            assert!(bad.parse::<Currency>().is_err(), "{bad}");
        }
    }
}
