//! Merchant rules: a merchant matching one of the profile's `blocked_merchants` globs is
//! denied (`merchant_blocked`, rule 4); when `allowed_merchants` is not empty, a merchant
//! matching none of them waits for the principal (`merchant_not_listed`, rule 8).
//!
//! A profile may hold dozens of globs and every payment is tested against them, so the
//! merchant is prepared once per decision ([`MerchantKey`]): lowercased into a stack
//! buffer, with a table of the bytes it contains. A glob with a literal character that
//! the merchant lacks cannot match and is rejected at that character, usually within a
//! few bytes, without running the matcher. Both fast paths are ASCII-only; anything
//! else goes to [`MerchantPattern::matches`], which defines the semantics (unit tests
//! check the two agree).

use super::Subject;
use super::verdict::Verdict;
use crate::decision::ReasonCode;
use crate::{Merchant, MerchantPattern};

/// A merchant has at most 200 characters, so an ASCII one fits this many bytes.
const MAX_MERCHANT_BYTES: usize = 200;

pub(super) fn check_blocked(
    subject: &Subject<'_>,
    merchant: &MerchantKey<'_>,
    verdict: &mut Verdict,
) {
    let Some((profile_name, profile)) = subject.profile else {
        return;
    };
    if let Some(pattern) = profile
        .blocked_merchants
        .iter()
        .find(|p| merchant.matches(p))
    {
        verdict.deny(
            ReasonCode::MerchantBlocked,
            format!(
                "merchant \"{}\" matches the blocked pattern \"{pattern}\" (profile {profile_name})",
                merchant.merchant
            ),
        );
    }
}

pub(super) fn check_listed(
    subject: &Subject<'_>,
    merchant: &MerchantKey<'_>,
    verdict: &mut Verdict,
) {
    let Some((profile_name, profile)) = subject.profile else {
        return;
    };
    let allowed = &profile.allowed_merchants;
    if allowed.is_empty() || allowed.iter().any(|p| merchant.matches(p)) {
        return;
    }
    verdict.ask(
        ReasonCode::MerchantNotListed,
        format!(
            "merchant \"{}\" is not on profile {profile_name}'s list of allowed merchants: \
             the principal must approve",
            merchant.merchant
        ),
    );
}

/// A merchant prepared for matching many globs.
#[derive(Debug)]
pub(super) struct MerchantKey<'a> {
    merchant: &'a Merchant,
    /// The merchant in ASCII lowercase; meaningful only when `ascii`.
    lower: [u8; MAX_MERCHANT_BYTES],
    len: usize,
    ascii: bool,
    /// `may_match[b]` is false when a glob byte `b` cannot match any character of the
    /// merchant: an ASCII letter, digit or sign that the merchant lacks in either case.
    /// True for `*`, `?` and every non-ASCII byte, which this test does not judge.
    may_match: [bool; 256],
}

impl<'a> MerchantKey<'a> {
    pub(super) fn new(merchant: &'a Merchant) -> MerchantKey<'a> {
        let bytes = merchant.as_str().as_bytes();
        let mut key = MerchantKey {
            merchant,
            lower: [0; MAX_MERCHANT_BYTES],
            len: 0,
            ascii: false,
            may_match: [true; 256],
        };
        if bytes.len() <= MAX_MERCHANT_BYTES && bytes.is_ascii() {
            key.may_match[..128].fill(false);
            key.may_match[usize::from(b'*')] = true;
            key.may_match[usize::from(b'?')] = true;
            for (slot, byte) in key.lower.iter_mut().zip(bytes) {
                *slot = byte.to_ascii_lowercase();
                key.may_match[usize::from(byte.to_ascii_lowercase())] = true;
                key.may_match[usize::from(byte.to_ascii_uppercase())] = true;
            }
            key.len = bytes.len();
            key.ascii = true;
        }
        key
    }

    /// Does `pattern` match the merchant, ignoring case? Same answer as
    /// [`MerchantPattern::matches`].
    pub(super) fn matches(&self, pattern: &MerchantPattern) -> bool {
        if !self.ascii {
            return pattern.matches(self.merchant);
        }
        let glob = pattern.as_str().as_bytes();
        // Each ASCII literal of a glob must match an equal character of the (ASCII)
        // merchant, whatever the rest of the glob is. Most globs fail here within a few
        // bytes.
        if !glob.iter().all(|&byte| self.may_match[usize::from(byte)]) {
            return false;
        }
        if !glob.is_ascii() {
            // Unicode lowercasing may map a non-ASCII glob character onto ASCII.
            return pattern.matches(self.merchant);
        }
        glob_matches_ascii(glob, &self.lower[..self.len])
    }
}

/// The glob algorithm of [`MerchantPattern::matches`] over ASCII bytes: `*` any run, `?`
/// one byte, the pattern lowercased on the fly, `text` already lowercase.
fn glob_matches_ascii(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while let Some(&byte) = text.get(t) {
        match pattern.get(p).map(u8::to_ascii_lowercase) {
            Some(b'*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(c) if c == b'?' || c == byte => {
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
    pattern.iter().skip(p).all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn agrees(pattern: &str, merchant: &str) -> Result<(), TestCaseError> {
        let (Ok(pattern), Ok(merchant)) = (
            pattern.parse::<MerchantPattern>(),
            merchant.parse::<Merchant>(),
        ) else {
            return Ok(());
        };
        prop_assert_eq!(
            MerchantKey::new(&merchant).matches(&pattern),
            pattern.matches(&merchant),
            "pattern {:?} merchant {:?}",
            pattern.as_str(),
            merchant.as_str()
        );
        Ok(())
    }

    #[test]
    fn agrees_with_the_reference_on_known_cases() {
        let cases = [
            ("*casino*", "Royal-CASINO.example", true),
            ("*casino*", "api.example.com", false),
            ("api.?.com", "api.x.com", true),
            ("api.?.com", "api.xy.com", false),
            ("API.example.com", "api.EXAMPLE.com", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("*", "anything", true),
            ("**", "x", true),
            ("?", "é", true),
            ("*é*", "CAFÉ.fr", true),
            ("\u{212A}*", "kelvin", true),
            ("k*", "\u{212A}elvin", true),
        ];
        for (pattern, merchant, expected) in cases {
            let parsed: MerchantPattern = pattern.parse().unwrap();
            let merchant: Merchant = merchant.parse().unwrap();
            assert_eq!(
                parsed.matches(&merchant),
                expected,
                "reference: {pattern} vs {merchant}"
            );
            assert_eq!(
                MerchantKey::new(&merchant).matches(&parsed),
                expected,
                "{pattern} vs {merchant}"
            );
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference_on_ascii(
            pattern in "[aAbB.*?]{1,8}",
            merchant in "[aAbB.c]{1,12}",
        ) {
            agrees(&pattern, &merchant)?;
        }

        #[test]
        fn agrees_with_the_reference_on_any_text(
            pattern in "[a-zA-Z*?\u{212A}\u{130}é]{1,6}",
            merchant in "[a-zA-Z\u{212A}\u{130}éÉ]{1,8}",
        ) {
            agrees(&pattern, &merchant)?;
        }
    }
}
