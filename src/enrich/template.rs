//! The query template: the text sent to the search service for one event.
//!
//! Grammar: literal text with placeholders in braces.
//!
//! | placeholder | value |
//! | --- | --- |
//! | `{source}` | the source name |
//! | `{event_type}` | the event type (empty when unknown) |
//! | `{provider}` | the provider name |
//! | `{/json/pointer}` | a scalar in the parsed body (RFC 6901; empty when absent or not a scalar) |
//!
//! `{{` and `}}` stand for literal braces. The template is parsed once at start-up, so a typo
//! stops start-up instead of producing odd queries. Rendering is pure. Body values come from
//! the sender, so each is cut to `MAX_VALUE_CHARS`, control characters become spaces, runs of
//! whitespace collapse, and the whole query is cut to `MAX_QUERY_CHARS`.

use serde_json::Value;

use crate::braces::{self, BraceError, Piece};

/// The query when none is configured.
pub const DEFAULT_QUERY: &str = "{source} {event_type} troubleshooting documentation";
/// Longest text one placeholder contributes; a sender must not be able to send huge queries.
const MAX_VALUE_CHARS: usize = 200;
/// Longest query sent; search services refuse or truncate longer ones anyway.
const MAX_QUERY_CHARS: usize = 400;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Source,
    EventType,
    Provider,
    Pointer(String),
}

/// Why a template cannot be used; shown at start-up with the config key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error(transparent)]
    Braces(#[from] BraceError),
    #[error(
        "unknown placeholder `{{{0}}}`: use {{source}}, {{event_type}}, {{provider}} or a JSON \
         pointer like {{/data/object/failure_code}}"
    )]
    Unknown(String),
    #[error("the query is empty")]
    Empty,
}

/// What a template is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub source: &'a str,
    pub event_type: Option<&'a str>,
    pub provider: &'a str,
    /// The parsed body, when it is JSON or a form.
    pub body: Option<&'a Value>,
}

impl Template {
    /// Parses a template; see the module doc for the grammar.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        if text.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        let parts = braces::split(text)?
            .into_iter()
            .map(|piece| match piece {
                Piece::Literal(text) => Ok(Part::Text(text)),
                Piece::Placeholder(name) => placeholder(name),
            })
            .collect::<Result<Vec<Part>, TemplateError>>()?;
        Ok(Template {
            text: text.to_string(),
            parts,
        })
    }

    /// The template as written, for `check-config`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The query for one event.
    pub fn render(&self, cx: &Context) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Source => out.push_str(&clean(cx.source)),
                Part::EventType => out.push_str(&clean(cx.event_type.unwrap_or(""))),
                Part::Provider => out.push_str(&clean(cx.provider)),
                Part::Pointer(p) => {
                    let value = cx.body.and_then(|b| b.pointer(p)).and_then(scalar);
                    out.push_str(&clean(&value.unwrap_or_default()));
                }
            }
        }
        let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
        collapsed.chars().take(MAX_QUERY_CHARS).collect()
    }
}

impl Default for Template {
    fn default() -> Template {
        Template::parse(DEFAULT_QUERY).unwrap_or_else(|_| Template {
            text: String::new(),
            parts: Vec::new(),
        })
    }
}

fn placeholder(name: &str) -> Result<Part, TemplateError> {
    match name {
        "source" => Ok(Part::Source),
        "event_type" => Ok(Part::EventType),
        "provider" => Ok(Part::Provider),
        p if p.starts_with('/') => Ok(Part::Pointer(p.to_string())),
        other => Err(TemplateError::Unknown(other.to_string())),
    }
}

/// Strings, numbers and booleans as text; objects, arrays and null contribute nothing.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A value from the event made safe to put in a query.
fn clean(value: &str) -> String {
    value
        .chars()
        .take(MAX_VALUE_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cx<'a>(body: Option<&'a Value>) -> Context<'a> {
        Context {
            source: "stripe",
            event_type: Some("charge.failed"),
            provider: "stripe",
            body,
        }
    }

    #[test]
    fn the_default_query_names_source_and_type() {
        let t = Template::default();
        assert_eq!(
            t.render(&cx(None)),
            "stripe charge.failed troubleshooting documentation"
        );
    }

    #[test]
    fn a_json_pointer_reads_the_body() {
        let body = json!({"data": {"object": {"failure_code": "card_declined", "amount": 42}}});
        let t = Template::parse("{provider} {/data/object/failure_code} {/data/object/amount}")
            .unwrap();
        assert_eq!(t.render(&cx(Some(&body))), "stripe card_declined 42");
    }

    #[test]
    fn missing_values_leave_no_double_spaces() {
        let t = Template::parse("{source} {/nope} {event_type} docs").unwrap();
        let mut c = cx(None);
        c.event_type = None;
        assert_eq!(t.render(&c), "stripe docs");
    }

    #[test]
    fn objects_are_not_spliced_and_sender_text_is_bounded() {
        let long = "x".repeat(5000);
        let body = json!({"o": {"a": 1}, "long": long, "nl": "a\nb\tc"});
        let t = Template::parse("{/o}|{/nl}|{/long}").unwrap();
        let q = t.render(&cx(Some(&body)));
        assert!(q.starts_with("|a b c|x"), "{q}");
        assert_eq!(q.chars().count(), "|a b c|".len() + MAX_VALUE_CHARS);
        let t = Template::parse("{/long}{/long}{/long}").unwrap();
        assert_eq!(t.render(&cx(Some(&body))).chars().count(), MAX_QUERY_CHARS);
    }

    #[test]
    fn braces_can_be_escaped_and_typos_are_errors() {
        let t = Template::parse("{{literal}} {source}").unwrap();
        assert_eq!(t.render(&cx(None)), "{literal} stripe");
        assert_eq!(
            Template::parse("{sauce}"),
            Err(TemplateError::Unknown("sauce".into()))
        );
        assert_eq!(
            Template::parse("{source"),
            Err(TemplateError::Braces(BraceError::Unclosed))
        );
        assert_eq!(
            Template::parse("source}"),
            Err(TemplateError::Braces(BraceError::StrayClose))
        );
        assert_eq!(Template::parse("  "), Err(TemplateError::Empty));
    }
}
