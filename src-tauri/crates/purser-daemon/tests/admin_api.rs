//! The admin API of a real daemon, over its unix socket, against the real store and
//! engine: approvals waking long-polling agents, expiry, the event stream, agents,
//! policy apply/check/preview, status, budget and the audit trail.

mod live;

use std::time::{Duration, Instant};

use live::{Live, agent_call, payment, policy};
use serde_json::{Value, json};

#[tokio::test]
async fn approving_a_pending_request_answers_the_waiting_agent_at_once() {
    let mut live = Live::start().await;
    let token = live.add_agent("bot").await;
    let addr = live.daemon().agent_addr();
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let reply = agent_call(
            addr,
            &token,
            "POST",
            "/v1/authorizations?wait=60",
            Some(payment("big", "40.00")),
        )
        .await;
        (reply, started)
    });
    let pending = live.wait_for_pending(1).await;
    let id = pending[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(pending[0]["status"], "pending");
    assert_eq!(
        pending[0]["purpose"], "secret purpose text",
        "the principal sees the purpose"
    );
    assert_eq!(pending[0]["context"]["prompt"], "secret context");
    assert_eq!(pending[0]["reason"]["code"], "over_approval_threshold");

    let approved_at = Instant::now();
    let approved = live
        .admin(
            "POST",
            &format!("/admin/approvals/{id}/approve"),
            Some(json!({"grant": "once"})),
        )
        .await;
    assert_eq!(approved.status, 200, "{approved:?}");
    assert_eq!(approved.json["status"], "approved");
    assert_eq!(approved.json["decided_by"], "principal");
    assert_eq!(approved.json["reason"]["code"], "approved_by_principal");

    let (reply, _) = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("the long-poll answered right after the approval")
        .unwrap();
    // Re-reads without a notification happen every 2 s: this was the notification.
    assert!(
        approved_at.elapsed() < Duration::from_millis(1500),
        "woken, not polled"
    );
    assert_eq!(reply.json["id"], id.as_str());
    assert_eq!(reply.json["status"], "approved", "{reply:?}");

    let again = live
        .admin("POST", &format!("/admin/approvals/{id}/approve"), None)
        .await;
    assert_eq!(again.status, 409, "{again:?}");
    assert_eq!(again.json["error"]["code"], "invalid_state");
    let unknown = live
        .admin("POST", "/admin/approvals/auth_nope/approve", None)
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json["error"]["code"], "not_found");
    live.stop().await;
}

#[tokio::test]
async fn denying_a_pending_request_answers_the_waiting_agent() {
    let mut live = Live::start().await;
    let token = live.add_agent("bot").await;
    let pending = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations",
            Some(payment("big", "40.00")),
        )
        .await;
    let id = pending.json["id"].as_str().unwrap().to_owned();
    let addr = live.daemon().agent_addr();
    let path = format!("/v1/authorizations/{id}?wait=60");
    let waiting = tokio::spawn(async move { agent_call(addr, &token, "GET", &path, None).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let denied = live
        .admin(
            "POST",
            &format!("/admin/approvals/{id}/deny"),
            Some(json!({"reason": "not this month"})),
        )
        .await;
    assert_eq!(denied.status, 200, "{denied:?}");
    assert_eq!(denied.json["status"], "denied");
    assert_eq!(denied.json["reason"]["code"], "denied_by_principal");
    let reply = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.json["status"], "denied", "{reply:?}");
    live.stop().await;
}

#[tokio::test]
async fn revoking_an_agent_cancels_its_pending_request_and_wakes_it() {
    let mut live = Live::start().await;
    let token = live.add_agent("bot").await;
    let mut events = live.events().await;
    let addr = live.daemon().agent_addr();
    let waiting = tokio::spawn(async move {
        agent_call(
            addr,
            &token,
            "POST",
            "/v1/authorizations?wait=60",
            Some(payment("big", "40.00")),
        )
        .await
    });
    let pending = live.wait_for_pending(1).await;
    let id = pending[0]["id"].as_str().unwrap().to_owned();

    let revoked_at = Instant::now();
    let revoked = live.admin("POST", "/admin/agents/bot/revoke", None).await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let reply = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("the long-poll answered right after the revocation")
        .unwrap();
    assert!(
        revoked_at.elapsed() < Duration::from_millis(1500),
        "woken, not polled"
    );
    assert_eq!(reply.json["id"], id.as_str());
    assert_eq!(reply.json["status"], "cancelled", "{reply:?}");
    assert_eq!(reply.json["decided_by"], "principal");
    assert_eq!(reply.json["reason"]["code"], "denied_by_principal");
    assert_eq!(
        reply.json["reason"]["message"],
        "agent bot was revoked by the principal"
    );
    let decided = events
        .next_of("approval_decided", Duration::from_secs(2))
        .await;
    assert_eq!(decided["id"], id.as_str());
    assert_eq!(decided["status"], "cancelled");
    assert!(
        live.admin("GET", "/admin/approvals", None)
            .await
            .json
            .as_array()
            .unwrap()
            .is_empty(),
        "no longer waiting for the principal"
    );
    live.stop().await;
}

#[tokio::test]
async fn an_unanswered_approval_expires_on_time_and_wakes_the_agent() {
    let mut live = Live::with_policy(&policy("1s")).await;
    let token = live.add_agent("bot").await;
    let mut events = live.events().await;
    let started = Instant::now();
    let reply = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations?wait=10",
            Some(payment("big", "40.00")),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(reply.json["status"], "expired", "{reply:?}");
    assert_eq!(reply.json["decided_by"], "timeout");
    assert_eq!(reply.json["reason"]["code"], "approval_expired");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(3500),
        "expired after {took:?}, expected about 1 s"
    );
    let expired = events.next_of("expired", Duration::from_secs(2)).await;
    assert_eq!(expired["id"], reply.json["id"]);
    assert!(
        live.admin("GET", "/admin/approvals", None)
            .await
            .json
            .as_array()
            .unwrap()
            .is_empty()
    );
    live.stop().await;
}

#[tokio::test]
async fn the_event_stream_tells_the_principal_what_happens() {
    let mut live = Live::start().await;
    let mut events = live.events().await;
    let token = live.add_agent("bot").await;
    let added = events
        .next_of("agent_changed", Duration::from_secs(2))
        .await;
    assert_eq!(added["action"], "add");
    assert_eq!(added["name"], "bot");
    assert!(added.get("token").is_none(), "no token in events");

    let approved = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations",
            Some(payment("small", "10.00")),
        )
        .await;
    let decision = events.next_of("decision", Duration::from_secs(2)).await;
    assert_eq!(decision["id"], approved.json["id"]);
    assert_eq!(decision["status"], "approved");

    let pending = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations",
            Some(payment("big", "40.00")),
        )
        .await;
    let (kind, data) = events.next(Duration::from_secs(2)).await;
    assert_eq!(kind, "pending");
    assert_eq!(data["id"], pending.json["id"]);
    assert_eq!(data["amount"], "40.00");
    assert_eq!(data["purpose"], "secret purpose text");

    // A replay of the same request_id is not a new happening.
    live.agent(
        &token,
        "POST",
        "/v1/authorizations",
        Some(payment("big", "40.00")),
    )
    .await;
    let id = pending.json["id"].as_str().unwrap();
    live.admin("POST", &format!("/admin/approvals/{id}/approve"), None)
        .await;
    let (kind, data) = events.next(Duration::from_secs(2)).await;
    assert_eq!(kind, "approval_decided");
    assert_eq!(data["id"], id);
    assert_eq!(data["status"], "approved");

    live.admin("POST", "/admin/kill", None).await;
    let kill = events.next_of("kill_switch", Duration::from_secs(2)).await;
    assert_eq!(kill["engaged"], true);
    live.admin("POST", "/admin/resume", None).await;
    let resume = events.next_of("kill_switch", Duration::from_secs(2)).await;
    assert_eq!(resume["engaged"], false);

    live.admin(
        "POST",
        "/admin/policy/apply",
        Some(json!({"text": policy("5m")})),
    )
    .await;
    let applied = events
        .next_of("policy_applied", Duration::from_secs(2))
        .await;
    assert_eq!(applied["version"], 3);
    live.stop().await;
}

#[tokio::test]
async fn an_invalid_policy_is_refused_whole_and_the_running_one_stays() {
    let mut live = Live::start().await;
    let before = live.admin("GET", "/admin/policy", None).await;
    assert_eq!(before.json["version"], 2);
    let bad = format!("{}\nsurprise = true\n", policy("10m"));
    for path in [
        "/admin/policy/apply",
        "/admin/policy/check",
        "/admin/policy/preview",
    ] {
        let refused = live
            .admin("POST", path, Some(json!({"file": "bad.toml", "text": bad})))
            .await;
        assert_eq!(refused.status, 422, "{path}: {refused:?}");
        assert_eq!(refused.json["error"]["code"], "policy_invalid");
        let errors = refused.json["error"]["errors"].as_array().unwrap();
        assert!(!errors.is_empty());
        let first = errors[0].as_str().unwrap();
        assert!(first.starts_with("bad.toml:"), "{first}");
        assert!(first.contains("surprise"), "{first}");
    }
    let after = live.admin("GET", "/admin/policy", None).await;
    assert_eq!(after.json["version"], 2);
    assert_eq!(after.json["text"], before.json["text"]);

    let ok = live
        .admin(
            "POST",
            "/admin/policy/check",
            Some(json!({"file": "p.toml", "text": policy("1m")})),
        )
        .await;
    assert_eq!(ok.json, json!({"ok": true}));
    let applied = live
        .admin(
            "POST",
            "/admin/policy/apply",
            Some(json!({"file": "p.toml", "text": policy("1m")})),
        )
        .await;
    assert_eq!(applied.json, json!({"version": 3}));
    let history = live.admin("GET", "/admin/policy/history", None).await;
    let versions: Vec<&Value> = history
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["version"])
        .collect();
    assert_eq!(versions, [&json!(3), &json!(2), &json!(1)], "newest first");
    let first = live.admin("GET", "/admin/policy/versions/2", None).await;
    assert_eq!(first.json["text"], before.json["text"]);
    let missing = live.admin("GET", "/admin/policy/versions/9", None).await;
    assert_eq!(missing.status, 404);
    live.stop().await;
}

#[tokio::test]
async fn the_preview_counts_what_a_candidate_policy_would_flip() {
    let mut live = Live::start().await;
    let token = live.add_agent("bot").await;
    let mut ids = Vec::new();
    for (request_id, amount, expected) in [
        ("r1", "10.00", "approved"),
        ("r2", "30.00", "pending"),
        ("r3", "50.00", "pending"),
        ("r4", "5.00", "approved"),
    ] {
        let reply = live
            .agent(
                &token,
                "POST",
                "/v1/authorizations",
                Some(payment(request_id, amount)),
            )
            .await;
        assert_eq!(reply.json["status"], expected);
        ids.push(reply.json["id"].as_str().unwrap().to_owned());
    }
    let preview = |text: String| {
        let live = &live;
        async move {
            let reply = live
                .admin(
                    "POST",
                    "/admin/policy/preview",
                    Some(json!({"text": text, "days": 30})),
                )
                .await;
            assert_eq!(reply.status, 200, "{reply:?}");
            reply.json
        }
    };

    let same = preview(policy("10m")).await;
    assert_eq!(
        (same["total"].clone(), same["flipped"].clone()),
        (json!(4), json!(0))
    );

    let higher_threshold = preview(policy("10m").replace("25.00", "40.00")).await;
    assert_eq!(higher_threshold["total"], 4);
    assert_eq!(higher_threshold["flipped"], 1);
    let example = &higher_threshold["examples"][0];
    assert_eq!(example["authorization"]["id"], ids[1].as_str());
    assert_eq!(
        (example["was"].clone(), example["now"].clone()),
        (json!("pending"), json!("approved"))
    );

    // A 12 USD day: the replay's own approvals count, so r4 (5 after 10) is refused too.
    let small_day = preview(policy("10m").replace("200.00", "12.00")).await;
    assert_eq!(small_day["flipped"], 3, "{small_day}");
    let flipped: Vec<&Value> = small_day["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|example| &example["authorization"]["id"])
        .collect();
    assert_eq!(flipped, [&json!(ids[1]), &json!(ids[2]), &json!(ids[3])]);
    assert!(
        small_day["examples"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["now"] == "denied")
    );
    assert_eq!(
        small_day["changes"],
        json!([
            {"was": "approved", "now": "denied", "count": 1},
            {"was": "pending", "now": "denied", "count": 2},
        ])
    );
    let too_long = live
        .admin(
            "POST",
            "/admin/policy/preview",
            Some(json!({"text": policy("10m"), "days": 0})),
        )
        .await;
    assert_eq!(too_long.status, 422);
    assert_eq!(too_long.json["error"]["field"], "days");
    // The running policy is untouched by a preview.
    assert_eq!(
        live.admin("GET", "/admin/policy", None).await.json["version"],
        2
    );
    live.stop().await;
}

#[tokio::test]
async fn agents_are_created_once_with_a_token_listed_frozen_and_revoked() {
    let mut live = Live::start().await;
    let created = live
        .admin(
            "POST",
            "/admin/agents",
            Some(json!({"name": "research-bot"})),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.json["name"], "research-bot");
    let token = created.json["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("purser_"));
    let again = live
        .admin(
            "POST",
            "/admin/agents",
            Some(json!({"name": "research-bot"})),
        )
        .await;
    assert_eq!(again.status, 422, "{again:?}");
    assert_eq!(again.json["error"]["field"], "name");
    let bad = live
        .admin(
            "POST",
            "/admin/agents",
            Some(json!({"name": "no spaces please"})),
        )
        .await;
    assert_eq!(bad.json["error"]["field"], "name");
    let unknown_field = live
        .admin(
            "POST",
            "/admin/agents",
            Some(json!({"name": "x", "tokn": "y"})),
        )
        .await;
    assert_eq!(unknown_field.status, 422);

    let listed = live.admin("GET", "/admin/agents", None).await;
    let agent = &listed.json[0];
    assert_eq!(agent["name"], "research-bot");
    assert_eq!(agent["status"], "active");
    assert_eq!(agent["profile"], "default");
    assert_eq!(agent["last_seen_at"], Value::Null);
    assert!(agent.get("token").is_none());

    live.agent(
        &token,
        "POST",
        "/v1/authorizations",
        Some(payment("r1", "10.00")),
    )
    .await;
    let listed = live.admin("GET", "/admin/agents", None).await;
    let agent = &listed.json[0];
    assert!(agent["last_seen_at"].is_string(), "{agent}");
    assert_eq!(
        agent["spent_today"],
        json!([{"currency": "USD", "amount": "10.00"}])
    );

    let frozen = live
        .admin("POST", "/admin/agents/research-bot/freeze", None)
        .await;
    assert_eq!(frozen.json["status"], "frozen", "{frozen:?}");
    let denied = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations",
            Some(payment("r2", "1.00")),
        )
        .await;
    assert_eq!(denied.json["reason"]["code"], "agent_frozen");
    let active = live
        .admin("POST", "/admin/agents/research-bot/unfreeze", None)
        .await;
    assert_eq!(active.json["status"], "active");
    let revoked = live
        .admin("POST", "/admin/agents/research-bot/revoke", None)
        .await;
    assert_eq!(revoked.json["status"], "revoked");
    let refused = live
        .agent(
            &token,
            "POST",
            "/v1/authorizations",
            Some(payment("r3", "1.00")),
        )
        .await;
    assert_eq!(refused.status, 401);
    let missing = live
        .admin("POST", "/admin/agents/nobody/freeze", None)
        .await;
    assert_eq!(missing.status, 404);
    live.stop().await;
}

#[tokio::test]
async fn status_budget_and_the_audit_trail() {
    let mut live = Live::start().await;
    let token = live.add_agent("bot").await;
    live.agent(
        &token,
        "POST",
        "/v1/authorizations",
        Some(payment("r1", "10.00")),
    )
    .await;
    live.agent(
        &token,
        "POST",
        "/v1/authorizations",
        Some(payment("r2", "40.00")),
    )
    .await;

    let status = live.admin("GET", "/admin/status", None).await;
    assert_eq!(status.status, 200);
    let addr = live.daemon().agent_addr().to_string();
    assert_eq!(status.json["listen"], addr.as_str());
    assert_eq!(
        status.json["data_dir"],
        live.data_dir().display().to_string()
    );
    assert_eq!(status.json["pending"], 1);
    assert_eq!(status.json["agents"], 1);
    assert_eq!(status.json["policy_version"], 2);
    assert_eq!(status.json["kill_switch"]["engaged"], false);
    assert_eq!(status.json["today"][0]["currency"], "USD");
    assert_eq!(status.json["today"][0]["spent"], "10.00");
    assert!(status.json["version"].is_string());

    let budget = live.admin("GET", "/admin/budget?agent=bot", None).await;
    assert_eq!(budget.status, 200, "{budget:?}");
    let day = &budget.json["budgets"][0];
    assert_eq!(
        (day["window"].clone(), day["spent"].clone()),
        (json!("day"), json!("10.00"))
    );
    let nobody = live.admin("GET", "/admin/budget?agent=nobody", None).await;
    assert_eq!(nobody.status, 404);
    let no_agent = live.admin("GET", "/admin/budget", None).await;
    assert_eq!(no_agent.json["error"]["field"], "agent");

    let page = live
        .admin("GET", "/admin/audit?agent=bot&limit=2", None)
        .await;
    let entries = page.json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(
        entries[0]["seq"].as_i64() > entries[1]["seq"].as_i64(),
        "newest first"
    );
    assert_eq!(page.json["next_before"], entries[1]["seq"]);
    let requests = live.admin("GET", "/admin/audit?kind=request", None).await;
    assert_eq!(requests.json["entries"].as_array().unwrap().len(), 2);
    let bad = live.admin("GET", "/admin/audit?kind=nonsense", None).await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json["error"]["field"], "kind");

    let verified = live.admin("POST", "/admin/audit/verify", None).await;
    assert_eq!(verified.json["intact"], true, "{verified:?}");
    let rows = verified.json["rows"].as_u64().unwrap();
    assert!(rows >= 4);

    let export = live.export("/admin/audit/export?format=jsonl").await;
    let lines: Vec<Value> = export
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, rows);
    assert!(
        lines[0]["seq"].as_i64() < lines[1]["seq"].as_i64(),
        "oldest first"
    );
    assert!(!export.contains(&token), "tokens are never stored");
    let csv = live.export("/admin/audit/export?format=csv").await;
    assert!(csv.starts_with("seq,at,kind"), "{csv}");
    live.stop().await;
}

#[tokio::test]
async fn errors_have_the_contract_shape() {
    let mut live = Live::start().await;
    let unknown = live.admin("GET", "/admin/nothing", None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json["error"]["code"], "not_found");
    let method = live.admin("DELETE", "/admin/status", None).await;
    assert_eq!(method.status, 405);
    assert_eq!(method.json["error"]["code"], "method_not_allowed");
    let grant = live
        .admin(
            "POST",
            "/admin/approvals/auth_x/approve",
            Some(json!({"grant": "forever"})),
        )
        .await;
    assert_eq!(grant.status, 422);
    assert_eq!(grant.json["error"]["field"], "grant");
    let missing_for = live
        .admin(
            "POST",
            "/admin/approvals/auth_x/approve",
            Some(json!({"grant": "for"})),
        )
        .await;
    assert_eq!(missing_for.json["error"]["field"], "for");
    let text = live
        .admin(
            "POST",
            "/admin/policy/apply",
            Some(json!({"file": "p.toml"})),
        )
        .await;
    assert_eq!(text.json["error"]["field"], "text");
    live.stop().await;
}
