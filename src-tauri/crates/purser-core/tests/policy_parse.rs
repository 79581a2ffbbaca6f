//! The policy file through the public API: what `parse_policy` accepts, what it refuses
//! and where it says the problem is, and that `serialize_policy` writes back exactly what
//! was read.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "fixture helpers and generators outside #[test] fns: a bad fixture fails the test"
)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::Index;
use purser_core::policy::{
    DaySet, Limit, OnExceed, Profile, Schedule, Velocity, parse_policy, serialize_policy,
};
use purser_core::{
    AgentName, Amount, Currency, MerchantPattern, Policy, PolicyDuration, ProfileName, Slug, Window,
};

const EXAMPLE: &str = include_str!("../../../../examples/policy.toml");

fn parse(text: &str) -> Policy {
    parse_policy("test.toml", text).unwrap_or_else(|errors| panic!("{errors}"))
}

/// `(line, column, message)` of every error, or a failure if the text parses.
fn errors(text: &str) -> Vec<(usize, usize, String)> {
    match parse_policy("test.toml", text) {
        Ok(policy) => panic!("expected errors, parsed {policy:?}"),
        Err(errors) => {
            assert!(!errors.errors.is_empty(), "an Err always carries an error");
            errors
                .errors
                .into_iter()
                .map(|e| (e.line, e.column, e.message))
                .collect()
        }
    }
}

/// The only error, which must be at `line:column` and contain every one of `needles`.
fn single_error(text: &str, line: usize, column: usize, needles: &[&str]) {
    let found = errors(text);
    assert_eq!(found.len(), 1, "{found:?}");
    let (at_line, at_column, message) = &found[0];
    assert_eq!((*at_line, *at_column), (line, column), "{message}");
    for needle in needles {
        assert!(
            message.contains(needle),
            "{message:?} should contain {needle:?}"
        );
    }
}

fn currency(code: &str) -> Currency {
    code.parse().unwrap()
}

fn amount(text: &str) -> Amount {
    text.parse().unwrap()
}

fn minutes(count: u32) -> PolicyDuration {
    PolicyDuration::from_seconds(count * 60).unwrap()
}

// ---- the example and canonical form ------------------------------------------------

#[test]
fn example_file_reads_as_documented() {
    let policy = parse(EXAMPLE);
    assert_eq!(policy.timezone, chrono_tz::Tz::UTC);
    assert_eq!(policy.approval_timeout, minutes(10));
    assert_eq!(policy.hold_ttl, minutes(30));
    let usd = currency("USD");
    assert_eq!(
        policy.limits,
        vec![Limit {
            currency: usd.clone(),
            window: Window::Month,
            max: amount("2000"),
            on_exceed: OnExceed::Deny,
        }]
    );
    let default: ProfileName = "default".parse().unwrap();
    let profile = &policy.profiles[&default];
    assert_eq!(profile.currencies, vec![usd.clone()]);
    assert_eq!(
        profile.approve_above,
        BTreeMap::from([(usd.clone(), amount("25"))])
    );
    assert!(profile.allowed_categories.is_empty());
    assert!(profile.allowed_merchants.is_empty());
    assert_eq!(
        profile.blocked_merchants,
        vec!["*casino*".parse::<MerchantPattern>().unwrap()]
    );
    assert!(profile.allowed_rails.is_empty());
    assert_eq!(
        profile.velocity,
        Some(Velocity {
            count: 30,
            window: minutes(60)
        })
    );
    assert_eq!(
        profile.hours,
        Some(Schedule {
            days: DaySet(0b001_1111),
            from_minute: 8 * 60,
            to_minute: 20 * 60
        })
    );
    assert_eq!(
        profile.limits,
        vec![
            Limit {
                currency: usd.clone(),
                window: Window::Transaction,
                max: amount("100"),
                on_exceed: OnExceed::Deny,
            },
            Limit {
                currency: usd,
                window: Window::Day,
                max: amount("200"),
                on_exceed: OnExceed::Ask
            },
        ]
    );
    let bot: AgentName = "research-bot".parse().unwrap();
    assert_eq!(policy.agents, BTreeMap::from([(bot, default)]));
}

#[test]
fn example_file_round_trips() {
    let policy = parse(EXAMPLE);
    let canonical = serialize_policy(&policy);
    assert_eq!(parse(&canonical), policy);
    assert_eq!(serialize_policy(&parse(&canonical)), canonical);
}

#[test]
fn canonical_text_has_the_documented_layout() {
    let expected = r#"version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[[limit]]
currency = "USD"
window = "month"
max = "2000.00"
on_exceed = "deny"

[profiles.default]
currencies = ["USD"]
approve_above = { USD = "25.00" }
allowed_categories = []
allowed_merchants = []
blocked_merchants = ["*casino*"]
allowed_rails = []
velocity = { count = 30, window = "1h" }
hours = { days = "mon-fri", from = "08:00", to = "20:00" }

[[profiles.default.limit]]
currency = "USD"
window = "transaction"
max = "100.00"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "200.00"
on_exceed = "ask"

[agents]
research-bot = "default"
"#;
    assert_eq!(serialize_policy(&parse(EXAMPLE)), expected);
}

#[test]
fn deny_all_round_trips() {
    let policy = Policy::deny_all();
    let text = serialize_policy(&policy);
    assert_eq!(parse_policy("deny-all.toml", &text), Ok(policy));
    assert!(
        text.contains("[profiles.default]\ncurrencies = []\napprove_above = {}\n"),
        "{text}"
    );
}

#[test]
fn omitted_keys_take_their_defaults() {
    let policy = parse("version = 1\n");
    assert_eq!(policy.timezone, chrono_tz::Tz::UTC);
    assert_eq!(policy.approval_timeout, PolicyDuration::TEN_MINUTES);
    assert_eq!(policy.hold_ttl, PolicyDuration::THIRTY_MINUTES);
    assert!(policy.limits.is_empty() && policy.profiles.is_empty() && policy.agents.is_empty());

    let policy = parse(
        "version = 1\n[profiles.p]\ncurrencies = [\"EUR\"]\n[[profiles.p.limit]]\ncurrency = \"EUR\"\nwindow = \"week\"\nmax = \"5\"\n",
    );
    let profile = &policy.profiles[&"p".parse::<ProfileName>().unwrap()];
    assert_eq!(
        profile.limits[0].on_exceed,
        OnExceed::Deny,
        "on_exceed defaults to deny"
    );
    assert_eq!((profile.velocity, profile.hours), (None, None));
}

#[test]
fn non_canonical_values_are_written_back_canonically() {
    let text = r#"version = 1
timezone = "Europe/Paris"
approval_timeout = "90m"
hold_ttl = "86400s"

[profiles."ops.v2"]
currencies = ["EUR", "USDC"]
approve_above = { USDC = "7.5" }
allowed_categories = ["software", "cloud_compute"]
allowed_merchants = ["api.example.com", "say \"hi\"\\now"]
allowed_rails = ["x402"]
hours = { days = "wed , mon-tue,sat-sun", from = "00:00", to = "24:00" }

[agents]
"bot.v2" = "ops.v2"
"#;
    let policy = parse(text);
    let canonical = serialize_policy(&policy);
    assert!(
        canonical.contains("timezone = \"Europe/Paris\"\n"),
        "{canonical}"
    );
    assert!(
        canonical.contains("approval_timeout = \"1h30m\"\nhold_ttl = \"1d\"\n"),
        "{canonical}"
    );
    assert!(canonical.contains("[profiles.\"ops.v2\"]\n"), "{canonical}");
    assert!(
        canonical.contains("approve_above = { USDC = \"7.50\" }\n"),
        "{canonical}"
    );
    assert!(
        canonical.contains(r#"allowed_merchants = ["api.example.com", "say \"hi\"\\now"]"#),
        "{canonical}"
    );
    assert!(
        canonical
            .contains("hours = { days = \"mon-wed,sat-sun\", from = \"00:00\", to = \"24:00\" }"),
        "{canonical}"
    );
    assert!(
        canonical.contains("\"bot.v2\" = \"ops.v2\"\n"),
        "{canonical}"
    );
    assert_eq!(parse(&canonical), policy);
}

// ---- where errors are reported --------------------------------------------------------

#[test]
fn unknown_top_level_key_is_located_and_lists_allowed_keys() {
    single_error(
        "version = 1\ncolour = \"red\"\n",
        2,
        1,
        &[
            "unknown key `colour`",
            "`version`",
            "`timezone`",
            "`limit`",
            "`profiles`",
            "`agents`",
        ],
    );
}

#[test]
fn unknown_key_in_a_profile_is_located() {
    let text = "version = 1\n\n[profiles.default]\ncurrencies = [\"USD\"]\nmax_spend = \"10.00\"\n";
    single_error(
        text,
        5,
        1,
        &[
            "unknown key `max_spend`",
            "`currencies`",
            "`approve_above`",
            "`hours`",
        ],
    );
}

#[test]
fn unknown_key_in_a_profile_limit_is_located() {
    let text = "version = 1\n[profiles.default]\ncurrencies = [\"USD\"]\n\n[[profiles.default.limit]]\ncurrency = \"USD\"\nwindow = \"day\"\nmaximum = \"10.00\"\n";
    single_error(
        text,
        8,
        1,
        &[
            "unknown key `maximum`",
            "`currency`",
            "`window`",
            "`max`",
            "`on_exceed`",
        ],
    );
}

#[test]
fn unknown_key_in_an_inline_table_is_located() {
    let text = "version = 1\n[profiles.default]\nvelocity = { count = 3, per = \"1h\" }\n";
    single_error(
        text,
        3,
        25,
        &["unknown key `per`", "allowed keys are `count`, `window`"],
    );
}

#[test]
fn bad_amount_is_located_at_its_value() {
    let text = "version = 1\n\n[[limit]]\ncurrency = \"USD\"\nwindow = \"day\"\nmax = \"12,50\"\n";
    single_error(
        text,
        6,
        7,
        &[
            "invalid `max`",
            "\"12,50\"",
            "not a plain decimal",
            "\"12.50\"",
        ],
    );
}

#[test]
fn zero_and_numeric_amounts_are_refused() {
    let text = "version = 1\n[[limit]]\ncurrency = \"USD\"\nwindow = \"day\"\nmax = \"0.00\"\n";
    single_error(text, 5, 7, &["`max` must be greater than zero"]);
    let text = "version = 1\n[[limit]]\ncurrency = \"USD\"\nwindow = \"day\"\nmax = 100\n";
    single_error(
        text,
        5,
        7,
        &[
            "`max` must be a decimal string such as \"25.00\"",
            "the integer 100",
        ],
    );
    let text =
        "version = 1\n[profiles.p]\ncurrencies = [\"USD\"]\napprove_above = { USD = \"-1\" }\n";
    single_error(
        text,
        4,
        25,
        &["invalid `approve_above.USD`", "not a plain decimal"],
    );
}

#[test]
fn unknown_zone_is_located_and_names_the_expected_form() {
    single_error(
        "version = 1\ntimezone = \"Mars/Olympus\"\n",
        2,
        12,
        &[
            "unknown time zone \"Mars/Olympus\"",
            "use an IANA name such as \"Europe/Paris\" or \"UTC\"",
        ],
    );
    single_error(
        "version = 1\ntimezone = \"europe/paris\"\n",
        2,
        12,
        &["did you mean \"Europe/Paris\"?"],
    );
}

#[test]
fn agent_on_an_unknown_profile_is_located_and_lists_defined_profiles() {
    let text =
        "version = 1\n[profiles.default]\n[profiles.ops]\n[agents]\nresearch-bot = \"defualt\"\n";
    single_error(
        text,
        5,
        16,
        &[
            "agent `research-bot`",
            "profile \"defualt\"",
            "not defined",
            "\"default\", \"ops\"",
        ],
    );
    single_error(
        "version = 1\n[agents]\nbot = \"x\"\n",
        3,
        7,
        &["no profiles are defined"],
    );
}

#[test]
fn bad_duration_is_located() {
    single_error(
        "version = 1\napproval_timeout = \"10 minutes\"\n",
        2,
        20,
        &[
            "invalid `approval_timeout`",
            "\"10 minutes\"",
            "e.g. \"30s\", \"10m\"",
        ],
    );
    single_error(
        "version = 1\nhold_ttl = 30\n",
        2,
        12,
        &["`hold_ttl` must be a string such as \"30m\""],
    );
}

#[test]
fn display_is_file_line_col_message() {
    let errors =
        parse_policy("policy.toml", "version = 1\ntimezone = \"Mars/Olympus\"\n").unwrap_err();
    assert_eq!(
        errors.to_string(),
        "policy.toml:2:12: unknown time zone \"Mars/Olympus\": use an IANA name such as \"Europe/Paris\" or \"UTC\""
    );
    let text = "version = 2\ntimezone = \"Nowhere\"\n";
    let shown = parse_policy("p.toml", text).unwrap_err().to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 2, "{shown}");
    assert!(
        lines[0].starts_with("p.toml:1:11: `version` must be 1"),
        "{shown}"
    );
    assert!(
        lines[1].starts_with("p.toml:2:12: unknown time zone"),
        "{shown}"
    );
}

#[test]
fn every_validation_error_is_reported_in_file_order() {
    let text = r#"version = 1
timezone = "Nowhere"
approval_timeout = "0s"

[[limit]]
currency = "usd"
window = "fortnight"
max = "1.2345678"
on_exceed = "warn"

[profiles.default]
currencies = ["USD", "USD"]
velocity = { count = 0, window = "1h" }
hours = { days = "fri-mon", from = "20:00", to = "08:00" }

[agents]
bot = "nope"
"#;
    let found = errors(text);
    let positions: Vec<(usize, usize)> = found.iter().map(|(l, c, _)| (*l, *c)).collect();
    assert_eq!(
        positions,
        vec![
            (2, 12),
            (3, 20),
            (6, 12),
            (7, 10),
            (8, 7),
            (9, 13),
            (12, 22),
            (13, 22),
            (14, 18),
            (14, 50),
            (17, 7),
        ],
        "{found:#?}"
    );
    let messages: Vec<&str> = found.iter().map(|(_, _, m)| m.as_str()).collect();
    assert!(messages[3].contains("use one of transaction, session, hour, day, week, month, total"));
    assert!(messages[5].contains("use \"deny\" or \"ask\""));
    assert!(messages[6].contains("lists USD twice"));
    assert!(messages[7].contains("from 1 to 10000"));
    assert!(messages[8].contains("wraps past Sunday") && messages[8].contains("\"fri-sun,mon\""));
    assert!(messages[9].contains("must be later than `from`"));
}

#[test]
fn wrongly_typed_values_are_located() {
    let text = "version = 1\n[limit]\ncurrency = \"USD\"\n";
    single_error(text, 2, 1, &["invalid type: table, expected an array"]);
    let text = "version = 1\n[profiles.p]\ncurrencies = \"USD\"\n";
    single_error(
        text,
        3,
        14,
        &["invalid type: string \"USD\", expected an array"],
    );
    let text = "version = 1\n[profiles.p]\nvelocity = 3\n";
    single_error(
        text,
        3,
        12,
        &["expected an inline table such as { count = 30, window = \"1h\" }"],
    );
    let text = "version = 1\n[profiles.p]\n[agents]\nbot = 3\n";
    single_error(
        text,
        4,
        7,
        &[
            "`agents.bot` must be a string such as \"default\"",
            "the integer 3",
        ],
    );
}

#[test]
fn syntax_errors_are_located() {
    let found = errors("version = 1\ntimezone = \"UTC\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 2, "{found:?}");
    let found = errors("version = 1\nversion = 1\n");
    assert_eq!((found.len(), found[0].0), (1, 2), "{found:?}");
}

#[test]
fn version_is_required_and_must_be_one() {
    single_error(
        "timezone = \"UTC\"\n",
        1,
        1,
        &["missing `version`", "version = 1"],
    );
    single_error(
        "version = 2\n",
        1,
        11,
        &["`version` must be 1", "the integer 2"],
    );
    single_error(
        "version = \"1\"\n",
        1,
        11,
        &["`version` must be 1", "the string \"1\""],
    );
}

#[test]
fn limits_need_currency_window_and_max() {
    let found = errors("version = 1\n[[limit]]\non_exceed = \"ask\"\n");
    let messages: Vec<&str> = found.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found.iter().all(|(line, _, _)| *line == 2), "{found:?}");
    assert!(messages.iter().any(|m| m.contains("missing `currency`")));
    assert!(messages.iter().any(|m| m.contains("missing `window`")));
    assert!(
        messages
            .iter()
            .any(|m| m.contains("missing `max`: add e.g. max = \"100.00\""))
    );
}

#[test]
fn duplicate_limits_in_one_list_are_refused() {
    let text = "version = 1\n[[limit]]\ncurrency = \"USD\"\nwindow = \"day\"\nmax = \"1\"\n[[limit]]\ncurrency = \"USD\"\nwindow = \"day\"\nmax = \"2\"\n";
    single_error(
        text,
        8,
        10,
        &["a second USD limit per `day`", "first is on line 4"],
    );
    // The same currency and window in two different lists is fine, as are other windows.
    let text = "version = 1\n[[limit]]\ncurrency = \"USD\"\nwindow = \"day\"\nmax = \"9\"\n[[limit]]\ncurrency = \"USD\"\nwindow = \"transaction\"\nmax = \"1\"\n[profiles.p]\ncurrencies = [\"USD\"]\n[[profiles.p.limit]]\ncurrency = \"USD\"\nwindow = \"day\"\nmax = \"2\"\n";
    assert_eq!(parse(text).limits.len(), 2);
}

#[test]
fn shared_limits_may_name_any_currency_but_profile_limits_may_not() {
    let shared = "version = 1\n[[limit]]\ncurrency = \"JPY\"\nwindow = \"total\"\nmax = \"1\"\n[profiles.p]\ncurrencies = [\"USD\"]\n";
    assert_eq!(parse(shared).limits[0].currency, currency("JPY"));
    let text = "version = 1\n[profiles.p]\ncurrencies = [\"USD\"]\n[[profiles.p.limit]]\ncurrency = \"EUR\"\nwindow = \"day\"\nmax = \"2\"\n";
    single_error(
        text,
        5,
        12,
        &[
            "profile `p` does not allow EUR",
            "its `currencies` are \"USD\"",
            "never apply",
        ],
    );
}

#[test]
fn approve_above_needs_an_allowed_currency() {
    let text = "version = 1\n[profiles.p]\ncurrencies = [\"USD\"]\napprove_above = { USD = \"1\", EUR = \"2\" }\n";
    single_error(
        text,
        4,
        30,
        &[
            "`approve_above` names EUR",
            "profile `p` does not allow",
            "\"USD\"",
        ],
    );
    let text = "version = 1\n[profiles.p]\napprove_above = { usd = \"1\" }\n";
    single_error(text, 3, 19, &["invalid `approve_above` key", "\"usd\""]);
}

#[test]
fn velocity_count_is_bounded() {
    let profile = |count: &str| {
        format!("version = 1\n[profiles.p]\nvelocity = {{ count = {count}, window = \"1m\" }}\n")
    };
    assert_eq!(
        parse(&profile("10000"))
            .profiles
            .values()
            .next()
            .and_then(|p| p.velocity)
            .map(|v| v.count),
        Some(10_000)
    );
    for bad in ["0", "10001", "-1", "1.5", "\"30\""] {
        single_error(
            &profile(bad),
            3,
            22,
            &["`count` must be a whole number from 1 to 10000"],
        );
    }
    single_error(
        "version = 1\n[profiles.p]\nvelocity = { count = 3 }\n",
        3,
        12,
        &["`velocity` is missing `window`"],
    );
}

#[test]
fn hours_are_checked() {
    let hours = |inline: &str| format!("version = 1\n[profiles.p]\nhours = {inline}\n");
    let policy = parse(&hours(
        "{ days = \"sat-sun\", from = \"22:30\", to = \"24:00\" }",
    ));
    let schedule = policy
        .profiles
        .values()
        .next()
        .and_then(|p| p.hours)
        .unwrap();
    assert_eq!(
        schedule,
        Schedule {
            days: DaySet(0b110_0000),
            from_minute: 1350,
            to_minute: 1440
        }
    );

    single_error(
        &hours("{ days = \"fri-mon\", from = \"08:00\", to = \"20:00\" }"),
        3,
        18,
        &[
            "day range \"fri-mon\" wraps past Sunday",
            "write \"fri-sun,mon\"",
        ],
    );
    single_error(
        &hours("{ days = \"weekdays\", from = \"08:00\", to = \"20:00\" }"),
        3,
        18,
        &["unknown day \"weekdays\"", "\"mon-fri\""],
    );
    single_error(
        &hours("{ days = \"mon\", from = \"8:00\", to = \"20:00\" }"),
        3,
        32,
        &["`from` \"8:00\" is not a time: use \"HH:MM\" from \"00:00\" to \"23:59\""],
    );
    single_error(
        &hours("{ days = \"mon\", from = \"24:00\", to = \"24:00\" }"),
        3,
        32,
        &["\"00:00\" to \"23:59\""],
    );
    single_error(
        &hours("{ days = \"mon\", from = \"09:00\", to = \"09:00\" }"),
        3,
        46,
        &[
            "`to` \"09:00\" must be later than `from` \"09:00\"",
            "\"24:00\"",
        ],
    );
    single_error(
        &hours("{ days = \"mon\", from = \"09:00\" }"),
        3,
        9,
        &["`hours` is missing `to`"],
    );
}

#[test]
fn invalid_names_are_refused() {
    single_error(
        "version = 1\n[profiles.\"-x\"]\n",
        2,
        11,
        &["profile name \"-x\" is invalid"],
    );
    let text = "version = 1\n[profiles.default]\n[agents]\n\"bad bot\" = \"default\"\n";
    single_error(text, 4, 1, &["agent name \"bad bot\" is invalid"]);
    let text = "version = 1\n[profiles.p]\nallowed_categories = [\"Software\"]\n";
    single_error(
        text,
        3,
        23,
        &["invalid `allowed_categories`", "slug \"Software\""],
    );
}

// ---- round trip of any valid policy ---------------------------------------------------

fn any_currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(vec!["USD", "EUR", "USDC", "GBP", "X402"]).prop_map(currency)
}

fn any_amount() -> impl Strategy<Value = Amount> {
    prop_oneof![1..=100_000_000i64, 1..=Amount::MAX.micros()]
        .prop_map(|micros| Amount::from_micros(micros).unwrap())
}

fn any_duration() -> impl Strategy<Value = PolicyDuration> {
    (1..=366 * 86_400u32).prop_map(|seconds| PolicyDuration::from_seconds(seconds).unwrap())
}

fn any_limit() -> impl Strategy<Value = Limit> {
    let on_exceed = prop_oneof![Just(OnExceed::Deny), Just(OnExceed::Ask)];
    (
        any_currency(),
        prop::sample::select(Window::ALL.to_vec()),
        any_amount(),
        on_exceed,
    )
        .prop_map(|(currency, window, max, on_exceed)| Limit {
            currency,
            window,
            max,
            on_exceed,
        })
}

/// Keeps the first limit per (currency, window), and only allowed currencies if given.
fn valid_limits(limits: Vec<Limit>, allowed: Option<&[Currency]>) -> Vec<Limit> {
    let mut seen = Vec::new();
    limits
        .into_iter()
        .filter(|limit| allowed.is_none_or(|allowed| allowed.contains(&limit.currency)))
        .filter(|limit| {
            let key = (limit.currency.clone(), limit.window);
            let new = !seen.contains(&key);
            seen.push(key);
            new
        })
        .collect()
}

fn any_schedule() -> impl Strategy<Value = Schedule> {
    (1..=0b111_1111u8, 0..1440u16, 1..=1440u16).prop_map(|(days, from_minute, length)| Schedule {
        days: DaySet(days),
        from_minute,
        to_minute: (from_minute + length).min(1440),
    })
}

fn any_profile() -> impl Strategy<Value = Profile> {
    let slugs = || {
        prop::collection::vec(
            "[a-z0-9_-]{1,12}".prop_map(|s| s.parse::<Slug>().unwrap()),
            0..3,
        )
    };
    let patterns = || {
        prop::collection::vec(
            r#"[a-zA-Z0-9.*?"\\é '#=\[\]{} -]{1,20}"#
                .prop_map(|s| s.parse::<MerchantPattern>().unwrap()),
            0..3,
        )
    };
    let velocity =
        (1..=10_000u32, any_duration()).prop_map(|(count, window)| Velocity { count, window });
    (
        prop::collection::vec(any_currency(), 0..4),
        prop::collection::btree_map(any_currency(), any_amount(), 0..4),
        (slugs(), patterns(), patterns(), slugs()),
        prop::option::of(velocity),
        prop::option::of(any_schedule()),
        prop::collection::vec(any_limit(), 0..6),
    )
        .prop_map(
            |(currencies, approve_above, lists, velocity, hours, limits)| {
                let mut unique: Vec<Currency> = Vec::new();
                for currency in currencies {
                    if !unique.contains(&currency) {
                        unique.push(currency);
                    }
                }
                let approve_above = approve_above
                    .into_iter()
                    .filter(|(currency, _)| unique.contains(currency))
                    .collect();
                let (allowed_categories, allowed_merchants, blocked_merchants, allowed_rails) =
                    lists;
                Profile {
                    limits: valid_limits(limits, Some(&unique)),
                    currencies: unique,
                    approve_above,
                    allowed_categories,
                    allowed_merchants,
                    blocked_merchants,
                    allowed_rails,
                    velocity,
                    hours,
                }
            },
        )
}

const NAME: &str = "[a-zA-Z0-9][a-zA-Z0-9._-]{0,10}";

fn any_policy() -> impl Strategy<Value = Policy> {
    let zones = [
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "US/Pacific",
    ];
    (
        prop::sample::select(zones.to_vec())
            .prop_map(|zone| zone.parse::<chrono_tz::Tz>().unwrap()),
        any_duration(),
        any_duration(),
        prop::collection::vec(any_limit(), 0..6),
        prop::collection::btree_map(
            NAME.prop_map(|n| n.parse::<ProfileName>().unwrap()),
            any_profile(),
            0..4,
        ),
        prop::collection::btree_map(
            NAME.prop_map(|n| n.parse::<AgentName>().unwrap()),
            any::<Index>(),
            0..5,
        ),
    )
        .prop_map(
            |(timezone, approval_timeout, hold_ttl, limits, profiles, agents)| {
                let names: Vec<&ProfileName> = profiles.keys().collect();
                let agents = if names.is_empty() {
                    BTreeMap::new()
                } else {
                    agents
                        .into_iter()
                        .map(|(agent, index)| (agent, index.get(&names).to_owned().clone()))
                        .collect()
                };
                Policy {
                    timezone,
                    approval_timeout,
                    hold_ttl,
                    limits: valid_limits(limits, None),
                    profiles,
                    agents,
                }
            },
        )
}

proptest! {
    #[test]
    fn any_valid_policy_round_trips(policy in any_policy()) {
        let text = serialize_policy(&policy);
        let parsed = parse_policy("x", &text);
        prop_assert_eq!(parsed.as_ref(), Ok(&policy), "{}", text);
        prop_assert_eq!(serialize_policy(&policy), text);
    }
}
