//! "Copy as curl" reproduces the request exactly: the command the page builds is run by a real
//! shell and curl against the server, and the second event must equal the first — method,
//! path, query, every header but Host and Content-Length, and the body byte for byte.

use serde_json::Value;

use crate::browser::launch;
use crate::support::{TestApp, spawn_app};

/// The command the page's "Copy as curl" gives for event `id`.
const CURL_OF: &str = "(async (id) => { const m = await import('/assets/curl.js'); \
    const e = await (await fetch('/api/events/' + id)).json(); \
    return m.curlCommand(e, location.origin); })";

async fn raw(app: &TestApp, id: i64) -> Vec<u8> {
    let url = app.url(&format!("/api/events/{id}/raw"));
    let response = app.client.get(url).send().await.unwrap();
    response.bytes().await.unwrap().to_vec()
}

fn comparable(event: &Value) -> Value {
    let mut headers = event["headers"].clone();
    let map = headers.as_object_mut().unwrap();
    map.remove("host");
    map.remove("content-length");
    serde_json::json!([
        event["method"],
        event["path"],
        event["query"],
        headers,
        event["content_type"]
    ])
}

async fn post_tricky(app: &TestApp, body: Vec<u8>, content_type: Option<&str>) -> i64 {
    let mut request = app
        .client
        .put(app.url("/webhook/replay?a=1&b=%27x%27&c=$HOME&d=[1]"))
        .header("x-quote", r#"it's "quoted" $HOME `id` \n"#)
        .header("x-empty", "")
        .header("x-repeat", "one")
        .header("x-repeat", "two")
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let answer: Value = request.send().await.unwrap().json().await.unwrap();
    answer["id"].as_i64().expect("stored")
}

#[tokio::test]
async fn copy_as_curl_sends_the_same_request_again_byte_for_byte() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("\n!!! SKIPPING the curl round trip: no curl on this machine !!!\n");
        return;
    }
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (
            b"{\"msg\":\"it's $HOME `id` \\\\ \xe2\x9c\x93\"}\n\r\n".to_vec(),
            Some("application/json"),
        ),
        (b"@/etc/passwd".to_vec(), Some("text/plain")),
        (
            vec![0, 159, 146, 150, 255, 0, 10, 39],
            Some("application/octet-stream"),
        ),
        (Vec::new(), None),
    ];
    let tab = browser.open(&app.url("/")).await;
    for (body, content_type) in cases {
        let first = post_tricky(&app, body.clone(), content_type).await;
        let command: String = tab.eval(&format!("{CURL_OF}({first})")).await;
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .output()
            .await
            .expect("run sh");
        assert!(output.status.success(), "{command}\n{output:?}");
        let answer: Value = serde_json::from_slice(&output.stdout).expect("hookwatch's answer");
        let second = answer["id"].as_i64().unwrap_or_else(|| panic!("{answer}"));
        let (a, b) = (
            app.get_json(&format!("/api/events/{first}")).await,
            app.get_json(&format!("/api/events/{second}")).await,
        );
        assert_eq!(comparable(&b), comparable(&a), "{command}");
        assert_eq!(raw(&app, second).await, body, "{command}");
    }
    browser.close().await;
}
