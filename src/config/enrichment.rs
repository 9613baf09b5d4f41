//! `[enrichment]`: the table as written, and its resolution into
//! `enrich::EnrichSettings`. A mistake (unknown kind, no url, the key's variable unset, a key
//! that belongs to the other kind) stops start-up naming `enrichment.KEY`. The key itself is
//! read only from the environment variable named by `api_key_env`, never from the file.

use serde::Deserialize;

use super::ConfigError;
use crate::enrich::rule::Rule;
use crate::enrich::settings::{self as defaults, ApiKey, EnrichSettings, Kind};
use crate::enrich::template::{DEFAULT_QUERY, Template};

/// The `[enrichment]` table exactly as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichmentFile {
    pub kind: Option<String>,
    pub url: Option<String>,
    pub api_key_env: Option<String>,
    pub query: Option<String>,
    pub when_types: Option<Vec<String>>,
    pub when_errors: Option<bool>,
    pub max_results: Option<u32>,
    pub auto_scrape_top: Option<u32>,
    pub cache_secs: Option<u64>,
    pub max_calls_per_day: Option<u64>,
    pub timeout_secs: Option<u64>,
    pub include_body: Option<bool>,
    pub queue_size: Option<usize>,
}

/// A year: longer would outlive any answer's usefulness (and time arithmetic's range).
const MAX_CACHE_SECS: u64 = 365 * 86_400;

/// A problem: the key under `[enrichment]`, and what is wrong with it.
type Problem = (&'static str, String);

/// Resolves the table, reading the key's variable through `env`.
pub(super) fn resolve(
    file: Option<&EnrichmentFile>,
    origin: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<EnrichSettings>, ConfigError> {
    let Some(raw) = file else {
        return Ok(None);
    };
    settings(raw, env)
        .map(Some)
        .map_err(|(key, problem)| ConfigError::Invalid {
            origin: origin.to_string(),
            key: format!("enrichment.{key}"),
            problem,
        })
}

fn settings(
    raw: &EnrichmentFile,
    env: impl Fn(&str) -> Option<String>,
) -> Result<EnrichSettings, Problem> {
    let kind = kind(raw)?;
    let url = url(raw.url.as_deref())?;
    let api_key = api_key(raw, &kind, env)?;
    let query = Template::parse(raw.query.as_deref().unwrap_or(DEFAULT_QUERY))
        .map_err(|e| ("query", e.to_string()))?;
    let types = raw.when_types.clone().unwrap_or_default();
    if types.iter().any(|t| t.trim().is_empty()) {
        return Err(("when_types", "a type pattern is empty".into()));
    }
    let timeout_secs = within(
        "timeout_secs",
        raw.timeout_secs,
        defaults::DEFAULT_TIMEOUT_SECS,
        1,
        300,
    )?;
    let queue_size = within(
        "queue_size",
        raw.queue_size.map(|q| q as u64),
        defaults::DEFAULT_QUEUE_SIZE as u64,
        1,
        1_000_000,
    )?;
    Ok(EnrichSettings {
        kind,
        url,
        api_key,
        api_key_env: raw.api_key_env.clone(),
        query,
        rule: Rule {
            types,
            errors: raw.when_errors.unwrap_or(false),
        },
        cache_secs: within(
            "cache_secs",
            raw.cache_secs,
            defaults::DEFAULT_CACHE_SECS,
            0,
            MAX_CACHE_SECS,
        )?,
        max_calls_per_day: raw
            .max_calls_per_day
            .unwrap_or(crate::enrich::budget::DEFAULT_MAX_CALLS_PER_DAY),
        timeout_secs,
        queue_size: queue_size as usize,
    })
}

/// The kind with its own options; an option of the other kind is an error, not ignored.
fn kind(raw: &EnrichmentFile) -> Result<Kind, Problem> {
    let only = |key: &'static str, set: bool, kind: &str| match set {
        true => Err((key, format!("applies only to kind = \"{kind}\""))),
        false => Ok(()),
    };
    match raw.kind.as_deref() {
        None => Err((
            "kind",
            "missing: set kind = \"swiftsearch\" or \"http\"".into(),
        )),
        Some("swiftsearch") => {
            only("include_body", raw.include_body.is_some(), "http")?;
            let max_results = within(
                "max_results",
                raw.max_results.map(u64::from),
                defaults::DEFAULT_MAX_RESULTS.into(),
                1,
                50,
            )?;
            let auto_scrape_top = within(
                "auto_scrape_top",
                raw.auto_scrape_top.map(u64::from),
                defaults::DEFAULT_AUTO_SCRAPE_TOP.into(),
                0,
                max_results,
            )?;
            Ok(Kind::SwiftSearch {
                max_results: max_results as u32,
                auto_scrape_top: auto_scrape_top as u32,
            })
        }
        Some("http") => {
            only("max_results", raw.max_results.is_some(), "swiftsearch")?;
            only(
                "auto_scrape_top",
                raw.auto_scrape_top.is_some(),
                "swiftsearch",
            )?;
            Ok(Kind::Http {
                include_body: raw.include_body.unwrap_or(false),
            })
        }
        Some(other) => Err((
            "kind",
            format!("unknown kind `{other}` (one of swiftsearch, http)"),
        )),
    }
}

fn url(url: Option<&str>) -> Result<String, Problem> {
    let url = url.ok_or(("url", "missing: the service's URL is required".to_string()))?;
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(url.to_string()),
        _ => Err(("url", format!("`{url}` is not an http:// or https:// URL"))),
    }
}

/// The key from the variable `api_key_env` names: required for SwiftSearch, optional (sent
/// as a bearer token too) for `http`.
fn api_key(
    raw: &EnrichmentFile,
    kind: &Kind,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<ApiKey>, Problem> {
    let Some(var) = raw.api_key_env.as_deref() else {
        return match kind {
            Kind::SwiftSearch { .. } => Err((
                "api_key_env",
                "missing: name the environment variable holding the SwiftSearch key (api_key_env = \"SEARCHHIVE_API_KEY\")".into(),
            )),
            Kind::Http { .. } => Ok(None),
        };
    };
    let key = env(var).ok_or((
        "api_key_env",
        format!("environment variable {var} is not set"),
    ))?;
    if key.trim().is_empty() {
        return Err((
            "api_key_env",
            format!("environment variable {var} is empty"),
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err((
            "api_key_env",
            format!("the key in {var} has characters an HTTP header cannot carry"),
        ));
    }
    Ok(Some(ApiKey::new(key)))
}

/// `value` (or the default) checked against an inclusive range.
fn within(
    key: &'static str,
    value: Option<u64>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, Problem> {
    let value = value.unwrap_or(default);
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err((key, format!("{value} is outside {min}..={max}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_text(text: &str, env: &[(&str, &str)]) -> Result<Option<EnrichSettings>, String> {
        let file: EnrichmentFile = toml::from_str(text).map_err(|e| e.to_string())?;
        resolve(Some(&file), "test", |var| {
            env.iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.to_string())
        })
        .map_err(|e| e.to_string())
    }

    const SWIFT: &str = "kind = \"swiftsearch\"\nurl = \"https://www.searchhive.dev/api/v1/swiftsearch\"\napi_key_env = \"K\"\n";

    #[test]
    fn the_spec_example_resolves_with_defaults() {
        let text = format!("{SWIFT}when_types = [\"*.failed\", \"error\"]\nmax_results = 3\n");
        let s = resolve_text(&text, &[("K", "sk_live_1")]).unwrap().unwrap();
        assert_eq!(
            s.kind,
            Kind::SwiftSearch {
                max_results: 3,
                auto_scrape_top: 0
            }
        );
        assert_eq!(s.api_key.unwrap().expose(), "sk_live_1");
        assert_eq!(s.cache_secs, 86_400);
        assert_eq!(s.timeout_secs, 5);
        assert_eq!(s.queue_size, 1000);
        assert_eq!(s.query.as_str(), DEFAULT_QUERY);
        assert!(!s.rule.errors);
    }

    #[test]
    fn mistakes_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("url = \"https://x\"\n", "enrichment.kind", "missing"),
            (
                "kind = \"bing\"\nurl = \"https://x\"\n",
                "enrichment.kind",
                "unknown kind",
            ),
            ("kind = \"http\"\n", "enrichment.url", "missing"),
            (
                "kind = \"http\"\nurl = \"ftp://x\"\n",
                "enrichment.url",
                "http",
            ),
            (
                "kind = \"swiftsearch\"\nurl = \"https://x\"\n",
                "enrichment.api_key_env",
                "missing",
            ),
            (
                "kind = \"swiftsearch\"\nurl = \"https://x\"\napi_key_env = \"UNSET\"\n",
                "enrichment.api_key_env",
                "UNSET is not set",
            ),
            (
                "kind = \"http\"\nurl = \"https://x\"\nmax_results = 3\n",
                "enrichment.max_results",
                "swiftsearch",
            ),
            (
                "kind = \"http\"\nurl = \"https://x\"\nquery = \"{nope}\"\n",
                "enrichment.query",
                "unknown placeholder",
            ),
            (
                "kind = \"http\"\nurl = \"https://x\"\ntimeout_secs = 0\n",
                "enrichment.timeout_secs",
                "outside",
            ),
        ];
        for (text, key, problem) in cases {
            let error = resolve_text(text, &[("K", "k")]).unwrap_err();
            assert!(
                error.contains(key) && error.contains(problem),
                "{text}: {error}"
            );
        }
        let error =
            resolve_text(&format!("{SWIFT}include_body = true\n"), &[("K", "k")]).unwrap_err();
        assert!(error.contains("enrichment.include_body"), "{error}");
        let error = resolve_text(SWIFT, &[("K", "")]).unwrap_err();
        assert!(error.contains("empty"), "{error}");
        assert!(
            resolve_text(
                "kind = \"http\"\nurl = \"https://x\"\napi_key = \"x\"\n",
                &[]
            )
            .unwrap_err()
            .contains("api_key")
        );
    }
}
