//! Alerts through the live server: every sink kind receives the right request at a local
//! test server, retries and timeouts never slow ingest, `/api/alerts`, `event: alert` on the
//! stream, the `alerts` command, and configuration errors. Windows are 1 s and every wait
//! has a deadline.

use std::process::Command;
use std::sync::Once;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::alert_support::*;
use crate::metrics::metric;
use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");
const PD_KEY_VAR: &str = "HOOKWATCH_TEST_PD_ROUTING_KEY";
const PD_KEY: &str = "R0UTINGKEYsecret0000000000000000";

fn set_routing_key() {
    static ONCE: Once = Once::new();
    // SAFETY: set once, before any server of this test reads it, to a variable nothing else
    // in the process reads or writes; Rust's own env lock orders it with other env reads.
    ONCE.call_once(|| unsafe { std::env::set_var(PD_KEY_VAR, PD_KEY) });
}

fn burst_rule(name: &str, source: &str, threshold: u32) -> String {
    format!(
        "[[alerts.rules]]\nname = \"{name}\"\nkind = \"burst\"\nsource = \"{source}\"\n\
         threshold = {threshold}\nwindow_secs = 1\ncooldown_secs = 0\n"
    )
}

/// Posts `n` small JSON events to `source`; returns their ids.
async fn post_events(app: &TestApp, source: &str, n: usize, body: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let response = app
            .post(
                source,
                &[("content-type", "application/json")],
                body.to_string(),
            )
            .await;
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        ids.push(answer["id"].as_i64().unwrap());
    }
    ids
}

async fn wait_for_bodies(receiver: &Receiver, path: &str, count: usize) -> Vec<Value> {
    eventually(&format!("{count} request(s) on {path}"), || async {
        receiver.bodies(path).len() >= count
    })
    .await;
    receiver.bodies(path)
}

#[tokio::test]
async fn a_burst_reaches_slack_webhook_and_pagerduty_then_resolves() {
    set_routing_key();
    let rx = start_receiver(Answer::Ok).await;
    let config = format!(
        "{}\n[[alerts.sinks]]\nkind = \"slack\"\nurl = \"{}\"\ndashboard_url = \"https://hooks.example.com/\"\n\
         [[alerts.sinks]]\nkind = \"webhook\"\nurl = \"{}\"\n\
         [[alerts.sinks]]\nkind = \"pagerduty\"\nurl = \"{}\"\nrouting_key_env = \"{PD_KEY_VAR}\"\nseverity = \"warning\"\n",
        burst_rule("shop burst", "shop", 3),
        rx.url("/slack/T000/B000/XXXX"),
        rx.url("/hook"),
        rx.url("/pd"),
    );
    let app = spawn_app_with(&config).await;
    let ids = post_events(&app, "shop", 3, r#"{"type":"order.created"}"#).await;

    let slack = &wait_for_bodies(&rx, "/slack/T000/B000/XXXX", 1).await[0];
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.starts_with("FIRING \"shop burst\" (burst): 3 events from shop"),
        "{text}"
    );
    assert_eq!(slack["blocks"][0]["type"], "section");
    assert!(
        slack["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("shop burst")
    );
    let button = &slack["blocks"][2]["elements"][0];
    assert_eq!(button["type"], "button");
    assert_eq!(button["url"], "https://hooks.example.com/?source=shop");

    let hook = &wait_for_bodies(&rx, "/hook", 1).await[0];
    let alert = &hook["alert"];
    assert!(alert["id"].as_i64().unwrap() > 0);
    assert_eq!(alert["rule"], "shop burst");
    assert_eq!(alert["kind"], "burst");
    assert_eq!(alert["source"], "shop");
    assert_eq!(alert["state"], "firing");
    assert_eq!(alert["count"], 3);
    assert_eq!(alert["window_secs"], 1);
    assert_eq!(alert["sample_event_ids"], json!(ids));
    assert!(alert["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(hook["summary"].as_str().unwrap(), text);

    let pd = &wait_for_bodies(&rx, "/pd", 1).await[0];
    assert_eq!(pd["routing_key"], PD_KEY);
    assert_eq!(pd["event_action"], "trigger");
    assert_eq!(pd["dedup_key"], "hookwatch/shop burst/shop");
    assert_eq!(pd["payload"]["summary"], text);
    assert_eq!(pd["payload"]["source"], "shop");
    assert_eq!(pd["payload"]["severity"], "warning");
    assert_eq!(pd["payload"]["custom_details"]["count"], 3);

    // The 1 s window drains: one resolution each, PagerDuty with the same dedup key.
    let pd = &wait_for_bodies(&rx, "/pd", 2).await[1];
    assert_eq!(pd["event_action"], "resolve");
    assert_eq!(pd["dedup_key"], "hookwatch/shop burst/shop");
    assert_eq!(pd["routing_key"], PD_KEY);
    let slack = &wait_for_bodies(&rx, "/slack/T000/B000/XXXX", 2).await[1];
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .starts_with("RESOLVED \"shop burst\"")
    );
    assert_eq!(
        wait_for_bodies(&rx, "/hook", 2).await[1]["alert"]["state"],
        "resolved"
    );

    let listed = app.get_json("/api/alerts").await;
    let states: Vec<&str> = listed["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["resolved", "firing"], "newest first");
    assert_eq!(listed["alerts"][1], *alert, "the API and the webhook agree");
    assert_eq!(
        rx.requests().len(),
        6,
        "one message per sink per transition"
    );
}

#[tokio::test]
async fn an_email_alert_goes_through_smtp() {
    let (smtp, mails) = start_smtp().await;
    let config = format!(
        "[[alerts.rules]]\nname = \"errors\"\nkind = \"errors\"\nthreshold = 1\nwindow_secs = 60\n\n\
         [[alerts.sinks]]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
         from = \"hookwatch <alerts@example.com>\"\nto = [\"ops@example.com\", \"dev@example.com\"]\n",
        smtp.port()
    );
    let app = spawn_app_with(&config).await;
    post_events(&app, "billing", 1, r#"{"type":"error"}"#).await;
    eventually("an email", || async { !mails.lock().unwrap().is_empty() }).await;
    let mail = mails.lock().unwrap()[0].clone();
    assert_eq!(mail.from, "<alerts@example.com>");
    assert_eq!(mail.to, ["<ops@example.com>", "<dev@example.com>"]);
    assert!(
        mail.data.contains(
            "Subject: [hookwatch] FIRING \"errors\" (errors): 1 error events from billing"
        ),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("source:  billing"), "{}", mail.data);
    assert!(
        mail.data.contains("To: ops@example.com, dev@example.com"),
        "{}",
        mail.data
    );
}

#[tokio::test]
async fn a_hanging_or_failing_sink_is_retried_and_ingest_stays_fast() {
    let hang = start_receiver(Answer::Hang).await;
    let flaky = start_receiver(Answer::FailFirst(2)).await;
    let config = format!(
        "{}\n[[alerts.sinks]]\nkind = \"webhook\"\nurl = \"{}\"\ntimeout_secs = 1\nretries = 1\nbackoff_ms = 20\n\
         [[alerts.sinks]]\nkind = \"webhook\"\nurl = \"{}\"\nretries = 3\nbackoff_ms = 20\n",
        burst_rule("any", "slowpoke", 1),
        hang.url("/hang"),
        flaky.url("/flaky"),
    );
    let app = spawn_app_with(&config).await;
    post_events(&app, "slowpoke", 1, "{}").await;
    wait_for_bodies(&hang, "/hang", 1).await;
    // The hanging sink holds its request open: ingest answers do not wait for it.
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let sent = Instant::now();
        post_events(&app, "slowpoke", 1, "{}").await;
        slowest = slowest.max(sent.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(750),
        "slowest ingest answer {slowest:?}"
    );
    // After its 1 s timeout the hanging sink is tried again; the flaky one gets 500, 500, 202.
    let retried = wait_for_bodies(&hang, "/hang", 2).await;
    assert_eq!(retried[0]["alert"]["id"], retried[1]["alert"]["id"]);
    let attempts = wait_for_bodies(&flaky, "/flaky", 3).await;
    assert!(
        attempts
            .iter()
            .all(|a| a["alert"]["id"] == attempts[0]["alert"]["id"])
    );
    // Counted in /metrics: the hanging sink's timeout and the flaky one's two failures.
    let failures = metric(
        &app,
        "hookwatch_sink_failures_total",
        &[("sink", "webhook")],
    );
    assert!(failures.await.unwrap() >= 3.0);
    let firing = [("rule", "any"), ("state", "firing")];
    assert_eq!(
        metric(&app, "hookwatch_alerts_total", &firing).await,
        Some(1.0)
    );
}

#[tokio::test]
async fn alerts_stream_as_event_alert_and_need_the_token() {
    let config = format!(
        "{}\n[[alerts.sinks]]\nkind = \"log\"\n",
        burst_rule("live", "feed", 2)
    );
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir, &config, Some("tok")).await;
    assert_eq!(app.get_status("/api/alerts").await, 401);
    let auth = ("authorization", "Bearer tok");
    let response = app
        .client
        .get(app.url("/api/stream"))
        .header(auth.0, auth.1)
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    post_events(&app, "feed", 2, "{}").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    while !text.contains("event: alert\n")
        || !text[text.find("event: alert").unwrap()..].contains("\n\n")
    {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("an alert on the stream in time")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let block = &text[text.find("event: alert\n").unwrap()..];
    let data = block
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap();
    let alert: Value = serde_json::from_str(data).unwrap();
    assert_eq!(
        (alert["rule"].as_str(), alert["state"].as_str()),
        (Some("live"), Some("firing"))
    );
    assert!(
        !block
            .lines()
            .take_while(|l| !l.is_empty())
            .any(|l| l.starts_with("id:")),
        "alerts do not move the resume point"
    );

    let listed: Value = app
        .client
        .get(app.url("/api/alerts?limit=1"))
        .header(auth.0, auth.1)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["alerts"].as_array().unwrap().len(), 1);
    let bad = app
        .client
        .get(app.url("/api/alerts?limit=0"))
        .header(auth.0, auth.1)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn the_alerts_command_reads_them_from_the_database() {
    let app = spawn_app_with(&burst_rule("cli burst", "cli", 1)).await;
    post_events(&app, "cli", 1, "{}").await;
    eventually("a stored alert", || async {
        !app.get_json("/api/alerts").await["alerts"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    let database = format!("sqlite://{}", app.db_path.display());
    let empty = tempfile::tempdir().unwrap(); // no ./hookwatch.toml to pick up
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(["alerts", "--database", &database])
            .args(args)
            .env_remove("HOOKWATCH_CONFIG")
            .current_dir(empty.path())
            .output()
            .unwrap()
    };
    let json_out = run(&["--json", "--limit", "5"]);
    assert!(json_out.status.success(), "{json_out:?}");
    let first: Value = serde_json::from_str(
        String::from_utf8_lossy(&json_out.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (first["rule"].as_str(), first["source"].as_str()),
        (Some("cli burst"), Some("cli"))
    );
    let table = run(&[]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("    ID  AT"), "{table}");
    assert!(
        table.contains("cli burst") && table.contains("firing"),
        "{table}"
    );
    assert_eq!(
        run(&["--limit", "nope"]).status.code(),
        Some(2),
        "a bad flag value"
    );
}

/// The stored alerts as `(rule, state, count)`, oldest first.
async fn stored(app: &TestApp) -> Vec<(String, String, i64)> {
    let listed = app.get_json("/api/alerts").await;
    let mut out: Vec<_> = listed["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let text = |k: &str| a[k].as_str().unwrap().to_string();
            (text("rule"), text("state"), a["count"].as_i64().unwrap())
        })
        .collect();
    out.reverse();
    out
}

#[tokio::test]
async fn silence_and_forged_deliveries_raise_alerts_through_the_live_server() {
    let config = "[sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"whsec_dGVzdHNlY3JldA==\"]\n\n\
        [[alerts.rules]]\nname = \"heartbeat\"\nkind = \"silence\"\nsource = \"cron\"\nwindow_secs = 1\ncooldown_secs = 0\n\n\
        [[alerts.rules]]\nname = \"forged\"\nkind = \"signature_failures\"\nsource = \"stripe\"\nthreshold = 2\nwindow_secs = 60\n";
    let app = spawn_app_with(config).await;
    for _ in 0..2 {
        let forged = app
            .post("stripe", &[("stripe-signature", "t=1,v1=00")], "{}")
            .await;
        assert_eq!(forged.status(), 401);
    }
    eventually("the forged deliveries alert", || async {
        stored(&app)
            .await
            .contains(&("forged".into(), "firing".into(), 2))
    })
    .await;
    post_events(&app, "cron", 1, "{}").await;
    eventually("the silence alert", || async {
        stored(&app)
            .await
            .contains(&("heartbeat".into(), "firing".into(), 0))
    })
    .await;
    post_events(&app, "cron", 1, "{}").await;
    eventually("the silence to resolve on the next event", || async {
        stored(&app)
            .await
            .contains(&("heartbeat".into(), "resolved".into(), 0))
    })
    .await;
}

#[tokio::test]
async fn with_two_instances_on_postgresql_one_burst_sends_one_notification() {
    let Some(db) = crate::pg::fresh_db().await else {
        return;
    };
    let rx = start_receiver(Answer::Ok).await;
    let config = format!(
        "[[alerts.rules]]\nname = \"cluster burst\"\nkind = \"burst\"\nsource = \"shop\"\n\
         threshold = 4\nwindow_secs = 60\ncooldown_secs = 300\n\
         [[alerts.sinks]]\nkind = \"webhook\"\nurl = \"{}\"\n",
        rx.url("/hook")
    );
    let a = spawn_at(tempfile::tempdir().unwrap(), &config, None, &db.url).await;
    let b = spawn_at(tempfile::tempdir().unwrap(), &config, None, &db.url).await;
    // Both instances see all four events (each instance's listener publishes every
    // instance's events), so both evaluators fire; the claim lets one of them send.
    for n in 0..4 {
        let app = if n % 2 == 0 { &a } else { &b };
        post_events(app, "shop", 1, r#"{"type":"order.created"}"#).await;
    }
    let bodies = wait_for_bodies(&rx, "/hook", 1).await;
    assert_eq!(bodies[0]["alert"]["state"], "firing", "{}", bodies[0]);
    // Give the other instance time to have tried; a second notification would land here.
    let stored = || async {
        let alerts = a.get_json("/api/alerts").await;
        alerts["alerts"].as_array().unwrap().len()
    };
    eventually("the alert stored", || async { stored().await == 1 }).await;
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        assert_eq!(rx.bodies("/hook").len(), 1, "exactly one notification");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored().await, 1);
    assert_eq!(
        b.get_json("/api/alerts").await["alerts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_alert_left_unsent_when_hookwatch_was_killed_is_sent_after_a_restart() {
    let receiver = start_receiver(Answer::Ok).await;
    let dir = spawn_app_with("").await.stop().await;
    let path = dir.path().join("hookwatch.db");
    // What a process killed right after claiming an alert leaves: the row, its sending lease
    // long expired, and no sink ever called.
    let db = rusqlite::Connection::open(&path).expect("open");
    db.execute_batch(
        "INSERT INTO alerts (rule, kind, source, state, count, window_secs, at,
           sample_event_ids, notify_until)
         VALUES ('stripe burst', 'burst', 'stripe', 'firing', 3, 60, 1764000000000000,
           '[1,2,3]', 1)",
    )
    .expect("insert the unsent alert");
    drop(db);
    let config = format!(
        "{}\n[[alerts.sinks]]\nkind = \"webhook\"\nurl = \"{}\"\n",
        burst_rule("other", "quiet", 1000),
        receiver.url("/hook"),
    );
    let app = spawn_in(dir, &config, None).await;
    let sent = wait_for_bodies(&receiver, "/hook", 1).await;
    assert_eq!(sent[0]["alert"]["rule"], "stripe burst", "{}", sent[0]);
    assert_eq!(sent[0]["alert"]["state"], "firing", "{}", sent[0]);
    // Once the sink is done the lease ends, so no process sends it again.
    eventually("the lease ended", || async { unsent_alerts(&path) == 0 }).await;
    assert_eq!(receiver.bodies("/hook").len(), 1);
    drop(app);
}

/// Alerts whose sending lease is still open (not yet done with by every sink).
fn unsent_alerts(db_path: &std::path::Path) -> i64 {
    let db = rusqlite::Connection::open(db_path).expect("open");
    db.query_row(
        "SELECT count(*) FROM alerts WHERE notify_until IS NOT NULL",
        [],
        |row| row.get(0),
    )
    .expect("count")
}

#[tokio::test]
async fn an_alert_sent_to_every_sink_is_never_sent_again() {
    let ok = start_receiver(Answer::Ok).await;
    let failing = start_receiver(Answer::FailFirst(100)).await;
    let config = format!(
        "{}\n[[alerts.sinks]]\nkind = \"webhook\"\nurl = \"{}\"\n\
         [[alerts.sinks]]\nkind = \"webhook\"\nurl = \"{}\"\nretries = 1\nbackoff_ms = 20\n",
        burst_rule("once", "once", 1),
        ok.url("/ok"),
        failing.url("/failing"),
    );
    let app = spawn_app_with(&config).await;
    post_events(&app, "once", 1, "{}").await;
    wait_for_bodies(&ok, "/ok", 1).await;
    // Delivered to one sink, given up by the other after its retry: done either way, so the
    // lease ends and no sweep (here or in another instance) sends it again.
    eventually("the sending lease ended", || async {
        unsent_alerts(&app.db_path) == 0
    })
    .await;
    assert_eq!(
        failing.bodies("/failing").len(),
        2,
        "first try and one retry"
    );
}
