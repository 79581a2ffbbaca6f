//! End to end on the real desktop app (issue 5): the built `purser-desktop` under
//! `tauri-driver` + `WebKitWebDriver` (on Xvfb unless `DISPLAY` is set), on a temporary
//! data dir, with an agent speaking plain HTTP to the daemon the app embeds and the
//! principal clicking in the console. One app for the whole story, in order:
//!
//! 1. an agent asks above the threshold → the Inbox shows it (with its purpose) within
//!    1 s → Approve → the agent's long-poll answers `approved`;
//! 2. Deny with a reason → the long-poll answers `denied`, `denied_by_principal`;
//! 3. the kill switch → the next request is denied `kill_switch_engaged` → Resume →
//!    approved again;
//! 4. the policy editor: a limit's exact input, Apply → the next request is decided by the
//!    new limit; an invalid edit shows the engine's error and changes nothing;
//! 5. the Audit view lists those events and Verify says the trail is intact.
//!
//! Every view is saved to `docs/screenshots/` (or `PURSER_SCREENSHOT_DIR`). It also
//! measures what issue 5 asks (printed, never asserted beyond "within 1 s"): how soon a
//! new request shows in the Inbox after the agent's POST, and the app's idle memory.
//!
//! Without tauri-driver, WebKitWebDriver, Xvfb or the built app it fails in CI and skips
//! loudly elsewhere (`desktop::tools_or_skip`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use purser_system_tests::binary::workspace_root;
use purser_system_tests::desktop::{self, DesktopApp, ProcessMemory, Session, testid};
use purser_system_tests::{Agent, reason_codes};
use serde_json::{Value, json};

/// Threshold 25 USD, a 100 USD per-transaction cap, generous budgets and velocity.
const POLICY: &str = r#"
version = 1
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
velocity = { count = 100, window = "1h" }

[[profiles.default.limit]]
currency = "USD"
window = "transaction"
max = "100.00"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "500.00"
on_exceed = "ask"
"#;

const AGENT: &str = "research-bot";
/// The Inbox must show a new request within this (issue 5, functional).
const INBOX_DEADLINE: Duration = Duration::from_secs(1);
/// How often the test looks at the DOM for a new request.
const DOM_POLL: Duration = Duration::from_millis(20);
const UI_TIMEOUT: Duration = Duration::from_secs(10);

fn screenshot_dir() -> PathBuf {
    std::env::var_os("PURSER_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("docs").join("screenshots"))
}

/// An authorization request as a research agent would send it.
fn request(request_id: &str, amount: &str, merchant: &str, purpose: &str) -> Value {
    json!({
        "request_id": request_id,
        "amount": amount,
        "currency": "USD",
        "merchant": merchant,
        "category": "software",
        "rail": "card",
        "purpose": purpose,
        "context": {
            "prompt": "Compile this week's market report; buy data access if the free tier runs out.",
            "url": "https://api.example.com/pricing",
        },
    })
}

/// A request the agent is waiting on (`?wait=30`), as the Inbox shows it.
struct Asked {
    id: String,
    /// From just before the agent's POST to the test's DOM poll seeing the item.
    latency: Duration,
    /// From just before the agent's POST to the item's insertion into the DOM, as a
    /// MutationObserver in the page timed it (page and test share the system clock).
    inserted: Option<Duration>,
    /// How many DOM polls it took.
    polls: u32,
    answer: JoinHandle<(u16, Value)>,
}

/// Milliseconds since the Unix epoch, as the page's `Date.now()` counts them.
fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1000.0)
}

/// The agent asks (holding its long-poll open on a thread) and the test polls the DOM
/// every 20 ms until an Inbox item shows `purpose`.
fn ask_and_find_in_inbox(ui: &Session, agent: &Agent, body: Value) -> Asked {
    let purpose = body["purpose"].as_str().expect("a purpose").to_owned();
    // A MutationObserver notes when the item enters the DOM, independent of polling.
    let observe = r#"
        const purpose = arguments[0];
        window.__purserSeen = window.__purserSeen || {};
        const look = () => {
          for (const item of document.querySelectorAll('[data-testid="inbox-item"]')) {
            if (item.textContent.includes(purpose)) {
              window.__purserSeen[purpose] = window.__purserSeen[purpose] || Date.now();
              return true;
            }
          }
          return false;
        };
        if (!look()) {
          const observer = new MutationObserver(() => { if (look()) observer.disconnect(); });
          observer.observe(document.body, { childList: true, subtree: true, characterData: true });
        }"#;
    ui.execute(observe, &[json!(purpose)]);
    let waiting = agent.clone();
    let posted_ms = epoch_ms();
    let asked = Instant::now();
    let answer = std::thread::spawn(move || waiting.authorize_waiting(&body, 30));
    let find = r#"
        for (const item of document.querySelectorAll('[data-testid="inbox-item"]')) {
          if (item.textContent.includes(arguments[0])) return item.getAttribute('data-id');
        }
        return null;"#;
    let mut polls = 0;
    loop {
        polls += 1;
        if let Value::String(id) = ui.execute(find, &[json!(purpose)]) {
            let latency = asked.elapsed();
            let seen = ui.execute(
                "return window.__purserSeen[arguments[0]] || null",
                &[json!(purpose)],
            );
            let inserted = seen
                .as_f64()
                .map(|at| Duration::from_secs_f64((at - posted_ms).max(0.0) / 1000.0));
            return Asked {
                id,
                latency,
                inserted,
                polls,
                answer,
            };
        }
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "the Inbox never showed {purpose:?}; it shows: {}",
            ui.execute("return document.querySelector('main').innerText", &[])
        );
        std::thread::sleep(DOM_POLL);
    }
}

/// The Inbox item `id`, or `inner` inside it.
fn item_css(id: &str, inner: &str) -> String {
    let item = format!("[data-testid=\"inbox-item\"][data-id=\"{id}\"]");
    if inner.is_empty() {
        item
    } else {
        format!("{item} {inner}")
    }
}

/// The agent's long-poll answer, which must be HTTP 200.
fn agent_answer(asked: Asked) -> Value {
    let (status, decision) = asked.answer.join().expect("the agent's thread");
    assert_eq!(status, 200, "{decision}");
    decision
}

fn navigate(ui: &Session, view: &str, ready_css: &str) {
    ui.click_css(&testid(&format!("nav-{view}")));
    ui.wait_for(ready_css, UI_TIMEOUT);
}

fn text_of(ui: &Session, css: &str) -> String {
    let element = ui.wait_for(css, UI_TIMEOUT);
    ui.text(&element)
}

/// Waits until the element at `css` has text containing `needle`; that text.
fn wait_text(ui: &Session, css: &str, needle: &str) -> String {
    let mut last = String::new();
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        if let Some(text) = ui.find(css).and_then(|element| ui.try_text(&element)) {
            if text.contains(needle) {
                return text;
            }
            last = text;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never said {needle:?}; last: {last:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `samples [...] ms; median M ms, max X ms`.
fn describe_latencies(samples: &[Duration]) -> String {
    if samples.is_empty() {
        return "no samples".to_owned();
    }
    let ms = |d: &Duration| (d.as_secs_f64() * 1000.0).round() as u64;
    let mut sorted: Vec<u64> = samples.iter().map(ms).collect();
    let in_order = sorted.clone();
    sorted.sort_unstable();
    format!(
        "samples {in_order:?} ms; median {} ms, max {} ms",
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    )
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `RSS sum (each process) ; PSS sum`.
fn describe_memory(memory: &[ProcessMemory]) -> String {
    let rss: u64 = memory.iter().map(|process| process.rss_kib).sum();
    let pss: u64 = memory.iter().filter_map(|process| process.pss_kib).sum();
    let parts: Vec<String> = memory
        .iter()
        .map(|process| format!("{} {:.1}", process.name, mib(process.rss_kib)))
        .collect();
    format!(
        "RSS sum {:.1} MiB ({} MiB); PSS sum {:.1} MiB (shared pages counted once)",
        mib(rss),
        parts.join(", "),
        mib(pss)
    )
}

/// Dismisses every toast (they would cover the views in the screenshots).
fn clear_toasts(ui: &Session) {
    for button in ui.find_all(".toasts .toast button[aria-label=\"Dismiss\"]") {
        // A toast may leave on its own meanwhile.
        let _ = ui.try_command(
            "POST",
            &format!("/element/{}/click", button.0),
            Some(&json!({})),
        );
    }
    ui.wait_gone(".toasts .toast", UI_TIMEOUT);
}

/// A screenshot of the window as it is, without toasts.
fn shoot(app: &DesktopApp, dir: &std::path::Path, name: &str) -> PathBuf {
    clear_toasts(app.session());
    app.screenshot(dir, name)
}

/// Prints how far the story got, and when.
fn step(started: Instant, what: &str) {
    eprintln!(
        "desktop E2E [{:6.1} s] {what}",
        started.elapsed().as_secs_f64()
    );
}

/// Every audit row the Audit view renders while its table scrolls from top to bottom:
/// `(seq, row text)`.
fn audit_rows_by_scrolling(ui: &Session) -> Vec<(u64, String)> {
    let read = r#"
        const viewport = document.querySelector('.audit .viewport');
        viewport.scrollTop = arguments[0];
        viewport.dispatchEvent(new Event('scroll'));
        return { height: viewport.scrollHeight, client: viewport.clientHeight };"#;
    let rows = r#"
        return [...document.querySelectorAll('[data-testid="audit-row"]')]
          .map((row) => [Number(row.getAttribute('data-seq')), row.innerText.replace(/\s+/g, ' ')]);"#;
    let mut seen = std::collections::BTreeMap::new();
    let mut offset = 0_u64;
    loop {
        let size = ui.execute(read, &[json!(offset)]);
        std::thread::sleep(Duration::from_millis(150));
        if let Value::Array(found) = ui.execute(rows, &[]) {
            for row in found {
                if let (Some(seq), Some(text)) = (row[0].as_u64(), row[1].as_str()) {
                    seen.insert(seq, text.to_owned());
                }
            }
        }
        let height = size["height"].as_u64().unwrap_or(0);
        let client = size["client"].as_u64().unwrap_or(0).max(100);
        if offset + client >= height {
            break;
        }
        offset += client / 2;
    }
    ui.execute(read, &[json!(0)]);
    seen.into_iter().rev().collect()
}

#[test]
fn desktop_console_end_to_end() {
    let Some(tools) = desktop::tools_or_skip("desktop_console_end_to_end") else {
        return;
    };
    let started = Instant::now();
    let shots = screenshot_dir();
    let mut app = DesktopApp::launch(tools);
    eprintln!(
        "desktop E2E: app up in {:.1} s on display {} (agent API {})",
        app.launch_time.as_secs_f64(),
        app.display_name(),
        app.agent_addr()
    );
    let base_version = app.apply_policy(POLICY);
    let agent = app.agent(AGENT);
    let ui = app.session();
    let mut latencies: Vec<(Duration, Option<Duration>)> = Vec::new();
    let mut screenshots: Vec<PathBuf> = Vec::new();

    // What one look at the DOM costs (the resolution of the latency figures below).
    let probes = 20;
    let probing = Instant::now();
    for _ in 0..probes {
        ui.execute(
            "return document.querySelectorAll('[data-testid=\"inbox-item\"]').length",
            &[],
        );
    }
    let probe_rtt = probing.elapsed() / probes;

    // Idle memory: the console open on the Inbox, nothing happening for a few seconds.
    navigate(ui, "inbox", "main");
    std::thread::sleep(Duration::from_secs(4));
    let idle_memory = app.memory();
    let app_pid = app.app_pid().expect("the app's process");
    assert!(
        idle_memory.iter().any(|process| process.pid == app_pid),
        "the app's process {app_pid} is not in {idle_memory:?}"
    );

    step(started, "1. approve from the Inbox");
    // 1. Above the threshold → the Inbox, with its purpose, within 1 s → Approve.
    let purpose = "Buy 1 month of market-data API credits for the weekly report";
    let asked = ask_and_find_in_inbox(
        ui,
        &agent,
        request("e2e-approve", "42.00", "api.example.com", purpose),
    );
    eprintln!(
        "desktop E2E: the Inbox showed the request {} ms after the POST (inserted at {:?}; {} DOM polls)",
        asked.latency.as_millis(),
        asked.inserted,
        asked.polls
    );
    assert!(
        asked.latency <= INBOX_DEADLINE,
        "the Inbox showed the request {:?} after the agent's POST (issue 5: within 1 s)",
        asked.latency
    );
    latencies.push((asked.latency, asked.inserted));
    let card = text_of(ui, &item_css(&asked.id, ""));
    for expected in [purpose, AGENT, "42.00", "api.example.com"] {
        assert!(
            card.contains(expected),
            "the Inbox item lacks {expected:?}: {card}"
        );
    }
    // The request is still waiting: the agent's long-poll holds.
    assert!(
        !asked.answer.is_finished(),
        "the agent's long-poll returned before any decision"
    );
    screenshots.push(shoot(&app, &shots, "inbox"));
    ui.click_css(&item_css(&asked.id, &testid("approve-once")));
    let id = asked.id.clone();
    let decision = agent_answer(asked);
    assert_eq!(decision["id"], json!(id), "{decision}");
    assert_eq!(decision["status"], "approved", "{decision}");
    assert_eq!(decision["decided_by"], "principal", "{decision}");
    assert_eq!(
        decision["reason"]["code"], "approved_by_principal",
        "{decision}"
    );
    ui.wait_gone(&item_css(&id, ""), UI_TIMEOUT);

    step(started, "2. deny with a reason");
    // 2. Deny, with a reason the agent gets back.
    let reason = "Not this sprint: use the free tier";
    let asked = ask_and_find_in_inbox(
        ui,
        &agent,
        request(
            "e2e-deny",
            "30.00",
            "data.example.org",
            "Buy a premium dataset export",
        ),
    );
    latencies.push((asked.latency, asked.inserted));
    assert!(asked.latency <= INBOX_DEADLINE, "{:?}", asked.latency);
    ui.click_css(&item_css(&asked.id, &testid("deny")));
    let reason_box = ui.wait_for(&item_css(&asked.id, &testid("deny-reason")), UI_TIMEOUT);
    ui.send_keys(&reason_box, reason);
    ui.click_css(&item_css(&asked.id, &testid("deny-confirm")));
    let id = asked.id.clone();
    let decision = agent_answer(asked);
    assert_eq!(decision["status"], "denied", "{decision}");
    assert_eq!(decision["decided_by"], "principal", "{decision}");
    assert_eq!(
        decision["reason"]["code"], "denied_by_principal",
        "{decision}"
    );
    let message = decision["reason"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(reason),
        "the agent is told the reason: {decision}"
    );
    ui.wait_gone(&item_css(&id, ""), UI_TIMEOUT);

    step(started, "latency samples, decided from the CLI");
    // More Inbox latency samples; each decided elsewhere (the CLI), which the Inbox
    // must reflect live.
    for n in 0..5 {
        let asked = ask_and_find_in_inbox(
            ui,
            &agent,
            request(
                &format!("e2e-latency-{n}"),
                "26.00",
                "api.example.com",
                &format!("Latency sample {n}: top up API credits"),
            ),
        );
        latencies.push((asked.latency, asked.inserted));
        assert!(
            asked.latency <= INBOX_DEADLINE,
            "sample {n}: {:?}",
            asked.latency
        );
        app.cli_json(&["deny", &asked.id, "--reason", "latency sample"]);
        let id = asked.id.clone();
        let decision = agent_answer(asked);
        assert_eq!(decision["status"], "denied", "{decision}");
        ui.wait_gone(&item_css(&id, ""), UI_TIMEOUT);
    }

    // A request left pending for the dashboard and kill switch: the kill switch cancels it.
    let left_pending = ask_and_find_in_inbox(
        ui,
        &agent,
        request(
            "e2e-cancelled",
            "80.00",
            "cloud.example.net",
            "Reserve a GPU hour for the model run",
        ),
    );

    step(started, "3. kill switch");
    // 3. The kill switch, from the dashboard, with its confirmation.
    navigate(ui, "dashboard", &testid("kill-switch"));
    std::thread::sleep(Duration::from_millis(800)); // charts draw
    screenshots.push(shoot(&app, &shots, "dashboard"));
    ui.click_css(&testid("kill-switch"));
    let dialog_reason = ui.wait_for(&format!("{} input", testid("kill-dialog")), UI_TIMEOUT);
    ui.send_keys(&dialog_reason, "E2E: unexpected spend spike");
    ui.click_css(&testid("kill-confirm"));
    ui.wait_for(&testid("kill-banner"), UI_TIMEOUT);
    wait_text(ui, &testid("kill-state"), "Spending stopped");
    let status = app.cli_json(&["status"]);
    assert_eq!(status["kill_switch"]["engaged"], true, "{status}");
    let cancelled = agent_answer(left_pending);
    assert_eq!(
        cancelled["status"], "cancelled",
        "engaging the kill switch cancels what waits: {cancelled}"
    );
    std::thread::sleep(Duration::from_millis(500)); // the confirmation dialog's exit
    screenshots.push(shoot(&app, &shots, "kill-switch-engaged"));
    let refused = agent.decide(&request(
        "e2e-killed",
        "5.00",
        "api.example.com",
        "Small top-up",
    ));
    assert_eq!(refused["status"], "denied", "{refused}");
    assert_eq!(
        refused["reason"]["code"], "kill_switch_engaged",
        "{refused}"
    );
    ui.click_css(&testid("resume"));
    ui.wait_gone(&testid("kill-banner"), UI_TIMEOUT);
    wait_text(ui, &testid("kill-state"), "Spending live");
    let status = app.cli_json(&["status"]);
    assert_eq!(status["kill_switch"]["engaged"], false, "{status}");
    let again = agent.decide(&request(
        "e2e-resumed",
        "5.00",
        "api.example.com",
        "Small top-up",
    ));
    assert_eq!(again["status"], "approved", "{again}");
    assert_eq!(again["reason"]["code"], "within_policy", "{again}");

    step(started, "4. policy editor");
    // 4. The policy editor: the default profile's transaction cap, 100.00 → 20.00.
    let under_old = agent.decide(&request(
        "e2e-before-edit",
        "22.00",
        "api.example.com",
        "API credits",
    ));
    assert_eq!(under_old["status"], "approved", "{under_old}");
    let limit_css = "[data-testid=\"limit-input\"][data-profile=\"default\"][data-index=\"0\"]";
    navigate(ui, "policies", limit_css);
    let limit = ui.wait_for(limit_css, UI_TIMEOUT);
    assert_eq!(
        ui.property(&limit, "value"),
        json!("100.00"),
        "the editor shows the running cap"
    );
    wait_text(ui, &testid("policy-valid"), "Same as the running policy");
    screenshots.push(shoot(&app, &shots, "policies"));
    let before_edit = app.policy();
    assert_eq!(before_edit["version"], json!(base_version), "{before_edit}");
    ui.replace_text(limit_css, "20.00");
    wait_text(ui, &testid("policy-valid"), "Ready to apply");
    let apply = ui.wait_for(&testid("policy-apply"), UI_TIMEOUT);
    desktop::poll(UI_TIMEOUT, "Apply to be enabled", || {
        ui.is_enabled(&apply).then_some(())
    });
    ui.click(&apply);
    let applied = desktop::poll(UI_TIMEOUT, "the edited policy to be running", || {
        let running = app.policy();
        (running["version"] == json!(base_version + 1)).then_some(running)
    });
    let text = applied["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("max = \"20.00\""),
        "the new cap is in the running policy:\n{text}"
    );
    assert!(
        !text.contains("max = \"100.00\""),
        "the old cap is gone:\n{text}"
    );
    let under_new = agent.decide(&request(
        "e2e-after-edit",
        "22.00",
        "api.example.com",
        "API credits",
    ));
    assert_eq!(
        under_new["status"], "denied",
        "the same request under the new cap: {under_new}"
    );
    assert!(
        reason_codes(&under_new).contains(&"over_transaction_limit".to_owned()),
        "{under_new}"
    );

    step(started, "4b. invalid edits");
    // An invalid edit shows the engine's error and changes nothing.
    let version_now = base_version + 1;
    for invalid in ["abc", "-1"] {
        ui.replace_text(limit_css, invalid);
        let errors = desktop::poll(UI_TIMEOUT, "the engine's error in policy-errors", || {
            let text = text_of(ui, &testid("policy-errors"));
            (!text.trim().is_empty()).then_some(text)
        });
        assert!(
            errors.contains("problem"),
            "{invalid:?}: policy-errors says {errors:?}"
        );
        let apply = ui.wait_for(&testid("policy-apply"), UI_TIMEOUT);
        assert!(
            !ui.is_enabled(&apply),
            "{invalid:?}: Apply must be disabled while the edit is invalid"
        );
        // A click on the disabled button does nothing either.
        let _ = ui.try_command(
            "POST",
            &format!("/element/{}/click", apply.0),
            Some(&json!({})),
        );
        if invalid == "abc" {
            // The row with its inline error at the bottom of the view, the engine's
            // message beside it.
            ui.execute(
                "document.querySelector(arguments[0]).closest('.limit').scrollIntoView({block: 'end'})",
                &[json!(limit_css)],
            );
            screenshots.push(shoot(&app, &shots, "policies-invalid"));
        }
        eprintln!(
            "desktop E2E: invalid limit {invalid:?} → policy-errors: {}",
            errors.replace('\n', " | ")
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let unchanged = app.policy();
    assert_eq!(
        unchanged["version"],
        json!(version_now),
        "an invalid edit changes nothing: {unchanged}"
    );
    assert_eq!(
        unchanged["text"], applied["text"],
        "an invalid edit changes nothing"
    );
    let still = agent.decide(&request(
        "e2e-after-invalid",
        "22.00",
        "api.example.com",
        "API credits",
    ));
    assert_eq!(
        still["status"], "denied",
        "still decided by version {version_now}: {still}"
    );

    step(started, "agents view");
    // The agents view (leaving the unapplied edit behind).
    navigate(
        ui,
        "agents",
        &format!("[data-testid=\"agent-row\"][data-name=\"{AGENT}\"]"),
    );
    std::thread::sleep(Duration::from_millis(300));
    screenshots.push(shoot(&app, &shots, "agents"));

    step(started, "5. audit and verify");
    // 5. Audit: the rows of the whole story, and Verify.
    navigate(ui, "audit", &testid("audit-row"));
    let trail = app.cli_json(&["audit", "list", "--limit", "1000"]);
    let cli_rows: Vec<&Value> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .collect();
    let foot = wait_text(ui, ".audit .table-foot", "end of trail");
    assert!(
        foot.starts_with(&format!("{} row", cli_rows.len())),
        "the Audit view loaded the whole trail ({} rows per the CLI): {foot:?}",
        cli_rows.len()
    );
    let shown = audit_rows_by_scrolling(ui);
    let shown_seqs: Vec<u64> = shown.iter().map(|(seq, _)| *seq).collect();
    let cli_seqs: Vec<u64> = cli_rows
        .iter()
        .filter_map(|row| row["seq"].as_u64())
        .collect();
    assert_eq!(
        shown_seqs, cli_seqs,
        "the Audit view lists every row, newest first"
    );
    let kinds_shown = |kind: &str| shown.iter().filter(|(_, text)| text.contains(kind)).count();
    for (kind, at_least) in [
        ("policy change", 3),
        ("request", 10),
        ("approval", 1),
        // The principal's (one here, five from the CLI); the policy's denials are
        // `request` rows with status denied.
        ("denial", 6),
        ("cancel", 1),
        ("kill", 1),
        ("resume", 1),
    ] {
        assert!(
            kinds_shown(kind) >= at_least,
            "the Audit view shows {} {kind:?} rows, expected at least {at_least}:\n{shown:#?}",
            kinds_shown(kind)
        );
    }
    assert!(
        shown
            .iter()
            .any(|(_, text)| text.contains("denial") && text.contains("30.00")),
        "the principal's denial is listed"
    );
    ui.click_css(&testid("audit-verify"));
    let verified = wait_text(ui, &testid("audit-verify-result"), "intact");
    let cli_verify = app.cli_json(&["audit", "verify"]);
    assert_eq!(cli_verify["intact"], true, "{cli_verify}");
    let rows = cli_verify["rows"].as_u64().expect("rows");
    assert!(
        verified.contains(&format!("All {rows} rows")),
        "Verify reports the CLI's {rows} rows: {verified:?}"
    );
    screenshots.push(shoot(&app, &shots, "audit"));

    step(started, "idle memory, teardown");
    // Idle again, after all of it.
    navigate(ui, "inbox", "main");
    std::thread::sleep(Duration::from_secs(3));
    let end_memory = app.memory();

    let teardown = app.shut_down();
    assert!(
        teardown.is_empty(),
        "the app and its drivers left strays: {teardown:?}"
    );

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let polled: Vec<Duration> = latencies.iter().map(|(polled, _)| *polled).collect();
    let inserted: Vec<Duration> = latencies
        .iter()
        .filter_map(|(_, inserted)| *inserted)
        .collect();
    let report = format!(
        "desktop E2E report\n\
         - total {:.1} s (app launch {:.1} s)\n\
         - Inbox latency, agent POST → item inserted in the DOM (MutationObserver in the page): {} \
           (issue 5 target ≤ 200 ms)\n\
         - Inbox latency, agent POST → the test's DOM poll (every {} ms over WebDriver; one look \
           costs {:.0} ms) saw it: {}\n\
         - idle RSS after launch: {} (issue 5 target ≤ 200 MB)\n\
         - idle RSS after the flows: {}\n\
         - screenshots: {}",
        started.elapsed().as_secs_f64(),
        app.launch_time.as_secs_f64(),
        describe_latencies(&inserted),
        DOM_POLL.as_millis(),
        ms(probe_rtt),
        describe_latencies(&polled),
        describe_memory(&idle_memory),
        describe_memory(&end_memory),
        screenshots
            .iter()
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    // On the real stderr: the figures are wanted from a passing run too.
    desktop::loud(&report);
    let report_path =
        purser_system_tests::binary::target_dir().join("purser-desktop-e2e-report.txt");
    let _ = std::fs::write(&report_path, format!("{report}\n"));
}
