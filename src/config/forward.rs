//! `[[forward]]`: the file's shape and its resolution into `forward::TargetSettings`.
//!
//! Every problem stops start-up naming the key, e.g. `forward[1].to` (indexes count from 0,
//! as in the file's array). A `to` is an HTTP URL or a broker's (NATS, RabbitMQ, Redis); the
//! keys that only make sense for one kind are refused on the other.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use crate::forward::rule::{Rule, SourceMatch};
use crate::forward::settings::{
    DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT_SECS, TargetSettings,
};
use crate::forward::target::{self, Kind, Own};
use crate::model::is_valid_source_name;
use crate::query::type_match;
use crate::search::FieldFilter;

use super::SourceSettings;

/// The longest per-attempt timeout: an hour.
pub const MAX_TIMEOUT_SECS: u64 = 3600;
/// The most attempts a delivery may be given.
pub const MAX_ATTEMPTS: u32 = 1000;
/// The most concurrent requests to one target.
pub const MAX_IN_FLIGHT: u32 = 1000;
/// The slowest pace: one delivery every 1000 s.
pub const MIN_RATE_PER_SEC: f64 = 0.001;
/// The fastest pace a rate may ask for (above it, leave the rate out).
pub const MAX_RATE_PER_SEC: f64 = 1_000_000.0;

/// One `[[forward]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardFile {
    pub source: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub to: Option<String>,
    pub timeout_secs: Option<u64>,
    pub max_attempts: Option<u32>,
    pub max_in_flight: Option<u32>,
    pub resign: Option<bool>,
    pub add_headers: Option<BTreeMap<String, String>>,
    pub name: Option<String>,
    pub rate_per_sec: Option<f64>,
    pub create_stream: Option<bool>,
    pub filter: Option<Vec<String>>,
}

/// What is wrong and where: the key (`forward[0].to`) and the problem.
pub type Problem = (String, String);

/// Resolves every `[[forward]]` rule; `own` is where this hookwatch receives (loop check),
/// `sources` the configured sources (`resign` needs a secret).
pub fn resolve(
    files: &[ForwardFile],
    own: &Own,
    sources: &BTreeMap<String, SourceSettings>,
) -> Result<Vec<TargetSettings>, Problem> {
    let mut targets = Vec::new();
    let mut names = BTreeSet::new();
    for (index, raw) in files.iter().enumerate() {
        let key = |name: &str| format!("forward[{index}].{name}");
        let target = one(raw, index + 1, own, sources).map_err(|(k, p)| (key(k), p))?;
        if !names.insert(target.name.clone()) {
            return Err((
                key("name"),
                format!(
                    "another rule is already called `{}`; names identify targets",
                    target.name
                ),
            ));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// One rule; the error names the key inside the rule.
fn one(
    raw: &ForwardFile,
    position: usize,
    own: &Own,
    sources: &BTreeMap<String, SourceSettings>,
) -> Result<TargetSettings, (&'static str, String)> {
    let source = raw
        .source
        .as_deref()
        .ok_or(("source", missing("a source name or \"*\"")))?;
    if source != "*" && !is_valid_source_name(source) {
        return Err((
            "source",
            format!("`{source}` is not a source name or \"*\""),
        ));
    }
    if raw.event_type.as_deref() == Some("") {
        return Err(("type", "is empty; leave it out to take every type".into()));
    }
    let to = raw
        .to
        .as_deref()
        .ok_or(("to", missing("an http(s), nats, amqp or redis URL")))?;
    let kind = target::check(to, own).map_err(|error| ("to", error.to_string()))?;
    check_kind_keys(raw, kind)?;
    let name = match &raw.name {
        Some(name) if is_valid_source_name(name) => name.clone(),
        Some(name) => {
            return Err((
                "name",
                format!("`{name}` must be 1 to 64 of the characters A-Z a-z 0-9 . _ -"),
            ));
        }
        None => target::default_name(to, position),
    };
    let resign = raw.resign.unwrap_or(false);
    if resign {
        check_resign(source, sources)?;
    }
    Ok(TargetSettings {
        name,
        rule: Rule {
            source: SourceMatch::parse(source),
            event_type: raw.event_type.as_deref().map(type_match),
            filter: filter(raw.filter.as_deref())?,
        },
        to: to.to_string(),
        kind,
        timeout: Duration::from_secs(in_range(
            "timeout_secs",
            raw.timeout_secs,
            DEFAULT_TIMEOUT_SECS,
            MAX_TIMEOUT_SECS,
        )?),
        max_attempts: in_range(
            "max_attempts",
            raw.max_attempts,
            DEFAULT_MAX_ATTEMPTS,
            MAX_ATTEMPTS,
        )?,
        max_in_flight: in_range(
            "max_in_flight",
            raw.max_in_flight,
            DEFAULT_MAX_IN_FLIGHT,
            MAX_IN_FLIGHT,
        )?,
        resign,
        add_headers: add_headers(raw.add_headers.as_ref())?,
        create_stream: raw.create_stream.unwrap_or(false),
        rate_per_sec: match raw.rate_per_sec {
            None => None,
            Some(rate) if (MIN_RATE_PER_SEC..=MAX_RATE_PER_SEC).contains(&rate) => Some(rate),
            Some(rate) => {
                return Err((
                    "rate_per_sec",
                    format!("{rate} is out of range: use {MIN_RATE_PER_SEC} to {MAX_RATE_PER_SEC}"),
                ));
            }
        },
    })
}

/// `resign` and `add_headers` shape an HTTP request; `create_stream` is JetStream's.
fn check_kind_keys(raw: &ForwardFile, kind: Kind) -> Result<(), (&'static str, String)> {
    let broker = "applies to http(s) targets only; a broker message carries the original \
                  headers as hdr-NAME";
    if kind != Kind::Http && raw.resign == Some(true) {
        return Err(("resign", broker.into()));
    }
    if kind != Kind::Http && raw.add_headers.is_some() {
        return Err(("add_headers", broker.into()));
    }
    if kind != Kind::Nats && raw.create_stream.is_some() {
        return Err(("create_stream", "applies to nats:// targets only".into()));
    }
    Ok(())
}

/// Each `filter` entry in the grammar of `/api/events`' `field`.
fn filter(raw: Option<&[String]>) -> Result<Vec<FieldFilter>, (&'static str, String)> {
    raw.unwrap_or_default()
        .iter()
        .map(|text| FieldFilter::parse(text).map_err(|e| ("filter", format!("`{text}`: {e}"))))
        .collect()
}

fn missing(what: &str) -> String {
    format!("is missing: every rule needs {what}")
}

/// `value` or `default`, which must be 1 to `max`.
fn in_range<T>(
    key: &'static str,
    value: Option<T>,
    default: T,
    max: T,
) -> Result<T, (&'static str, String)>
where
    T: PartialOrd + From<u8> + std::fmt::Display + Copy,
{
    let value = value.unwrap_or(default);
    if value < T::from(1) || value > max {
        return Err((key, format!("{value} is out of range: use 1 to {max}")));
    }
    Ok(value)
}

/// `resign` signs with the source's first secret: the source must be named and have one.
fn check_resign(
    source: &str,
    sources: &BTreeMap<String, SourceSettings>,
) -> Result<(), (&'static str, String)> {
    if source == "*" {
        return Ok(());
    }
    let has_secret = sources
        .get(source)
        .and_then(|s| s.verifier.as_ref())
        .is_some_and(|v| !v.secrets.is_empty());
    match has_secret {
        true => Ok(()),
        false => Err((
            "resign",
            format!(
                "source `{source}` has no secret to sign with; configure [sources.{source}] secrets"
            ),
        )),
    }
}

/// Header names and values as HTTP allows them.
fn add_headers(
    raw: Option<&BTreeMap<String, String>>,
) -> Result<Vec<(String, String)>, (&'static str, String)> {
    let mut headers = Vec::new();
    for (name, value) in raw.into_iter().flatten() {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(("add_headers", format!("`{name}` is not a header name")));
        }
        if reqwest::header::HeaderValue::from_str(value).is_err() {
            return Err((
                "add_headers",
                format!("the value of `{name}` is not a header value"),
            ));
        }
        headers.push((name.to_ascii_lowercase(), value.clone()));
    }
    Ok(headers)
}
