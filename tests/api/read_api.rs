//! The read API through the live server: filters, paging, stats, sources, auth and the stream.

use futures_util::StreamExt;
use serde_json::Value;

use crate::support::*;

/// Posts a small JSON event of the given type to a source; returns its id.
async fn post_typed(app: &TestApp, source: &str, event_type: &str, extra: &str) -> i64 {
    let body = format!("{{\"type\":\"{event_type}\"{extra}}}");
    let response = app
        .post(source, &[("content-type", "application/json")], body)
        .await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

fn ids(page: &Value) -> Vec<i64> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn filters_narrow_the_list_and_a_type_star_matches_by_prefix() {
    let app = spawn_app().await;
    let a = post_typed(&app, "stripe", "charge.failed", "").await;
    let b = post_typed(&app, "stripe", "charge.succeeded", "").await;
    let c = post_typed(&app, "stripe", "invoice.paid", "").await;
    let d = post_typed(&app, "github", "charge.failed", "").await;
    let e = post_typed(&app, "shop", "order", ",\"status\":\"failed\"").await;
    let q = async |query: &str| app.get_json(&format!("/api/events?{query}")).await;
    assert_eq!(ids(&q("").await), vec![e, d, c, b, a], "newest first");
    assert_eq!(ids(&q("source=stripe").await), vec![c, b, a]);
    assert_eq!(ids(&q("type=charge.*").await), vec![d, b, a]);
    assert_eq!(ids(&q("source=stripe&type=charge.*").await), vec![b, a]);
    assert_eq!(ids(&q("type=charge.failed").await), vec![d, a]);
    assert_eq!(ids(&q("error=true").await), vec![e, d, a]);
    assert_eq!(ids(&q("error=false").await), vec![c, b]);
    assert_eq!(
        ids(&q("status=received&signature=unverified").await).len(),
        5
    );
    assert_eq!(ids(&q("status=rejected").await), Vec::<i64>::new());
    assert_eq!(ids(&q("since=1h").await).len(), 5);
    assert_eq!(
        ids(&q("until=2000-01-01T00:00:00Z").await),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&q("since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z").await).len(),
        5
    );
}

#[tokio::test]
async fn pages_follow_the_keyset_cursor_to_the_end() {
    let app = spawn_app().await;
    let mut posted = Vec::new();
    for n in 0..7 {
        posted.push(post_typed(&app, "paging", &format!("t{n}"), "").await);
    }
    posted.reverse();
    let mut seen = Vec::new();
    let mut path = "/api/events?limit=3".to_string();
    loop {
        let page = app.get_json(&path).await;
        seen.extend(ids(&page));
        match page["next_before"].as_i64() {
            Some(before) => path = format!("/api/events?limit=3&before={before}"),
            None => break,
        }
    }
    assert_eq!(seen, posted);
}

#[tokio::test]
async fn bad_parameters_get_400_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, param) in [
        ("limit=0", "limit"),
        ("since=yesterday", "since"),
        ("status=ok", "status"),
        ("before=x", "before"),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/api/events?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().starts_with(param), "{body}");
    }
    assert_eq!(app.get_status("/api/events/999").await, 404);
    assert_eq!(app.get_status("/api/events/abc").await, 400);
    assert_eq!(app.get_status("/api/events/999/raw").await, 404);
}

#[tokio::test]
async fn stats_and_sources_count_what_was_received() {
    let app = spawn_app().await;
    post_typed(&app, "stripe", "charge.failed", "").await;
    post_typed(&app, "stripe", "charge.failed", "").await;
    post_typed(&app, "github", "push", "").await;
    let stats = app.get_json("/api/stats?since=15m").await;
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["by_source"]["stripe"], 2);
    assert_eq!(stats["by_type"]["charge.failed"], 2);
    assert_eq!(stats["errors"], 2);
    assert_eq!(stats["rejected"], 0);
    assert!(stats["latest"]["github"].is_string());
    let rate = stats["rate"].as_array().unwrap();
    let stripe_count: i64 = rate
        .iter()
        .filter(|p| p["source"] == "stripe")
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(stripe_count, 2);
    let sources = app.get_json("/api/sources").await;
    let stripe = sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "stripe")
        .unwrap()
        .clone();
    assert_eq!(stripe["count"], 2);
    assert_eq!(stripe["errors"], 2);
    assert_eq!(stripe["verified"], false);
    assert_eq!(app.get_json("/healthz").await["status"], "ok");
    let bad = app
        .client
        .get(app.url("/api/stats?since=soon"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn with_a_token_every_api_request_without_it_gets_401() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir, "", Some("t0ken-for-tests")).await;
    // Ingest and health need no token.
    assert_eq!(app.post("s", &[], "{}").await.status(), 200);
    assert_eq!(app.get_status("/healthz").await, 200);
    for path in [
        "/api/events",
        "/api/events/1",
        "/api/events/1/raw",
        "/api/stats",
        "/api/sources",
        "/api/stream",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("\"source\""),
            "no event data without the token: {body}"
        );
        let wrong = app
            .client
            .get(app.url(path))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
    }
    let ok = app
        .client
        .get(app.url("/api/events"))
        .bearer_auth("t0ken-for-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<Value>().await.unwrap()["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Reads SSE frames from a response until `count` webhook events arrived; returns their ids.
async fn read_stream_ids(response: reqwest::Response, count: usize) -> Vec<i64> {
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut ids = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while ids.len() < count {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("stream timed out")
            .unwrap()
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if frame.contains("event: webhook") {
                let data = frame
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .unwrap();
                let summary: Value = serde_json::from_str(data).unwrap();
                let id_line = frame.lines().find_map(|l| l.strip_prefix("id: ")).unwrap();
                assert_eq!(id_line, summary["id"].to_string());
                assert!(
                    summary.get("body").is_none(),
                    "the stream carries summaries"
                );
                ids.push(summary["id"].as_i64().unwrap());
            }
        }
    }
    ids
}

#[tokio::test]
async fn the_stream_delivers_new_events_and_resumes_after_last_event_id() {
    let app = spawn_app().await;
    let first = post_typed(&app, "a", "one", "").await;
    let second = post_typed(&app, "b", "two", "").await;
    let third = post_typed(&app, "a", "three", "").await;
    // Resume: everything after `first`, filtered to source a, then live.
    let resumed = app
        .client
        .get(app.url("/api/stream?source=a"))
        .header("Last-Event-ID", first.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.headers()["content-type"], "text/event-stream");
    let live = app
        .client
        .get(app.url("/api/stream?type=fo*"))
        .send()
        .await
        .unwrap();
    let fourth = post_typed(&app, "a", "four", "").await;
    let fifth = post_typed(&app, "b", "four", "").await;
    assert_eq!(read_stream_ids(resumed, 2).await, vec![third, fourth]);
    assert_eq!(read_stream_ids(live, 2).await, vec![fourth, fifth]);
    assert!(second < third);
}

#[tokio::test]
async fn the_stream_misses_nothing_when_webhooks_arrive_concurrently() {
    let app = spawn_app().await;
    let stream = app.client.get(app.url("/api/stream")).send().await.unwrap();
    let mut posts = Vec::new();
    for worker in 0..32 {
        let (client, url) = (app.client.clone(), app.url("/webhook/busy"));
        posts.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..10 {
                let response = client
                    .post(&url)
                    .body(format!("{{\"w\":{worker},\"n\":{n}}}"))
                    .send()
                    .await
                    .unwrap();
                ids.push(
                    response.json::<Value>().await.unwrap()["id"]
                        .as_i64()
                        .unwrap(),
                );
            }
            ids
        }));
    }
    let mut posted: Vec<i64> = Vec::new();
    for task in posts {
        posted.extend(task.await.unwrap());
    }
    posted.sort_unstable();
    let streamed = read_stream_ids(stream, posted.len()).await;
    assert_eq!(streamed, posted, "every event, once, in id order");
}

#[tokio::test]
async fn wrong_methods_and_unknown_api_paths_answer_json_and_need_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir, "", Some("t0ken")).await;
    let response = app.client.get(app.url("/api/nope")).send().await.unwrap();
    assert_eq!(
        response.status(),
        401,
        "unknown API paths are behind the token"
    );
    let response = app
        .client
        .get(app.url("/api/nope"))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    let response = app
        .client
        .delete(app.url("/api/events"))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("DELETE"), "{body}");
    let response = app.client.get(app.url("/webhook/x")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert!(
        response.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("POST")
    );
}

#[tokio::test]
async fn the_stream_also_resumes_from_a_last_event_id_parameter() {
    let app = spawn_app().await;
    let first = post_typed(&app, "a", "one", "").await;
    let second = post_typed(&app, "a", "two", "").await;
    let url = app.url(&format!("/api/stream?last_event_id={first}"));
    let resumed = app.client.get(url).send().await.unwrap();
    assert_eq!(read_stream_ids(resumed, 1).await, vec![second]);
}
