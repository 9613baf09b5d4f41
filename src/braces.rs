//! The one placeholder syntax of every template in hookwatch — the enrichment query, the
//! `signed` content of a configured signature scheme, a source's response body: literal
//! text, `{name}` placeholders, and `{{` / `}}` for literal braces.
//!
//! This module only splits the text. Each template decides which names it knows, so an
//! unknown one is reported with that template's own list. Pure.

/// A run of literal text, or a placeholder's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Never empty; `{{` and `}}` already read as single braces.
    Literal(String),
    /// The text between `{` and the next `}`.
    Placeholder(&'a str),
}

/// Why a template's braces do not pair up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BraceError {
    #[error("a `{{` is never closed (write `{{{{` for a literal brace)")]
    Unclosed,
    #[error("a `}}` has no opening `{{` (write `}}}}` for a literal brace)")]
    StrayClose,
}

/// `text` as literal runs and placeholders, in order.
pub fn split(text: &str) -> Result<Vec<Piece<'_>>, BraceError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") || rest.starts_with("}}") {
            literal.push(c);
            rest = &rest[2..];
        } else if c == '}' {
            return Err(BraceError::StrayClose);
        } else if c == '{' {
            let end = rest.find('}').ok_or(BraceError::Unclosed)?;
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Placeholder(&rest[1..end]));
            rest = &rest[end + 1..];
        } else {
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_placeholders_come_in_order() {
        assert_eq!(
            split("{timestamp}.{body}"),
            Ok(vec![
                Piece::Placeholder("timestamp"),
                Piece::Literal(".".into()),
                Piece::Placeholder("body"),
            ])
        );
        assert_eq!(split(""), Ok(vec![]));
        assert_eq!(split("plain é"), Ok(vec![Piece::Literal("plain é".into())]));
    }

    #[test]
    fn doubled_braces_are_literal_braces() {
        assert_eq!(
            split("{{x}} {id}"),
            Ok(vec![
                Piece::Literal("{x} ".into()),
                Piece::Placeholder("id")
            ])
        );
    }

    #[test]
    fn unpaired_braces_are_errors() {
        assert_eq!(split("{body"), Err(BraceError::Unclosed));
        assert_eq!(split("body}"), Err(BraceError::StrayClose));
        assert_eq!(split("{a}}"), Err(BraceError::StrayClose));
    }
}
