//! Enrichment settings as the rest of the program sees them: typed, validated, defaults
//! applied. `config::enrichment` builds them from `[enrichment]`; nothing here reads files or
//! the environment.

use std::fmt;

use super::rule::Rule;
use super::template::Template;

/// Default results asked of SwiftSearch (the documented example).
pub const DEFAULT_MAX_RESULTS: u32 = 3;
/// Default pages SwiftSearch scrapes: none. Scraping costs credits per page and hookwatch
/// stores only titles and URLs, so it would be paid for and thrown away.
pub const DEFAULT_AUTO_SCRAPE_TOP: u32 = 0;
/// Default lifetime of a cached answer.
pub const DEFAULT_CACHE_SECS: u64 = 86_400;
/// Default limit of one outbound attempt.
pub const DEFAULT_TIMEOUT_SECS: u64 = 5;
/// Default depth of the queue between the feed and the worker.
pub const DEFAULT_QUEUE_SIZE: usize = 1000;

/// Everything the enrichment worker needs.
#[derive(Debug, Clone)]
pub struct EnrichSettings {
    pub kind: Kind,
    pub url: String,
    /// Sent as `Authorization: Bearer KEY`; never printed.
    pub api_key: Option<ApiKey>,
    /// The variable the key came from, for `check-config`.
    pub api_key_env: Option<String>,
    pub query: Template,
    pub rule: Rule,
    /// 0 disables the cache.
    pub cache_secs: u64,
    pub max_calls_per_day: u64,
    pub timeout_secs: u64,
    pub queue_size: usize,
}

/// What kind of service is asked, with its own options.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// SearchHive SwiftSearch or anything speaking its API.
    SwiftSearch {
        max_results: u32,
        auto_scrape_top: u32,
    },
    /// A team's own lookup service: gets the event, answers any JSON.
    Http { include_body: bool },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::SwiftSearch { .. } => "swiftsearch",
            Kind::Http { .. } => "http",
        }
    }
}

/// An API key. Its `Debug` hides it, so settings can be logged or printed whole.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: String) -> ApiKey {
        ApiKey(key)
    }

    /// The key itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced, for anything stored or logged that
    /// came from outside (an error answer could echo the request).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([hidden])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_never_in_debug_output_and_is_redacted_from_text() {
        let key = ApiKey::new("sk_live_abc123".into());
        assert!(!format!("{key:?}").contains("abc123"));
        assert_eq!(key.redact("bad key sk_live_abc123!"), "bad key [redacted]!");
    }
}
