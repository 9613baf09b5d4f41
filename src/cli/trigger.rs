//! `hookwatch trigger PROVIDER TYPE`: sends one realistic sample delivery, signed the way the
//! receiving source checks it, to a running hookwatch (or any URL), and prints the answer.
//!
//! The samples are built into the binary (`provider::samples`), with a fresh delivery id each
//! time so a second run is a new event, not a duplicate. The secret and scheme come from the
//! source's configuration (`--config`, else `./hookwatch.toml`), or `--secret` with the
//! provider's own scheme; without either the delivery is sent unsigned. Exit codes: 0 for a
//! 2xx answer, 1 for any other answer or no answer, 2 for an unknown provider or type.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Args;

use super::GlobalArgs;
use crate::config::{Overrides, Settings};
use crate::model::Provider;
use crate::provider::samples::{self, TYPES};
use crate::verify::{self, Scheme};

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// Provider: stripe, github, slack, shopify, standard or twilio
    #[arg(required_unless_present = "list")]
    pub provider: Option<String>,
    /// Event type of the sample (see --list)
    #[arg(value_name = "TYPE", required_unless_present = "list")]
    pub event_type: Option<String>,
    /// List the providers and event types that have a sample
    #[arg(long, conflicts_with_all = ["provider", "event_type"])]
    pub list: bool,
    /// Send to this URL instead of the running server's /webhook/SOURCE
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// The running hookwatch
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The source to send to and whose configured secret signs (default: the provider's name)
    #[arg(long)]
    pub source: Option<String>,
    /// Sign with this secret under the provider's scheme, whatever the config says
    #[arg(long)]
    pub secret: Option<String>,
}

/// A provider or event type with no sample: bad usage, exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("unknown provider `{0}` (one of stripe, github, slack, shopify, standard, twilio)")]
    UnknownProvider(String),
    #[error("no {provider} sample of type `{event_type}` (one of {known})")]
    UnknownType {
        provider: &'static str,
        event_type: String,
        known: String,
    },
}

pub fn run(global: &GlobalArgs, args: TriggerArgs) -> anyhow::Result<()> {
    if args.list {
        for (provider, types) in TYPES {
            for event_type in types {
                println!("{:<9} {event_type}", provider.as_str());
            }
        }
        return Ok(());
    }
    let name = args.provider.clone().unwrap_or_default();
    let provider = Provider::parse(&name)
        .filter(|p| *p != Provider::Generic)
        .ok_or(UsageError::UnknownProvider(name))?;
    let event_type = args.event_type.clone().unwrap_or_default();
    let id = fresh_id();
    let now = chrono::Utc::now().timestamp();
    let sample = samples::sample(provider, &event_type, &id, now).ok_or_else(|| {
        let known = TYPES
            .iter()
            .find(|(p, _)| *p == provider)
            .map(|(_, types)| types.join(", "))
            .unwrap_or_default();
        UsageError::UnknownType {
            provider: provider.as_str(),
            event_type: event_type.clone(),
            known,
        }
    })?;
    let source = args.source.clone().unwrap_or_else(|| name_of(provider));
    let settings = Settings::resolve(&Overrides {
        config: global.config.clone(),
        database: global.database.clone(),
        ..Overrides::default()
    })?;
    let configured = settings.sources.get(&source);
    let mut url = match &args.to {
        Some(to) => to.clone(),
        None => format!("{}/webhook/{source}", args.server.trim_end_matches('/')),
    };
    let verifier = configured.and_then(|s| s.verifier.as_ref());
    let signing: Option<(Scheme, String)> = match (&args.secret, verifier) {
        (Some(secret), Some(v)) => Some((v.scheme.clone(), secret.clone())),
        (Some(secret), None) => Scheme::for_provider(provider).map(|s| (s, secret.clone())),
        (None, Some(v)) => v.secrets.first().map(|s| (v.scheme.clone(), s.clone())),
        (None, None) => None,
    };
    let mut headers = sample.headers.clone();
    headers.push(("content-type".into(), sample.content_type.into()));
    match signing {
        Some((scheme, secret)) => {
            let public = configured.and_then(|s| s.public_url.as_deref());
            let signed_url = signed_url(&url, public);
            let request = verify::Request {
                headers: &headers,
                body: &sample.body,
                url: Some(&signed_url),
                content_type: Some(sample.content_type),
                query: url.split_once('?').map_or("", |(_, q)| q),
            };
            let signed = verify::sign(&scheme, &secret, &request, now)?;
            headers.extend(signed.headers);
            if let Some((name, value)) = signed.query {
                let pair = form_urlencoded::Serializer::new(String::new())
                    .append_pair(&name, &value)
                    .finish();
                url = format!("{url}{}{pair}", if url.contains('?') { '&' } else { '?' });
            }
        }
        None => eprintln!(
            "hookwatch: no secret for source `{source}` in the config and no --secret: \
             sending unsigned"
        ),
    }
    eprintln!(
        "POST {} ({} {event_type}, delivery {id})",
        redact(&url),
        provider.as_str()
    );
    super::runtime()?.block_on(send(&url, headers, sample.body))
}

async fn send(url: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> anyhow::Result<()> {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach {}", redact(url)))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!("{}", status.as_u16());
    if !text.is_empty() {
        println!("{text}");
    }
    anyhow::ensure!(status.is_success(), "the receiver answered {status}");
    Ok(())
}

/// The URL a receiver rebuilds to check a URL signature: its `public_url` + the target's path
/// and query, or the target itself.
fn signed_url(target: &str, public_url: Option<&str>) -> String {
    let Some(base) = public_url else {
        return target.to_string();
    };
    let after_scheme = target.split_once("://").map_or(target, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    format!("{}{path}", base.trim_end_matches('/'))
}

/// The URL with its query left out, as printed: an API key may travel in it.
fn redact(url: &str) -> &str {
    url.split_once('?').map_or(url, |(u, _)| u)
}

fn name_of(provider: Provider) -> String {
    provider.as_str().to_string()
}

/// A delivery id that no earlier run has used: the time in nanoseconds and the process id.
fn fresh_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}{:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_url_puts_the_target_path_under_the_public_url() {
        let target = "http://127.0.0.1:8080/webhook/twilio?a=1";
        assert_eq!(signed_url(target, None), target);
        assert_eq!(
            signed_url(target, Some("https://hooks.example/")),
            "https://hooks.example/webhook/twilio?a=1"
        );
        assert_eq!(redact(target), "http://127.0.0.1:8080/webhook/twilio");
    }
}
