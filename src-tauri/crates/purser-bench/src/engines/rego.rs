//! The same policy in Rego, run by regorus (Microsoft's Rust interpreter of OPA's
//! language): `deny` and `ask` sets of reason codes, and `decision` from them. Lists
//! (globs, categories, rails) and per-currency amounts are data in the module, the
//! idiomatic way to write a long list in Rego. Merchant globs use `glob.match` with no
//! delimiters, so `*` crosses dots as in Purser.
//!
//! The input carries what Purser's engine computes itself: spend so far and the local
//! weekday and minute. Inputs are built before timing; each timed call is
//! `set_input` + `eval_rule("data.purser.decision")`, the engine's documented fast path.

use regorus::{Engine, Value};

use super::spec::{Case, Spec};
use super::{Explained, Status};

pub fn module(spec: &Spec) -> String {
    let set = |items: &[String]| {
        items
            .iter()
            .map(|item| format!("{item:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let per_currency = |value: fn(&super::spec::CurrencyRules) -> i64| {
        spec.currencies
            .iter()
            .map(|rules| format!("{:?}: {}", rules.code, value(rules)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let currencies: Vec<String> = spec.currencies.iter().map(|r| r.code.to_owned()).collect();
    format!(
        r#"package purser

import rego.v1

currencies := {{{currencies}}}
categories := {{{categories}}}
rails := {{{rails}}}
blocked := [{blocked}]
allowed := [{allowed}]
transaction_cap := {{{cap}}}
approve_above := {{{threshold}}}
day_budget := {{{day}}}
month_budget := {{{month}}}

deny contains "currency_not_allowed" if not input.currency in currencies

deny contains "rail_not_allowed" if not input.rail in rails

deny contains "category_not_allowed" if not input.category in categories

deny contains "merchant_blocked" if {{
	some pattern in blocked
	glob.match(pattern, null, input.merchant)
}}

deny contains "outside_schedule" if not in_schedule

in_schedule if {{
	input.weekday <= 5
	input.minute >= {from}
	input.minute < {to}
}}

deny contains "over_transaction_limit" if input.amount > transaction_cap[input.currency]

deny contains "over_budget" if input.spent_month + input.amount > month_budget[input.currency]

ask contains "over_approval_threshold" if input.amount > approve_above[input.currency]

ask contains "over_budget_needs_approval" if input.spent_day + input.amount > day_budget[input.currency]

ask contains "merchant_not_listed" if not listed

listed if {{
	some pattern in allowed
	glob.match(pattern, null, input.merchant)
}}

decision := "denied" if count(deny) > 0
else := "pending" if count(ask) > 0
else := "approved"

result := {{"decision": decision, "deny": deny, "ask": ask}}
"#,
        currencies = set(&currencies),
        categories = set(&spec.categories),
        rails = set(&spec.rails),
        blocked = set(&spec.blocked),
        allowed = set(&spec.allowed),
        cap = per_currency(|r| r.transaction_cap),
        threshold = per_currency(|r| r.approve_above),
        day = per_currency(|r| r.day_budget),
        month = per_currency(|r| r.month_budget),
        from = spec.from_minute,
        to = spec.to_minute,
    )
}

#[derive(Debug)]
pub struct RegoEngine {
    engine: Engine,
    inputs: Vec<Value>,
    approved: Value,
    pending: Value,
}

impl RegoEngine {
    pub fn new(spec: &Spec, cases: &[Case]) -> anyhow::Result<RegoEngine> {
        let mut engine = Engine::new();
        engine.add_policy("purser.rego".to_owned(), module(spec))?;
        let inputs = cases
            .iter()
            .map(|case| {
                let request = &case.request;
                let mut input = serde_json::json!({
                    "amount": case.amount,
                    "currency": request.currency.as_str(),
                    "merchant": request.merchant.as_str(),
                    "weekday": case.weekday,
                    "minute": case.minute,
                    "spent_day": case.spent_day,
                    "spent_month": case.spent_month,
                });
                if let Some(object) = input.as_object_mut() {
                    if let Some(category) = &request.category {
                        object.insert("category".into(), category.as_str().into());
                    }
                    if let Some(rail) = &request.rail {
                        object.insert("rail".into(), rail.as_str().into());
                    }
                }
                Value::from(input)
            })
            .collect();
        Ok(RegoEngine {
            engine,
            inputs,
            approved: Value::from("approved"),
            pending: Value::from("pending"),
        })
    }

    /// The timed call: set the input, evaluate the decision rule.
    #[inline]
    pub fn status(&mut self, index: usize) -> Status {
        let Some(input) = self.inputs.get(index) else {
            return Status::Denied;
        };
        self.engine.set_input(input.clone());
        match self.engine.eval_rule("data.purser.decision".to_owned()) {
            Ok(value) if value == self.approved => Status::Approved,
            Ok(value) if value == self.pending => Status::Pending,
            _ => Status::Denied,
        }
    }

    pub fn explain(&mut self, index: usize) -> anyhow::Result<Explained> {
        let input = self
            .inputs
            .get(index)
            .ok_or_else(|| anyhow::anyhow!("no case {index}"))?;
        self.engine.set_input(input.clone());
        let result = self.engine.eval_rule("data.purser.result".to_owned())?;
        let json: serde_json::Value = serde_json::from_str(&result.to_json_str()?)?;
        let codes = |key: &str| -> std::collections::BTreeSet<String> {
            json.get(key)
                .and_then(serde_json::Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(
            match json.get("decision").and_then(serde_json::Value::as_str) {
                Some("approved") => Explained {
                    status: Status::Approved,
                    codes: Default::default(),
                },
                Some("pending") => Explained {
                    status: Status::Pending,
                    codes: codes("ask"),
                },
                Some("denied") => Explained {
                    status: Status::Denied,
                    codes: codes("deny"),
                },
                other => anyhow::bail!("Rego decided {other:?} on case {index}: {json}"),
            },
        )
    }
}
