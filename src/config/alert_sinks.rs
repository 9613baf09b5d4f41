//! `[[alerts.sinks]]` resolved into `alert::sink::SinkConfig`: URLs checked, secrets read
//! from the environment into `Secret`, per-kind defaults applied. Errors are plain texts;
//! `config::alerts` prefixes them with the sink's place in the file.

use std::time::Duration;

use super::alerts::{OneOrMany, SinkFile};
use crate::alert::sink::email::{EmailConfig, EmailTls};
use crate::alert::sink::pagerduty::{self, PagerDutyConfig};
use crate::alert::sink::slack::SlackConfig;
use crate::alert::sink::webhook::WebhookConfig;
use crate::alert::sink::{Delivery, Secret, SinkConfig, SinkKind};

const DEFAULT_TIMEOUT_SECS: u64 = 10;
const DEFAULT_RETRIES: u32 = 3;
const DEFAULT_BACKOFF_MS: u64 = 1000;

pub(super) fn sink(raw: &SinkFile, public_url: Option<&str>) -> Result<SinkConfig, String> {
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
    let (username, password) = credentials(raw)?;
    Ok(EmailConfig {
        host,
        port: raw.port.unwrap_or(default_port),
        tls,
        from,
        to,
        username,
        password,
        dashboard_url,
        timeout,
    })
}

/// The SMTP login: a username (`username` or `username_env`) and `password_env`, or none.
fn credentials(raw: &SinkFile) -> Result<(Option<String>, Option<Secret>), String> {
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
    Ok((username, password.map(Secret::new)))
}
