//! Per-source overrides of where the event type or delivery id is read.
//!
//! Grammar of an override string (parsed once, at start-up, so a typo stops the server with a
//! message instead of silently extracting nothing):
//!
//! ```text
//! rule    = pointer | "header:" name
//! pointer = "/" …          ; an RFC 6901 JSON pointer: "~" only as "~0" ("~") or "~1" ("/")
//! name    = 1*tchar        ; an HTTP header name (RFC 9110 token), matched case-insensitively
//! ```
//!
//! `"/data/kind"` reads the parsed body (for a form delivery whose JSON sits in one `payload`
//! field, the inner JSON first, then the form itself, so `/payload` still works);
//! `"header:x-hook-id"` reads the first such header. A target that is a string or a number
//! counts (numbers as their JSON text), capped like every extracted value; anything else, or
//! nothing there, gives no value. There is no fallback to the provider's default: the
//! configured place is the only place, so what a user sees is what they configured.
//!
//! Pure: no I/O, no tokio, axum or SQL. Entry points: [`FieldRule`]'s `FromStr`, and `read`.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::model::Header;

use super::field::{header_text, scalar_text};

const HEADER_PREFIX: &str = "header:";

/// A per-source override of where a field is read: `"/data/kind"` (a JSON pointer into the
/// parsed body) or `"header:x-hook-id"` (a header, case-insensitive). Lets users of senders
/// hookwatch does not know still get types and dedup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRule {
    /// An RFC 6901 JSON pointer, starting with `/`.
    Pointer(String),
    /// A header name, stored lower-case.
    Header(String),
}

/// Why an override string in the config is not a valid [`FieldRule`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error(
        "is empty; use a JSON pointer such as `/data/kind` or a header such as `header:x-hook-id`"
    )]
    Empty,
    #[error(
        "`{0}` is neither a JSON pointer (it must start with `/`, such as `/data/kind`) nor a header (`header:x-hook-id`)"
    )]
    Unrecognised(String),
    #[error("`header:` needs a header name after the colon, such as `header:x-hook-id`")]
    EmptyHeader,
    #[error("`{0}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)")]
    BadHeaderName(String),
    #[error(
        "`{0}` is not a valid JSON pointer: `~` must be followed by 0 or 1 (`~0` is `~`, `~1` is `/`)"
    )]
    BadPointer(String),
}

impl FromStr for FieldRule {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(RuleError::Empty);
        }
        if let Some(name) = s.strip_prefix(HEADER_PREFIX) {
            return header_rule(name);
        }
        if s.starts_with('/') {
            return pointer_rule(s);
        }
        Err(RuleError::Unrecognised(s.to_owned()))
    }
}

/// Shows the rule as it is written in the config, for messages and `check-config`.
impl fmt::Display for FieldRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldRule::Pointer(p) => f.write_str(p),
            FieldRule::Header(h) => write!(f, "{HEADER_PREFIX}{h}"),
        }
    }
}

impl FieldRule {
    /// The value the rule points at in this delivery. `doc` is the readable document
    /// (`field::document`), `body` the parsed body it came from; pointers try `doc` first.
    pub(crate) fn read(
        &self,
        headers: &[Header],
        doc: Option<&Value>,
        body: Option<&Value>,
    ) -> Option<String> {
        match self {
            FieldRule::Header(name) => header_text(headers, name),
            FieldRule::Pointer(p) => scalar_text(doc.and_then(|d| d.pointer(p)))
                .or_else(|| scalar_text(body.and_then(|b| b.pointer(p)))),
        }
    }
}

fn header_rule(name: &str) -> Result<FieldRule, RuleError> {
    if name.is_empty() {
        return Err(RuleError::EmptyHeader);
    }
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !name.chars().all(tchar) {
        return Err(RuleError::BadHeaderName(name.to_owned()));
    }
    Ok(FieldRule::Header(name.to_ascii_lowercase()))
}

fn pointer_rule(pointer: &str) -> Result<FieldRule, RuleError> {
    let mut rest = pointer;
    while let Some(i) = rest.find('~') {
        rest = &rest[i + 1..];
        if !(rest.starts_with('0') || rest.starts_with('1')) {
            return Err(RuleError::BadPointer(pointer.to_owned()));
        }
    }
    Ok(FieldRule::Pointer(pointer.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_and_headers_parse_and_display_as_written() {
        let p: Result<FieldRule, _> = "/data/kind".parse();
        assert_eq!(p, Ok(FieldRule::Pointer("/data/kind".to_owned())));
        let h: Result<FieldRule, _> = "header:X-Hook-Id".parse();
        assert_eq!(h, Ok(FieldRule::Header("x-hook-id".to_owned())));
        assert_eq!(h.map(|r| r.to_string()).as_deref(), Ok("header:x-hook-id"));
        assert!("/a~0b/c~1d".parse::<FieldRule>().is_ok());
    }

    #[test]
    fn bad_override_strings_give_errors_that_say_what_to_write() {
        let err = |s: &str| s.parse::<FieldRule>().err();
        assert_eq!(
            err("data/kind"),
            Some(RuleError::Unrecognised("data/kind".to_owned()))
        );
        assert_eq!(err("header:"), Some(RuleError::EmptyHeader));
        assert_eq!(err(""), Some(RuleError::Empty));
        assert_eq!(
            err("header:x hook"),
            Some(RuleError::BadHeaderName("x hook".to_owned()))
        );
        assert_eq!(err("/a~2"), Some(RuleError::BadPointer("/a~2".to_owned())));
        assert_eq!(err("/a~"), Some(RuleError::BadPointer("/a~".to_owned())));
        let message = err("data/kind").map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("must start with `/`"), "{message}");
    }
}
