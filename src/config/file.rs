//! The TOML config file exactly as written by the user.
//!
//! Only shape lives here: serde structs with `deny_unknown_fields`, so a typo is reported with
//! the key that is wrong instead of being silently ignored. Meaning (defaults, validation,
//! secrets from the environment) is resolved in `config::resolve`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file. Every field is optional: flags and environment variables may supply them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub token: Option<String>,
    pub max_body_bytes: Option<u64>,
    /// PostgreSQL connections per instance.
    pub pool_size: Option<usize>,
    pub public_url: Option<String>,
    /// How long a dashboard session lasts without use (`12h`).
    pub session_idle: Option<String>,
    /// Connection limits, resolved in `config::limits`.
    pub header_timeout_secs: Option<u64>,
    pub body_idle_timeout_secs: Option<u64>,
    pub max_connections: Option<usize>,
    /// CIDRs of proxies whose `X-Forwarded-For` is believed (for `allow_ips`).
    pub trusted_proxies: Option<Vec<String>>,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceFile>,
    /// `[[alerts.rules]]` and `[[alerts.sinks]]`; resolved in `config::alerts`.
    pub alerts: Option<super::alerts::AlertsFile>,
    /// `[enrichment]`, resolved in `config::enrichment`.
    pub enrichment: Option<super::enrichment::EnrichmentFile>,
    /// `[retention]`, resolved in `config::retention`.
    pub retention: Option<super::retention::RetentionFile>,
    /// `[[forward]]` rules, resolved in `config::forward`.
    #[serde(default)]
    pub forward: Vec<super::forward::ForwardFile>,
}

/// Why a config file's text was refused.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
}

/// One `[sources.NAME]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    pub provider: Option<String>,
    pub secrets: Option<Vec<String>>,
    pub secret_env: Option<String>,
    pub tolerance_secs: Option<u64>,
    pub on_invalid: Option<String>,
    pub event_type: Option<String>,
    pub delivery_id: Option<String>,
    pub public_url: Option<String>,
    /// `hmac`, `basic` or `api_key`: a scheme described here instead of the provider's.
    pub scheme: Option<String>,
    /// `hmac`: the signature header; `api_key`: the key's header.
    pub header: Option<String>,
    pub algorithm: Option<String>,
    pub encoding: Option<String>,
    pub prefix: Option<String>,
    pub timestamp_header: Option<String>,
    pub signed: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
    /// `api_key`: the key's query parameter.
    pub query: Option<String>,
    pub keys: Option<Vec<String>>,
    pub allow_ips: Option<Vec<String>>,
    pub response: Option<ResponseFile>,
    /// This source's own retention age, resolved in `config::retention`.
    pub retention: Option<toml::Value>,
}

/// One `[sources.NAME.response]` table: what the sender hears after the commit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseFile {
    pub status: Option<u16>,
    pub body: Option<String>,
    pub content_type: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub delay_ms: Option<u64>,
}

impl ConfigFile {
    /// Parses the text of a config file; the error names the key (and the line, for a
    /// typo or a value of the wrong type).
    pub fn parse(text: &str) -> Result<ConfigFile, FileError> {
        Ok(toml::from_str(text)?)
    }
}
