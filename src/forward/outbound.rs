//! What an HTTP delivery carries, so the application sees the sender's request as it came:
//! the original method, headers and exact body bytes (its own signature check then passes),
//! the original query string, and three headers of hookwatch's own.
//!
//! Left out are the headers that describe one connection rather than the message — the
//! hop-by-hop ones of RFC 9110 (and any header the `Connection` header names), `Host` and
//! `Content-Length`, which the client sets for the new request; `Expect`, since hookwatch
//! already answered the sender's wish for a `100 Continue` and sends the stored body whole —
//! and any `X-Hookwatch-*` header a sender put there, so the application can trust the ones
//! hookwatch adds.

use crate::model::Header;

/// Headers that belong to one connection, never to the message.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The event id, so the application can drop a delivery it already handled (at least once).
pub const EVENT_ID: &str = "x-hookwatch-event-id";
/// The source the event was received on.
pub const SOURCE: &str = "x-hookwatch-source";
/// 1 for the first attempt, 2 for the second, …
pub const ATTEMPT: &str = "x-hookwatch-attempt";

/// The original headers that travel on, in their original order.
pub fn forwarded_headers(headers: &[Header]) -> Vec<&Header> {
    let named_by_connection: Vec<String> = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, value)| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            !HOP_BY_HOP.contains(&name.as_str())
                && !name.starts_with("proxy-")
                && name != "host"
                && name != "content-length"
                && name != "expect"
                && !name.starts_with("x-hookwatch-")
                && !named_by_connection.contains(&name)
        })
        .collect()
}

/// hookwatch's own headers for attempt `attempt` of event `event_id` from `source`.
pub fn hookwatch_headers(event_id: i64, source: &str, attempt: u32) -> [(&'static str, String); 3] {
    [
        (EVENT_ID, event_id.to_string()),
        (SOURCE, source.to_string()),
        (ATTEMPT, attempt.to_string()),
    ]
}

/// The URL a delivery is sent to: `to` with the original request's query string added to
/// its own (after `to`'s parameters, joined with `&`).
pub fn url_with_query(to: &str, query: &str) -> String {
    if query.is_empty() {
        return to.to_string();
    }
    let (base, fragment) = match to.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (to, None),
    };
    let joiner = match base.split_once('?') {
        Some((_, "")) => "",
        Some(_) => "&",
        None => "?",
    };
    let mut url = format!("{base}{joiner}{query}");
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &str, value: &str) -> Header {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn hop_by_hop_host_and_length_stay_behind_and_the_rest_travel_in_order() {
        let headers = vec![
            h("host", "hooks.example.com"),
            h("content-type", "application/json"),
            h("connection", "keep-alive, x-trace"),
            h("keep-alive", "timeout=5"),
            h("x-trace", "abc"),
            h("transfer-encoding", "chunked"),
            h("content-length", "42"),
            h("expect", "100-continue"),
            h("stripe-signature", "t=1,v1=ff"),
            h("proxy-authorization", "Basic x"),
            h("proxy-foo", "y"),
            h("te", "trailers"),
            h("upgrade", "h2c"),
            h("trailer", "x"),
            h("x-multi", "1"),
            h("x-multi", "2"),
        ];
        let kept: Vec<&str> = forwarded_headers(&headers)
            .into_iter()
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(
            kept,
            ["content-type", "stripe-signature", "x-multi", "x-multi"]
        );
    }

    #[test]
    fn a_senders_own_x_hookwatch_headers_are_not_passed_on() {
        let headers = vec![
            h("X-Hookwatch-Event-Id", "999"),
            h("x-hookwatch-attempt", "7"),
            h("a", "b"),
        ];
        assert_eq!(forwarded_headers(&headers), vec![&h("a", "b")]);
    }

    #[test]
    fn hookwatch_adds_the_event_id_source_and_attempt() {
        assert_eq!(
            hookwatch_headers(42, "stripe", 3),
            [
                (EVENT_ID, "42".to_string()),
                (SOURCE, "stripe".to_string()),
                (ATTEMPT, "3".to_string())
            ]
        );
    }

    #[test]
    fn the_original_query_string_is_kept() {
        assert_eq!(url_with_query("http://a/h", ""), "http://a/h");
        assert_eq!(
            url_with_query("http://a/h", "x=1&y=2"),
            "http://a/h?x=1&y=2"
        );
        assert_eq!(
            url_with_query("http://a/h?env=dev", "x=1"),
            "http://a/h?env=dev&x=1"
        );
        assert_eq!(url_with_query("http://a/h?", "x=1"), "http://a/h?x=1");
        assert_eq!(url_with_query("http://a/h#f", "x=1"), "http://a/h?x=1#f");
    }
}
