//! Field filters: one condition on a value inside an event's body or headers.
//!
//! Grammar:
//!
//! ```text
//! FILTER  = TARGET OP VALUE
//! TARGET  = POINTER | "header:" NAME
//! POINTER = ("/" TOKEN)+            JSON pointer (RFC 6901): "~0" is "~", "~1" is "/"
//! OP      = "=" | "!=" | ">" | ">=" | "<" | "<=" | "~="
//! VALUE   = any text, possibly empty, not starting with = < > ! ~
//! ```
//!
//! The target ends at the first operator: the first `=`, `<` or `>`, or a `!` or `~` followed
//! by `=`. The operator is the whole run of operator characters there, so `=>`, `<>` and `==`
//! are refused as unknown rather than read as `=` followed by a value starting with `>`. The
//! header name is case-insensitive (kept lower-case). An empty pointer (the whole body) is
//! refused: compare a field, not the document.
//!
//! Semantics (`matches`):
//! - `=` / `!=` compare the field as text, case-sensitively: a JSON string without its quotes,
//!   a number, `true`, `false` or `null` as written (an object or array as compact JSON).
//!   A missing field is `!=` anything; `!=` is exactly "not `=`".
//! - `>`, `>=`, `<`, `<=` need a numeric VALUE (checked when parsing) and hold only where the
//!   field is a number or a string that reads as one.
//! - `~=` holds where the field's text contains VALUE, case-insensitively.
//! - Form bodies are addressed like JSON objects (`/MessageStatus`); the caller hands over
//!   the body already parsed. A header sent several times matches if any of its values does.

use std::fmt;

use serde_json::Value;

/// What a filter looks at.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A JSON pointer into the body, as written (escapes kept).
    Pointer(String),
    /// A header, by lower-case name.
    Header(String),
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Contains,
}

impl Op {
    const ALL: [Op; 7] = [Op::Eq, Op::Ne, Op::Gt, Op::Ge, Op::Lt, Op::Le, Op::Contains];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Contains => "~=",
        }
    }

    fn is_numeric(self) -> bool {
        matches!(self, Op::Gt | Op::Ge | Op::Lt | Op::Le)
    }
}

/// One parsed `field` filter.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFilter {
    pub target: Target,
    pub op: Op,
    pub value: String,
    /// VALUE as a number, for the numeric operators.
    number: Option<f64>,
}

/// Why a filter could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FieldError {
    #[error("no operator: write POINTER OP VALUE with OP one of = != > >= < <= ~=")]
    NoOperator,
    #[error("unknown operator `{0}`: use one of = != > >= < <= ~=")]
    UnknownOperator(String),
    #[error("the pointer is empty: start it with / (a JSON pointer) or header:NAME")]
    EmptyPointer,
    #[error("`{0}` is not a JSON pointer: it starts with / and escapes ~ as ~0, / as ~1")]
    BadPointer(String),
    #[error("`header:` needs a header name")]
    NoHeaderName,
    #[error("`{value}` is not a number, which `{op}` compares with")]
    NotNumeric { op: &'static str, value: String },
}

impl FieldFilter {
    /// Parses `POINTER OP VALUE` (see the module doc).
    pub fn parse(text: &str) -> Result<FieldFilter, FieldError> {
        let start = operator_start(text).ok_or(FieldError::NoOperator)?;
        let (target_text, rest) = text.split_at(start);
        let run_len = rest
            .find(|c: char| !is_operator_char(c))
            .unwrap_or(rest.len());
        let (op_text, value) = rest.split_at(run_len);
        let op = Op::ALL
            .into_iter()
            .find(|op| op.as_str() == op_text)
            .ok_or_else(|| FieldError::UnknownOperator(op_text.to_string()))?;
        let target = parse_target(target_text)?;
        let number = if op.is_numeric() {
            Some(number(value).ok_or_else(|| FieldError::NotNumeric {
                op: op.as_str(),
                value: value.to_string(),
            })?)
        } else {
            None
        };
        Ok(FieldFilter {
            target,
            op,
            value: value.to_string(),
            number,
        })
    }

    /// Whether the filter holds for an event: its body as parsed JSON or form (or `None` when
    /// it is neither) and its headers (lower-case names).
    pub fn matches(&self, body: Option<&Value>, headers: &[(String, String)]) -> bool {
        let found: Vec<Found> = match &self.target {
            Target::Pointer(pointer) => body
                .and_then(|b| b.pointer(pointer))
                .map(Found::Json)
                .into_iter()
                .collect(),
            Target::Header(name) => headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| Found::Text(v))
                .collect(),
        };
        match self.op {
            Op::Ne => !found.iter().any(|f| f.text() == self.value),
            _ => found.iter().any(|f| self.holds(f)),
        }
    }

    fn holds(&self, found: &Found) -> bool {
        let compare = |want: f64| found.number().map(|have| have.partial_cmp(&want));
        match (self.op, self.number) {
            (Op::Eq, _) => found.text() == self.value,
            (Op::Ne, _) => found.text() != self.value,
            (Op::Contains, _) => found
                .text()
                .to_lowercase()
                .contains(&self.value.to_lowercase()),
            (Op::Gt, Some(n)) => compare(n).is_some_and(|o| o.is_some_and(|o| o.is_gt())),
            (Op::Ge, Some(n)) => compare(n).is_some_and(|o| o.is_some_and(|o| o.is_ge())),
            (Op::Lt, Some(n)) => compare(n).is_some_and(|o| o.is_some_and(|o| o.is_lt())),
            (Op::Le, Some(n)) => compare(n).is_some_and(|o| o.is_some_and(|o| o.is_le())),
            (_, None) => false,
        }
    }
}

impl fmt::Display for FieldFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Pointer(p) => write!(f, "{p}")?,
            Target::Header(name) => write!(f, "header:{name}")?,
        }
        write!(f, "{}{}", self.op.as_str(), self.value)
    }
}

/// A value found at the target.
enum Found<'a> {
    Json(&'a Value),
    Text(&'a str),
}

impl Found<'_> {
    fn text(&self) -> String {
        match self {
            Found::Json(Value::String(s)) => s.clone(),
            Found::Json(other) => other.to_string(),
            Found::Text(s) => s.to_string(),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Found::Json(Value::Number(n)) => n.to_string().parse().ok(),
            Found::Json(Value::String(s)) => number(s),
            Found::Json(_) => None,
            Found::Text(s) => number(s),
        }
    }
}

fn is_operator_char(c: char) -> bool {
    matches!(c, '=' | '<' | '>' | '!' | '~')
}

/// Where the first operator starts: `=`, `<`, `>`, or `!`/`~` followed by `=`.
fn operator_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&i| match bytes[i] {
        b'=' | b'<' | b'>' => true,
        b'!' | b'~' => bytes.get(i + 1) == Some(&b'='),
        _ => false,
    })
}

fn parse_target(text: &str) -> Result<Target, FieldError> {
    if let Some(name) = text.strip_prefix("header:") {
        let name = name.trim();
        if name.is_empty() {
            return Err(FieldError::NoHeaderName);
        }
        return Ok(Target::Header(name.to_ascii_lowercase()));
    }
    if text.is_empty() {
        return Err(FieldError::EmptyPointer);
    }
    let escapes_ok = text
        .split('~')
        .skip(1)
        .all(|after| after.starts_with(['0', '1']));
    if !text.starts_with('/') || !escapes_ok {
        return Err(FieldError::BadPointer(text.to_string()));
    }
    Ok(Target::Pointer(text.to_string()))
}

/// A finite number written in plain decimal or exponent notation (no `inf` or `NaN`).
fn number(text: &str) -> Option<f64> {
    let text = text.trim();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
    text.parse::<f64>().ok().filter(|n| plain && n.is_finite())
}

#[cfg(test)]
#[path = "field_tests.rs"]
mod tests;
