//! Exact money: [`Amount`] is a count of micro-units (10^-6 of a currency unit) in an
//! `i64`.
//!
//! Money enters and leaves Purser only as decimal strings (`"12.50"`), parsed and
//! formatted here through `rust_decimal` so that no float ever touches it. All
//! arithmetic is checked: an overflow is an error, never a wrap.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Micro-units in one unit of currency.
pub const MICROS_PER_UNIT: i64 = 1_000_000;
/// At most this many digits after the decimal point.
pub const MAX_FRACTION_DIGITS: u32 = 6;
/// At most this many digits before the decimal point.
pub const MAX_INTEGER_DIGITS: usize = 12;

/// A non-negative amount of money in micro-units. The currency travels beside it.
///
/// INVARIANT: `0 <= micros <= Amount::MAX.micros()`, so any sum of two amounts fits an
/// `i64` before the checked add rejects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

/// Why a string is not a valid amount. Each message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount is empty: write a decimal string such as \"12.50\"")]
    Empty,
    #[error(
        "amount {0:?} is not a plain decimal: use digits with an optional '.' (no sign, exponent, comma or spaces), e.g. \"12.50\""
    )]
    Malformed(String),
    #[error("amount {0:?} has more than 6 digits after the decimal point")]
    TooPrecise(String),
    #[error("amount {0:?} has more than 12 digits before the decimal point")]
    TooLarge(String),
    #[error("amount must be greater than zero")]
    Zero,
    #[error("amount arithmetic overflowed")]
    Overflow,
}

impl Amount {
    /// Zero: valid as a sum or a remainder, never as a requested amount.
    pub const ZERO: Amount = Amount(0);
    /// The largest amount the contract allows: 999,999,999,999.999999.
    pub const MAX: Amount = Amount(999_999_999_999_999_999);

    /// An amount from micro-units; `None` when negative or above [`Amount::MAX`].
    pub fn from_micros(micros: i64) -> Option<Amount> {
        (0..=Self::MAX.0)
            .contains(&micros)
            .then_some(Amount(micros))
    }

    /// The amount in micro-units (what the database stores).
    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses an exact decimal string and requires it to be greater than zero, as every
    /// requested amount and every limit must be.
    pub fn parse_positive(text: &str) -> Result<Amount, AmountError> {
        let amount = text.parse::<Amount>()?;
        if amount.is_zero() {
            return Err(AmountError::Zero);
        }
        Ok(amount)
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).and_then(Amount::from_micros)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).and_then(Amount::from_micros)
    }

    /// `self - other`, or zero when `other` is larger (what is left of a budget).
    pub fn saturating_sub(self, other: Amount) -> Amount {
        Amount(self.0.saturating_sub(other.0).max(0))
    }

    /// `self * units` where `units` is itself a decimal quantity (usage metering:
    /// `unit_cost * units`). The product must be exact in micro-units.
    pub fn checked_mul_quantity(self, units: Amount) -> Result<Amount, AmountError> {
        let product = i128::from(self.0) * i128::from(units.0);
        let scale = i128::from(MICROS_PER_UNIT);
        if product % scale != 0 {
            return Err(AmountError::TooPrecise(format!(
                "{} x {}",
                self.to_decimal(),
                units.to_decimal()
            )));
        }
        i64::try_from(product / scale)
            .ok()
            .and_then(Amount::from_micros)
            .ok_or(AmountError::Overflow)
    }

    fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, MAX_FRACTION_DIGITS)
    }
}

impl FromStr for Amount {
    type Err = AmountError;

    /// Accepts `DIGITS[.DIGITS]` only: at most 12 integer and 6 fractional digits, no
    /// sign, exponent, separators or whitespace. Zero parses (see [`Amount::parse_positive`]).
    fn from_str(text: &str) -> Result<Amount, AmountError> {
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        let malformed = || AmountError::Malformed(text.to_owned());
        let (integer, fraction) = match text.split_once('.') {
            Some((integer, fraction)) => (integer, Some(fraction)),
            None => (text, None),
        };
        let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(integer) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(malformed());
        }
        if fraction.is_some_and(|f| f.len() > MAX_FRACTION_DIGITS as usize) {
            return Err(AmountError::TooPrecise(text.to_owned()));
        }
        if integer.trim_start_matches('0').len() > MAX_INTEGER_DIGITS {
            return Err(AmountError::TooLarge(text.to_owned()));
        }
        let decimal = Decimal::from_str_exact(text).map_err(|_| malformed())?;
        let micros = decimal
            .checked_mul(Decimal::from(MICROS_PER_UNIT))
            .ok_or(AmountError::Overflow)?;
        // INVARIANT: at most 6 fractional digits, so the product is a whole number.
        if !micros.fract().is_zero() {
            return Err(AmountError::TooPrecise(text.to_owned()));
        }
        let micros = i64::try_from(micros).map_err(|_| AmountError::Overflow)?;
        Amount::from_micros(micros).ok_or_else(|| AmountError::TooLarge(text.to_owned()))
    }
}

impl fmt::Display for Amount {
    /// The shortest exact form with at least two decimals: `12.5` → `"12.50"`,
    /// `0.000001` → `"0.000001"`, `3` → `"3.00"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let integer = self.0 / MICROS_PER_UNIT;
        let mut fraction = self.0 % MICROS_PER_UNIT;
        // Drop trailing zeros but keep at least two decimals, without allocating.
        let mut width = MAX_FRACTION_DIGITS as usize;
        while width > 2 && fraction % 10 == 0 {
            fraction /= 10;
            width -= 1;
        }
        write!(f, "{integer}.{fraction:0width$}")
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    /// Only strings: a JSON number is refused so no float can carry money.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_formats_exactly() {
        let cases = [
            ("12.50", 12_500_000, "12.50"),
            ("12.5", 12_500_000, "12.50"),
            ("0.000001", 1, "0.000001"),
            ("3", 3_000_000, "3.00"),
            ("007.10", 7_100_000, "7.10"),
            (
                "999999999999.999999",
                Amount::MAX.micros(),
                "999999999999.999999",
            ),
            ("0", 0, "0.00"),
        ];
        for (text, micros, shown) in cases {
            let amount: Amount = text.parse().unwrap_or_else(|e| unreachable!("{text}: {e}"));
            assert_eq!(amount.micros(), micros, "{text}");
            assert_eq!(amount.to_string(), shown, "{text}");
        }
    }

    #[test]
    fn rejects_everything_that_is_not_a_plain_decimal() {
        for text in [
            "", "-1", "+1", "1e3", "1E3", "1,000", " 1", "1 ", ".5", "5.", "NaN", "inf", "0x10",
            "1.2.3", "١٢", "1_000",
        ] {
            assert!(text.parse::<Amount>().is_err(), "{text:?} must be refused");
        }
        assert_eq!(
            "1.0000001".parse::<Amount>(),
            Err(AmountError::TooPrecise("1.0000001".into()))
        );
        assert_eq!(
            "1000000000000".parse::<Amount>(),
            Err(AmountError::TooLarge("1000000000000".into()))
        );
        assert_eq!(Amount::parse_positive("0.00"), Err(AmountError::Zero));
    }

    #[test]
    fn serde_refuses_numbers() {
        assert!(serde_json::from_str::<Amount>("12.5").is_err());
        assert!(serde_json::from_str::<Amount>("12").is_err());
        let amount: Amount = serde_json::from_str("\"12.5\"").unwrap_or_default();
        assert_eq!(
            serde_json::to_string(&amount).unwrap_or_default(),
            "\"12.50\""
        );
    }

    #[test]
    fn metering_product_is_exact() {
        let cost = Amount::from_micros(2_000).unwrap_or_default(); // 0.002
        let units = Amount::from_micros(3_000_000).unwrap_or_default(); // 3
        assert_eq!(
            cost.checked_mul_quantity(units),
            Ok(Amount::from_micros(6_000).unwrap_or_default())
        );
        let tiny = Amount::from_micros(1).unwrap_or_default();
        let half = Amount::from_micros(500_000).unwrap_or_default();
        assert!(
            tiny.checked_mul_quantity(half).is_err(),
            "0.0000005 is not representable"
        );
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(micros in 0..=Amount::MAX.micros()) {
            let amount = Amount::from_micros(micros).unwrap_or_default();
            prop_assert_eq!(amount.to_string().parse::<Amount>(), Ok(amount));
        }

        #[test]
        fn arithmetic_never_wraps(a in 0..=Amount::MAX.micros(), b in 0..=Amount::MAX.micros()) {
            let (a, b) = (Amount::from_micros(a).unwrap_or_default(), Amount::from_micros(b).unwrap_or_default());
            match a.checked_add(b) {
                Some(sum) => prop_assert_eq!(i128::from(sum.micros()), i128::from(a.micros()) + i128::from(b.micros())),
                None => prop_assert!(i128::from(a.micros()) + i128::from(b.micros()) > i128::from(Amount::MAX.micros())),
            }
            match a.checked_sub(b) {
                Some(diff) => prop_assert_eq!(diff.micros(), a.micros() - b.micros()),
                None => prop_assert!(b > a),
            }
            prop_assert!(a.saturating_sub(b) <= a);
        }

        #[test]
        fn parse_agrees_with_decimal(integer in 0u64..1_000_000_000_000, fraction in 0u32..1_000_000) {
            let text = format!("{integer}.{fraction:06}");
            let amount: Amount = text.parse().unwrap_or_default();
            prop_assert_eq!(i128::from(amount.micros()), i128::from(integer) * 1_000_000 + i128::from(fraction));
        }
    }
}
