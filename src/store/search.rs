//! A `TextQuery` in each backend's full-text syntax, and where a list query with one reads
//! from.
//!
//! Every word is quoted, so nothing a caller types is read as syntax. The words are already
//! letters and digits only (`search::text`), so no quote can occur inside one; the quoting
//! is what keeps `OR`, `NOT` or `NEAR` plain words.

use crate::search::TextQuery;

/// The SQL dialect a list query is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The n-th (1-based) placeholder.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// The tables a list reads (`bodies`: with each event's headers and body), and the column
    /// it orders and pages by. With a search on SQLite, the FTS5 index drives the query,
    /// newest first, so a common word fills a page after a few rows; its rowid is the event
    /// id.
    pub fn from(self, search: bool, bodies: bool) -> (String, &'static str) {
        let (tables, id) = match (self, search) {
            (_, false) => ("events", "id"),
            (Dialect::Sqlite, true) => (
                "events_fts CROSS JOIN events ON events.id = events_fts.rowid",
                "events_fts.rowid",
            ),
            (Dialect::Postgres, true) => ("events JOIN event_words w USING (id)", "id"),
        };
        let bodies = if bodies {
            " JOIN bodies b USING (id)"
        } else {
            ""
        };
        (format!("{tables}{bodies}"), id)
    }

    /// The condition of a search, with `?` where its one value goes, and that value.
    pub fn matching(self, query: &TextQuery) -> (&'static str, String) {
        match self {
            Dialect::Sqlite => ("events_fts MATCH ?", fts5(query)),
            Dialect::Postgres => ("w.doc @@ ?::text::tsquery", tsquery(query)),
        }
    }
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

/// PostgreSQL: `'card':* & 'card' <-> 'declined'`: quoted lexemes, a phrase joined by
/// `<->`, a prefix marked `:*`, terms joined by `&`.
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
            format!("({})", words.join(" <-> "))
        })
        .collect();
    terms.join(" & ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_is_quoted_in_both_syntaxes() {
        let q = TextQuery::parse(r#"card* "card declined" NEAR OR payout.reversed"#).unwrap();
        assert_eq!(
            fts5(&q),
            r#""card"* "card declined" "near" "or" "payout" "reversed""#
        );
        assert_eq!(
            tsquery(&q),
            "('card':*) & ('card' <-> 'declined') & ('near') & ('or') & ('payout') & ('reversed')"
        );
    }
}
