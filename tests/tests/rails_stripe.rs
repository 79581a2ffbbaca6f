//! The Stripe guard proxy against real peers: the official Stripe Python SDK is the agent
//! (its API base pointed at `purser serve --stripe-proxy`, its API key the agent's
//! Purser token), and `localstripe` is the upstream Stripe. What reached "Stripe" is
//! read from localstripe's own API, never through Purser.
//!
//! The principal answers with the real CLI. Each test has its own localstripe and daemon.
//!
//! (`stripe-agent-toolkit` 0.7 cannot be pointed at the proxy: it speaks MCP to Stripe's
//! hosted server `mcp.stripe.com` and refuses keys that do not start with `sk_`/`rk_`;
//! see the README's "Payment rails".)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "system tests: helpers fail the test with a message"
)]

use purser_system_tests::rails::{
    Localstripe, parse_peer_output, stripe_call, stripe_command, stripe_proxy_url,
};
use purser_system_tests::{Agent, ServeOptions, TestDaemon, spent_and_held};
use serde_json::{Value, json};

/// The upstream secret key: it must never reach an agent or a log.
const SECRET: &str = "sk_test_purser_rails_9f3c1a7e5b2d4c6e8a0b";

const POLICY: &str = r#"
version = 1
timezone = "UTC"
approval_timeout = "10m"
hold_ttl = "30m"

[profiles.default]
currencies = ["USD", "JPY"]
approve_above = { USD = "25.00" }
blocked_merchants = ["*casino*"]

[[profiles.default.limit]]
currency = "USD"
window = "transaction"
max = "100.00"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "1000.00"
on_exceed = "deny"
"#;

/// A localstripe, a daemon proxying to it (pending calls held `wait` seconds), and
/// agent `bot`.
struct Rig {
    localstripe: Localstripe,
    daemon: TestDaemon,
    agent: Agent,
}

impl Rig {
    fn start(wait_secs: u32) -> Rig {
        Rig::start_with(wait_secs, ServeOptions::default())
    }

    fn start_with(wait_secs: u32, options: ServeOptions) -> Rig {
        let localstripe = Localstripe::start(SECRET);
        let daemon = TestDaemon::start_with(
            options
                .arg("--stripe-proxy")
                .arg("127.0.0.1:0")
                .arg("--stripe-upstream")
                .arg(localstripe.url())
                .arg("--stripe-wait")
                .arg(wait_secs.to_string())
                .env("STRIPE_SECRET_KEY", SECRET),
        );
        daemon.apply_policy(POLICY);
        let agent = daemon.agent("bot");
        Rig {
            localstripe,
            daemon,
            agent,
        }
    }

    fn api(&self) -> String {
        stripe_proxy_url(&self.daemon)
    }

    /// `client.v1.<resource>.<method>(*args, params=params, options={idempotency_key})`.
    fn call(
        &self,
        resource: &str,
        method: &str,
        args: &[&str],
        params: Value,
        key: Option<&str>,
    ) -> Value {
        let call = json!({"resource": resource, "method": method, "args": args,
                          "params": params, "idempotency_key": key});
        let answer = stripe_call(&self.api(), self.agent.token(), &call);
        assert_no_secret(&answer.to_string());
        answer
    }

    fn create_intent(&self, params: Value, key: &str) -> Value {
        self.call("payment_intents", "create", &[], params, Some(key))
    }

    /// The authorization as the agent API shows it.
    fn authorization(&self, id: &str) -> Value {
        let (status, body) = self.agent.get(id, 0);
        assert_eq!(status, 200, "{body}");
        body
    }

    /// localstripe's PaymentIntents that carry authorization `id`.
    fn intents_of(&self, id: &str) -> Vec<Value> {
        self.localstripe
            .payment_intents()
            .into_iter()
            .filter(|intent| intent["metadata"]["purser_authorization"] == id)
            .collect()
    }
}

fn ok_object(answer: &Value) -> &Value {
    assert_eq!(answer["ok"], true, "the SDK raised: {answer}");
    &answer["object"]
}

/// The SDK's exception: its class, HTTP status and Stripe error object.
fn sdk_error(answer: &Value) -> (&str, u64, &Value) {
    assert_eq!(answer["ok"], false, "expected the SDK to raise: {answer}");
    let error = &answer["error"];
    (
        error["class"].as_str().unwrap(),
        error["http_status"].as_u64().unwrap(),
        &error["body"]["error"],
    )
}

fn assert_no_secret(text: &str) {
    assert!(
        !text.contains(SECRET),
        "the Stripe secret key leaked: {text}"
    );
    assert!(
        !text.contains("sk_test_purser_rails"),
        "part of the Stripe secret key leaked: {text}"
    );
}

fn usd_day(agent: &Agent) -> (i64, i64) {
    spent_and_held(&agent.budget_ok(), "agent", "day", "USD")
}

#[test]
fn a_payment_intent_within_policy_reaches_stripe_once() {
    let rig = Rig::start(20);
    let params = json!({"amount": 1250, "currency": "usd",
                        "metadata": {"merchant": "shop.example", "purpose": "Buy API credits"}});
    let answer = rig.create_intent(params.clone(), "order-1");
    let intent = ok_object(&answer);
    let id = intent["metadata"]["purser_authorization"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("auth_"), "{intent}");
    assert_eq!(intent["amount"], 1250);
    assert_eq!(
        intent["metadata"]["merchant"], "shop.example",
        "the agent's metadata is kept"
    );

    let stored = rig.intents_of(&id);
    assert_eq!(
        stored.len(),
        1,
        "exactly one PaymentIntent on localstripe: {stored:?}"
    );
    assert_eq!(stored[0]["id"], intent["id"]);

    let authorization = rig.authorization(&id);
    assert_eq!(authorization["status"], "captured", "{authorization}");
    assert_eq!(authorization["amount"], "12.50");
    assert_eq!(authorization["currency"], "USD");
    assert_eq!(authorization["merchant"], "shop.example");
    assert_eq!(authorization["rail"], "stripe");
    assert_eq!(authorization["request_id"], "stripe:order-1");
    assert_eq!(
        usd_day(&rig.agent),
        (12_500_000, 0),
        "spent once, nothing held"
    );

    // A retry with the same Idempotency-Key replays: same PaymentIntent, no new spend.
    let again = rig.create_intent(params.clone(), "order-1");
    assert_eq!(ok_object(&again)["id"], intent["id"]);
    // Three concurrent calls with one new key: one PaymentIntent between them.
    let children: Vec<_> = (0..3)
        .map(|_| {
            let call = json!({"resource": "payment_intents", "method": "create", "args": [],
                              "params": params, "idempotency_key": "order-2"});
            stripe_command(&rig.api(), rig.agent.token(), &call)
                .spawn()
                .unwrap()
        })
        .collect();
    let answers: Vec<Value> = children
        .into_iter()
        .map(|child| parse_peer_output(&child.wait_with_output().unwrap()))
        .collect();
    let ids: Vec<&Value> = answers
        .iter()
        .map(|answer| &ok_object(answer)["id"])
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one PaymentIntent for one key: {answers:?}"
    );
    assert_ne!(*ids[0], intent["id"]);
    assert_eq!(
        rig.localstripe.payment_intents().len(),
        2,
        "two keys, two PaymentIntents"
    );
    assert_eq!(usd_day(&rig.agent), (25_000_000, 0));

    // Zero-decimal currencies: 500 JPY is 500, not 5.00.
    let yen = rig.create_intent(json!({"amount": 500, "currency": "jpy"}), "yen-1");
    let id = ok_object(&yen)["metadata"]["purser_authorization"]
        .as_str()
        .unwrap()
        .to_owned();
    let authorization = rig.authorization(&id);
    assert_eq!(
        (
            authorization["amount"].as_str(),
            authorization["currency"].as_str()
        ),
        (Some("500.00"), Some("JPY"))
    );
    rig.daemon.assert_audit_intact();
}

#[test]
fn over_the_threshold_the_call_waits_for_the_principal() {
    let rig = Rig::start(60);
    let call = json!({"resource": "payment_intents", "method": "create", "args": [],
                      "params": {"amount": 4200, "currency": "usd",
                                 "metadata": {"merchant": "saas.example", "purpose": "Upgrade to the team plan"}},
                      "idempotency_key": "upgrade-1"});
    let waiting = stripe_command(&rig.api(), rig.agent.token(), &call)
        .spawn()
        .unwrap();
    let pending = rig.daemon.pending_approval("bot", "stripe:upgrade-1");
    assert_eq!(pending["amount"], "42.00");
    assert_eq!(pending["merchant"], "saas.example");
    assert!(
        rig.localstripe.payment_intents().is_empty(),
        "nothing reaches Stripe while pending"
    );
    rig.daemon
        .cli_ok(&["approve", pending["id"].as_str().unwrap()]);

    let answer = parse_peer_output(&waiting.wait_with_output().unwrap());
    let intent = ok_object(&answer);
    assert_eq!(intent["metadata"]["purser_authorization"], pending["id"]);
    assert_eq!(rig.intents_of(pending["id"].as_str().unwrap()).len(), 1);
    assert_eq!(
        rig.authorization(pending["id"].as_str().unwrap())["status"],
        "captured"
    );
}

#[test]
fn still_pending_after_the_wait_the_agent_retries_with_the_same_key() {
    let rig = Rig::start(1);
    let params = json!({"amount": 3000, "currency": "usd"});
    let answer = rig.create_intent(params.clone(), "later-1");
    let (class, status, error) = sdk_error(&answer);
    assert_eq!((class, status), ("APIError", 409), "{answer}");
    assert_eq!(error["code"], "purser_approval_pending");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("same Idempotency-Key"),
        "{error}"
    );
    assert_eq!(answer["error"]["headers"]["stripe-should-retry"], "false");
    let id = error["purser_authorization"].as_str().unwrap().to_owned();
    assert!(rig.localstripe.payment_intents().is_empty());

    rig.daemon.cli_ok(&["approve", &id]);
    let first = rig.create_intent(params.clone(), "later-1");
    let second = rig.create_intent(params, "later-1");
    assert_eq!(ok_object(&first)["id"], ok_object(&second)["id"]);
    assert_eq!(rig.intents_of(&id).len(), 1);
    assert_eq!(rig.localstripe.payment_intents().len(), 1);
    // The merchant defaults to "stripe" and the purpose says what the call was.
    let authorization = rig.authorization(&id);
    assert_eq!(authorization["merchant"], "stripe");
    assert_eq!(usd_day(&rig.agent), (30_000_000, 0));
}

#[test]
fn denied_and_refused_calls_never_reach_stripe() {
    let rig = Rig::start(1);
    let create = |amount: u64, merchant: &str, key: &str| {
        rig.create_intent(
            json!({"amount": amount, "currency": "usd", "metadata": {"merchant": merchant}}),
            key,
        )
    };

    // Over the per-transaction cap: a card error the SDK knows, with Purser's reason.
    let answer = create(50_000, "shop.example", "big-1");
    let (class, status, error) = sdk_error(&answer);
    assert_eq!((class, status), ("CardError", 402), "{answer}");
    assert_eq!(error["type"], "card_error");
    assert_eq!(error["code"], "purser_denied");
    assert_eq!(error["decline_code"], "over_transaction_limit");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("Nothing was sent to Stripe"),
        "{error}"
    );

    let answer = create(1_000, "lucky-casino.example", "casino-1");
    assert_eq!(sdk_error(&answer).2["decline_code"], "merchant_blocked");

    // The principal says no to a pending one; the retry hears it.
    let answer = create(3_000, "shop.example", "ask-1");
    let id = sdk_error(&answer).2["purser_authorization"]
        .as_str()
        .unwrap()
        .to_owned();
    rig.daemon
        .cli_ok(&["deny", &id, "--reason", "not this month"]);
    let answer = create(3_000, "shop.example", "ask-1");
    assert_eq!(sdk_error(&answer).2["decline_code"], "denied_by_principal");

    // The kill switch stops the proxy too.
    rig.daemon.cli_ok(&["kill", "--reason", "test"]);
    let answer = create(1_000, "shop.example", "killed-1");
    assert_eq!(sdk_error(&answer).2["decline_code"], "kill_switch_engaged");
    rig.daemon.cli_ok(&["resume"]);

    // Calls Purser cannot price are refused whatever the policy (fail closed).
    let answer = rig.call(
        "payouts",
        "create",
        &[],
        json!({"amount": 100, "currency": "usd"}),
        Some("payout-1"),
    );
    let (class, status, error) = sdk_error(&answer);
    assert_eq!(
        (class, status, error["code"].as_str()),
        ("PermissionError", 403, Some("purser_refused"))
    );
    let answer = rig.call(
        "transfers",
        "create",
        &[],
        json!({"amount": 100, "currency": "usd", "destination": "acct_1"}),
        None,
    );
    assert_eq!(sdk_error(&answer).1, 403);
    // Only Purser binds an object to an authorization.
    let answer = rig.create_intent(
        json!({"amount": 1000, "currency": "usd", "metadata": {"purser_authorization": "auth_forged"}}),
        "forged-1",
    );
    assert_eq!(sdk_error(&answer).2["code"], "purser_refused");
    // A wrong token is the SDK's AuthenticationError.
    let call = json!({"resource": "payment_intents", "method": "list", "args": [], "params": null});
    let answer = stripe_call(&rig.api(), "purser_not-a-real-token", &call);
    assert_eq!(sdk_error(&answer).0, "AuthenticationError");

    assert!(
        rig.localstripe.payment_intents().is_empty(),
        "nothing denied or refused reached Stripe: {:?}",
        rig.localstripe.payment_intents()
    );
    assert_eq!(usd_day(&rig.agent), (0, 0));
    // Read-only calls pass through, with the real key upstream.
    let list = rig.call("payment_intents", "list", &[], Value::Null, None);
    assert_eq!(ok_object(&list)["data"], json!([]));
}

#[test]
fn a_failed_stripe_call_releases_the_hold_and_an_unanswered_one_keeps_it() {
    let mut rig = Rig::start(5);

    // Stripe refuses for good (here: an unknown payment method): nothing moved, so the
    // hold is voided and its budget released; the retry replays Stripe's answer.
    let params = json!({"amount": 1500, "currency": "usd", "payment_method": "pm_does_not_exist", "confirm": true});
    let answer = rig.create_intent(params.clone(), "refused-1");
    let (_, status, _) = sdk_error(&answer);
    assert!(
        (400..500).contains(&status),
        "Stripe's own 4xx is relayed: {answer}"
    );
    let id = answer["error"]["headers"]["purser-authorization"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(rig.authorization(&id)["status"], "voided");
    assert_eq!(usd_day(&rig.agent), (0, 0));
    let again = rig.create_intent(params, "refused-1");
    assert_eq!(
        again["error"]["http_status"],
        answer["error"]["http_status"]
    );
    assert_eq!(again["error"]["body"], answer["error"]["body"]);

    // Stripe does not answer: maybe money moved, so the hold is kept (budget held) and
    // the agent API cannot void it; the retry, once Stripe is back, settles it.
    rig.localstripe.stop();
    let params =
        json!({"amount": 2000, "currency": "usd", "metadata": {"merchant": "shop.example"}});
    let answer = rig.create_intent(params.clone(), "flaky-1");
    let (class, status, error) = sdk_error(&answer);
    assert_eq!((class, status), ("APIError", 502), "{answer}");
    assert_eq!(error["code"], "purser_upstream_unavailable");
    assert_eq!(answer["error"]["headers"]["stripe-should-retry"], "true");
    let id = error["purser_authorization"].as_str().unwrap().to_owned();
    assert_eq!(
        rig.authorization(&id)["status"],
        "approved",
        "the hold is kept"
    );
    assert_eq!(usd_day(&rig.agent), (0, 20_000_000));
    let (status, body) = rig.agent.void(&id);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invalid_state")),
        "{body}"
    );

    rig.localstripe.restart();
    let answer = rig.create_intent(params.clone(), "flaky-1");
    let intent = ok_object(&answer).clone();
    assert_eq!(rig.intents_of(&id).len(), 1);
    assert_eq!(rig.authorization(&id)["status"], "captured");
    assert_eq!(usd_day(&rig.agent), (20_000_000, 0));
    let again = rig.create_intent(params, "flaky-1");
    assert_eq!(ok_object(&again)["id"], intent["id"]);
    assert_eq!(rig.localstripe.payment_intents().len(), 1);

    // The receipt survives a restart of the daemon: still one PaymentIntent.
    rig.daemon.restart();
    let again = rig.create_intent(
        json!({"amount": 2000, "currency": "usd", "metadata": {"merchant": "shop.example"}}),
        "flaky-1",
    );
    assert_eq!(ok_object(&again)["id"], intent["id"]);
    assert_eq!(rig.localstripe.payment_intents().len(), 1);
}

#[test]
fn confirm_capture_and_refund_spend_once_and_outside_intents_are_authorized() {
    let rig = Rig::start(5);
    // Created through Purser (authorized there), confirmed and captured: one authorization.
    let answer = rig.create_intent(
        json!({"amount": 1000, "currency": "usd", "capture_method": "manual",
               "payment_method": "pm_card_visa", "metadata": {"merchant": "shop.example"}}),
        "two-step-1",
    );
    let intent = ok_object(&answer).clone();
    let pi = intent["id"].as_str().unwrap();
    let auth = intent["metadata"]["purser_authorization"].as_str().unwrap();
    let confirmed = rig.call(
        "payment_intents",
        "confirm",
        &[pi],
        json!({}),
        Some("confirm-1"),
    );
    assert_eq!(ok_object(&confirmed)["id"], pi);
    let captured = rig.call(
        "payment_intents",
        "capture",
        &[pi],
        json!({}),
        Some("capture-1"),
    );
    assert_eq!(ok_object(&captured)["id"], pi);
    assert_eq!(
        usd_day(&rig.agent),
        (10_000_000, 0),
        "created, confirmed, captured: spent once"
    );
    assert_eq!(rig.authorization(auth)["status"], "captured");
    // Its amount cannot change behind Purser's back.
    let answer = rig.call(
        "payment_intents",
        "update",
        &[pi],
        json!({"amount": 99_900}),
        Some("grow-1"),
    );
    assert_eq!(sdk_error(&answer).2["code"], "purser_refused");

    // Created outside Purser (the principal's own integration): confirming it through
    // the proxy is a payment Purser decides, for the intent's amount.
    let outside = rig.localstripe.post(
        "/v1/payment_intents",
        "amount=700&currency=usd&payment_method=pm_card_visa&metadata[merchant]=Outside+order",
    );
    let pi = outside["id"].as_str().unwrap();
    let confirmed = rig.call(
        "payment_intents",
        "confirm",
        &[pi],
        json!({}),
        Some("outside-1"),
    );
    assert_eq!(ok_object(&confirmed)["id"], pi);
    let auth = confirmed["headers"]["purser-authorization"]
        .as_str()
        .unwrap();
    let authorization = rig.authorization(auth);
    assert_eq!(authorization["status"], "captured", "{authorization}");
    assert_eq!(authorization["amount"], "7.00");
    assert_eq!(authorization["merchant"], "Outside order");
    assert_eq!(usd_day(&rig.agent), (17_000_000, 0));
    // Confirming it again is Stripe's business (it refuses); Purser replays, never re-spends.
    let again = rig.call(
        "payment_intents",
        "confirm",
        &[pi],
        json!({}),
        Some("outside-1"),
    );
    assert_eq!(ok_object(&again)["id"], pi);
    assert_eq!(usd_day(&rig.agent), (17_000_000, 0));

    // A refund moves money out of the principal's balance: it is a payment Purser decides,
    // with category `refund`.
    let refund = rig.call(
        "refunds",
        "create",
        &[],
        json!({"payment_intent": pi, "amount": 300, "metadata": {"purpose": "Customer returned one item"}}),
        Some("refund-1"),
    );
    let refund = ok_object(&refund).clone();
    assert_eq!(refund["amount"], 300);
    let auth = refund["metadata"]["purser_authorization"].as_str().unwrap();
    let authorization = rig.authorization(auth);
    assert_eq!(authorization["category"], "refund", "{authorization}");
    assert_eq!(authorization["amount"], "3.00");
    assert_eq!(authorization["merchant"], format!("refund of {pi}"));
    assert_eq!(authorization["status"], "captured");
    assert_eq!(usd_day(&rig.agent), (20_000_000, 0));
}

#[test]
fn the_secret_key_never_reaches_agents_or_logs() {
    let rig = Rig::start_with(1, ServeOptions::default().env("PURSER_LOG", "debug"));
    // Every kind of answer: relayed, replayed, denied, refused, pending, a failed lookup.
    let calls = [
        (
            "payment_intents",
            "create",
            vec![],
            json!({"amount": 1000, "currency": "usd"}),
            Some("k-1"),
        ),
        (
            "payment_intents",
            "create",
            vec![],
            json!({"amount": 1000, "currency": "usd"}),
            Some("k-1"),
        ),
        (
            "payment_intents",
            "create",
            vec![],
            json!({"amount": 90_000, "currency": "usd"}),
            Some("k-2"),
        ),
        (
            "payment_intents",
            "create",
            vec![],
            json!({"amount": 3000, "currency": "usd"}),
            Some("k-3"),
        ),
        (
            "payment_intents",
            "confirm",
            vec!["pi_missing"],
            json!({}),
            Some("k-4"),
        ),
        (
            "payouts",
            "create",
            vec![],
            json!({"amount": 1, "currency": "usd"}),
            Some("k-5"),
        ),
        (
            "customers",
            "create",
            vec![],
            json!({"email": "agent@example.com"}),
            Some("k-6"),
        ),
        ("payment_intents", "list", vec![], Value::Null, None),
        ("balance", "retrieve", vec![], Value::Null, None),
    ];
    for (resource, method, args, params, key) in calls {
        // rig.call asserts the SDK's whole answer (body and headers) is free of the key.
        rig.call(resource, method, &args, params, key);
    }
    assert_no_secret(&rig.daemon.stderr());
    for entry in std::fs::read_dir(rig.daemon.data_dir().join("rails/stripe/receipts")).unwrap() {
        assert_no_secret(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
}
