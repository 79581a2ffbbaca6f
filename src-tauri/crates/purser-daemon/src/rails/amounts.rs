//! Exact conversions from a rail's integer units to Purser's [`Amount`]: Stripe's minor
//! units with the currency's exponent, x402's atomic units with the asset's decimals.
//!
//! Integers only (`u128` and digit strings), never a float. A value that cannot be
//! represented exactly in micro-units (more than 6 decimals once scaled) is refused, and
//! so is zero: an amount the rail would move must be an amount Purser can count.

use purser_core::Amount;
use purser_core::money::MAX_FRACTION_DIGITS;

/// Why rail units are not an amount Purser can decide on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitsError {
    #[error("the amount {0:?} is not a whole number of the rail's smallest unit (digits only)")]
    NotWhole(String),
    #[error("the amount must be greater than zero")]
    Zero,
    #[error(
        "{units} units with {decimals} decimals is {exact}, which has more than 6 decimals: Purser counts money exactly to 6 decimals and refuses to round"
    )]
    TooPrecise {
        units: String,
        decimals: u32,
        exact: String,
    },
    #[error("the amount {0} is larger than Purser's largest amount (999999999999.999999)")]
    TooLarge(String),
}

/// `units` (a string of ASCII digits, as rails send big integers) of a currency or asset
/// with `decimals` decimals, as an exact [`Amount`].
pub fn amount_from_units(units: &str, decimals: u32) -> Result<Amount, UnitsError> {
    if units.is_empty() || !units.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UnitsError::NotWhole(units.to_owned()));
    }
    let digits = units.trim_start_matches('0');
    if digits.is_empty() {
        return Err(UnitsError::Zero);
    }
    // Amount::MAX has 18 digits in micro-units; anything with more digits than that plus
    // the scale can only be too large (or too precise), and must not overflow u128.
    if digits.len() > 18 + decimals as usize {
        return Err(UnitsError::TooLarge(units.to_owned()));
    }
    if decimals > 36 {
        return Err(UnitsError::TooLarge(units.to_owned()));
    }
    let value: u128 = digits
        .parse()
        .map_err(|_| UnitsError::TooLarge(units.to_owned()))?;
    let micros = if decimals <= MAX_FRACTION_DIGITS {
        value.checked_mul(10_u128.pow(MAX_FRACTION_DIGITS - decimals))
    } else {
        let divisor = 10_u128.pow(decimals - MAX_FRACTION_DIGITS);
        if value % divisor != 0 {
            return Err(UnitsError::TooPrecise {
                units: units.to_owned(),
                decimals,
                exact: exact_decimal(digits, decimals),
            });
        }
        Some(value / divisor)
    };
    micros
        .and_then(|micros| i64::try_from(micros).ok())
        .and_then(Amount::from_micros)
        .ok_or_else(|| UnitsError::TooLarge(exact_decimal(digits, decimals)))
}

/// [`amount_from_units`] for an integer the rail sent as a number (Stripe's minor units).
pub fn amount_from_minor(minor: u64, exponent: u32) -> Result<Amount, UnitsError> {
    amount_from_units(&minor.to_string(), exponent)
}

/// `amount` in units of `decimals` decimals (the inverse, for comparisons); `None` when
/// it does not divide exactly.
pub fn units_of(amount: Amount, decimals: u32) -> Option<u128> {
    let micros = u128::try_from(amount.micros()).ok()?;
    if decimals >= MAX_FRACTION_DIGITS {
        micros.checked_mul(10_u128.checked_pow(decimals - MAX_FRACTION_DIGITS)?)
    } else {
        let divisor = 10_u128.pow(MAX_FRACTION_DIGITS - decimals);
        (micros % divisor == 0).then_some(micros / divisor)
    }
}

/// `digits` (no leading zeros) shifted `decimals` places, for messages: `"1"`, 7 →
/// `"0.0000001"`.
fn exact_decimal(digits: &str, decimals: u32) -> String {
    let decimals = decimals as usize;
    if decimals == 0 {
        return digits.to_owned();
    }
    let padded = format!("{digits:0>width$}", width = decimals + 1);
    let (integer, fraction) = padded.split_at(padded.len() - decimals);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        integer.to_owned()
    } else {
        format!("{integer}.{fraction}")
    }
}

/// Stripe's exponent for a currency (its lowercase ISO code): how many decimals its
/// integer `amount` fields carry. Stripe's zero-decimal currencies have 0, its
/// three-decimal ones 3, every other currency 2.
///
/// Stripe's special cases (ISK, UGX: zero-decimal currencies that some Stripe APIs
/// express with two decimals) are read as zero-decimal: if Stripe meant two decimals,
/// Purser counts 100 times the real amount, which can only refuse more, never approve
/// more than the principal allowed.
pub fn stripe_exponent(currency: &str) -> u32 {
    const ZERO_DECIMAL: &[&str] = &[
        "bif", "clp", "djf", "gnf", "isk", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
        "vuv", "xaf", "xof", "xpf",
    ];
    const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];
    let currency = currency.to_ascii_lowercase();
    if ZERO_DECIMAL.contains(&currency.as_str()) {
        0
    } else if THREE_DECIMAL.contains(&currency.as_str()) {
        3
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(text: &str) -> Amount {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn stripe_minor_units_use_the_currency_exponent() {
        assert_eq!(
            amount_from_minor(1234, stripe_exponent("usd")),
            Ok(amount("12.34"))
        );
        assert_eq!(
            amount_from_minor(1234, stripe_exponent("jpy")),
            Ok(amount("1234"))
        );
        assert_eq!(
            amount_from_minor(1234, stripe_exponent("KWD")),
            Ok(amount("1.234"))
        );
        assert_eq!(
            amount_from_minor(1, stripe_exponent("eur")),
            Ok(amount("0.01"))
        );
        assert_eq!(amount_from_minor(0, 2), Err(UnitsError::Zero));
        assert_eq!(
            stripe_exponent("isk"),
            0,
            "special cases count high, never low"
        );
    }

    #[test]
    fn atomic_units_with_six_decimals_are_exact() {
        assert_eq!(amount_from_units("10000", 6), Ok(amount("0.01")));
        assert_eq!(amount_from_units("1", 6), Ok(amount("0.000001")));
        assert_eq!(amount_from_units("1234567", 6), Ok(amount("1.234567")));
        assert_eq!(amount_from_units("000100", 6), Ok(amount("0.0001")));
    }

    #[test]
    fn more_decimals_than_purser_counts_are_refused_not_rounded() {
        assert_eq!(
            amount_from_units("10000000000000000", 18),
            Ok(amount("0.01"))
        );
        let error = amount_from_units("100000000000", 18).unwrap_err();
        assert_eq!(
            error,
            UnitsError::TooPrecise {
                units: "100000000000".into(),
                decimals: 18,
                exact: "0.0000001".into()
            }
        );
        assert!(error.to_string().contains("0.0000001"), "{error}");
        assert!(matches!(
            amount_from_units("1", 7),
            Err(UnitsError::TooPrecise { .. })
        ));
    }

    #[test]
    fn only_digits_and_only_positive() {
        for bad in ["", "1.5", "-1", "+1", "1e6", " 1", "0x10", "１"] {
            assert_eq!(
                amount_from_units(bad, 6),
                Err(UnitsError::NotWhole(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert_eq!(amount_from_units("0", 6), Err(UnitsError::Zero));
        assert_eq!(amount_from_units("0000", 6), Err(UnitsError::Zero));
    }

    #[test]
    fn huge_values_are_too_large_without_overflow() {
        assert_eq!(amount_from_units("999999999999999999", 6), Ok(Amount::MAX));
        assert!(matches!(
            amount_from_units("1000000000000000000", 6),
            Err(UnitsError::TooLarge(_))
        ));
        assert!(matches!(
            amount_from_units(&"9".repeat(80), 18),
            Err(UnitsError::TooLarge(_))
        ));
        assert!(matches!(
            amount_from_minor(u64::MAX, 0),
            Err(UnitsError::TooLarge(_))
        ));
    }

    #[test]
    fn units_of_inverts() {
        assert_eq!(units_of(amount("12.34"), 2), Some(1234));
        assert_eq!(units_of(amount("12.345"), 2), None);
        assert_eq!(units_of(amount("0.01"), 18), Some(10_000_000_000_000_000));
        assert_eq!(units_of(amount("1234"), 0), Some(1234));
    }
}
