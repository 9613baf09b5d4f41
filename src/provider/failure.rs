//! Deciding `is_error`: whether a delivery reports that something went wrong.
//!
//! True when any of these hold; text comparisons ignore ASCII case, so `FAILED` and
//! `PaymentFailed` count too:
//!
//! - the body's top-level `type` is `error`, or its `status` is `failed`;
//! - the event type is `error`, or ends in `failed` (`charge.failed`,
//!   `payment_intent.payment_failed`) or `.error`;
//! - GitHub says so: a `conclusion` of `failure`, `timed_out` or `startup_failure` at the top
//!   level or in `workflow_run`, `workflow_job`, `check_suite` or `check_run`; or a
//!   `deployment_status.state` of `failure` or `error`;
//! - Twilio says so: status `undelivered` (the carrier refused the message; `failed` is caught
//!   by the suffix rule already).
//!
//! The GitHub and Twilio rules apply only to deliveries from those providers, so a generic
//! sender's unrelated `conclusion` field does not flag it.
//!
//! Pure: no I/O, no tokio, axum or SQL. Entry point: [`is_error`].

use serde_json::Value;

use crate::model::Provider;

use super::field::str_at;

/// Where GitHub reports how a run or check ended; `""` is the top level.
const GITHUB_CONCLUSIONS: [&str; 5] = [
    "",
    "workflow_run",
    "workflow_job",
    "check_suite",
    "check_run",
];

/// GitHub conclusions that mean the run did not succeed through its own fault.
const GITHUB_FAILED: [&str; 3] = ["failure", "timed_out", "startup_failure"];

/// Whether the delivery reports a failure; see the module doc for the rules.
pub(crate) fn is_error(provider: Provider, event_type: Option<&str>, body: Option<&Value>) -> bool {
    body_says(body) || type_says(event_type) || provider_says(provider, event_type, body)
}

fn body_says(body: Option<&Value>) -> bool {
    str_at(body, "type").is_some_and(|t| t.eq_ignore_ascii_case("error"))
        || str_at(body, "status").is_some_and(|s| s.eq_ignore_ascii_case("failed"))
}

fn type_says(event_type: Option<&str>) -> bool {
    event_type.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t == "error" || t.ends_with("failed") || t.ends_with(".error")
    })
}

fn provider_says(provider: Provider, event_type: Option<&str>, body: Option<&Value>) -> bool {
    match provider {
        Provider::Github => github_says(body),
        Provider::Twilio => event_type.is_some_and(|t| t.eq_ignore_ascii_case("undelivered")),
        _ => false,
    }
}

fn github_says(body: Option<&Value>) -> bool {
    let Some(body) = body else {
        return false;
    };
    let any_of = |value: Option<&Value>, bad: &[&str]| {
        value
            .and_then(Value::as_str)
            .is_some_and(|v| bad.iter().any(|b| v.eq_ignore_ascii_case(b)))
    };
    let conclusion = |object: &str| {
        let holder = if object.is_empty() {
            Some(body)
        } else {
            body.get(object)
        };
        any_of(holder.and_then(|h| h.get("conclusion")), &GITHUB_FAILED)
    };
    GITHUB_CONCLUSIONS.iter().any(|o| conclusion(o))
        || any_of(
            body.pointer("/deployment_status/state"),
            &["failure", "error"],
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_body_typed_error_or_with_status_failed_is_an_error() {
        let error = |b: Value| is_error(Provider::Generic, None, Some(&b));
        assert!(error(json!({"type": "error"})));
        assert!(error(json!({"status": "FAILED"})));
        assert!(!error(json!({"status": "succeeded", "type": "ok"})));
        assert!(!error(json!({"status": {"failed": true}})));
    }

    #[test]
    fn event_types_ending_in_failed_or_dot_error_are_errors() {
        let error = |t: &str| is_error(Provider::Generic, Some(t), None);
        assert!(error("charge.failed"));
        assert!(error("payment_intent.payment_failed"));
        assert!(error("job.error"));
        assert!(error("error"));
        assert!(!error("charge.succeeded"));
        assert!(!error("terror"));
        assert!(!is_error(Provider::Generic, None, None));
    }

    #[test]
    fn github_conclusions_and_deployment_states_are_errors() {
        let error = |b: Value| is_error(Provider::Github, Some("x"), Some(&b));
        assert!(error(json!({"check_run": {"conclusion": "timed_out"}})));
        assert!(error(json!({"check_suite": {"conclusion": "failure"}})));
        assert!(error(
            json!({"workflow_job": {"conclusion": "startup_failure"}})
        ));
        assert!(error(json!({"conclusion": "failure"})));
        assert!(error(json!({"deployment_status": {"state": "error"}})));
        assert!(!error(json!({"check_run": {"conclusion": "cancelled"}})));
        assert!(!error(json!({"deployment_status": {"state": "success"}})));
    }

    #[test]
    fn github_rules_do_not_apply_to_other_providers() {
        let body = json!({"conclusion": "failure"});
        assert!(!is_error(Provider::Generic, None, Some(&body)));
    }

    #[test]
    fn an_undelivered_twilio_message_is_an_error() {
        assert!(is_error(Provider::Twilio, Some("undelivered"), None));
        assert!(is_error(Provider::Twilio, Some("failed"), None));
        assert!(!is_error(Provider::Twilio, Some("delivered"), None));
    }
}
