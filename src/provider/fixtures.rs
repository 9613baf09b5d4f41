//! The provider layer against every real payload in `tests/fixtures/payloads/index.json`.
//!
//! Each entry's body and headers sidecar are loaded as ingest would see them (header names
//! lower-cased), decoded with [`parse_body`] and judged with [`facts`] under default rules; the
//! result must match the entry's `expect`. Test-only; reads files, so it lives beside the pure
//! code under `#[cfg(test)]` and nowhere else.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Facts, SourceRules, facts, parse_body, slack_challenge};
use crate::model::{Header, Provider};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const INDEX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/payloads/index.json"
);

/// One payload as ingest sees it.
struct Delivery {
    headers: Vec<Header>,
    body: Option<Value>,
    content_type: Option<String>,
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn index() -> Vec<Value> {
    let index: Value = serde_json::from_slice(&read(Path::new(INDEX))).expect("index.json parses");
    index["payloads"]
        .as_array()
        .expect("payloads array")
        .clone()
}

fn fixture_path(relative: &str) -> PathBuf {
    Path::new(FIXTURES).join(relative)
}

/// Loads a body and its sidecar by the paths an index entry names.
fn load(file: &str, headers_file: &str) -> Delivery {
    let sidecar: Value =
        serde_json::from_slice(&read(&fixture_path(headers_file))).expect("sidecar parses");
    let headers: Vec<Header> = sidecar
        .as_object()
        .expect("sidecar is a flat object")
        .iter()
        .map(|(name, value)| {
            let value = value.as_str().expect("header values are strings");
            (name.to_ascii_lowercase(), value.to_owned())
        })
        .collect();
    let content_type = headers
        .iter()
        .find(|(n, _)| n == "content-type")
        .map(|(_, v)| v.clone());
    let body = parse_body(content_type.as_deref(), &read(&fixture_path(file)));
    Delivery {
        headers,
        body,
        content_type,
    }
}

fn load_named(file: &str) -> (Delivery, Facts) {
    let headers_file = file.rsplit_once('.').map(|(stem, _)| stem).unwrap_or(file);
    let delivery = load(file, &format!("{headers_file}.headers.json"));
    let facts = facts(
        &SourceRules::default(),
        &delivery.headers,
        delivery.body.as_ref(),
    );
    (delivery, facts)
}

/// How many `*.headers.json` sidecars exist under `payloads/`, one per payload.
fn sidecar_count() -> usize {
    let payloads = fixture_path("payloads");
    let dirs = std::fs::read_dir(&payloads).expect("payloads folder");
    dirs.flatten()
        .filter_map(|dir| std::fs::read_dir(dir.path()).ok())
        .flat_map(|files| files.flatten())
        .filter(|f| f.file_name().to_string_lossy().ends_with(".headers.json"))
        .count()
}

/// Checks one index entry; returns a description of each mismatch.
fn check(entry: &Value) -> Vec<String> {
    let file = entry["file"].as_str().expect("file");
    let delivery = load(file, entry["headers_file"].as_str().expect("headers_file"));
    let got = facts(
        &SourceRules::default(),
        &delivery.headers,
        delivery.body.as_ref(),
    );
    let expect = &entry["expect"];
    let mut wrong = Vec::new();
    if Some(got.provider.as_str()) != expect["provider"].as_str() {
        wrong.push(format!("{file}: provider {:?}", got.provider));
    }
    if got.event_type.as_deref() != expect["event_type"].as_str() {
        wrong.push(format!("{file}: event_type {:?}", got.event_type));
    }
    if got.delivery_id.as_deref() != expect["delivery_id"].as_str() {
        wrong.push(format!("{file}: delivery_id {:?}", got.delivery_id));
    }
    let is_form = delivery
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    match expect.get("body_parses_as_json") {
        Some(Value::Bool(false)) if !is_form && delivery.body.is_some() => {
            wrong.push(format!("{file}: parsed although it is not JSON"));
        }
        None if delivery.body.is_none() => wrong.push(format!("{file}: body did not parse")),
        _ => {}
    }
    wrong
}

#[test]
fn every_indexed_payload_gives_the_expected_provider_type_and_delivery_id() {
    let entries = index();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for entry in &entries {
        wrong.extend(check(entry));
        checked += 1;
    }
    assert!(wrong.is_empty(), "mismatches:\n{}", wrong.join("\n"));
    assert!(checked > 0, "index.json lists no payloads");
    assert_eq!(checked, entries.len());
    assert_eq!(checked, sidecar_count(), "every sidecar has an index entry");
}

#[test]
fn stripe_failures_are_errors_and_successes_are_not() {
    let is_error = |file: &str| load_named(&format!("payloads/stripe/{file}")).1.is_error;
    assert!(is_error("charge.failed.json"));
    assert!(is_error("payment_intent.payment_failed.json"));
    assert!(!is_error("charge.succeeded.json"));
    assert!(!is_error("invoice.paid.json"));
}

#[test]
fn a_failed_github_workflow_run_is_an_error_and_a_successful_one_is_not() {
    let (success, facts) = load_named("payloads/github/workflow_run.completed.json");
    let conclusion = success
        .body
        .as_ref()
        .and_then(|b| b.pointer("/workflow_run/conclusion"));
    assert_eq!(conclusion.and_then(Value::as_str), Some("success"));
    assert!(!facts.is_error);

    let (failure, facts) = load_named("payloads/github/workflow_run.completed.failure.json");
    let conclusion = failure
        .body
        .as_ref()
        .and_then(|b| b.pointer("/workflow_run/conclusion"));
    assert_eq!(conclusion.and_then(Value::as_str), Some("failure"));
    assert!(facts.is_error);
    assert_eq!(facts.event_type.as_deref(), Some("workflow_run.completed"));
}

#[test]
fn the_slack_url_verification_fixture_is_answered_with_its_challenge() {
    let (delivery, facts) = load_named("payloads/slack/url_verification.json");
    assert_eq!(facts.provider, Provider::Slack);
    let challenge = slack_challenge(facts.provider, delivery.body.as_ref());
    assert_eq!(
        challenge.as_deref(),
        Some("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    );
    let (message, facts) = load_named("payloads/slack/event_callback.message.json");
    assert_eq!(slack_challenge(facts.provider, message.body.as_ref()), None);
}

#[test]
fn a_github_form_delivery_is_read_through_its_payload_field() {
    let (delivery, facts) = load_named("payloads/github/ping.form.txt");
    let body = delivery.body.expect("the form decodes");
    assert!(
        body["payload"]
            .as_str()
            .is_some_and(|p| p.starts_with("{\"zen\""))
    );
    assert_eq!(facts.event_type.as_deref(), Some("ping"));
}

#[test]
fn the_twilio_status_callback_decodes_as_a_form() {
    let (delivery, facts) = load_named("payloads/twilio/sms_status_callback.txt");
    let body = delivery.body.expect("the form decodes");
    assert_eq!(body["To"].as_str(), Some("+15558675310"));
    assert_eq!(facts.event_type.as_deref(), Some("delivered"));
    assert!(!facts.is_error);
}
