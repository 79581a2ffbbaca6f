//! Validated names and identifiers: agents, profiles, request and session ids, category
//! and rail slugs, merchants and merchant patterns.
//!
//! Each is a newtype over `String` that can only be built through its `FromStr`, so a
//! value of the type is always valid and its error message says what is allowed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that does not fit the rules of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?} is invalid: {rule}")]
pub struct NameError {
    pub kind: &'static str,
    pub value: String,
    pub rule: &'static str,
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $rule:literal, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = NameError;

            fn from_str(value: &str) -> Result<$name, NameError> {
                let valid: fn(&str) -> bool = $valid;
                if valid(value) {
                    Ok($name(value.to_owned()))
                } else {
                    Err(NameError { kind: $kind, value: value.to_owned(), rule: $rule })
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

fn chars_within(value: &str, min: usize, max: usize, allowed: fn(char) -> bool) -> bool {
    let count = value.chars().count();
    (min..=max).contains(&count) && value.chars().all(allowed)
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
}

fn is_name(value: &str) -> bool {
    chars_within(value, 1, 64, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
    }) && value.starts_with(|c: char| c.is_ascii_alphanumeric())
}

validated_name!(
    /// An agent's name, e.g. `research-bot`.
    AgentName, "agent name",
    "use 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit", is_name
);
validated_name!(
    /// A policy profile's name, e.g. `default`.
    ProfileName, "profile name",
    "use 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit", is_name
);
validated_name!(
    /// The agent's idempotency key for one authorization, unique per agent.
    RequestId, "request_id", "use 1-128 of A-Z a-z 0-9 . _ : -",
    |v| chars_within(v, 1, 128, is_id_char)
);
validated_name!(
    /// Scopes `session` budget windows and session-long standing grants.
    SessionId, "session_id", "use 1-128 of A-Z a-z 0-9 . _ : -",
    |v| chars_within(v, 1, 128, is_id_char)
);
validated_name!(
    /// A lowercase slug for a category or a rail, e.g. `software`, `x402`.
    Slug, "slug", "use 1-64 of a-z 0-9 _ -",
    |v| chars_within(v, 1, 64, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
);
validated_name!(
    /// Who is paid: a host name, a Stripe account, an x402 `payTo`, free text up to 200
    /// characters without control characters.
    Merchant, "merchant", "use 1-200 characters without control characters",
    |v| chars_within(v, 1, 200, |c| !c.is_control()) && !v.trim().is_empty()
);
validated_name!(
    /// A case-insensitive glob over merchants: `*` matches any run of characters, `?`
    /// exactly one, e.g. `*casino*` or `api.*.com`.
    MerchantPattern, "merchant pattern", "use 1-200 characters without control characters",
    |v| chars_within(v, 1, 200, |c| !c.is_control())
);

impl MerchantPattern {
    /// Does this pattern match `merchant`, ignoring case?
    pub fn matches(&self, merchant: &Merchant) -> bool {
        glob_matches(&self.0.to_lowercase(), &merchant.0.to_lowercase())
    }
}

/// Iterative glob matching with `*` and `?`, linear in practice (single backtrack point).
fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merchant(m: &str) -> Merchant {
        m.parse().unwrap()
    }

    #[test]
    fn globs_match_case_insensitively() {
        let casino: MerchantPattern = "*casino*".parse().unwrap();
        assert!(casino.matches(&merchant("Royal-CASINO.example")));
        assert!(!casino.matches(&merchant("api.example.com")));
        let api: MerchantPattern = "api.?.com".parse().unwrap();
        assert!(api.matches(&merchant("api.x.com")));
        assert!(!api.matches(&merchant("api.xy.com")));
        let exact: MerchantPattern = "api.example.com".parse().unwrap();
        assert!(exact.matches(&merchant("API.example.com")));
        assert!(!exact.matches(&merchant("api.example.com.evil")));
        let star: MerchantPattern = "a*b*c".parse().unwrap();
        assert!(star.matches(&merchant("aXbYbZc")));
        assert!(!star.matches(&merchant("aXbYbZ")));
    }

    #[test]
    fn ids_follow_the_contract() {
        assert!("order-8812:attempt.1_x".parse::<RequestId>().is_ok());
        assert!("".parse::<RequestId>().is_err());
        assert!("a b".parse::<RequestId>().is_err());
        assert!("x".repeat(129).parse::<RequestId>().is_err());
        assert!("research-bot".parse::<AgentName>().is_ok());
        assert!("-bot".parse::<AgentName>().is_err());
        assert!("Software".parse::<Slug>().is_err());
        assert!("   ".parse::<Merchant>().is_err());
        assert!("a\nb".parse::<Merchant>().is_err());
    }
}
