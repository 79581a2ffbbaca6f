//! Writing a [`Policy`] back as canonical TOML in the layout of agent-api.md §2.
//!
//! Canonical means one text per policy: keys in a fixed order, every profile list written
//! even when empty, amounts as decimal strings (`"25.00"`), durations in their canonical
//! form (`"1h30m"`), hours as `{ days = "mon-fri", from = "08:00", to = "20:00" }`.
//! [`super::parse::parse_policy`] reads the result back to an equal policy; this module
//! must not write anything that parser would refuse or read differently.

use std::fmt::{self, Display, Formatter, Write as _};

use super::parse::DAY_NAMES;
use super::{DaySet, FORMAT_VERSION, Limit, OnExceed, Policy, Profile, Schedule};

/// The canonical TOML text of `policy`.
pub fn serialize_policy(policy: &Policy) -> String {
    Canonical(policy).to_string()
}

/// Writes through `Display` so every write is propagated rather than ignored.
struct Canonical<'p>(&'p Policy);

impl Display for Canonical<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let policy = self.0;
        writeln!(f, "version = {FORMAT_VERSION}")?;
        writeln!(f, "timezone = {}", Quoted(policy.timezone.name()))?;
        writeln!(
            f,
            "approval_timeout = {}",
            Quoted(&policy.approval_timeout.to_string())
        )?;
        writeln!(f, "hold_ttl = {}", Quoted(&policy.hold_ttl.to_string()))?;
        for limit in &policy.limits {
            write_limit(f, "[[limit]]", limit)?;
        }
        for (name, profile) in &policy.profiles {
            write_profile(f, &Key(name.as_str()).to_string(), profile)?;
        }
        writeln!(f)?;
        writeln!(f, "[agents]")?;
        for (agent, profile) in &policy.agents {
            writeln!(f, "{} = {}", Key(agent.as_str()), Quoted(profile.as_str()))?;
        }
        Ok(())
    }
}

fn write_limit(f: &mut Formatter<'_>, header: &str, limit: &Limit) -> fmt::Result {
    let on_exceed = match limit.on_exceed {
        OnExceed::Deny => "deny",
        OnExceed::Ask => "ask",
    };
    writeln!(f)?;
    writeln!(f, "{header}")?;
    writeln!(f, "currency = {}", Quoted(limit.currency.as_str()))?;
    writeln!(f, "window = {}", Quoted(limit.window.as_str()))?;
    writeln!(f, "max = {}", Quoted(&limit.max.to_string()))?;
    writeln!(f, "on_exceed = {}", Quoted(on_exceed))
}

fn write_profile(f: &mut Formatter<'_>, key: &str, profile: &Profile) -> fmt::Result {
    writeln!(f)?;
    writeln!(f, "[profiles.{key}]")?;
    writeln!(f, "currencies = {}", List(&profile.currencies))?;
    write!(f, "approve_above = {{")?;
    for (index, (currency, amount)) in profile.approve_above.iter().enumerate() {
        let separator = if index == 0 { " " } else { ", " };
        write!(
            f,
            "{separator}{} = {}",
            Key(currency.as_str()),
            Quoted(&amount.to_string())
        )?;
    }
    writeln!(
        f,
        "{}}}",
        if profile.approve_above.is_empty() {
            ""
        } else {
            " "
        }
    )?;
    writeln!(
        f,
        "allowed_categories = {}",
        List(&profile.allowed_categories)
    )?;
    writeln!(
        f,
        "allowed_merchants = {}",
        List(&profile.allowed_merchants)
    )?;
    writeln!(
        f,
        "blocked_merchants = {}",
        List(&profile.blocked_merchants)
    )?;
    writeln!(f, "allowed_rails = {}", List(&profile.allowed_rails))?;
    if let Some(velocity) = profile.velocity {
        writeln!(
            f,
            "velocity = {{ count = {}, window = {} }}",
            velocity.count,
            Quoted(&velocity.window.to_string())
        )?;
    }
    if let Some(hours) = profile.hours {
        write_hours(f, hours)?;
    }
    let header = format!("[[profiles.{key}.limit]]");
    for limit in &profile.limits {
        write_limit(f, &header, limit)?;
    }
    Ok(())
}

fn write_hours(f: &mut Formatter<'_>, hours: Schedule) -> fmt::Result {
    writeln!(
        f,
        "hours = {{ days = {}, from = {}, to = {} }}",
        Quoted(&days(hours.days)),
        Quoted(&time(hours.from_minute)),
        Quoted(&time(hours.to_minute))
    )
}

/// Runs of consecutive days as ranges, single days by name: `mon-fri`, `mon,wed,fri`.
fn days(days: DaySet) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    while index < DAY_NAMES.len() {
        if days.0 & (1 << index) == 0 {
            index += 1;
            continue;
        }
        let first = index;
        while index + 1 < DAY_NAMES.len() && days.0 & (1 << (index + 1)) != 0 {
            index += 1;
        }
        if first == index {
            parts.push(DAY_NAMES[first].to_owned());
        } else {
            parts.push(format!("{}-{}", DAY_NAMES[first], DAY_NAMES[index]));
        }
        index += 1;
    }
    parts.join(",")
}

/// Minutes after midnight as `HH:MM` (1440 is `24:00`).
fn time(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// A TOML basic string.
struct Quoted<'s>(&'s str);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if c.is_control() => write!(f, "\\u{:04X}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// A key: bare when TOML allows it (`research-bot`), quoted otherwise (`"bot.v2"`).
struct Key<'s>(&'s str);

impl Display for Key<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let bare = !self.0.is_empty()
            && self
                .0
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        if bare {
            f.write_str(self.0)
        } else {
            Quoted(self.0).fmt(f)
        }
    }
}

/// An inline array of strings: `["USD", "EUR"]`.
struct List<'l, T>(&'l [T]);

impl<T: Display> Display for List<'_, T> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        for (index, item) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            Quoted(&item.to_string()).fmt(f)?;
        }
        f.write_char(']')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_written_as_runs() {
        assert_eq!(days(DaySet(0b001_1111)), "mon-fri");
        assert_eq!(days(DaySet(0b110_0000)), "sat-sun");
        assert_eq!(days(DaySet(0b001_0101)), "mon,wed,fri");
        assert_eq!(days(DaySet(0b111_1111)), "mon-sun");
        assert_eq!(days(DaySet(0b100_0011)), "mon-tue,sun");
    }

    #[test]
    fn strings_and_keys_are_escaped() {
        assert_eq!(
            Quoted("a\"b\\c\u{7f}").to_string(),
            "\"a\\\"b\\\\c\\u007F\""
        );
        assert_eq!(Key("research-bot").to_string(), "research-bot");
        assert_eq!(Key("bot.v2").to_string(), "\"bot.v2\"");
        assert_eq!(time(0), "00:00");
        assert_eq!(time(1440), "24:00");
    }
}
