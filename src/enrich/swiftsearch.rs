//! The SwiftSearch kind (SearchHive's API): `POST {url}` with
//! `{"query","max_results","auto_scrape_top"}`; the answer's `search_results` become
//! `[{"title","url"}]`. Pure: builds the request body and reads the answer.

use serde_json::{Value, json};

/// Longest title and URL kept per result; the answer is outside input.
const MAX_TITLE_CHARS: usize = 300;
const MAX_URL_CHARS: usize = 2048;

/// The JSON body of the request.
pub fn request(query: &str, max_results: u32, auto_scrape_top: u32) -> Value {
    json!({
        "query": query,
        "max_results": max_results,
        "auto_scrape_top": auto_scrape_top,
    })
}

/// The results as stored: `[{"title","url"}]`, at most `max_results`. Accepts `results` for
/// `search_results` and `link` for `url`, as compatible services spell them.
pub fn results(answer: &Value, max_results: usize) -> Result<Value, String> {
    let list = answer
        .get("search_results")
        .or_else(|| answer.get("results"))
        .and_then(Value::as_array)
        .ok_or("the answer has no search_results list")?;
    let results: Vec<Value> = list
        .iter()
        .filter_map(|item| {
            let url = item.get("url").or_else(|| item.get("link"))?.as_str()?;
            let title = item.get("title").and_then(Value::as_str).unwrap_or("");
            Some(json!({
                "title": cut(title, MAX_TITLE_CHARS),
                "url": cut(url, MAX_URL_CHARS),
            }))
        })
        .take(max_results)
        .collect();
    Ok(Value::Array(results))
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_has_exactly_the_three_fields() {
        assert_eq!(
            request("stripe charge.failed", 3, 0),
            json!({"query": "stripe charge.failed", "max_results": 3, "auto_scrape_top": 0})
        );
    }

    #[test]
    fn results_keep_title_and_url_only_and_respect_the_maximum() {
        let answer = json!({"search_results": [
            {"title": "Declines", "url": "https://docs.stripe.com/declines", "snippet": "…"},
            {"title": "No url"},
            {"title": "Codes", "link": "https://docs.stripe.com/declines/codes"},
            {"title": "Third", "url": "https://example.com/3"},
        ], "credits_used": 1});
        assert_eq!(
            results(&answer, 2).unwrap(),
            json!([
                {"title": "Declines", "url": "https://docs.stripe.com/declines"},
                {"title": "Codes", "url": "https://docs.stripe.com/declines/codes"},
            ])
        );
        assert!(results(&json!({"error": "x"}), 3).is_err());
    }
}
