//! The same policy in Cedar, as a Cedar user would write it: `forbid` policies for
//! what is refused, `forbid` policies tagged `ask:` for what needs the principal, one
//! `permit` for the rest. One authorization call per request; the decision is Allow
//! (approved), or Deny with the satisfied forbids in its diagnostics: any `deny:` one
//! → denied, else `ask:` ones → pending.
//!
//! Cedar has no clock, no time zones and no ledger, so the caller passes what the
//! policy needs in the context: amount and spend so far in micro-units (`Long`), the
//! local weekday and minute. Building the request is not timed: only
//! `Authorizer::is_authorized` and reading its answer are.

use std::str::FromStr as _;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityUid, Policy, PolicyId, PolicySet, Request,
    RestrictedExpression,
};

use super::spec::{Case, Spec};
use super::{Explained, Status};

#[derive(Debug)]
pub struct CedarEngine {
    authorizer: Authorizer,
    policies: PolicySet,
    entities: Entities,
    requests: Vec<Request>,
}

/// `"a", "b"` as a Cedar set literal's contents.
fn strings(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("{item:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `context.merchant like "a" || context.merchant like "b" ...`
fn any_like(patterns: &[String]) -> String {
    patterns
        .iter()
        .map(|pattern| format!("context.merchant like {pattern:?}"))
        .collect::<Vec<_>>()
        .join(" || ")
}

/// The Cedar policies of `spec`, each `(id, text)`. The id starts with `deny:` or
/// `ask:` and ends with the reason code Purser would give.
pub fn policies(spec: &Spec) -> Vec<(String, String)> {
    let all = "(principal, action == Action::\"pay\", resource)";
    let currencies: Vec<String> = spec.currencies.iter().map(|r| r.code.to_owned()).collect();
    let mut out = vec![
        (
            "deny:currency_not_allowed".to_owned(),
            format!(
                "forbid{all} unless {{ [{}].contains(context.currency) }};",
                strings(&currencies)
            ),
        ),
        (
            "deny:rail_not_allowed".to_owned(),
            format!(
                "forbid{all} unless {{ context has rail && [{}].contains(context.rail) }};",
                strings(&spec.rails)
            ),
        ),
        (
            "deny:category_not_allowed".to_owned(),
            format!(
                "forbid{all} unless {{ context has category && [{}].contains(context.category) }};",
                strings(&spec.categories)
            ),
        ),
        (
            "deny:merchant_blocked".to_owned(),
            format!("forbid{all} when {{ {} }};", any_like(&spec.blocked)),
        ),
        (
            "deny:outside_schedule".to_owned(),
            format!(
                "forbid{all} unless {{ context.weekday <= 5 && context.minute >= {} && context.minute < {} }};",
                spec.from_minute, spec.to_minute
            ),
        ),
        (
            "ask:merchant_not_listed".to_owned(),
            format!("forbid{all} unless {{ {} }};", any_like(&spec.allowed)),
        ),
    ];
    for rules in &spec.currencies {
        let code = rules.code;
        out.push((
            format!("deny:over_transaction_limit:{code}"),
            format!(
                "forbid{all} when {{ context.currency == {code:?} && context.amount > {} }};",
                rules.transaction_cap
            ),
        ));
        out.push((
            format!("deny:over_budget:{code}"),
            format!(
                "forbid{all} when {{ context.currency == {code:?} && context.spent_month + context.amount > {} }};",
                rules.month_budget
            ),
        ));
        out.push((
            format!("ask:over_approval_threshold:{code}"),
            format!(
                "forbid{all} when {{ context.currency == {code:?} && context.amount > {} }};",
                rules.approve_above
            ),
        ));
        out.push((
            format!("ask:over_budget_needs_approval:{code}"),
            format!(
                "forbid{all} when {{ context.currency == {code:?} && context.spent_day + context.amount > {} }};",
                rules.day_budget
            ),
        ));
    }
    out.push(("permit".to_owned(), format!("permit{all};")));
    out
}

impl CedarEngine {
    pub fn new(spec: &Spec, cases: &[Case]) -> anyhow::Result<CedarEngine> {
        let mut set = PolicySet::new();
        for (id, text) in policies(spec) {
            let policy = Policy::parse(Some(PolicyId::new(&id)), &text)
                .map_err(|e| anyhow::anyhow!("Cedar policy {id} does not parse: {e}\n{text}"))?;
            set.add(policy)?;
        }
        let principal = EntityUid::from_str(r#"Agent::"agent-3""#)?;
        let action = EntityUid::from_str(r#"Action::"pay""#)?;
        let resource = EntityUid::from_str(r#"Account::"default""#)?;
        let mut requests = Vec::with_capacity(cases.len());
        for case in cases {
            let request = &case.request;
            let mut pairs = vec![
                (
                    "amount".to_owned(),
                    RestrictedExpression::new_long(case.amount),
                ),
                (
                    "currency".to_owned(),
                    RestrictedExpression::new_string(request.currency.to_string()),
                ),
                (
                    "merchant".to_owned(),
                    RestrictedExpression::new_string(request.merchant.to_string()),
                ),
                (
                    "weekday".to_owned(),
                    RestrictedExpression::new_long(i64::from(case.weekday)),
                ),
                (
                    "minute".to_owned(),
                    RestrictedExpression::new_long(i64::from(case.minute)),
                ),
                (
                    "spent_day".to_owned(),
                    RestrictedExpression::new_long(case.spent_day),
                ),
                (
                    "spent_month".to_owned(),
                    RestrictedExpression::new_long(case.spent_month),
                ),
            ];
            if let Some(category) = &request.category {
                pairs.push((
                    "category".to_owned(),
                    RestrictedExpression::new_string(category.to_string()),
                ));
            }
            if let Some(rail) = &request.rail {
                pairs.push((
                    "rail".to_owned(),
                    RestrictedExpression::new_string(rail.to_string()),
                ));
            }
            let context = Context::from_pairs(pairs)?;
            requests.push(Request::new(
                principal.clone(),
                action.clone(),
                resource.clone(),
                context,
                None,
            )?);
        }
        Ok(CedarEngine {
            authorizer: Authorizer::new(),
            policies: set,
            entities: Entities::empty(),
            requests,
        })
    }

    /// The timed call: one authorization and its reading.
    #[inline]
    pub fn status(&self, index: usize) -> Status {
        let Some(request) = self.requests.get(index) else {
            return Status::Denied;
        };
        let response = self
            .authorizer
            .is_authorized(request, &self.policies, &self.entities);
        match response.decision() {
            Decision::Allow => Status::Approved,
            Decision::Deny => {
                let mut status = Status::Denied;
                let mut asked = false;
                for id in response.diagnostics().reason() {
                    let id: &str = id.as_ref();
                    if id.starts_with("deny:") {
                        return Status::Denied;
                    }
                    asked |= id.starts_with("ask:");
                }
                if asked {
                    status = Status::Pending;
                }
                status
            }
        }
    }

    /// The decision with its reason codes; an evaluation error is an error (Cedar skips
    /// a policy that errors, which would hide a broken rendering).
    pub fn explain(&self, index: usize) -> anyhow::Result<Explained> {
        let request = self
            .requests
            .get(index)
            .ok_or_else(|| anyhow::anyhow!("no case {index}"))?;
        let response = self
            .authorizer
            .is_authorized(request, &self.policies, &self.entities);
        if let Some(error) = response.diagnostics().errors().next() {
            anyhow::bail!("Cedar evaluation error on case {index}: {error}");
        }
        let ids: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| AsRef::<str>::as_ref(id).to_owned())
            .collect();
        let code = |id: &str, prefix: &str| {
            id.strip_prefix(prefix)
                .map(|rest| rest.split(':').next().unwrap_or(rest).to_owned())
        };
        let denies: std::collections::BTreeSet<String> =
            ids.iter().filter_map(|id| code(id, "deny:")).collect();
        let asks: std::collections::BTreeSet<String> =
            ids.iter().filter_map(|id| code(id, "ask:")).collect();
        Ok(match response.decision() {
            Decision::Allow => Explained {
                status: Status::Approved,
                codes: Default::default(),
            },
            Decision::Deny if !denies.is_empty() => Explained {
                status: Status::Denied,
                codes: denies,
            },
            Decision::Deny if !asks.is_empty() => Explained {
                status: Status::Pending,
                codes: asks,
            },
            Decision::Deny => Explained {
                status: Status::Denied,
                codes: Default::default(),
            },
        })
    }
}
