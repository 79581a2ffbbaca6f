//! What the principal can tune about notifications: amounts too small to interrupt them
//! for (per currency; muted requests still wait in the inbox and the tray), the storm
//! rule, and the bound on every call to the notification server.

use std::str::FromStr;
use std::time::Duration;

use purser_core::{Amount, Currency};

/// How many single notifications within [`NotifySettings::storm_window`] before they
/// become one summary (the "more than 3 within 10 s").
pub const STORM_MAX_SINGLE: usize = 3;
pub const STORM_WINDOW: Duration = Duration::from_secs(10);
/// The most single prompts on screen at once; more waiting requests are counted in the
/// summary. A screen full of prompts helps nobody, and each shown prompt holds a D-Bus
/// connection (notify-rust's, to hear its buttons) until its request is decided.
pub const MAX_SHOWN: usize = 10;
/// The longest any call to the notification server may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// The notifier's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// Requests below one of these amounts (same currency) are not notified.
    pub mute_below: Vec<MuteBelow>,
    pub storm_max_single: usize,
    pub storm_window: Duration,
    /// See [`MAX_SHOWN`].
    pub max_shown: usize,
    pub call_timeout: Duration,
}

impl Default for NotifySettings {
    fn default() -> NotifySettings {
        NotifySettings {
            mute_below: Vec::new(),
            storm_max_single: STORM_MAX_SINGLE,
            storm_window: STORM_WINDOW,
            max_shown: MAX_SHOWN,
            call_timeout: CALL_TIMEOUT,
        }
    }
}

impl NotifySettings {
    /// Whether a request of `amount` in `currency` stays silent.
    pub fn is_muted(&self, amount: Amount, currency: &Currency) -> bool {
        self.mute_below
            .iter()
            .any(|mute| mute.currency == *currency && amount < mute.amount)
    }
}

/// The notification settings on a command line (`purser serve`, the desktop app).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct NotifyArgs {
    /// Do not notify requests below this amount, e.g. "5.00 USD" (repeat for other
    /// currencies); they still wait in the inbox and the tray.
    #[arg(
        long = "notify-mute-below",
        value_name = "AMOUNT CURRENCY",
        env = "PURSER_NOTIFY_MUTE_BELOW",
        value_delimiter = ','
    )]
    pub mute_below: Vec<MuteBelow>,
    /// How many requests within 10 s get a notification each before the rest are
    /// counted in one summary notification ("5 requests waiting").
    #[arg(
        long = "notify-storm-max",
        value_name = "N",
        env = "PURSER_NOTIFY_STORM_MAX",
        default_value_t = STORM_MAX_SINGLE
    )]
    pub storm_max_single: usize,
}

impl NotifyArgs {
    pub fn settings(&self) -> NotifySettings {
        NotifySettings {
            mute_below: self.mute_below.clone(),
            storm_max_single: self.storm_max_single,
            ..NotifySettings::default()
        }
    }
}

impl Default for NotifyArgs {
    fn default() -> NotifyArgs {
        NotifyArgs {
            mute_below: Vec::new(),
            storm_max_single: STORM_MAX_SINGLE,
        }
    }
}

/// "Do not notify below 5.00 USD".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuteBelow {
    pub amount: Amount,
    pub currency: Currency,
}

/// A `--notify-mute-below` value that is not "AMOUNT CURRENCY".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an amount and a currency: write it like \"5.00 USD\"")]
pub struct SettingsError(pub String);

impl FromStr for MuteBelow {
    type Err = SettingsError;

    fn from_str(text: &str) -> Result<MuteBelow, SettingsError> {
        let invalid = || SettingsError(text.to_owned());
        let mut parts = text.split_whitespace();
        let (Some(amount), Some(currency), None) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        Ok(MuteBelow {
            amount: amount.parse().map_err(|_| invalid())?,
            currency: currency.parse().map_err(|_| invalid())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(text: &str) -> Amount {
        text.parse().unwrap()
    }

    #[test]
    fn mute_below_reads_an_amount_and_a_currency() {
        let mute: MuteBelow = "5.00 USD".parse().unwrap();
        assert_eq!(mute.amount, amount("5"));
        assert_eq!(mute.currency, "USD".parse().unwrap());
        for bad in ["5.00", "USD 5.00", "five USD", "5.00 USD extra", ""] {
            let error = bad.parse::<MuteBelow>().unwrap_err();
            assert!(error.to_string().contains("5.00 USD"), "{error}");
        }
    }

    #[test]
    fn only_smaller_amounts_in_the_same_currency_are_muted() {
        let settings = NotifySettings {
            mute_below: vec!["5.00 USD".parse().unwrap()],
            ..NotifySettings::default()
        };
        let usd: Currency = "USD".parse().unwrap();
        let eur: Currency = "EUR".parse().unwrap();
        assert!(settings.is_muted(amount("4.99"), &usd));
        assert!(!settings.is_muted(amount("5.00"), &usd));
        assert!(!settings.is_muted(amount("1.00"), &eur));
        assert!(!NotifySettings::default().is_muted(amount("0.01"), &usd));
    }
}
