//! Full-text search: what an event's searchable text is, and what a `q` asks for.
//!
//! Both sides cut text into words the same way: a word is a run of letters and digits (any
//! script), lower-cased, so `payout.reversed` holds the words `payout` and `reversed` and `É`
//! finds `é`. There is no stemming. PostgreSQL indexes an event's `distinct_words` (a set,
//! without positions: the cheapest index to build on ingest), so a phrase is checked against
//! the text itself afterwards (`phrases`, `occurs`); SQLite's FTS5 tokenizer (`unicode61`) cuts and
//! folds `indexed_text` itself the same way, in C, and keeps positions. The storage backends
//! render a `TextQuery` in their own syntax, always quoting every word, so nothing the caller
//! types is read as search-engine syntax.
//!
//! `q` grammar: terms separated by spaces, all of which must occur.
//!
//! ```text
//! TERM = "words in quotes"   a phrase: these words next to each other, in this order
//!      | WORD*               words starting with WORD
//!      | TEXT                each of its words (payout.reversed: payout and reversed)
//! ```
//!
//! A quote left open runs to the end. `OR`, `NOT`, `NEAR`, `-`, `:`, `^` and parentheses are
//! plain text, so they are words or separators like any other. A `q` with no word in it is
//! refused, and so is one too long to be a search.

use std::collections::HashSet;

/// The longest `q` accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// The most terms a `q` may hold.
pub const MAX_TERMS: usize = 32;
/// Words longer than this (in characters) are not indexed: they are data (keys, base64), not
/// text anyone types.
pub const MAX_WORD_CHARS: usize = 500;
/// How much of a body's text is indexed, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// One term of a query: words that must occur in order, next to each other; with `prefix`,
/// the last one only needs to start with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub words: Vec<String>,
    pub prefix: bool,
}

/// A parsed `q`: every term must occur.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    pub terms: Vec<Term>,
}

/// Why a `q` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("there is nothing to search for: no letters or digits")]
    Nothing,
    #[error("it is longer than {MAX_QUERY_CHARS} characters")]
    TooLong,
    #[error("it has more than {MAX_TERMS} terms")]
    TooManyTerms,
}

impl TextQuery {
    /// Parses a `q` (see the module doc).
    pub fn parse(q: &str) -> Result<TextQuery, TextError> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(TextError::TooLong);
        }
        let mut terms = Vec::new();
        for (index, part) in q.split('"').enumerate() {
            let quoted = index % 2 == 1;
            if quoted {
                terms.extend(term(part, false));
                continue;
            }
            for token in part.split_whitespace() {
                let prefix = token.ends_with('*');
                let mut words: Vec<String> = words(token).collect();
                let last = words.pop();
                terms.extend(words.into_iter().map(|w| Term {
                    words: vec![w],
                    prefix: false,
                }));
                terms.extend(last.map(|w| Term {
                    words: vec![w],
                    prefix,
                }));
            }
        }
        if terms.is_empty() {
            return Err(TextError::Nothing);
        }
        if terms.len() > MAX_TERMS {
            return Err(TextError::TooManyTerms);
        }
        Ok(TextQuery { terms })
    }

    /// The query's phrases (terms of several words) alone, when it has any: what an index
    /// without word positions cannot check.
    pub fn phrases(&self) -> Option<TextQuery> {
        let terms: Vec<Term> = self
            .terms
            .iter()
            .filter(|t| t.words.len() > 1)
            .cloned()
            .collect();
        (!terms.is_empty()).then_some(TextQuery { terms })
    }

    /// Whether every term occurs in the event's type or in its body's text (as
    /// `indexed_text`): what the index answers, for events it does not hold yet.
    pub fn occurs(&self, event_type: Option<&str>, body: &[u8]) -> bool {
        let type_words: Vec<String> = words(event_type.unwrap_or("")).collect();
        let body_words: Vec<String> = words(indexed_text(body)).collect();
        self.terms
            .iter()
            .all(|t| t.occurs_in(&type_words) || t.occurs_in(&body_words))
    }
}

impl Term {
    /// Whether these words occur in `text`, next to each other (the last by prefix when the
    /// term is one).
    fn occurs_in(&self, text: &[String]) -> bool {
        let last = self.words.len() - 1;
        text.windows(self.words.len()).any(|window| {
            window
                .iter()
                .zip(&self.words)
                .enumerate()
                .all(|(i, (have, want))| {
                    if self.prefix && i == last {
                        have.starts_with(want.as_str())
                    } else {
                        have == want
                    }
                })
        })
    }
}

fn term(text: &str, prefix: bool) -> Option<Term> {
    let words: Vec<String> = words(text).collect();
    (!words.is_empty()).then_some(Term { words, prefix })
}

/// The words of a text, lower-cased. Lower-casing may add a combining mark (`İ` becomes `i`
/// and a dot above), which is not part of a word, so it is left out.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .map(|w| {
            w.to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
}

/// The part of a body that is searched: its text when it is UTF-8 (else nothing), cut at
/// `MAX_DOCUMENT_BYTES` on a character boundary.
pub fn indexed_text(body: &[u8]) -> &str {
    let Ok(text) = std::str::from_utf8(body) else {
        return "";
    };
    let mut end = text.len().min(MAX_DOCUMENT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The searchable words of an event, each once: those of its type and of its body when the
/// body is text (UTF-8), lower-cased and separated by single spaces, without words too long
/// to be searched. A binary body contributes nothing.
pub fn distinct_words(event_type: Option<&str>, body: &[u8]) -> String {
    let body = indexed_text(body);
    let mut seen = HashSet::new();
    let mut out = String::new();
    let all = words(event_type.unwrap_or("")).chain(words(body));
    for word in all.filter(|w| w.chars().count() <= MAX_WORD_CHARS) {
        if seen.contains(&word) {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
        seen.insert(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn t(words: &[&str], prefix: bool) -> Term {
        Term {
            words: words.iter().map(|w| w.to_string()).collect(),
            prefix,
        }
    }

    #[test]
    fn words_prefixes_and_phrases() {
        let q = TextQuery::parse(r#"Card* "card  Declined" payout.rev*"#).unwrap();
        assert_eq!(
            q.terms,
            vec![
                t(&["card"], true),
                t(&["card", "declined"], false),
                t(&["payout"], false),
                t(&["rev"], true)
            ]
        );
    }

    #[test]
    fn a_query_is_checked_against_the_text_itself() {
        let q = TextQuery::parse(r#"card "card declined" "pay.out reversed""#).unwrap();
        let body = br#"{"m":"Card DECLINED","t":"pay-out reversed"}"#;
        assert!(q.occurs(None, body));
        assert!(!q.occurs(None, br#"{"m":"declined card","t":"pay-out reversed"}"#));
        assert!(q.occurs(Some("card.declined"), br#"{"t":"pay out reversed"}"#));
        assert!(!q.occurs(Some("card.declined"), br#"{"t":"pay out revoked"}"#));
        assert!(!q.occurs(Some("card.declined"), &[0xff, b'p']));
        let prefix = TextQuery {
            terms: vec![Term {
                words: vec!["pay".into(), "rev".into()],
                prefix: true,
            }],
        };
        assert!(prefix.occurs(None, b"pay reversed"));
        assert!(!prefix.occurs(None, b"pay unreversed"));
        let words = TextQuery::parse("card decl* 42").unwrap();
        assert!(words.occurs(
            Some("charge.failed"),
            br#"{"r":"Declined","c":"card","n":42}"#
        ));
        assert!(!words.occurs(None, br#"{"r":"Declined","c":"card","n":421}"#));
        assert!(!words.occurs(None, b""));
    }

    #[test]
    fn lower_casing_leaves_only_letters_and_digits() {
        let words: Vec<String> = words("İstanbul ÉCOLE").collect();
        assert_eq!(words, ["istanbul", "école"]);
    }

    #[test]
    fn only_phrases_are_left_for_an_index_without_positions() {
        let q = TextQuery::parse(r#"card "card declined" x*"#).unwrap();
        assert_eq!(
            q.phrases(),
            Some(TextQuery::parse(r#""card declined""#).unwrap())
        );
        assert_eq!(TextQuery::parse("card declined").unwrap().phrases(), None);
    }

    #[test]
    fn search_engine_syntax_is_plain_text() {
        let q = TextQuery::parse("a OR b NOT c NEAR(d e) -f ^g h:i").unwrap();
        let words: Vec<&str> = q
            .terms
            .iter()
            .flat_map(|t| t.words.iter().map(String::as_str))
            .collect();
        assert_eq!(
            words,
            [
                "a", "or", "b", "not", "c", "near", "d", "e", "f", "g", "h", "i"
            ]
        );
    }

    #[test]
    fn an_open_quote_runs_to_the_end() {
        let q = TextQuery::parse(r#"x "card declined"#).unwrap();
        assert_eq!(
            q.terms,
            vec![t(&["x"], false), t(&["card", "declined"], false)]
        );
    }

    #[test]
    fn nothing_searchable_is_refused() {
        for q in ["", "*", "  ", "\"\"", "-- () :^ *", "\" *"] {
            assert_eq!(TextQuery::parse(q), Err(TextError::Nothing), "{q:?}");
        }
        assert_eq!(
            TextQuery::parse(&"a".repeat(10_000)),
            Err(TextError::TooLong)
        );
        let many = vec!["w"; MAX_TERMS + 1].join(" ");
        assert_eq!(TextQuery::parse(&many), Err(TextError::TooManyTerms));
    }

    #[test]
    fn unicode_case_folds() {
        let q = TextQuery::parse("ÉCOLE Straße").unwrap();
        assert_eq!(q.terms, vec![t(&["école"], false), t(&["straße"], false)]);
        assert_eq!(
            distinct_words(
                Some("payout.reversed"),
                "{\"Ville\":\"ÉVRY\",\"v\":\"Évry\"}".as_bytes()
            ),
            "payout reversed ville évry v"
        );
    }

    #[test]
    fn the_indexed_text_is_cut_on_a_character_boundary() {
        assert_eq!(indexed_text(&[0xff, b'a']), "");
        let body = format!("{}é", "a".repeat(MAX_DOCUMENT_BYTES - 1));
        assert_eq!(indexed_text(body.as_bytes()).len(), MAX_DOCUMENT_BYTES - 1);
    }

    #[test]
    fn a_binary_body_adds_nothing_and_long_words_are_left_out() {
        assert_eq!(distinct_words(Some("x"), &[0xff, 0xfe, b'a']), "x");
        let long = "z".repeat(MAX_WORD_CHARS + 1);
        assert_eq!(
            distinct_words(None, format!("a {long} b").as_bytes()),
            "a b"
        );
        let big: String = (0..100_000).map(|n| format!("w{n} ")).collect();
        assert!(distinct_words(None, big.as_bytes()).len() <= MAX_DOCUMENT_BYTES);
    }

    proptest! {
        #[test]
        fn any_q_parses_or_is_refused_and_terms_hold_only_words(q in "\\PC{0,80}") {
            if let Ok(query) = TextQuery::parse(&q) {
                for term in &query.terms {
                    prop_assert!(!term.words.is_empty());
                    for word in &term.words {
                        prop_assert!(!word.is_empty());
                        prop_assert!(word.chars().all(char::is_alphanumeric));
                    }
                }
            }
        }
    }
}
