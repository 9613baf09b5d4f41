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
            // Deliberately not an index range: a prefix usually matches many types, and walking
            // the (source, id) or id index newest-first with this filter finds a page after a
            // few rows, where a range on event_type would have to sort every match first.
            let chars = p.chars().count();
            push(
                &format!("substr(event_type, 1, {chars}) = ?"),
                Some(SqlValue::Text(p.clone())),
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
    fn a_type_prefix_compares_the_first_characters() {
        let filter = EventFilter {
            source: Some("stripe".into()),
            event_type: Some(TypeMatch::Prefix("charge.".into())),
            before: Some(10),
            ..EventFilter::default()
        };
        let (sql, values) = where_clause(&filter, numbered);
        assert_eq!(
            sql,
            "WHERE source = ?1 AND substr(event_type, 1, 7) = ?2 AND id < ?3"
        );
        assert_eq!(values[1], SqlValue::Text("charge.".into()));
    }
}
