//! The read side's input language: query-string parameters parsed into a typed `EventFilter`.
//!
//! Grammar, every parameter optional:
//!
//! ```text
//! source=NAME            exact source (a name a source can have, else refused)
//! type=T | type=PREFIX*  exact event type, or every type starting with PREFIX
//! status=received|rejected
//! signature=valid|invalid|missing|unverified
//! error=true|false       (also 1/0, yes/no)
//! since=TIME until=TIME  TIME = RFC 3339 (2026-11-28T23:59:59Z) or an age: N s|m|h|d|w (15m, 2h, 7d)
//! limit=N                1..=1000, default 50
//! before=ID              keyset cursor: events with a smaller id (the `next_before` of a page)
//! q=WORDS                full-text search over body text and type (`search::text`)
//! field=POINTER OP VALUE a condition on a body field or header (`search::field`); repeatable,
//!                        all must hold
//! ```
//!
//! Any other parameter, or one given twice (except `field`), is refused before this parser
//! runs (`http::Params` and each route's list of names); `/api/stream` takes every one but
//! before, until and limit. Pure: the current time is passed in. The HTTP handlers live in `query::http`, the JSON
//! shapes in `query::view`.

pub mod http;
pub mod select;
pub mod stream;
pub mod view;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::model::{Signature, Status, is_valid_source_name};
use crate::openapi::schemas as doc;
use crate::search::{FieldFilter, TextQuery};
use crate::store::{EventFilter, TypeMatch};

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page a caller may ask for.
pub const MAX_LIMIT: u32 = 1000;

/// A parameter that could not be understood; the message says which and why.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("{param}: {problem}")]
pub struct ParamError {
    pub param: &'static str,
    pub problem: String,
}

fn bad(param: &'static str, problem: impl Into<String>) -> ParamError {
    ParamError {
        param,
        problem: problem.into(),
    }
}

/// The raw list parameters as they arrive in a query string or on the command line.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// A source name.
    #[param(pattern = "^[A-Za-z0-9._-]{0,64}$")]
    pub source: Option<String>,
    /// An event type; a trailing `*` matches a prefix (`charge.*`).
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// `received` or `rejected`.
    #[param(pattern = "^(received|rejected)?$")]
    pub status: Option<String>,
    /// `valid`, `invalid`, `missing` or `unverified`.
    #[param(pattern = "^(valid|invalid|missing|unverified)?$")]
    pub signature: Option<String>,
    /// `true` or `false`.
    #[param(schema_with = doc::flag)]
    pub error: Option<String>,
    /// RFC 3339, or an age like `15m`, `2h`, `7d`.
    #[param(value_type = Option<doc::Time>)]
    pub since: Option<String>,
    /// RFC 3339, or an age like `15m`, `2h`, `7d`.
    #[param(value_type = Option<doc::Time>)]
    pub until: Option<String>,
    /// 1 to 1000; 50 when not given.
    #[param(schema_with = doc::limit)]
    pub limit: Option<String>,
    /// The keyset cursor: the previous page's `next_before`.
    #[param(schema_with = doc::event_id)]
    pub before: Option<String>,
    /// Full-text search: words that must all occur in the body or type; `card*` by prefix,
    /// `"card declined"` as a phrase. At most 500 characters and 32 terms, with at least one
    /// letter or digit.
    #[param(max_length = 500, pattern = "^$|[^\\W_]")]
    pub q: Option<String>,
    /// `POINTER OP VALUE` on a body field (`/data/object/amount>=1000`) or a header
    /// (`header:x-github-event=push`); all must hold. Repeatable, so not read from a query
    /// string by serde (`http::QueryParams::repeated`).
    #[serde(skip)]
    pub field: Vec<String>,
}

impl ListParams {
    /// Parses every parameter; the first bad one is reported.
    pub fn parse(&self, now: DateTime<Utc>) -> Result<EventFilter, ParamError> {
        let limit = match self.limit.as_deref().filter(|s| !s.is_empty()) {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<u32>() {
                Ok(n @ 1..=MAX_LIMIT) => n,
                _ => {
                    return Err(bad(
                        "limit",
                        format!("`{text}` is not a whole number from 1 to {MAX_LIMIT}"),
                    ));
                }
            },
        };
        Ok(EventFilter {
            source: parse_with(
                &self.source,
                "source",
                |s| is_valid_source_name(s).then(|| s.to_string()),
                "a source name (1–64 of A-Z a-z 0-9 . _ -)",
            )?,
            event_type: non_empty(&self.event_type).map(type_match),
            status: parse_with(
                &self.status,
                "status",
                Status::parse,
                "received or rejected",
            )?,
            signature: parse_with(
                &self.signature,
                "signature",
                Signature::parse,
                "valid, invalid, missing or unverified",
            )?,
            is_error: parse_with(&self.error, "error", parse_bool, "true or false")?,
            since: parse_with_now(&self.since, "since", now)?,
            until: parse_with_now(&self.until, "until", now)?,
            before: parse_with(&self.before, "before", |s| s.parse().ok(), "an event id")?,
            text: non_empty(&self.q)
                .map(|q| TextQuery::parse(q).map_err(|e| bad("q", e.to_string())))
                .transpose()?,
            after: None,
            limit,
        })
    }

    /// Parses the `field` filters; the first malformed one is reported, quoted. An empty one
    /// does not filter, like any empty parameter.
    pub fn parse_fields(&self) -> Result<Vec<FieldFilter>, ParamError> {
        self.field
            .iter()
            .filter(|text| !text.is_empty())
            .map(|text| {
                FieldFilter::parse(text)
                    .map_err(|e| bad("field", format!("`{}`: {e}", clipped(text))))
            })
            .collect()
    }
}

/// The most characters of a caller's text an error message repeats.
const MAX_SHOWN: usize = 64;

fn clipped(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}

fn parse_with<T>(
    value: &Option<String>,
    param: &'static str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<Option<T>, ParamError> {
    non_empty(value)
        .map(|text| parse(text).ok_or_else(|| bad(param, format!("`{text}` is not {expected}"))))
        .transpose()
}

fn parse_with_now(
    value: &Option<String>,
    param: &'static str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ParamError> {
    parse_with(
        value,
        param,
        |t| parse_time(t, now),
        "RFC 3339 or an age like 15m, 2h, 7d",
    )
}

/// `charge.*` matches by prefix; anything else exactly.
pub fn type_match(text: &str) -> TypeMatch {
    match text.strip_suffix('*') {
        Some(prefix) => TypeMatch::Prefix(prefix.to_string()),
        None => TypeMatch::Exact(text.to_string()),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// An RFC 3339 time, or an age (`90s`, `15m`, `2h`, `7d`) counted back from `now`.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    // An age reaching before the calendar's start is refused, not a panic.
    parse_age(text).and_then(|age| now.checked_sub_signed(age))
}

/// `N` followed by `s`, `m`, `h`, `d` or `w`.
pub fn parse_age(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let count: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    if count < 0 {
        return None;
    }
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    Duration::try_seconds(count.checked_mul(seconds)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let query: String = pairs.iter().map(|(k, v)| format!("{k}={v}&")).collect();
        serde_urlencoded_like(&query)
    }

    fn serde_urlencoded_like(query: &str) -> ListParams {
        let value: serde_json::Map<String, serde_json::Value> =
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                .collect();
        serde_json::from_value(value.into()).unwrap()
    }

    #[test]
    fn ages_count_back_from_now() {
        let f = params(&[("since", "15m"), ("until", "2026-11-28T11:59:00Z")])
            .parse(now())
            .unwrap();
        assert_eq!(f.since.unwrap().to_rfc3339(), "2026-11-28T11:45:00+00:00");
        assert_eq!(f.until.unwrap().to_rfc3339(), "2026-11-28T11:59:00+00:00");
        assert_eq!(parse_age("7d"), Some(Duration::days(7)));
        assert_eq!(parse_age("2h"), Some(Duration::hours(2)));
        assert_eq!(parse_age("7x"), None);
        assert_eq!(parse_age("h"), None);
        assert_eq!(parse_age("-1m"), None);
    }

    #[test]
    fn an_age_older_than_the_calendar_is_refused() {
        assert_eq!(parse_time("999999999d", now()), None);
        assert!(parse_time("36500d", now()).is_some());
    }

    #[test]
    fn a_trailing_star_matches_by_prefix() {
        let f = params(&[("type", "charge.*")]).parse(now()).unwrap();
        assert_eq!(f.event_type, Some(TypeMatch::Prefix("charge.".into())));
        let f = params(&[("type", "charge.failed")]).parse(now()).unwrap();
        assert_eq!(f.event_type, Some(TypeMatch::Exact("charge.failed".into())));
    }

    #[test]
    fn limits_default_to_50_and_beyond_1000_are_refused() {
        assert_eq!(params(&[]).parse(now()).unwrap().limit, 50);
        assert_eq!(
            params(&[("limit", "1000")]).parse(now()).unwrap().limit,
            1000
        );
        assert_eq!(
            params(&[("limit", "1001")]).parse(now()).unwrap_err().param,
            "limit"
        );
        assert_eq!(
            params(&[("limit", "0")]).parse(now()).unwrap_err().param,
            "limit"
        );
        assert_eq!(
            params(&[("limit", "x")]).parse(now()).unwrap_err().param,
            "limit"
        );
    }

    #[test]
    fn bad_values_name_their_parameter() {
        assert_eq!(
            params(&[("source", "stripe ")])
                .parse(now())
                .unwrap_err()
                .param,
            "source"
        );
        assert_eq!(
            params(&[("status", "ok")]).parse(now()).unwrap_err().param,
            "status"
        );
        assert_eq!(
            params(&[("signature", "yes")])
                .parse(now())
                .unwrap_err()
                .param,
            "signature"
        );
        assert_eq!(
            params(&[("error", "maybe")])
                .parse(now())
                .unwrap_err()
                .param,
            "error"
        );
        assert_eq!(
            params(&[("since", "yesterday")])
                .parse(now())
                .unwrap_err()
                .param,
            "since"
        );
        assert_eq!(
            params(&[("before", "abc")]).parse(now()).unwrap_err().param,
            "before"
        );
    }

    #[test]
    fn q_and_field_are_parsed_and_bad_ones_name_themselves() {
        let f = params(&[("q", "card*")]).parse(now()).unwrap();
        assert_eq!(f.text, Some(TextQuery::parse("card*").unwrap()));
        let error = params(&[("q", "*")]).parse(now()).unwrap_err();
        assert_eq!(error.param, "q");
        let mut p = params(&[]);
        p.field = vec!["/a=1".into(), "header:X>=2".into()];
        assert_eq!(p.parse_fields().unwrap().len(), 2);
        p.field.push("/a=>1".into());
        let error = p.parse_fields().unwrap_err();
        assert_eq!(error.param, "field");
        assert!(error.problem.contains("`/a=>1`"), "{}", error.problem);
    }

    #[test]
    fn empty_values_do_not_filter() {
        let mut p = params(&[("source", ""), ("type", ""), ("error", ""), ("q", "")]);
        assert_eq!(p.parse(now()).unwrap(), EventFilter::default());
        p.field = vec![String::new()];
        assert_eq!(p.parse_fields().unwrap(), vec![]);
    }
}
