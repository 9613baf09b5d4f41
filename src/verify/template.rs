//! The `signed` template of a configurable HMAC scheme: which bytes the sender signed, written
//! as text with placeholders, e.g. `"{timestamp}.{body}"`.
//!
//! Grammar: literal text, and placeholders `{body}`, `{timestamp}`, `{url}` and
//! `{header:NAME}` (the first value of that header as sent); `{{` and `}}` are literal braces.
//! Anything else in braces is an error. The template is parsed once, at start-up, into
//! [`Template`]; per request it only lends out slices of the request, so a large body is never
//! copied.

use super::Request;
use crate::braces::{self, BraceError, Piece};
use crate::model::header;

/// One piece of the signed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    Body,
    /// The timestamp header's value as sent.
    Timestamp,
    /// `public_url` + the path and query string as received.
    Url,
    /// The first value of this header; the name is stored lower-case.
    Header(String),
}

/// A parsed `signed` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// Why a template could not be parsed; the text names the offending piece.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "unknown placeholder `{{{0}}}` (use {{body}}, {{timestamp}}, {{url}} or {{header:NAME}})"
    )]
    UnknownPlaceholder(String),
    #[error(transparent)]
    Braces(#[from] BraceError),
    #[error("the template is empty")]
    Empty,
}

impl Template {
    /// Parses the template text.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let parts = braces::split(text)?
            .into_iter()
            .map(|piece| match piece {
                Piece::Literal(text) => Ok(Part::Literal(text)),
                Piece::Placeholder(name) => placeholder(name),
            })
            .collect::<Result<Vec<Part>, TemplateError>>()?;
        if parts.is_empty() {
            return Err(TemplateError::Empty);
        }
        Ok(Template { parts })
    }

    /// The pieces, for config checks (does it use `{timestamp}`, `{url}`?).
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether the template has a placeholder of this kind.
    pub fn uses(&self, part: &Part) -> bool {
        self.parts.contains(part)
    }

    /// The signed content for one request, as borrowed slices in order. `Err` names a header
    /// the template needs that the request does not carry (`{url}` without a URL is a
    /// start-up error, so it cannot happen; it renders empty).
    pub(super) fn render<'a>(
        &'a self,
        req: &Request<'a>,
        timestamp: &'a str,
    ) -> Result<Vec<&'a [u8]>, &'a str> {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => Ok(text.as_bytes()),
                Part::Body => Ok(req.body),
                Part::Timestamp => Ok(timestamp.as_bytes()),
                Part::Url => Ok(req.url.unwrap_or("").as_bytes()),
                Part::Header(name) => header(req.headers, name)
                    .map(str::as_bytes)
                    .ok_or(name.as_str()),
            })
            .collect()
    }
}

fn placeholder(inner: &str) -> Result<Part, TemplateError> {
    match inner {
        "body" => Ok(Part::Body),
        "timestamp" => Ok(Part::Timestamp),
        "url" => Ok(Part::Url),
        _ => match inner.strip_prefix("header:") {
            Some(name) if is_header_name(name) => Ok(Part::Header(name.to_ascii_lowercase())),
            _ => Err(TemplateError::UnknownPlaceholder(inner.to_string())),
        },
    }
}

/// An HTTP header name: one or more token characters (RFC 9110).
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::test_headers;

    #[test]
    fn a_template_mixes_literals_and_placeholders() {
        let t = Template::parse("v0:{timestamp}:{header:X-Id}.{body}{url}").unwrap();
        assert_eq!(
            t.parts(),
            [
                Part::Literal("v0:".into()),
                Part::Timestamp,
                Part::Literal(":".into()),
                Part::Header("x-id".into()),
                Part::Literal(".".into()),
                Part::Body,
                Part::Url,
            ]
        );
    }

    #[test]
    fn doubled_braces_are_literal_braces() {
        let t = Template::parse("{{{body}}}").unwrap();
        assert_eq!(
            t.parts(),
            [
                Part::Literal("{".into()),
                Part::Body,
                Part::Literal("}".into())
            ]
        );
    }

    #[test]
    fn an_unknown_placeholder_is_named_in_the_error() {
        let error = Template::parse("{timestamp}.{bdy}").unwrap_err();
        assert_eq!(error, TemplateError::UnknownPlaceholder("bdy".into()));
        assert!(error.to_string().contains("`{bdy}`"), "{error}");
        for bad in ["{header:}", "{header:a b}", "{}", "{Body}"] {
            assert!(
                matches!(
                    Template::parse(bad),
                    Err(TemplateError::UnknownPlaceholder(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn unbalanced_braces_and_an_empty_template_are_errors() {
        assert_eq!(
            Template::parse("{body"),
            Err(TemplateError::Braces(BraceError::Unclosed))
        );
        assert_eq!(
            Template::parse("body}"),
            Err(TemplateError::Braces(BraceError::StrayClose))
        );
        assert_eq!(Template::parse(""), Err(TemplateError::Empty));
    }

    #[test]
    fn rendering_lends_the_request_bytes_and_names_a_missing_header() {
        let headers = test_headers(&[("X-Id", "42")]);
        let req = Request {
            headers: &headers,
            body: b"{}",
            url: Some("https://h/p"),
            content_type: None,
            query: "",
        };
        let t = Template::parse("{header:x-id}|{timestamp}|{url}|{body}").unwrap();
        let parts = t.render(&req, "7").unwrap();
        assert_eq!(parts.concat(), b"42|7|https://h/p|{}");
        let t = Template::parse("{header:x-other}{body}").unwrap();
        assert_eq!(t.render(&req, "7"), Err("x-other"));
    }
}
