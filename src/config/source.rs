//! One `[sources.NAME]` table resolved into what ingest needs: how to read the delivery
//! (`provider::SourceRules`), how to check its signature (`verify::Verifier`) and what to do
//! when the check fails. Misconfiguration stops start-up here, naming the source and the key.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use super::response::{self, ResponseSettings};
use super::{ConfigError, ConfigFile, file::SourceFile, scheme};
use crate::model::{Provider, is_valid_source_name};
use crate::provider::{FieldRule, SourceRules};
use crate::verify::{Networks, Scheme, Verifier};

/// Default replay window of timestamped schemes, as the providers' own SDKs use.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The source's policy for deliveries whose signature is invalid or missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInvalid {
    /// Answer 401 and record the attempt as `rejected` (the default).
    Reject,
    /// Store it as a normal event marked `invalid`.
    Accept,
}

/// A configured source, ready for ingest.
#[derive(Debug)]
pub struct SourceSettings {
    pub rules: SourceRules,
    /// `None` when the source has no secret: its events are `unverified`.
    pub verifier: Option<Verifier>,
    pub on_invalid: OnInvalid,
    /// The public base URL senders call (Twilio signs the URL).
    pub public_url: Option<String>,
    /// `allow_ips`: only these client addresses are accepted (403 and recorded as rejected
    /// otherwise); `None` accepts any.
    pub allow_ips: Option<Networks>,
    /// The top-level `trusted_proxies`, shared by every source: whose `X-Forwarded-For` is
    /// believed when the client address is decided.
    pub trusted_proxies: Arc<Networks>,
    /// `[sources.NAME.response]`; `None`: the default JSON answer.
    pub response: Option<ResponseSettings>,
}

impl SourceSettings {
    /// The settings of a source that is not in the config: unverified, the default answer.
    pub fn unconfigured() -> SourceSettings {
        SourceSettings {
            rules: SourceRules::default(),
            verifier: None,
            on_invalid: OnInvalid::Reject,
            public_url: None,
            allow_ips: None,
            trusted_proxies: Arc::default(),
            response: None,
        }
    }
}

/// Resolves every source in the file.
pub(super) fn resolve_all(
    file: &ConfigFile,
    origin: &str,
) -> Result<BTreeMap<String, SourceSettings>, ConfigError> {
    let trusted =
        Networks::parse(file.trusted_proxies.as_deref().unwrap_or_default()).map_err(|e| {
            ConfigError::Invalid {
                origin: origin.to_string(),
                key: "trusted_proxies".into(),
                problem: e.to_string(),
            }
        })?;
    let trusted = Arc::new(trusted);
    let mut out = BTreeMap::new();
    for (name, raw) in &file.sources {
        let settings = resolve(name, raw, file.public_url.as_deref(), &trusted).map_err(
            |(key, problem)| ConfigError::Invalid {
                origin: origin.to_string(),
                key: format!(
                    "sources.{name}{}{key}",
                    if key.is_empty() { "" } else { "." }
                ),
                problem,
            },
        )?;
        out.insert(name.clone(), settings);
    }
    Ok(out)
}

/// A problem: the key under the source's table, and what is wrong with it.
pub(super) type Problem = (&'static str, String);

fn resolve(
    name: &str,
    raw: &SourceFile,
    global_url: Option<&str>,
    trusted_proxies: &Arc<Networks>,
) -> Result<SourceSettings, Problem> {
    if !is_valid_source_name(name) {
        return Err((
            "",
            "a source name is 1–64 characters of A-Z a-z 0-9 . _ -".into(),
        ));
    }
    let provider = raw
        .provider
        .as_deref()
        .map(|p| {
            Provider::parse(p).ok_or_else(|| {
                let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
                (
                    "provider",
                    format!("unknown provider `{p}` (one of {})", known.join(", ")),
                )
            })
        })
        .transpose()?;
    let public_url = raw.public_url.as_deref().or(global_url).map(str::to_string);
    if provider == Some(Provider::Twilio) && public_url.is_none() {
        return Err((
            "public_url",
            "Twilio signs the URL it calls: set `public_url` (here or at the top level)".into(),
        ));
    }
    let tolerance_secs = raw.tolerance_secs.unwrap_or(DEFAULT_TOLERANCE_SECS);
    let env = |var: &str| std::env::var(var).ok();
    let verifier = match scheme::resolve(raw, public_url.as_deref(), env)? {
        Some((scheme, secrets)) => Some(Verifier {
            scheme,
            secrets,
            tolerance_secs,
        }),
        None => verifier(provider, secrets(raw)?, tolerance_secs)?,
    };
    let allow_ips = raw
        .allow_ips
        .as_deref()
        .map(Networks::parse)
        .transpose()
        .map_err(|e| ("allow_ips", e.to_string()))?;
    if allow_ips.as_ref().is_some_and(Networks::is_empty) {
        return Err((
            "allow_ips",
            "lists no network, so every delivery would be refused; remove the key to allow any"
                .into(),
        ));
    }
    let response = raw.response.as_ref().map(response::resolve).transpose()?;
    let on_invalid = match raw.on_invalid.as_deref() {
        None | Some("reject") => OnInvalid::Reject,
        Some("accept") => OnInvalid::Accept,
        Some(other) => {
            return Err((
                "on_invalid",
                format!("`{other}` is neither \"reject\" nor \"accept\""),
            ));
        }
    };
    let rule = |key: &'static str, value: &Option<String>| {
        value
            .as_deref()
            .map(FieldRule::from_str)
            .transpose()
            .map_err(|e| (key, e.to_string()))
    };
    let rules = SourceRules {
        provider,
        event_type: rule("event_type", &raw.event_type)?,
        delivery_id: rule("delivery_id", &raw.delivery_id)?,
    };
    Ok(SourceSettings {
        rules,
        verifier,
        on_invalid,
        public_url,
        allow_ips,
        trusted_proxies: Arc::clone(trusted_proxies),
        response,
    })
}

/// The source's secrets from `secrets` and `secret_env` together; an empty one is an error,
/// since an empty HMAC key would let anyone sign.
fn secrets(raw: &SourceFile) -> Result<Vec<String>, Problem> {
    let mut secrets = raw.secrets.clone().unwrap_or_default();
    if let Some(var) = &raw.secret_env {
        match std::env::var(var) {
            Ok(value) => secrets.push(value),
            Err(_) => {
                return Err((
                    "secret_env",
                    format!("environment variable {var} is not set or not valid UTF-8"),
                ));
            }
        }
    }
    if secrets.iter().any(|s| s.is_empty()) {
        let key = if raw.secret_env.is_some() {
            "secret_env"
        } else {
            "secrets"
        };
        return Err((key, "a secret is empty".into()));
    }
    Ok(secrets)
}

fn verifier(
    provider: Option<Provider>,
    secrets: Vec<String>,
    tolerance_secs: u64,
) -> Result<Option<Verifier>, Problem> {
    if secrets.is_empty() {
        return Ok(None);
    }
    let provider = provider.ok_or((
        "provider",
        "a source with secrets needs `provider`, so hookwatch knows how it signs".to_string(),
    ))?;
    let scheme = Scheme::for_provider(provider).ok_or((
        "provider",
        format!(
            "provider `{}` has no signature scheme; remove the secrets",
            provider.as_str()
        ),
    ))?;
    for secret in &secrets {
        scheme
            .check_secret(secret)
            .map_err(|problem| ("secrets", problem.to_string()))?;
    }
    Ok(Some(Verifier {
        scheme,
        secrets,
        tolerance_secs,
    }))
}
