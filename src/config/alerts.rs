//! `[[alerts.rules]]` and `[[alerts.sinks]]`: the file's shape and its
//! resolution into `alert::AlertSettings`. Every problem stops start-up naming the rule or
//! sink, e.g. `alerts.rules[2] "stripe burst": window_secs must be at least 1` (indexes
//! count from 0, as in the file's array). Secrets come from the environment and go into
//! `Secret`, which never prints.

use serde::Deserialize;

use super::alert_sinks::sink;
use crate::alert::AlertSettings;
use crate::alert::rule::{DEFAULT_COOLDOWN_SECS, Rule};
use crate::model::{AlertKind, is_valid_source_name};
use crate::store::TypeMatch;

/// A burst rule keeps `threshold` timestamps per source: this bounds that memory.
pub const MAX_THRESHOLD: u64 = 100_000;
/// The longest window: a week.
pub const MAX_WINDOW_SECS: u64 = 7 * 24 * 3600;

/// The `[alerts]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsFile {
    #[serde(default)]
    pub rules: Vec<RuleFile>,
    #[serde(default)]
    pub sinks: Vec<SinkFile>,
}

/// One `[[alerts.rules]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub source: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub threshold: Option<u64>,
    pub window_secs: Option<u64>,
    pub cooldown_secs: Option<u64>,
    /// `forward_failures` only: a `[[forward]]` rule's name (checked against them by the
    /// caller, which knows the targets).
    pub target: Option<String>,
}

/// One `[[alerts.sinks]]` as written; which keys apply depends on `kind`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkFile {
    pub kind: Option<String>,
    pub url: Option<String>,
    /// The URL from an environment variable (Slack webhook URLs are credentials).
    pub url_env: Option<String>,
    pub dashboard_url: Option<String>,
    pub routing_key_env: Option<String>,
    pub severity: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    pub tls: Option<String>,
    pub from: Option<String>,
    pub to: Option<OneOrMany>,
    pub username: Option<String>,
    pub username_env: Option<String>,
    pub password_env: Option<String>,
    pub timeout_secs: Option<u64>,
    pub retries: Option<u32>,
    pub backoff_ms: Option<u64>,
}

/// `to = "a@x"` or `to = ["a@x", "b@x"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// What is wrong and where: the item (`alerts.rules[2] "stripe burst"`) and the problem.
pub type Problem = (String, String);

/// Resolves the `[alerts]` table; `public_url` is the dashboard link's default.
pub fn resolve(
    file: Option<&AlertsFile>,
    public_url: Option<&str>,
) -> Result<AlertSettings, Problem> {
    let Some(file) = file else {
        return Ok(AlertSettings::default());
    };
    let mut rules = Vec::new();
    for (index, raw) in file.rules.iter().enumerate() {
        let item = match &raw.name {
            Some(name) => format!("alerts.rules[{index}] {name:?}"),
            None => format!("alerts.rules[{index}]"),
        };
        let rule = rule(raw).map_err(|p| (item.clone(), p))?;
        if rules.iter().any(|r: &Rule| r.name == rule.name) {
            return Err((
                item,
                "another rule has the same name; names identify alerts".into(),
            ));
        }
        rules.push(rule);
    }
    let mut sinks = Vec::new();
    for (index, raw) in file.sinks.iter().enumerate() {
        let item = match &raw.kind {
            Some(kind) => format!("alerts.sinks[{index}] ({kind})"),
            None => format!("alerts.sinks[{index}]"),
        };
        sinks.push(sink(raw, public_url).map_err(|p| (item, p))?);
    }
    Ok(AlertSettings { rules, sinks })
}

fn rule(raw: &RuleFile) -> Result<Rule, String> {
    let name = raw.name.clone().filter(|n| !n.trim().is_empty());
    let name = name.ok_or("missing `name`")?;
    let kind_text = raw.kind.as_deref().ok_or("missing `kind`")?;
    let kind = AlertKind::parse(kind_text).ok_or_else(|| {
        let known: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown kind `{kind_text}` (one of {})", known.join(", "))
    })?;
    if let Some(source) = &raw.source
        && !is_valid_source_name(source)
    {
        return Err(format!("`source` `{source}` is not a source name"));
    }
    match kind {
        AlertKind::ForwardFailures if raw.source.is_some() || raw.event_type.is_some() => {
            return Err(
                "`source` and `type` do not apply to a forward_failures rule (it watches \
                 forwarding targets; name one with `target`)"
                    .into(),
            );
        }
        AlertKind::ForwardFailures => {}
        _ if raw.target.is_some() => {
            return Err(format!(
                "`target` applies only to forward_failures rules, not to {kind_text}"
            ));
        }
        _ => {}
    }
    let threshold = threshold(kind, kind_text, raw.threshold)?;
    let window_secs = window_secs(raw.window_secs)?;
    let event_type = raw
        .event_type
        .as_deref()
        .map(|t| match t.strip_suffix('*') {
            Some(prefix) => TypeMatch::Prefix(prefix.to_string()),
            None => TypeMatch::Exact(t.to_string()),
        });
    Ok(Rule {
        name,
        kind,
        source: raw.source.clone(),
        event_type,
        threshold,
        window_secs,
        cooldown_secs: raw
            .cooldown_secs
            .unwrap_or(DEFAULT_COOLDOWN_SECS)
            .min(MAX_WINDOW_SECS),
        target: raw.target.clone(),
    })
}

/// The threshold a window rule needs (silence has none): 1 to `MAX_THRESHOLD`.
fn threshold(kind: AlertKind, kind_text: &str, value: Option<u64>) -> Result<u32, String> {
    match (kind, value) {
        (AlertKind::Silence, _) => Ok(1),
        (_, None) => Err(format!(
            "missing `threshold` (a {kind_text} rule needs one)"
        )),
        (_, Some(0)) => Err("`threshold` must be at least 1".into()),
        (_, Some(n)) if n > MAX_THRESHOLD => {
            Err(format!("`threshold` must be at most {MAX_THRESHOLD}"))
        }
        (_, Some(n)) => Ok(n as u32),
    }
}

/// Every rule needs a window: 1 s to `MAX_WINDOW_SECS`.
fn window_secs(value: Option<u64>) -> Result<u64, String> {
    match value {
        None => Err("missing `window_secs`".into()),
        Some(0) => {
            Err("`window_secs` must be at least 1 (a zero window never holds an event)".into())
        }
        Some(n) if n > MAX_WINDOW_SECS => {
            Err(format!("`window_secs` must be at most {MAX_WINDOW_SECS}"))
        }
        Some(n) => Ok(n),
    }
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
