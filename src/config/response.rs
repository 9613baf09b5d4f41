//! `[sources.NAME.response]`: the answer a source's senders get once their delivery is
//! committed, for senders that expect a particular status or body, or to test a sender's
//! timeout with a delay.
//!
//! Resolved at start-up: the status must be 200–599 (a non-2xx answer is allowed, and senders
//! will retry the delivery), the body template may use `{event_id}` and `{delivery_id}` (and
//! `{{`, `}}` for braces), headers must be valid and may not replace the framing headers, and
//! the delay is capped at [`MAX_DELAY_MS`]. Pure data: the HTTP edge sends it.

use std::time::Duration;

use super::file::ResponseFile;
use super::source::Problem;
use crate::braces;
use crate::verify::is_header_name;

/// The longest configurable delay: long enough to pass most senders' timeouts, short enough
/// that a typo cannot hold connections for minutes.
pub const MAX_DELAY_MS: u64 = 30_000;

/// Headers a configured response may not set: hookwatch frames the answer itself, and the
/// content type has its own key.
const RESERVED: [&str; 4] = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// A source's configured answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseSettings {
    pub status: u16,
    /// `None`: the default JSON answer, with `status`.
    pub body: Option<BodyTemplate>,
    /// `None`: `application/json` for the default body, `text/plain; charset=utf-8` for a
    /// configured one.
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
}

/// A parsed response body template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyTemplate(Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    EventId,
    DeliveryId,
}

impl BodyTemplate {
    /// Parses `body`; the error names what is wrong.
    pub fn parse(text: &str) -> Result<BodyTemplate, String> {
        let pieces = braces::split(text).map_err(|e| e.to_string())?;
        let pieces = pieces.into_iter().map(|piece| match piece {
            braces::Piece::Literal(text) => Ok(Piece::Literal(text)),
            braces::Piece::Placeholder("event_id") => Ok(Piece::EventId),
            braces::Piece::Placeholder("delivery_id") => Ok(Piece::DeliveryId),
            braces::Piece::Placeholder(other) => Err(format!(
                "unknown placeholder `{{{other}}}` (use {{event_id}} or {{delivery_id}})"
            )),
        });
        Ok(BodyTemplate(pieces.collect::<Result<_, _>>()?))
    }

    /// The body for one event; a delivery without an id gives an empty `{delivery_id}`.
    pub fn render(&self, event_id: i64, delivery_id: Option<&str>) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Literal(text) => out += text,
                Piece::EventId => out += &event_id.to_string(),
                Piece::DeliveryId => out += delivery_id.unwrap_or(""),
            }
        }
        out
    }
}

/// Resolves the table.
pub(super) fn resolve(raw: &ResponseFile) -> Result<ResponseSettings, Problem> {
    let status = raw.status.unwrap_or(200);
    if !(200..=599).contains(&status) {
        return Err((
            "response.status",
            format!("{status} is not a status hookwatch can answer with (200 to 599)"),
        ));
    }
    let body = raw
        .body
        .as_deref()
        .map(BodyTemplate::parse)
        .transpose()
        .map_err(|e| ("response.body", e))?;
    let delay_ms = raw.delay_ms.unwrap_or(0);
    if delay_ms > MAX_DELAY_MS {
        return Err((
            "response.delay_ms",
            format!("{delay_ms} is above the cap of {MAX_DELAY_MS} ms"),
        ));
    }
    if let Some(ct) = &raw.content_type
        && !is_header_value(ct)
    {
        return Err(("response.content_type", "not a valid header value".into()));
    }
    let mut headers = Vec::new();
    for (name, value) in raw.headers.iter().flatten() {
        if !is_header_name(name) {
            return Err(("response.headers", format!("`{name}` is not a header name")));
        }
        if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
            return Err((
                "response.headers",
                format!("`{name}` is set by hookwatch (use `content_type` for the type)"),
            ));
        }
        if !is_header_value(value) {
            return Err((
                "response.headers",
                format!("the value of `{name}` is not a valid header value"),
            ));
        }
        headers.push((name.clone(), value.clone()));
    }
    Ok(ResponseSettings {
        status,
        body,
        content_type: raw.content_type.clone(),
        headers,
        delay: Duration::from_millis(delay_ms),
    })
}

/// Visible ASCII, spaces and tabs: no line breaks that could split the answer.
fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_template_fills_in_the_ids_and_keeps_doubled_braces() {
        let t = BodyTemplate::parse("{{\"id\":{event_id},\"d\":\"{delivery_id}\"}}").unwrap();
        assert_eq!(t.render(7, Some("evt_1")), "{\"id\":7,\"d\":\"evt_1\"}");
        assert_eq!(t.render(7, None), "{\"id\":7,\"d\":\"\"}");
    }

    #[test]
    fn an_unknown_body_placeholder_is_an_error_naming_it() {
        let error = BodyTemplate::parse("ok {event}").unwrap_err();
        assert!(error.contains("`{event}`"), "{error}");
        assert!(BodyTemplate::parse("{event_id").is_err());
        assert!(BodyTemplate::parse("}").is_err());
    }

    #[test]
    fn status_delay_and_headers_are_checked() {
        let bad = |raw: ResponseFile| resolve(&raw).unwrap_err().0;
        let status = |s| ResponseFile {
            status: Some(s),
            ..ResponseFile::default()
        };
        assert_eq!(bad(status(199)), "response.status");
        assert_eq!(bad(status(600)), "response.status");
        assert_eq!(resolve(&status(503)).unwrap().status, 503);
        let delay = |ms| ResponseFile {
            delay_ms: Some(ms),
            ..ResponseFile::default()
        };
        assert_eq!(bad(delay(30_001)), "response.delay_ms");
        assert!(resolve(&delay(30_000)).is_ok());
        let header = |name: &str, value: &str| ResponseFile {
            headers: Some([(name.to_string(), value.to_string())].into()),
            ..ResponseFile::default()
        };
        assert_eq!(bad(header("Content-Length", "1")), "response.headers");
        assert_eq!(bad(header("X-A", "a\r\nb")), "response.headers");
        assert_eq!(bad(header("X A", "a")), "response.headers");
        assert!(resolve(&header("X-Handled-By", "hookwatch")).is_ok());
    }
}
