//! Which events a list request wants, already parsed and typed (the parser is `query`).

use chrono::{DateTime, Utc};

use crate::model::{Signature, Status};
use crate::search::TextQuery;

/// How the `type` filter matches: exactly, or by prefix (`charge.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeMatch {
    Exact(String),
    /// The text before the trailing `*`.
    Prefix(String),
}

/// A list query. `None` fields do not filter.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFilter {
    pub source: Option<String>,
    pub event_type: Option<TypeMatch>,
    pub status: Option<Status>,
    pub signature: Option<Signature>,
    pub is_error: Option<bool>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Full-text search: every term in the event's type or body text.
    pub text: Option<TextQuery>,
    /// Keyset cursor: only ids below this one (newest-first paging).
    pub before: Option<i64>,
    /// Only ids above this one, returned oldest first (resuming a live stream).
    pub after: Option<i64>,
    pub limit: u32,
}

impl Default for EventFilter {
    fn default() -> Self {
        EventFilter {
            source: None,
            event_type: None,
            status: None,
            signature: None,
            is_error: None,
            since: None,
            until: None,
            text: None,
            before: None,
            after: None,
            limit: 50,
        }
    }
}
