//! `tail` following the stream: what it prints, its filters, its token, bad flags and a
//! server restart in the middle.

use serde_json::Value;

use super::*;

#[tokio::test]
async fn new_events_appear_as_readable_lines_and_as_json_summaries() {
    let app = spawn_in(tempfile::tempdir().unwrap(), "", Some("s3cret")).await;
    let before = post_typed(&app, "shop", "order.created").await;
    let mut text = Tail::start(&app, &["--token", "s3cret"], &[]).await;
    let mut json = Tail::start(&app, &["--json"], &[("HOOKWATCH_TOKEN", "s3cret")]).await;
    let id = post_typed(&app, "shop", "order.paid").await;

    let line = text.next_line().await;
    for part in [
        "shop",
        "order.paid",
        "unverified",
        "received",
        &format!("#{id}"),
    ] {
        assert!(line.contains(part), "`{part}` in {line}");
    }
    let size = "{\"type\":\"order.paid\"}".len();
    assert!(
        line.ends_with(&format!(" {size} B")),
        "the size ends the line: {line}"
    );
    let summary = json.next_json().await;
    assert_eq!(
        summary["id"], id,
        "the event before tail started ({before}) is not shown"
    );
    assert_eq!(summary["source"], "shop");
    assert_eq!(summary["event_type"], "order.paid");
    assert!(summary.get("body").is_none(), "a summary: {summary}");
}

#[tokio::test]
async fn a_missing_or_wrong_token_exits_1_saying_the_token_is_the_problem() {
    let app = spawn_in(tempfile::tempdir().unwrap(), "", Some("s3cret")).await;
    for args in [&[][..], &["--token", "wrong"][..]] {
        let mut tail = Tail::spawn(&app.url(""), args, &[]);
        assert_eq!(tail.exit_code().await, 1, "{args:?}");
        let stderr = tail.stderr();
        assert!(
            stderr.contains("401") && stderr.contains("token"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("wrong"),
            "the token is not echoed: {stderr}"
        );
    }
}

#[tokio::test]
async fn a_bad_server_or_forward_to_url_exits_2_naming_the_flag() {
    for (args, flag) in [
        (&["tail", "--server", "localhost:8080"][..], "--server"),
        (
            &["tail", "--forward-to", "ftp://x/hook"][..],
            "--forward-to",
        ),
        (&["tail", "--forward-to", "not a url"][..], "--forward-to"),
        (&["healthcheck", "--server", "127.0.0.1"][..], "--server"),
    ] {
        let output = std::process::Command::new(BIN).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn source_and_type_filters_choose_the_events_shown() {
    let app = spawn_app().await;
    let mut tail = Tail::start(
        &app,
        &["--json", "--source", "a", "--type", "charge.*"],
        &[],
    )
    .await;
    post_typed(&app, "b", "charge.failed").await;
    post_typed(&app, "a", "refund.created").await;
    let wanted = post_typed(&app, "a", "charge.failed").await;
    let next = post_typed(&app, "a", "charge.captured").await;
    assert_eq!(tail.next_json().await["id"], wanted);
    assert_eq!(
        tail.next_json().await["id"],
        next,
        "nothing else in between"
    );
}

#[tokio::test]
async fn a_server_restart_mid_stream_loses_no_event_and_doubles_none() {
    let app = spawn_app().await;
    let mut tail = Tail::start(&app, &["--json"], &[]).await;
    let mut sent = Vec::new();
    for _ in 0..3 {
        sent.push(post_typed(&app, "s", "before.restart").await);
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(tail.next_json().await["id"].as_i64().unwrap());
    }
    let app = app.restart().await;
    // Sent while tail is still disconnected or reconnecting: they come from Last-Event-ID.
    for _ in 0..3 {
        sent.push(post_typed(&app, "s", "after.restart").await);
    }
    for _ in 0..3 {
        seen.push(tail.next_json().await["id"].as_i64().unwrap());
    }
    tail.wait_stderr("reconnecting").await;
    tail.wait_stderr("reconnected").await;
    // One more: it must come next, so none of the earlier ones was shown twice.
    sent.push(post_typed(&app, "s", "after.reconnect").await);
    seen.push(tail.next_json().await["id"].as_i64().unwrap());
    assert_eq!(seen, sent);
}

/// A Stripe delivery signed now with `secret`: headers and body.
#[tokio::test]
async fn a_server_that_is_not_hookwatch_makes_tail_exit_1_saying_so() {
    for status in [200, 404] {
        let (url, _received) = application(status).await;
        let mut tail = Tail::spawn(&url, &[], &[]);
        assert_eq!(tail.exit_code().await, 1, "answering {status}");
        assert!(
            tail.stderr().contains("is it hookwatch?"),
            "{}",
            tail.stderr()
        );
    }
}

#[tokio::test]
async fn a_server_started_again_on_fresh_data_is_followed_from_its_new_ids() {
    let (old, fresh) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let address = free_address();
    let base = format!("http://{address}");
    let mut server = serve_process(old.path(), &address).await;
    let mut tail = Tail::spawn(&base, &["--json"], &[]);
    tail.wait_stderr("following").await;
    let client = reqwest::Client::new();
    let post = |body: &'static str| {
        let request = client.post(format!("{base}/webhook/s")).body(body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["id"].clone() }
    };
    for body in ["a", "b", "c"] {
        let id = post(body).await;
        assert_eq!(tail.next_json().await["id"], id);
    }
    server.kill().await.unwrap();
    let _server = serve_process(fresh.path(), &address).await;
    tail.wait_stderr("data was replaced").await;
    let id = post("first on the fresh database").await;
    assert_eq!(id, 1);
    assert_eq!(tail.next_json().await["id"], id);
}
