//! SQL shared by the SQL backends: the WHERE clause of a list query and the row conversions.
//!
//! Placeholders differ between backends (`?N` in SQLite, `$N` in PostgreSQL), so the builder
//! takes the placeholder style and returns the text with its values in order.

use super::{EventFilter, TypeMatch};

/// A bound value of a list query.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
}

/// The columns of an event summary, in the order the backends read them.
pub const SUMMARY_COLUMNS: &str = "id, source, received_at, method, path, query, remote_addr, \
     content_type, size, provider, event_type, delivery_id, signature, signature_reason, \
     signature_failure, status, is_error, duplicates, enrichment";

/// Builds `WHERE …` (or an empty string) for the filter; `placeholder(n)` renders the n-th
/// (1-based) parameter.
pub fn where_clause(
    filter: &EventFilter,
    placeholder: fn(usize) -> String,
) -> (String, Vec<SqlValue>) {
    let mut parts: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let mut push = |sql: &str, value: Option<SqlValue>| match value {
        Some(value) => {
            values.push(value);
            parts.push(sql.replace('?', &placeholder(values.len())));
        }
        None => parts.push(sql.to_string()),
    };
    if let Some(source) = &filter.source {
        push("source = ?", Some(SqlValue::Text(source.clone())));
    }
    match &filter.event_type {
        Some(TypeMatch::Exact(t)) => push("event_type = ?", Some(SqlValue::Text(t.clone()))),
        Some(TypeMatch::Prefix(p)) if !p.is_empty() => {
            // A range instead of LIKE: uses the index and needs no escaping of `%` or `_`.
            push("event_type >= ?", Some(SqlValue::Text(p.clone())));
            push(
                "event_type < ?",
                Some(SqlValue::Text(prefix_upper_bound(p))),
            );
        }
        Some(TypeMatch::Prefix(_)) => push("event_type IS NOT NULL", None),
        None => {}
    }
    if let Some(status) = filter.status {
        push("status = ?", Some(SqlValue::Text(status.as_str().into())));
    }
    if let Some(signature) = filter.signature {
        push(
            "signature = ?",
            Some(SqlValue::Text(signature.as_str().into())),
        );
    }
    if let Some(is_error) = filter.is_error {
        push("is_error = ?", Some(SqlValue::Int(is_error as i64)));
    }
    if let Some(since) = filter.since {
        push(
            "received_at >= ?",
            Some(SqlValue::Int(since.timestamp_micros())),
        );
    }
    if let Some(until) = filter.until {
        push(
            "received_at <= ?",
            Some(SqlValue::Int(until.timestamp_micros())),
        );
    }
    if let Some(before) = filter.before {
        push("id < ?", Some(SqlValue::Int(before)));
    }
    if let Some(after) = filter.after {
        push("id > ?", Some(SqlValue::Int(after)));
    }
    if parts.is_empty() {
        return (String::new(), values);
    }
    (format!("WHERE {}", parts.join(" AND ")), values)
}

/// The smallest string greater than every string starting with `prefix`: the prefix with its
/// last character incremented (byte-wise order, as both backends compare with a binary
/// collation here).
fn prefix_upper_bound(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    // Every character was char::MAX: no upper bound is representable; match everything above.
    char::MAX.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> String {
        format!("?{n}")
    }

    #[test]
    fn an_empty_filter_has_no_where_clause() {
        let (sql, values) = where_clause(&EventFilter::default(), numbered);
        assert_eq!(sql, "");
        assert!(values.is_empty());
    }

    #[test]
    fn a_type_prefix_becomes_an_index_friendly_range() {
        let filter = EventFilter {
            source: Some("stripe".into()),
            event_type: Some(TypeMatch::Prefix("charge.".into())),
            before: Some(10),
            ..EventFilter::default()
        };
        let (sql, values) = where_clause(&filter, numbered);
        assert_eq!(
            sql,
            "WHERE source = ?1 AND event_type >= ?2 AND event_type < ?3 AND id < ?4"
        );
        assert_eq!(values[2], SqlValue::Text("charge/".into()));
    }
}
