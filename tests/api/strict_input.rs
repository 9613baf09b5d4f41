//! Input that is not understood is refused, never silently ignored: query parameters on every
//! read route, config keys this build does not implement, and the offline commands' flags and
//! database paths.

use serde_json::Value;

use crate::support::*;

/// A GET whose answer must be `400 {"error": …}` mentioning `needle`.
async fn assert_refused(app: &TestApp, path: &str, needle: &str) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 400, "GET {path}: {body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(needle), "GET {path} names {needle}: {body}");
}

#[tokio::test]
async fn every_read_route_refuses_a_query_parameter_it_does_not_know() {
    let app = spawn_app().await;
    let stored = app
        .post(
            "s",
            &[("content-type", "application/json")],
            "{\"type\":\"t\"}",
        )
        .await;
    assert_eq!(stored.status(), 200);
    let id = stored.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let routes = [
        "/api/events".to_string(),
        format!("/api/events/{id}"),
        format!("/api/events/{id}/raw"),
        "/api/stats".to_string(),
        "/api/sources".to_string(),
        "/api/stream".to_string(),
        "/api/alerts".to_string(),
        "/api/meta".to_string(),
    ];
    for route in &routes {
        assert_eq!(
            app.get_status(route).await,
            200,
            "{route} without parameters"
        );
        assert_refused(&app, &format!("{route}?bogus=1"), "`bogus`").await;
    }
    assert_refused(&app, "/api/events?sourc=github", "`sourc`").await;
    assert_refused(&app, "/api/events?source=s&sourc=github", "`sourc`").await;
    assert_refused(&app, "/api/stats?since=1h&until=1m", "`until`").await;
    assert_refused(&app, "/api/stream?source=s&limit=5", "`limit`").await;
    assert_refused(&app, "/api/alerts?limit=5&lmit=3", "`lmit`").await;
}

#[tokio::test]
async fn a_parameter_of_a_feature_not_yet_built_is_refused_saying_so() {
    let app = spawn_app().await;
    for query in ["q=card", "field=%2Fdata%2Famount%3E%3D1000", "q="] {
        assert_refused(&app, &format!("/api/events?{query}"), "not supported").await;
        assert_refused(&app, &format!("/api/stream?{query}"), "not supported").await;
    }
}

#[tokio::test]
async fn a_repeated_or_out_of_range_parameter_is_refused_not_narrowed() {
    let app = spawn_app().await;
    assert_refused(&app, "/api/events?source=a&source=b", "`source`").await;
    assert_refused(&app, "/api/events?limit=5000", "limit").await;
    assert_refused(&app, "/api/alerts?limit=5000", "limit").await;
    let page = app.get_json("/api/events?limit=1000&source=").await;
    assert!(page["events"].is_array(), "{page}");
}
