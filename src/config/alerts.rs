//! `[[alerts.rules]]` and `[[alerts.sinks]]` (SPEC §6, issue 6): the file's shape and its
//! resolution into `alert::AlertSettings`. Every problem stops start-up naming the rule or
//! sink, e.g. `alerts.rules[2] "stripe burst": window_secs must be at least 1` (indexes
//! count from 0, as in the file's array). Secrets come from the environment and go into
//! `Secret`, which never prints.

use std::time::Duration;

use serde::Deserialize;

use crate::alert::AlertSettings;
use crate::alert::rule::{DEFAULT_COOLDOWN_SECS, Rule};
use crate::alert::sink::email::{EmailConfig, EmailTls};
use crate::alert::sink::pagerduty::{self, PagerDutyConfig};
use crate::alert::sink::slack::SlackConfig;
use crate::alert::sink::webhook::WebhookConfig;
use crate::alert::sink::{Delivery, Secret, SinkConfig, SinkKind};
use crate::model::{AlertKind, is_valid_source_name};
use crate::store::TypeMatch;

/// A burst rule keeps `threshold` timestamps per source: this bounds that memory.
pub const MAX_THRESHOLD: u64 = 100_000;
/// The longest window: a week.
pub const MAX_WINDOW_SECS: u64 = 7 * 24 * 3600;
const DEFAULT_TIMEOUT_SECS: u64 = 10;
const DEFAULT_RETRIES: u32 = 3;
const DEFAULT_BACKOFF_MS: u64 = 1000;

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
    let threshold = match (kind, raw.threshold) {
        (AlertKind::Silence, _) => 1,
        (_, None) => {
            return Err(format!(
                "missing `threshold` (a {kind_text} rule needs one)"
            ));
        }
        (_, Some(0)) => return Err("`threshold` must be at least 1".into()),
        (_, Some(n)) if n > MAX_THRESHOLD => {
            return Err(format!("`threshold` must be at most {MAX_THRESHOLD}"));
        }
        (_, Some(n)) => n as u32,
    };
    let window_secs = match raw.window_secs {
        None => return Err("missing `window_secs`".into()),
        Some(0) => {
            return Err(
                "`window_secs` must be at least 1 (a zero window never holds an event)".into(),
            );
        }
        Some(n) if n > MAX_WINDOW_SECS => {
            return Err(format!("`window_secs` must be at most {MAX_WINDOW_SECS}"));
        }
        Some(n) => n,
    };
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
    })
}

fn sink(raw: &SinkFile, public_url: Option<&str>) -> Result<SinkConfig, String> {
    let timeout_secs = raw.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if timeout_secs == 0 {
        return Err("`timeout_secs` must be at least 1".into());
    }
    let delivery = Delivery {
        timeout: Duration::from_secs(timeout_secs),
        retries: raw.retries.unwrap_or(DEFAULT_RETRIES),
        backoff: Duration::from_millis(raw.backoff_ms.unwrap_or(DEFAULT_BACKOFF_MS).max(1)),
    };
    let dashboard_url = raw
        .dashboard_url
        .as_deref()
        .or(public_url)
        .map(|u| u.trim_end_matches('/').to_string());
    let kind = match raw.kind.as_deref() {
        None => return Err("missing `kind` (slack, webhook, pagerduty, email or log)".into()),
        Some("log") => SinkKind::Log,
        Some("slack") => SinkKind::Slack(SlackConfig {
            url: url(raw)?,
            dashboard_url,
        }),
        Some("webhook") => SinkKind::Webhook(WebhookConfig {
            url: url(raw)?,
            dashboard_url,
        }),
        Some("pagerduty") => SinkKind::PagerDuty(pager_duty(raw, dashboard_url)?),
        Some("email") => SinkKind::Email(email(raw, dashboard_url, delivery.timeout)?),
        Some(other) => {
            return Err(format!(
                "unknown kind `{other}` (one of slack, webhook, pagerduty, email, log)"
            ));
        }
    };
    Ok(SinkConfig { kind, delivery })
}

/// The sink's URL from `url` or `url_env`; checked, never echoed (it may hold a token).
fn url(raw: &SinkFile) -> Result<Secret, String> {
    let url = match (&raw.url, &raw.url_env) {
        (Some(url), _) => url.clone(),
        (None, Some(var)) => env(var, "url_env")?,
        (None, None) => return Err("missing URL: set `url` or `url_env`".into()),
    };
    check_http_url(&url, "url")?;
    Ok(Secret::new(url))
}

fn check_http_url(url: &str, key: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(format!("`{key}` is not an http:// or https:// URL")),
    }
}

fn env(var: &str, key: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(format!("`{key}`: environment variable {var} is not set")),
    }
}

fn pager_duty(raw: &SinkFile, dashboard_url: Option<String>) -> Result<PagerDutyConfig, String> {
    let url = raw
        .url
        .clone()
        .unwrap_or_else(|| pagerduty::DEFAULT_URL.into());
    check_http_url(&url, "url")?;
    let var = raw
        .routing_key_env
        .as_deref()
        .ok_or("missing `routing_key_env` (the variable holding the integration key)")?;
    let severity = raw.severity.clone().unwrap_or_else(|| "error".into());
    if !pagerduty::SEVERITIES.contains(&severity.as_str()) {
        return Err(format!(
            "`severity` `{severity}` is not one of {}",
            pagerduty::SEVERITIES.join(", ")
        ));
    }
    Ok(PagerDutyConfig {
        url,
        routing_key: Secret::new(env(var, "routing_key_env")?),
        severity,
        dashboard_url,
    })
}

fn email(
    raw: &SinkFile,
    dashboard_url: Option<String>,
    timeout: Duration,
) -> Result<EmailConfig, String> {
    let host = raw.host.clone().ok_or("missing `host` (the SMTP server)")?;
    let tls = match raw.tls.as_deref() {
        None | Some("starttls") => EmailTls::StartTls,
        Some("tls") => EmailTls::Tls,
        Some("none") => EmailTls::None,
        Some(other) => return Err(format!("`tls` `{other}` is not starttls, tls or none")),
    };
    let default_port = match tls {
        EmailTls::StartTls => 587,
        EmailTls::Tls => 465,
        EmailTls::None => 25,
    };
    let mailbox = |text: &str, key: &str| {
        text.parse()
            .map_err(|_| format!("`{key}`: `{text}` is not an email address"))
    };
    let from = mailbox(raw.from.as_deref().ok_or("missing `from`")?, "from")?;
    let to: Vec<String> = match &raw.to {
        None => Vec::new(),
        Some(OneOrMany::One(one)) => vec![one.clone()],
        Some(OneOrMany::Many(many)) => many.clone(),
    };
    if to.is_empty() {
        return Err("missing `to` (one address or a list)".into());
    }
    let to = to
        .iter()
        .map(|t| mailbox(t, "to"))
        .collect::<Result<_, _>>()?;
    let username = match (&raw.username, &raw.username_env) {
        (Some(user), _) => Some(user.clone()),
        (None, Some(var)) => Some(env(var, "username_env")?),
        (None, None) => None,
    };
    let password = raw
        .password_env
        .as_deref()
        .map(|v| env(v, "password_env"))
        .transpose()?;
    if password.is_some() != username.is_some() {
        return Err("set both a username and `password_env`, or neither".into());
    }
    Ok(EmailConfig {
        host,
        port: raw.port.unwrap_or(default_port),
        tls,
        from,
        to,
        username,
        password: password.map(Secret::new),
        dashboard_url,
        timeout,
    })
}
