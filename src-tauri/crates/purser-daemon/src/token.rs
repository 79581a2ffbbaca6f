//! Agent tokens: how they are made, how they are recognised, and the only form in which
//! Purser keeps them.
//!
//! A token is `purser_` followed by 32 bytes from the operating system's CSPRNG in
//! unpadded base64url (43 characters). It is shown once when the agent is created; the
//! store keeps only its SHA-256 ([`TokenHash`]), so a stolen database cannot be replayed
//! as credentials. This module never logs or stores a token, and `==` on [`TokenHash`]
//! is constant time, so no comparison of hashes leaks where they differ.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every token starts with this, so a leaked one is recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "purser_";
/// Random bytes in a token.
pub const TOKEN_RANDOM_BYTES: usize = 32;
/// Length of the base64url text of [`TOKEN_RANDOM_BYTES`] without padding.
const ENCODED_LEN: usize = 43;

/// A freshly generated agent token. Its `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentToken(String);

/// The SHA-256 of a token's full text: what the store keeps and looks agents up by.
#[derive(Clone, Copy)]
pub struct TokenHash(pub [u8; 32]);

/// The operating system could not provide randomness; no token was made.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct TokenError(getrandom::Error);

impl AgentToken {
    /// A new token from the OS CSPRNG.
    pub fn generate() -> Result<AgentToken, TokenError> {
        let mut bytes = [0u8; TOKEN_RANDOM_BYTES];
        getrandom::fill(&mut bytes).map_err(TokenError)?;
        Ok(AgentToken(format!(
            "{TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    /// The secret text, to show the principal exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AgentToken(purser_…)")
    }
}

impl TokenHash {
    /// The hash of a presented token's text, whatever it looks like.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }
}

impl PartialEq for TokenHash {
    /// Constant time: takes as long whatever bytes differ.
    fn eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for TokenHash {}

impl fmt::Debug for TokenHash {
    /// Only a short prefix: enough to correlate, useless to an attacker.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// Does `text` have the shape of a Purser token? A cheap filter before any lookup; a
/// well-formed token is not thereby valid.
pub fn is_well_formed(text: &str) -> bool {
    text.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
        rest.len() == ENCODED_LEN
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_well_formed_and_distinct() {
        let a = AgentToken::generate().unwrap();
        let b = AgentToken::generate().unwrap();
        assert!(is_well_formed(a.expose()), "{}", a.expose());
        assert_eq!(a.expose().len(), TOKEN_PREFIX.len() + ENCODED_LEN);
        assert_ne!(a, b);
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn hash_is_sha256_of_the_text() {
        // `printf purser_x | sha256sum`
        let expected = "3913ab77e88876aeba8615c6e67af4260b8b2852efc1bcb5716a3b04e280af6a";
        let hash = TokenHash::of("purser_x");
        assert_eq!(hex_of(&hash), expected);
        assert_eq!(hash, TokenHash::of("purser_x"));
        assert_ne!(hash, TokenHash::of("purser_y"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = AgentToken::generate().unwrap();
        let shown = format!("{token:?} {:?}", token.hash());
        assert!(!shown.contains(&token.expose()[TOKEN_PREFIX.len()..]));
    }

    #[test]
    fn shape_check_refuses_lookalikes() {
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("purser_"));
        assert!(!is_well_formed(&format!("purser_{}", "a".repeat(42))));
        assert!(!is_well_formed(&format!("purser_{}", "a".repeat(44))));
        assert!(!is_well_formed(&format!("purser_{}=", "a".repeat(42))));
        assert!(!is_well_formed(&format!("PURSER_{}", "a".repeat(43))));
        assert!(is_well_formed(&format!(
            "purser_{}",
            "a-_9".repeat(11)[..43].to_owned()
        )));
    }

    fn hex_of(hash: &TokenHash) -> String {
        hash.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}
