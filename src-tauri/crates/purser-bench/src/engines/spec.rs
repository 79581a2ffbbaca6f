//! The one policy the three engines decide, and the requests they decide.
//!
//! [`Spec`] is the single source: Purser's TOML, the Cedar policy set and the Rego
//! module are all rendered from it, so "the same policy" is true by construction (and
//! checked by agreement on every request). About a hundred rules: 50 blocked merchant
//! globs, 20 allowed merchant globs, 8 categories, 3 rails, a weekday schedule, and per
//! currency (4 of them) a per-transaction cap, an approval threshold, an agent's daily
//! budget that asks when exceeded and a shared monthly budget that denies.
//!
//! [`Case`]s come from a seeded generator, so every run decides the same requests: a mix
//! of approvals, pendings and denials for every reason, with boundary values on purpose
//! (an amount exactly at a cap, a request at exactly 08:00 or 20:00 local time, spend
//! that lands exactly on a budget).

use chrono::{Datelike as _, TimeZone as _, Timelike as _};
use chrono_tz::Tz;
use purser_core::{Amount, AuthorizationRequest, CaptureMode, RequestKind, Timestamp};

/// Money rules for one currency, in micro-units.
#[derive(Debug, Clone)]
pub struct CurrencyRules {
    pub code: &'static str,
    /// A single request above this is denied (`over_transaction_limit`).
    pub transaction_cap: i64,
    /// A request above this waits for the principal (`over_approval_threshold`).
    pub approve_above: i64,
    /// The agent's spend today plus this request above this asks
    /// (`over_budget_needs_approval`).
    pub day_budget: i64,
    /// Everyone's spend this month plus this request above this is denied
    /// (`over_budget`).
    pub month_budget: i64,
}

/// The benchmark policy.
#[derive(Debug, Clone)]
pub struct Spec {
    pub timezone: Tz,
    /// Monday..Friday, 08:00 (inclusive) to 20:00 (exclusive) local time.
    pub from_minute: u32,
    pub to_minute: u32,
    pub currencies: Vec<CurrencyRules>,
    pub categories: Vec<String>,
    pub rails: Vec<String>,
    pub blocked: Vec<String>,
    pub allowed: Vec<String>,
}

const UNIT: i64 = 1_000_000;

impl Spec {
    pub fn new() -> Spec {
        let rules = |code, cap: i64, threshold: i64, day: i64, month: i64| CurrencyRules {
            code,
            transaction_cap: cap * UNIT,
            approve_above: threshold * UNIT,
            day_budget: day * UNIT,
            month_budget: month * UNIT,
        };
        let blocked = (0..50)
            .map(|i| match i % 5 {
                0 => format!("*casino{i}*"),
                1 => format!("*.bet{i}.example"),
                2 => format!("gambling-{i}.*"),
                3 => format!("*lottery*{i}.com"),
                _ => format!("*.darkshop{i}.*"),
            })
            .collect();
        let allowed = (0..20)
            .map(|i| {
                if i % 2 == 0 {
                    format!("*.vendor{i}.com")
                } else {
                    format!("api.vendor{i}.io")
                }
            })
            .collect();
        Spec {
            timezone: Tz::America__New_York,
            from_minute: 8 * 60,
            to_minute: 20 * 60,
            currencies: vec![
                rules("USD", 500, 100, 1_000, 20_000),
                rules("EUR", 400, 80, 800, 15_000),
                rules("GBP", 300, 60, 600, 10_000),
                rules("USDC", 1_000, 200, 2_000, 50_000),
            ],
            categories: [
                "software",
                "cloud",
                "data",
                "travel",
                "office",
                "research",
                "marketing",
                "hardware",
            ]
            .map(str::to_owned)
            .to_vec(),
            rails: ["card", "x402", "stripe"].map(str::to_owned).to_vec(),
            blocked,
            allowed,
        }
    }

    /// How many rules the policy has, and of which kinds.
    pub fn rules(&self) -> (usize, String) {
        let money = self.currencies.len() * 4;
        let count = self.blocked.len()
            + self.allowed.len()
            + self.categories.len()
            + self.rails.len()
            + self.currencies.len()
            + money
            + 1;
        let text = format!(
            "{count} rules: {} blocked + {} allowed merchant globs, {} categories, {} rails, {} currencies, {} money rules (cap, threshold, day budget, shared month budget per currency), 1 schedule",
            self.blocked.len(),
            self.allowed.len(),
            self.categories.len(),
            self.rails.len(),
            self.currencies.len(),
            money
        );
        (count, text)
    }

    pub fn currency(&self, code: &str) -> Option<&CurrencyRules> {
        self.currencies.iter().find(|rules| rules.code == code)
    }

    /// The policy as Purser's policy file.
    pub fn to_purser_toml(&self) -> String {
        let list = |items: &[String]| {
            items
                .iter()
                .map(|item| format!("{item:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut text = format!(
            "version = 1\ntimezone = \"{}\"\napproval_timeout = \"10m\"\nhold_ttl = \"30m\"\n",
            self.timezone.name()
        );
        for rules in &self.currencies {
            text.push_str(&format!(
                "\n[[limit]]\ncurrency = \"{}\"\nwindow = \"month\"\nmax = \"{}\"\non_exceed = \"deny\"\n",
                rules.code,
                money(rules.month_budget)
            ));
        }
        let codes: Vec<String> = self.currencies.iter().map(|r| r.code.to_owned()).collect();
        let thresholds = self
            .currencies
            .iter()
            .map(|r| format!("{} = \"{}\"", r.code, money(r.approve_above)))
            .collect::<Vec<_>>()
            .join(", ");
        text.push_str(&format!(
            "\n[profiles.default]\ncurrencies = [{}]\napprove_above = {{ {thresholds} }}\nallowed_categories = [{}]\nallowed_merchants = [{}]\nblocked_merchants = [{}]\nallowed_rails = [{}]\nhours = {{ days = \"mon-fri\", from = \"{}\", to = \"{}\" }}\n",
            list(&codes),
            list(&self.categories),
            list(&self.allowed),
            list(&self.blocked),
            list(&self.rails),
            clock(self.from_minute),
            clock(self.to_minute),
        ));
        for rules in &self.currencies {
            text.push_str(&format!(
                "\n[[profiles.default.limit]]\ncurrency = \"{}\"\nwindow = \"transaction\"\nmax = \"{}\"\non_exceed = \"deny\"\n",
                rules.code,
                money(rules.transaction_cap)
            ));
            text.push_str(&format!(
                "\n[[profiles.default.limit]]\ncurrency = \"{}\"\nwindow = \"day\"\nmax = \"{}\"\non_exceed = \"ask\"\n",
                rules.code,
                money(rules.day_budget)
            ));
        }
        text
    }
}

impl Default for Spec {
    fn default() -> Spec {
        Spec::new()
    }
}

/// `12.5` units in micros → `"12.500000"`.
fn money(micros: i64) -> String {
    Amount::from_micros(micros).map_or_else(|| "0".to_owned(), |amount| amount.to_string())
}

fn clock(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// One request to decide, with what the peers are given besides it.
#[derive(Debug, Clone)]
pub struct Case {
    pub request: AuthorizationRequest,
    pub now: Timestamp,
    pub amount: i64,
    /// The agent's spend today in the request's currency (micros).
    pub spent_day: i64,
    /// Everyone's spend this month in the request's currency (micros).
    pub spent_month: i64,
    /// 1 = Monday .. 7 = Sunday, in the policy's zone (computed for the peers, as a
    /// caller of a general engine must; Purser's engine converts the time itself).
    pub weekday: u32,
    /// Minutes after local midnight.
    pub minute: u32,
}

/// SplitMix64: small, seeded, good enough to spread cases.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }

    fn label(&mut self) -> String {
        let len = self.below(8) as usize;
        (0..len)
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }
}

/// `count` requests from `seed`.
pub fn generate(spec: &Spec, count: usize, seed: u64) -> anyhow::Result<Vec<Case>> {
    let mut rng = Rng(seed);
    // Monday 2024-06-03 00:00 in New York; cases fall in the two weeks after.
    let base = spec
        .timezone
        .with_ymd_and_hms(2024, 6, 3, 0, 0, 0)
        .single()
        .map(|t| t.to_utc())
        .ok_or_else(|| anyhow::anyhow!("no single local midnight"))?;
    let mut cases = Vec::with_capacity(count);
    for index in 0..count {
        let currency = if rng.below(100) < 96 {
            rng.pick(&spec.currencies).map_or("USD", |r| r.code)
        } else if rng.below(2) == 0 {
            "JPY"
        } else {
            "CHF"
        };
        let merchant = merchant(spec, &mut rng);
        let category = match rng.below(100) {
            0..94 => rng.pick(&spec.categories).cloned(),
            94..98 => Some("gambling".to_owned()),
            _ => None,
        };
        let rail = match rng.below(100) {
            0..95 => rng.pick(&spec.rails).cloned(),
            95..98 => Some("wire".to_owned()),
            _ => None,
        };
        let rules = spec.currency(currency).cloned().unwrap_or(CurrencyRules {
            code: "USD",
            transaction_cap: 500 * UNIT,
            approve_above: 100 * UNIT,
            day_budget: 1_000 * UNIT,
            month_budget: 20_000 * UNIT,
        });
        let cents = |micros: i64| (micros / 10_000).max(1);
        let amount_cents = match rng.below(100) {
            0..65 => 1 + rng.below(cents(rules.approve_above) as u64) as i64,
            65..70 => cents(rules.approve_above) + rng.below(2) as i64,
            70..88 => {
                let span = (cents(rules.transaction_cap) - cents(rules.approve_above)).max(1);
                cents(rules.approve_above) + 1 + rng.below(span as u64) as i64
            }
            88..94 => cents(rules.transaction_cap) + rng.below(2) as i64,
            _ => cents(rules.transaction_cap) + 1 + rng.below(100_000) as i64,
        };
        let amount = amount_cents * 10_000;
        let spent_day = match rng.below(100) {
            0..8 => (rules.day_budget - amount).max(0),
            8..16 => (rules.day_budget - amount + 10_000).max(0),
            _ => (rng.below(cents(rules.day_budget) as u64 * 11 / 10) as i64) * 10_000,
        };
        let spent_month = match rng.below(100) {
            0..6 => (rules.month_budget - amount).max(0),
            6..12 => (rules.month_budget - amount + 10_000).max(0),
            _ => (rng.below(cents(rules.month_budget) as u64 * 21 / 20) as i64) * 10_000,
        };
        let now = match rng.below(100) {
            // Right on the schedule's edges, local time.
            0..3 => local(spec, base, rng.below(14), spec.from_minute, 0),
            3..6 => local(spec, base, rng.below(14), spec.to_minute, 0),
            6..8 => local(spec, base, rng.below(14), spec.to_minute - 1, 59),
            // Mostly working hours on weekdays, as agents at work would ask.
            8..88 => {
                let day = rng.below(5) + 7 * rng.below(2);
                let span = u64::from(spec.to_minute - spec.from_minute);
                let minute = spec.from_minute + rng.below(span) as u32;
                local(spec, base, day, minute, rng.below(60) as u32)
            }
            _ => base + chrono::Duration::seconds(rng.below(14 * 86_400) as i64),
        };
        let local_now = now.with_timezone(&spec.timezone);
        let request = AuthorizationRequest {
            agent: "agent-3".parse()?,
            request_id: format!("case-{index}").parse()?,
            kind: RequestKind::Payment,
            amount: Amount::from_micros(amount)
                .ok_or_else(|| anyhow::anyhow!("amount {amount} out of range"))?,
            currency: currency.parse()?,
            merchant: merchant.parse()?,
            category: category.map(|c| c.parse()).transpose()?,
            rail: rail.map(|r| r.parse()).transpose()?,
            capture: CaptureMode::Auto,
            session_id: None,
            purpose: "engine benchmark".to_owned(),
            context: None,
        };
        cases.push(Case {
            request,
            now,
            amount,
            spent_day,
            spent_month,
            weekday: local_now.weekday().number_from_monday(),
            minute: local_now.hour() * 60 + local_now.minute(),
        });
    }
    Ok(cases)
}

/// `day` days after `base`, at `minute`:`second` local time.
fn local(spec: &Spec, base: Timestamp, day: u64, minute: u32, second: u32) -> Timestamp {
    let date = base.with_timezone(&spec.timezone).date_naive() + chrono::Days::new(day);
    date.and_hms_opt(minute / 60, minute % 60, second)
        .and_then(|naive| spec.timezone.from_local_datetime(&naive).single())
        .map_or(base, |t| t.to_utc())
}

/// A merchant: allowed (60%), blocked (8%) or unlisted, some of them near misses.
fn merchant(spec: &Spec, rng: &mut Rng) -> String {
    let fill = |pattern: &str, rng: &mut Rng| {
        let mut out = String::new();
        for c in pattern.chars() {
            if c == '*' {
                out.push_str(&rng.label());
            } else {
                out.push(c);
            }
        }
        out
    };
    let text = match rng.below(100) {
        0..60 => {
            let pattern = rng.pick(&spec.allowed).cloned().unwrap_or_default();
            fill(&pattern, rng)
        }
        60..68 => {
            let pattern = rng.pick(&spec.blocked).cloned().unwrap_or_default();
            fill(&pattern, rng)
        }
        68..76 => format!("vendor{}.com", rng.below(20)),
        76..80 => format!("casino{}.example", rng.below(9)),
        _ => format!("store{}.example.org", rng.below(10_000)),
    };
    // A pattern filled with empty labels can leave a merchant that is all punctuation;
    // keep it valid and readable.
    if text
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .is_empty()
    {
        "empty.example".to_owned()
    } else {
        text
    }
}
