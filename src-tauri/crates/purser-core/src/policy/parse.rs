//! Reading a policy file: TOML text → a valid [`Policy`], or every problem found, each
//! with its `line:col`.
//!
//! Two steps. serde reads the text into raw document structs that mirror the file:
//! unknown keys are refused there (naming the allowed ones) and every value keeps its
//! span. Validation then turns each raw value into its model type, collecting all errors
//! rather than stopping at the first. Nothing partial escapes: the caller gets either a
//! whole valid policy or only errors. This module must not apply, store or audit a policy.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::ops::Range;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::Deserialize;
use toml::{Spanned, Value};

use super::error::{PolicyError, PolicyErrors, line_column};
use super::{DaySet, FORMAT_VERSION, Limit, OnExceed, Policy, Profile, Schedule, Velocity};
use crate::money::AmountError;
use crate::{
    AgentName, Amount, Currency, MerchantPattern, PolicyDuration, ProfileName, Slug, Window,
};

/// The largest `velocity.count` a profile may set.
pub const MAX_VELOCITY_COUNT: u32 = 10_000;

/// Day names as written in `hours.days`, Monday first (bit 0 of [`DaySet`]).
pub(crate) const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

const DAYS_HELP: &str = "use mon, tue, wed, thu, fri, sat, sun, a range such as \"mon-fri\" or a list such as \"mon,wed,fri\"";

type Span = Range<usize>;
type RawValue = Spanned<Value>;

/// The whole file, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Option<RawValue>,
    timezone: Option<RawValue>,
    approval_timeout: Option<RawValue>,
    hold_ttl: Option<RawValue>,
    #[serde(default)]
    limit: Vec<Spanned<RawLimit>>,
    #[serde(default)]
    profiles: BTreeMap<Spanned<String>, Spanned<RawProfile>>,
    #[serde(default)]
    agents: BTreeMap<Spanned<String>, RawValue>,
}

/// One `[[limit]]` or `[[profiles.NAME.limit]]` table.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a limit table with currency, window, max and on_exceed"
)]
struct RawLimit {
    currency: Option<RawValue>,
    window: Option<RawValue>,
    max: Option<RawValue>,
    on_exceed: Option<RawValue>,
}

/// One `[profiles.NAME]` table.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a profile table such as [profiles.default]"
)]
struct RawProfile {
    #[serde(default)]
    currencies: Vec<RawValue>,
    #[serde(default)]
    approve_above: BTreeMap<Spanned<String>, RawValue>,
    #[serde(default)]
    allowed_categories: Vec<RawValue>,
    #[serde(default)]
    allowed_merchants: Vec<RawValue>,
    #[serde(default)]
    blocked_merchants: Vec<RawValue>,
    #[serde(default)]
    allowed_rails: Vec<RawValue>,
    velocity: Option<Spanned<RawVelocity>>,
    hours: Option<Spanned<RawHours>>,
    #[serde(default)]
    limit: Vec<Spanned<RawLimit>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an inline table such as { count = 30, window = \"1h\" }"
)]
struct RawVelocity {
    count: Option<RawValue>,
    window: Option<RawValue>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an inline table such as { days = \"mon-fri\", from = \"08:00\", to = \"20:00\" }"
)]
struct RawHours {
    days: Option<RawValue>,
    from: Option<RawValue>,
    to: Option<RawValue>,
}

/// Reads the policy in `text`. `file` names it in errors (`file:line:col: message`).
///
/// On any problem the whole file is refused: the error lists every problem found, in
/// file order. A syntax error or an unknown key stops reading at that point, so it is
/// reported alone.
pub fn parse_policy(file: &str, text: &str) -> Result<Policy, PolicyErrors> {
    let refuse = |errors| PolicyErrors {
        file: file.to_owned(),
        errors,
    };
    let raw: RawPolicy = toml::from_str(text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        refuse(vec![PolicyError::at_offset(
            text,
            offset,
            reword(error.message()),
        )])
    })?;
    let mut validator = Validator {
        text,
        errors: Vec::new(),
    };
    let policy = validator.policy(&raw);
    let mut errors = validator.errors;
    errors.sort_by_key(|error| (error.line, error.column));
    match policy {
        Some(policy) if errors.is_empty() => Ok(policy),
        _ if errors.is_empty() => {
            // INVARIANT: every validation step that yields `None` records an error, so
            // this is not reached; refuse rather than return a half-built policy.
            Err(refuse(vec![PolicyError::at_offset(
                text,
                0,
                "the policy could not be read",
            )]))
        }
        _ => Err(refuse(errors)),
    }
}

/// serde speaks of fields, maps and sequences; a policy author writes keys, tables and
/// arrays: "unknown field `x`, expected one of `a`, `b`" becomes "unknown key `x`:
/// allowed keys are `a`, `b`".
fn reword(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field ") else {
        return message
            .replace("invalid type: map,", "invalid type: table,")
            .replace("invalid type: sequence,", "invalid type: array,")
            .replace("expected a map", "expected a table")
            .replace("expected a sequence", "expected an array");
    };
    match rest.split_once(", expected ") {
        Some((key, allowed)) => {
            let allowed = allowed
                .strip_prefix("one of ")
                .unwrap_or(allowed)
                .replace("` or `", "`, `");
            format!("unknown key {key}: allowed keys are {allowed}")
        }
        None => format!("unknown key {rest}"),
    }
}

/// Walks the raw document and records every problem. Each method returns `None` only
/// after recording at least one error.
struct Validator<'t> {
    text: &'t str,
    errors: Vec<PolicyError>,
}

impl Validator<'_> {
    fn error(&mut self, span: &Span, message: impl Into<String>) {
        self.errors
            .push(PolicyError::at_offset(self.text, span.start, message));
    }

    fn line_of(&self, span: &Span) -> usize {
        line_column(self.text, span.start).0
    }

    fn policy(&mut self, raw: &RawPolicy) -> Option<Policy> {
        let version = self.version(raw.version.as_ref());
        let timezone = match &raw.timezone {
            Some(value) => self.timezone(value),
            None => Some(Tz::UTC),
        };
        let approval_timeout = match &raw.approval_timeout {
            Some(value) => self.parsed::<PolicyDuration>("approval_timeout", value, "\"10m\""),
            None => Some(PolicyDuration::TEN_MINUTES),
        };
        let hold_ttl = match &raw.hold_ttl {
            Some(value) => self.parsed::<PolicyDuration>("hold_ttl", value, "\"30m\""),
            None => Some(PolicyDuration::THIRTY_MINUTES),
        };
        let limits = self.limits(&raw.limit, None);
        let mut profiles = Some(BTreeMap::new());
        for (name, raw_profile) in &raw.profiles {
            let profile = self.profile(name, raw_profile);
            if let (Some(all), Some(entry)) = (profiles.as_mut(), profile) {
                all.insert(entry.0, entry.1);
            } else {
                profiles = None;
            }
        }
        let agents = self.agents(&raw.agents, &raw.profiles);
        version?;
        Some(Policy {
            timezone: timezone?,
            approval_timeout: approval_timeout?,
            hold_ttl: hold_ttl?,
            limits: limits?,
            profiles: profiles?,
            agents: agents?,
        })
    }

    fn version(&mut self, value: Option<&RawValue>) -> Option<()> {
        let Some(value) = value else {
            self.error(
                &(0..0),
                "missing `version`: add `version = 1` at the top of the file",
            );
            return None;
        };
        match value.get_ref() {
            Value::Integer(version) if *version == i64::from(FORMAT_VERSION) => Some(()),
            other => {
                self.error(
                    &value.span(),
                    format!(
                        "`version` must be {FORMAT_VERSION}, the only policy format this build reads; found {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    fn timezone(&mut self, value: &RawValue) -> Option<Tz> {
        let name = self.string("timezone", value, "\"Europe/Paris\"")?;
        if let Ok(zone) = name.parse::<Tz>() {
            return Some(zone);
        }
        let hint = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|zone| zone.name().eq_ignore_ascii_case(name))
            .map(|zone| format!(" (did you mean \"{}\"?)", zone.name()))
            .unwrap_or_default();
        self.error(
            &value.span(),
            format!(
                "unknown time zone {name:?}{hint}: use an IANA name such as \"Europe/Paris\" or \"UTC\""
            ),
        );
        None
    }

    /// The value as a string, or an error saying a string is expected.
    fn string<'v>(&mut self, key: &str, value: &'v RawValue, example: &str) -> Option<&'v str> {
        match value.get_ref() {
            Value::String(text) => Some(text),
            other => {
                self.error(
                    &value.span(),
                    format!(
                        "`{key}` must be a string such as {example}, found {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    /// The value as a string parsed into `T`; `T`'s error says what is allowed.
    fn parsed<T>(&mut self, key: &str, value: &RawValue, example: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text = self.string(key, value, example)?;
        match text.parse() {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                self.error(&value.span(), format!("invalid `{key}`: {error}"));
                None
            }
        }
    }

    /// A positive amount written as a decimal string.
    fn amount(&mut self, key: &str, value: &RawValue) -> Option<Amount> {
        let Value::String(text) = value.get_ref() else {
            self.error(
                &value.span(),
                format!(
                    "`{key}` must be a decimal string such as \"25.00\" (amounts are strings so that no float touches money), found {}",
                    describe(value.get_ref())
                ),
            );
            return None;
        };
        match Amount::parse_positive(text) {
            Ok(amount) => Some(amount),
            Err(AmountError::Zero) => {
                self.error(
                    &value.span(),
                    format!("`{key}` must be greater than zero, e.g. \"25.00\""),
                );
                None
            }
            Err(error) => {
                self.error(&value.span(), format!("invalid `{key}`: {error}"));
                None
            }
        }
    }

    /// Every element of a list, parsed into `T`; `None` if any is invalid.
    fn list<T>(&mut self, key: &str, values: &[RawValue], example: &str) -> Option<Vec<T>>
    where
        T: FromStr,
        T::Err: Display,
    {
        let parsed: Vec<Option<T>> = values
            .iter()
            .map(|value| self.parsed(key, value, example))
            .collect();
        parsed.into_iter().collect()
    }

    /// A value the file must contain; its absence is reported at the enclosing table.
    fn required<'v>(
        &mut self,
        value: Option<&'v RawValue>,
        key: &str,
        table: &str,
        table_span: &Span,
        example: &str,
    ) -> Option<&'v RawValue> {
        if value.is_none() {
            self.error(
                table_span,
                format!("{table} is missing `{key}`: add e.g. {key} = {example}"),
            );
        }
        value
    }

    /// A list of limits; `owner` is the profile they belong to (name and its currencies
    /// when they are valid), or `None` for the shared `[[limit]]` list.
    fn limits(
        &mut self,
        raw: &[Spanned<RawLimit>],
        owner: Option<(&str, Option<&[Currency]>)>,
    ) -> Option<Vec<Limit>> {
        let mut limits = Vec::with_capacity(raw.len());
        let mut first_line: BTreeMap<(Currency, Window), usize> = BTreeMap::new();
        let mut valid = true;
        for raw_limit in raw {
            let Some((limit, currency_span, window_span)) = self.limit(raw_limit) else {
                valid = false;
                continue;
            };
            if let Some((profile, Some(currencies))) = owner {
                if !currencies.contains(&limit.currency) {
                    self.error(
                        &currency_span,
                        format!(
                            "profile `{profile}` does not allow {} ({}), so this limit could never apply: add \"{}\" to `currencies` or remove the limit",
                            limit.currency,
                            allowed_currencies(currencies),
                            limit.currency,
                        ),
                    );
                    valid = false;
                }
            }
            let key = (limit.currency.clone(), limit.window);
            if let Some(line) = first_line.get(&key) {
                self.error(
                    &window_span,
                    format!(
                        "a second {} limit per `{}` in this list (the first is on line {line}): keep one limit per currency and window",
                        limit.currency, limit.window
                    ),
                );
                valid = false;
            } else {
                first_line.insert(key, self.line_of(&window_span));
            }
            limits.push(limit);
        }
        valid.then_some(limits)
    }

    /// One limit, with the spans of its currency and window for later checks.
    fn limit(&mut self, raw: &Spanned<RawLimit>) -> Option<(Limit, Span, Span)> {
        let span = raw.span();
        let table = "this limit";
        let limit = raw.get_ref();
        let currency = self.required(limit.currency.as_ref(), "currency", table, &span, "\"USD\"");
        let currency = currency.and_then(|value| {
            let currency = self.parsed::<Currency>("currency", value, "\"USD\"")?;
            Some((currency, value.span()))
        });
        let window = self.required(limit.window.as_ref(), "window", table, &span, "\"day\"");
        let window = window.and_then(|value| {
            let window = self.parsed::<Window>("window", value, "\"day\"")?;
            Some((window, value.span()))
        });
        let max = self.required(limit.max.as_ref(), "max", table, &span, "\"100.00\"");
        let max = max.and_then(|value| self.amount("max", value));
        let on_exceed = match &limit.on_exceed {
            Some(value) => self.on_exceed(value),
            None => Some(OnExceed::Deny),
        };
        let ((currency, currency_span), (window, window_span)) = (currency?, window?);
        let limit = Limit {
            currency,
            window,
            max: max?,
            on_exceed: on_exceed?,
        };
        Some((limit, currency_span, window_span))
    }

    fn on_exceed(&mut self, value: &RawValue) -> Option<OnExceed> {
        match self.string("on_exceed", value, "\"deny\"")? {
            "deny" => Some(OnExceed::Deny),
            "ask" => Some(OnExceed::Ask),
            other => {
                self.error(
                    &value.span(),
                    format!("`on_exceed` {other:?} is unknown: use \"deny\" or \"ask\""),
                );
                None
            }
        }
    }

    fn profile(
        &mut self,
        name: &Spanned<String>,
        raw: &Spanned<RawProfile>,
    ) -> Option<(ProfileName, Profile)> {
        let profile_name = match name.get_ref().parse::<ProfileName>() {
            Ok(profile_name) => Some(profile_name),
            Err(error) => {
                self.error(&name.span(), error.to_string());
                None
            }
        };
        let name = name.get_ref().as_str();
        let profile = raw.get_ref();
        let currencies = self.currencies(&profile.currencies);
        let approve_above = self.approve_above(name, &profile.approve_above, currencies.as_deref());
        let allowed_categories = self.list::<Slug>(
            "allowed_categories",
            &profile.allowed_categories,
            "\"software\"",
        );
        let allowed_merchants = self.list::<MerchantPattern>(
            "allowed_merchants",
            &profile.allowed_merchants,
            "\"api.example.com\"",
        );
        let blocked_merchants = self.list::<MerchantPattern>(
            "blocked_merchants",
            &profile.blocked_merchants,
            "\"*casino*\"",
        );
        let allowed_rails = self.list::<Slug>("allowed_rails", &profile.allowed_rails, "\"card\"");
        let velocity = match &profile.velocity {
            Some(velocity) => self.velocity(velocity).map(Some),
            None => Some(None),
        };
        let hours = match &profile.hours {
            Some(hours) => self.hours(hours).map(Some),
            None => Some(None),
        };
        let limits = self.limits(&profile.limit, Some((name, currencies.as_deref())));
        let profile = Profile {
            currencies: currencies?,
            approve_above: approve_above?,
            allowed_categories: allowed_categories?,
            allowed_merchants: allowed_merchants?,
            blocked_merchants: blocked_merchants?,
            allowed_rails: allowed_rails?,
            velocity: velocity?,
            hours: hours?,
            limits: limits?,
        };
        Some((profile_name?, profile))
    }

    fn currencies(&mut self, values: &[RawValue]) -> Option<Vec<Currency>> {
        let mut currencies = Vec::with_capacity(values.len());
        let mut valid = true;
        for value in values {
            match self.parsed::<Currency>("currencies", value, "\"USD\"") {
                Some(currency) if currencies.contains(&currency) => {
                    self.error(
                        &value.span(),
                        format!("`currencies` lists {currency} twice: keep one"),
                    );
                    valid = false;
                }
                Some(currency) => currencies.push(currency),
                None => valid = false,
            }
        }
        valid.then_some(currencies)
    }

    fn approve_above(
        &mut self,
        profile: &str,
        raw: &BTreeMap<Spanned<String>, RawValue>,
        currencies: Option<&[Currency]>,
    ) -> Option<BTreeMap<Currency, Amount>> {
        let mut thresholds = Some(BTreeMap::new());
        for (code, value) in raw {
            let currency = match code.get_ref().parse::<Currency>() {
                Ok(currency) => Some(currency),
                Err(error) => {
                    self.error(
                        &code.span(),
                        format!("invalid `approve_above` key: {error}"),
                    );
                    None
                }
            };
            let currency = currency.filter(|currency| match currencies {
                Some(currencies) if !currencies.contains(currency) => {
                    self.error(
                        &code.span(),
                        format!(
                            "`approve_above` names {currency}, which profile `{profile}` does not allow ({}): add \"{currency}\" to `currencies` or remove it here",
                            allowed_currencies(currencies)
                        ),
                    );
                    false
                }
                _ => true,
            });
            let amount = self.amount(&format!("approve_above.{}", code.get_ref()), value);
            match (thresholds.as_mut(), currency, amount) {
                (Some(all), Some(currency), Some(amount)) => {
                    all.insert(currency, amount);
                }
                _ => thresholds = None,
            }
        }
        thresholds
    }

    fn velocity(&mut self, raw: &Spanned<RawVelocity>) -> Option<Velocity> {
        let span = raw.span();
        let table = "`velocity`";
        let velocity = raw.get_ref();
        let count = self.required(velocity.count.as_ref(), "count", table, &span, "30");
        let count = count.and_then(|value| match value.get_ref() {
            Value::Integer(count) if (1..=i64::from(MAX_VELOCITY_COUNT)).contains(count) => {
                u32::try_from(*count).ok()
            }
            other => {
                self.error(
                    &value.span(),
                    format!(
                        "`count` must be a whole number from 1 to {MAX_VELOCITY_COUNT}, found {}",
                        describe(other)
                    ),
                );
                None
            }
        });
        let window = self.required(velocity.window.as_ref(), "window", table, &span, "\"1h\"");
        let window =
            window.and_then(|value| self.parsed::<PolicyDuration>("window", value, "\"1h\""));
        Some(Velocity {
            count: count?,
            window: window?,
        })
    }

    fn hours(&mut self, raw: &Spanned<RawHours>) -> Option<Schedule> {
        let span = raw.span();
        let table = "`hours`";
        let hours = raw.get_ref();
        let days = self.required(hours.days.as_ref(), "days", table, &span, "\"mon-fri\"");
        let days = days.and_then(|value| {
            let text = self.string("days", value, "\"mon-fri\"")?;
            parse_days(text)
                .map_err(|message| self.error(&value.span(), message))
                .ok()
        });
        let from = self.required(hours.from.as_ref(), "from", table, &span, "\"08:00\"");
        let from = from.and_then(|value| self.time("from", value, false));
        let to = self.required(hours.to.as_ref(), "to", table, &span, "\"20:00\"");
        let to = to.and_then(|value| Some((self.time("to", value, true)?, value.span())));
        let ((from_minute, from_text), ((to_minute, to_text), to_span)) = (from?, to?);
        if from_minute >= to_minute {
            self.error(
                &to_span,
                format!(
                    "`to` {to_text:?} must be later than `from` {from_text:?}: hours cannot cross midnight, end the day with \"24:00\""
                ),
            );
            return None;
        }
        Some(Schedule {
            days: days?,
            from_minute,
            to_minute,
        })
    }

    /// A time of day as minutes after midnight, with the text it was written as.
    fn time<'v>(
        &mut self,
        key: &str,
        value: &'v RawValue,
        end_of_day: bool,
    ) -> Option<(u16, &'v str)> {
        let text = self.string(key, value, "\"08:00\"")?;
        match parse_time(text, end_of_day) {
            Some(minute) => Some((minute, text)),
            None => {
                let range = if end_of_day {
                    "\"00:00\" to \"24:00\""
                } else {
                    "\"00:00\" to \"23:59\""
                };
                self.error(
                    &value.span(),
                    format!("`{key}` {text:?} is not a time: use \"HH:MM\" from {range}"),
                );
                None
            }
        }
    }

    fn agents(
        &mut self,
        raw: &BTreeMap<Spanned<String>, RawValue>,
        profiles: &BTreeMap<Spanned<String>, Spanned<RawProfile>>,
    ) -> Option<BTreeMap<AgentName, ProfileName>> {
        let mut agents = Some(BTreeMap::new());
        for (agent, value) in raw {
            let agent_name = match agent.get_ref().parse::<AgentName>() {
                Ok(agent_name) => Some(agent_name),
                Err(error) => {
                    self.error(&agent.span(), error.to_string());
                    None
                }
            };
            let profile = self
                .string(&format!("agents.{}", agent.get_ref()), value, "\"default\"")
                .and_then(|profile| {
                    self.assigned_profile(agent.get_ref(), profile, &value.span(), profiles)
                });
            match (agents.as_mut(), agent_name, profile) {
                (Some(all), Some(agent_name), Some(profile)) => {
                    all.insert(agent_name, profile);
                }
                _ => agents = None,
            }
        }
        agents
    }

    /// The profile an agent is assigned to, which must be defined in the file.
    fn assigned_profile(
        &mut self,
        agent: &str,
        profile: &str,
        span: &Span,
        profiles: &BTreeMap<Spanned<String>, Spanned<RawProfile>>,
    ) -> Option<ProfileName> {
        if profiles.contains_key(profile) {
            // An invalid profile name was already reported at its table.
            let parsed = profile.parse::<ProfileName>().ok();
            return parsed;
        }
        let defined = if profiles.is_empty() {
            format!("no profiles are defined: add a [profiles.{profile}] table")
        } else {
            let names: Vec<String> = profiles
                .keys()
                .map(|name| format!("{:?}", name.get_ref()))
                .collect();
            format!("defined profiles are {}", names.join(", "))
        };
        self.error(
            span,
            format!("agent `{agent}` is assigned to profile {profile:?}, which is not defined; {defined}"),
        );
        None
    }
}

/// `(its currencies are "USD", "EUR")`, or that there are none.
fn allowed_currencies(currencies: &[Currency]) -> String {
    if currencies.is_empty() {
        return "its `currencies` list is empty".to_owned();
    }
    let codes: Vec<String> = currencies
        .iter()
        .map(|code| format!("\"{code}\""))
        .collect();
    format!("its `currencies` are {}", codes.join(", "))
}

/// What a wrongly typed value was, for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => format!("the string {text:?}"),
        Value::Integer(number) => format!("the integer {number}"),
        Value::Float(number) => format!("the number {number}"),
        Value::Boolean(flag) => format!("{flag}"),
        Value::Datetime(datetime) => format!("the date-time {datetime}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Table(_) => "a table".to_owned(),
    }
}

/// `"mon-fri"`, `"sat-sun"`, `"mon,wed,fri"`, `"mon-wed,fri"`: day names and Monday-first
/// ranges separated by commas. A range may not wrap past Sunday.
fn parse_days(text: &str) -> Result<DaySet, String> {
    if text.trim().is_empty() {
        return Err(format!("`days` is empty: {DAYS_HELP}"));
    }
    let day = |name: &str| {
        DAY_NAMES
            .iter()
            .position(|day| *day == name)
            .ok_or_else(|| format!("unknown day {name:?} in `days`: {DAYS_HELP}"))
    };
    let mut bits = 0u8;
    for item in text.split(',').map(str::trim) {
        let (first, last) = match item.split_once('-') {
            Some((first, last)) => (day(first.trim())?, day(last.trim())?),
            None => {
                let single = day(item)?;
                (single, single)
            }
        };
        if first > last {
            let to_sunday = if first == 6 {
                "sun".to_owned()
            } else {
                format!("{}-sun", DAY_NAMES[first])
            };
            let from_monday = if last == 0 {
                "mon".to_owned()
            } else {
                format!("mon-{}", DAY_NAMES[last])
            };
            return Err(format!(
                "day range {item:?} wraps past Sunday: ranges run Monday to Sunday, so write \"{to_sunday},{from_monday}\""
            ));
        }
        for index in first..=last {
            bits |= 1 << index;
        }
    }
    Ok(DaySet(bits))
}

/// `"HH:MM"` as minutes after midnight; `"24:00"` only when `end_of_day`.
fn parse_time(text: &str, end_of_day: bool) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let two_digits = |part: &str| -> Option<u16> {
        if part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (hours, minutes) = (two_digits(hours)?, two_digits(minutes)?);
    let valid = minutes < 60 && (hours < 24 || (end_of_day && hours == 24 && minutes == 0));
    valid.then_some(hours * 60 + minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_accept_names_ranges_and_lists() {
        for (text, bits) in [
            ("mon-fri", 0b001_1111),
            ("sat-sun", 0b110_0000),
            ("mon,wed,fri", 0b001_0101),
            ("mon-sun", 0b111_1111),
            ("sun", 0b100_0000),
            ("mon-tue, thu-fri", 0b001_1011),
            ("mon,mon", 0b000_0001),
        ] {
            assert_eq!(parse_days(text), Ok(DaySet(bits)), "{text}");
        }
    }

    #[test]
    fn days_refuse_wrapping_and_unknown_names() {
        let wrap = parse_days("fri-mon").unwrap_err();
        assert!(wrap.contains("\"fri-sun,mon\""), "{wrap}");
        let wrap = parse_days("sun-tue").unwrap_err();
        assert!(wrap.contains("\"sun,mon-tue\""), "{wrap}");
        for bad in ["", " ", "Mon", "monday", "mon-", "mon,,fri", "mon-tue-wed"] {
            assert!(parse_days(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_are_strict_hh_mm() {
        assert_eq!(parse_time("00:00", false), Some(0));
        assert_eq!(parse_time("08:30", false), Some(510));
        assert_eq!(parse_time("23:59", false), Some(1439));
        assert_eq!(parse_time("24:00", true), Some(1440));
        for bad in [
            "24:00", "8:00", "08:60", "0800", "08:00:00", "+8:00", "24:01",
        ] {
            assert_eq!(parse_time(bad, false), None, "{bad}");
        }
        assert_eq!(parse_time("24:01", true), None);
    }

    #[test]
    fn unknown_field_messages_name_keys() {
        assert_eq!(
            reword("unknown field `foo`, expected one of `a`, `b`, `c`"),
            "unknown key `foo`: allowed keys are `a`, `b`, `c`"
        );
        assert_eq!(
            reword("unknown field `foo`, expected `count` or `window`"),
            "unknown key `foo`: allowed keys are `count`, `window`"
        );
        assert_eq!(
            reword("invalid type: map, expected a sequence"),
            "invalid type: table, expected an array"
        );
        assert_eq!(
            reword("invalid type: string \"USD\", expected a map"),
            "invalid type: string \"USD\", expected a table"
        );
    }
}
