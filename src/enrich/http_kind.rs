//! The `http` kind: POST the event to a team's own lookup service and keep the JSON it
//! answers. Pure: builds the request body and checks the answer.
//!
//! The request is `{"query", "event"}`: `event` is the summary, or with
//! `include_body = true` also `body`, `raw_body`/`raw_body_base64`. Headers are never sent:
//! they may carry the sender's own credentials.

use serde_json::{Value, json};

use crate::model::Event;
use crate::query::view;

/// Largest answer stored on an event; enrichment is context, not a second payload.
pub const MAX_RESULT_BYTES: usize = 64 * 1024;

/// The JSON body of the request.
pub fn request(event: &Event, query: &str, include_body: bool) -> Value {
    let mut shown = if include_body {
        view::detail(event)
    } else {
        view::summary(event)
    };
    if let Value::Object(map) = &mut shown {
        map.remove("headers");
        map.remove("enrichment");
    }
    json!({ "query": query, "event": shown })
}

/// The answer as stored, unless it is too large to keep.
pub fn result(answer: Value) -> Result<Value, String> {
    let size = answer.to_string().len();
    if size > MAX_RESULT_BYTES {
        return Err(format!(
            "the answer is {size} bytes; at most {MAX_RESULT_BYTES} are stored"
        ));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_answers_are_refused() {
        assert!(result(json!({"ok": true})).is_ok());
        let big = json!({"x": "y".repeat(MAX_RESULT_BYTES)});
        assert!(result(big).unwrap_err().contains("bytes"));
    }
}
