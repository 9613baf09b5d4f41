//! The TOML config file exactly as written by the user.
//!
//! Only shape lives here: serde structs with `deny_unknown_fields`, so a typo is reported with
//! the key that is wrong instead of being silently ignored, and keys of features this build
//! lacks are refused first (`config::not_built`). Meaning (defaults, validation, secrets from
//! the environment) is resolved in `config::resolve`.

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
    #[serde(default)]
    pub sources: BTreeMap<String, SourceFile>,
    /// `[[alerts.rules]]` and `[[alerts.sinks]]`; resolved in `config::alerts`.
    pub alerts: Option<super::alerts::AlertsFile>,
    /// `[enrichment]`, resolved in `config::enrichment`.
    pub enrichment: Option<super::enrichment::EnrichmentFile>,
}

/// Why a config file's text was refused.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error(transparent)]
    NotBuilt(#[from] super::not_built::NotBuilt),
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
}

impl ConfigFile {
    /// Parses the text of a config file; the error names the key (and the line, for a
    /// typo or a value of the wrong type).
    pub fn parse(text: &str) -> Result<ConfigFile, FileError> {
        // Parsed twice: the untyped table for the check, then the text again so a typo's
        // error keeps its line.
        super::not_built::check(&text.parse::<toml::Table>()?)?;
        Ok(toml::from_str(text)?)
    }
}
