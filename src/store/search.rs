//! A `TextQuery` in each backend's full-text syntax, and where a list query with one reads
//! from.
//!
//! Every word is quoted, so nothing a caller types is read as syntax. The words are already
//! letters and digits only (`search::text`), so no quote can occur inside one; the quoting
//! is what keeps `OR`, `NOT` or `NEAR` plain words.

use super::EventFilter;
use crate::search::TextQuery;

/// The SQL dialect a list query is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres(Reach),
}

/// How far a PostgreSQL search reads, newest first. Its planner cannot tell a rare word from a
/// common one it has no statistics for, and picks one plan for both: walking ids newest-first
/// (instant for a common word, a scan of the whole table for a rare one) or the GIN index
/// (instant for a rare word, every match of a common one). So a search first checks the
/// newest `RECENT_ROWS` events only, which fills a page of any common word; only when that
/// leaves the page short does it ask the index for every match (`All`), which is then few.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Recent,
    All,
}

/// The events a first PostgreSQL search reads (`Reach::Recent`).
pub const RECENT_ROWS: u32 = 10_000;

impl Dialect {
    /// The n-th (1-based) placeholder.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres(_) => format!("${n}"),
        }
    }

    /// What a list reads: the text before `SELECT` (a PostgreSQL search's CTE), the tables
    /// (`bodies`: with each event's headers and body), and the column it orders and pages by.
    /// With a search on SQLite, the FTS5 index drives the query, newest first, so a common word
    /// fills a page after a few rows; its rowid is the event id. The search condition is always
    /// the first placeholder (`where_clause`).
    pub fn from(self, filter: &EventFilter, bodies: bool) -> (String, String, &'static str) {
        let bounds = id_bounds(filter);
        let (with, tables, id) = match (self, filter.text.is_some()) {
            (_, false) => (String::new(), "events".to_string(), "id"),
            (Dialect::Sqlite, true) => (
                String::new(),
                "events_fts CROSS JOIN events ON events.id = events_fts.rowid".to_string(),
                "events_fts.rowid",
            ),
            (Dialect::Postgres(Reach::Recent), true) => {
                let order = order(filter);
                let recent = format!(
                    "(SELECT id, doc FROM event_words WHERE TRUE{bounds} \
                     ORDER BY id {order} LIMIT {RECENT_ROWS}) w"
                );
                (
                    String::new(),
                    format!("events JOIN {recent} USING (id)"),
                    "id",
                )
            }
            (Dialect::Postgres(Reach::All), true) => (
                format!(
                    "WITH w AS MATERIALIZED (SELECT id, doc FROM event_words \
                     WHERE doc @@ $1::text::tsquery{bounds}) "
                ),
                "events JOIN w USING (id)".to_string(),
                "id",
            ),
        };
        let bodies = if bodies {
            " JOIN bodies b USING (id)"
        } else {
            ""
        };
        (with, format!("{tables}{bodies}"), id)
    }

    /// The condition of a search, with `?` where its one value goes, and that value.
    pub fn matching(self, query: &TextQuery) -> (&'static str, String) {
        match self {
            Dialect::Sqlite => ("events_fts MATCH ?", fts5(query)),
            Dialect::Postgres(_) => ("w.doc @@ ?::text::tsquery", tsquery(query)),
        }
    }
}

/// Newest first, or oldest first when resuming after an id.
pub fn order(filter: &EventFilter) -> &'static str {
    if filter.after.is_some() {
        "ASC"
    } else {
        "DESC"
    }
}

/// The filter's id range as SQL (` AND id < 10`), written out: ids are numbers.
fn id_bounds(filter: &EventFilter) -> String {
    let before = filter.before.map(|b| format!(" AND id < {b}"));
    let after = filter.after.map(|a| format!(" AND id > {a}"));
    format!(
        "{}{}",
        before.unwrap_or_default(),
        after.unwrap_or_default()
    )
}

/// FTS5: `"card"* "card declined"`: each term a quoted phrase, a prefix marked after it;
/// terms side by side must all match.
pub fn fts5(query: &TextQuery) -> String {
    let terms: Vec<String> = query
        .terms
        .iter()
        .map(|t| {
            let star = if t.prefix { "*" } else { "" };
            format!("\"{}\"{star}", t.words.join(" "))
        })
        .collect();
    terms.join(" ")
}

/// PostgreSQL: `'card':* & ('card' & 'declined')`: quoted lexemes, a prefix marked `:*`,
/// terms joined by `&`. The index keeps no positions, so a phrase asks for its words; the
/// caller checks their order (`TextQuery::phrases_occur`).
pub fn tsquery(query: &TextQuery) -> String {
    let terms: Vec<String> = query
        .terms
        .iter()
        .map(|t| {
            let last = t.words.len() - 1;
            let words: Vec<String> = t
                .words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let star = if t.prefix && i == last { ":*" } else { "" };
                    format!("'{w}'{star}")
                })
                .collect();
            format!("({})", words.join(" & "))
        })
        .collect();
    terms.join(" & ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::{SqlValue, list_query};

    #[test]
    fn a_postgres_search_reads_recent_events_then_the_index() {
        let filter = EventFilter {
            text: Some(TextQuery::parse("card").unwrap()),
            source: Some("stripe".into()),
            before: Some(900),
            limit: 51,
            ..EventFilter::default()
        };
        let (recent, values) = list_query(&filter, Dialect::Postgres(Reach::Recent), false);
        assert!(
            recent.contains(
                "FROM events JOIN (SELECT id, doc FROM event_words WHERE TRUE AND id < 900 \
                 ORDER BY id DESC LIMIT 10000) w USING (id) \
                 WHERE w.doc @@ $1::text::tsquery AND source = $2 AND id < $3 \
                 ORDER BY id DESC LIMIT 51"
            ),
            "{recent}"
        );
        assert_eq!(values[0], SqlValue::Text("('card')".into()));
        let (all, _) = list_query(&filter, Dialect::Postgres(Reach::All), false);
        assert!(
            all.starts_with(
                "WITH w AS MATERIALIZED (SELECT id, doc FROM event_words \
                 WHERE doc @@ $1::text::tsquery AND id < 900) SELECT "
            ),
            "{all}"
        );
        assert!(all.contains("FROM events JOIN w USING (id) WHERE"), "{all}");
    }

    #[test]
    fn every_word_is_quoted_in_both_syntaxes() {
        let q = TextQuery::parse(r#"card* "card declined" NEAR OR payout.reversed"#).unwrap();
        assert_eq!(
            fts5(&q),
            r#""card"* "card declined" "near" "or" "payout" "reversed""#
        );
        assert_eq!(
            tsquery(&q),
            "('card':*) & ('card' & 'declined') & ('near') & ('or') & ('payout') & ('reversed')"
        );
    }
}
