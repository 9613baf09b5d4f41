//! Full-text `q` and `field` filters through the live server, on both backends: what each
//! finds, how paging stays exact, hostile input refused with a clear 400, the live stream,
//! and databases made before search existed.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::sse::SseReader;
use crate::support::*;

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            use crate::support::Backend;

            #[tokio::test]
            async fn on_sqlite() {
                super::$case(Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                super::$case(Backend::Postgres).await;
            }
        }
    )*};
}

on_both_backends!(
    q_finds_words_prefixes_and_phrases_in_body_and_type,
    hostile_q_is_refused_or_read_as_plain_words,
    field_filters_compare_body_fields_and_headers,
    malformed_field_filters_are_refused_naming_them,
    pages_stay_exact_with_q_and_field,
    an_event_is_searchable_within_a_second_of_its_200,
    the_stream_takes_q_and_field,
    events_stored_before_search_existed_are_found,
    the_events_command_takes_q_and_field,
    deleting_an_event_deletes_its_words,
    the_stream_replays_from_since_then_goes_live,
    field_filters_read_large_bodies_too,
);

async fn post_json(app: &TestApp, source: &str, body: &str, headers: &[(&str, &str)]) -> i64 {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let response = app.post(source, &all, body.to_string()).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    answer["id"].as_i64().expect("id")
}

/// The ids a list answers, newest first.
async fn ids(app: &TestApp, query: &str) -> Vec<i64> {
    let page = app.get_json(&format!("/api/events?{query}")).await;
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect()
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn found(app: &TestApp, q: &str) -> Vec<i64> {
    ids(app, &format!("q={}", encode(q))).await
}

/// The `error` of a 400 answer to `query`.
async fn refused(app: &TestApp, query: &str) -> String {
    let response = app
        .client
        .get(app.url(&format!("/api/events?{query}")))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 400, "{query}: {body}");
    body["error"].as_str().unwrap_or_default().to_string()
}

async fn q_finds_words_prefixes_and_phrases_in_body_and_type(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let reversed = post_json(
        &app,
        "pay",
        r#"{"type":"payout.reversed","reason":"Card declined by the ÉCOLE bank"}"#,
        &[],
    )
    .await;
    let succeeded = post_json(
        &app,
        "pay",
        r#"{"type":"charge.succeeded","note":"card ok NEAR OR NOT","cardinal":1}"#,
        &[],
    )
    .await;
    let binary = app
        .post(
            "pay",
            &[("content-type", "application/octet-stream")],
            vec![0xff, 0xfe, b'c', b'a', b'r', b'd', 0x00, 0x80],
        )
        .await;
    assert_eq!(binary.status(), 200);

    assert_eq!(
        found(&app, "reversed").await,
        [reversed],
        "a word of the type"
    );
    assert_eq!(found(&app, "REVERSED payout").await, [reversed]);
    assert_eq!(found(&app, "card").await, [succeeded, reversed]);
    assert_eq!(found(&app, "declined card").await, [reversed], "all words");
    assert_eq!(found(&app, "\"card declined\"").await, [reversed]);
    assert_eq!(found(&app, "\"declined card\"").await, [] as [i64; 0]);
    assert_eq!(found(&app, "cardin*").await, [succeeded], "a prefix");
    assert_eq!(
        found(&app, "car").await,
        [] as [i64; 0],
        "no prefix unasked"
    );
    assert_eq!(found(&app, "école").await, [reversed], "Unicode case");
    assert_eq!(found(&app, "payout.reversed").await, [reversed]);
    assert_eq!(found(&app, "cardinal").await, [succeeded], "keys too");
    assert_eq!(
        ids(&app, "q=card&type=payout.*").await,
        [reversed],
        "with the other filters"
    );
    assert_eq!(found(&app, "nowhere").await, [] as [i64; 0]);
}

async fn hostile_q_is_refused_or_read_as_plain_words(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let plain = post_json(&app, "s", r#"{"note":"card ok NEAR OR NOT a:b"}"#, &[]).await;
    let other = post_json(&app, "s", r#"{"note":"declined"}"#, &[]).await;
    for q in [
        "NEAR",
        "OR",
        "NOT",
        "NEAR(card ok)",
        "-card",
        "^card",
        "a:b",
        "(card)",
    ] {
        assert_eq!(found(&app, q).await, [plain], "{q}: plain words");
    }
    assert_eq!(found(&app, "card OR declined").await, [] as [i64; 0]);
    assert_eq!(found(&app, "\"card ok").await, [plain], "an open quote");
    assert_eq!(found(&app, "declined \"").await, [other]);
    for q in ["*", "\"\"", "-", "()", ":^*", "\" * \""] {
        let error = refused(&app, &format!("q={}", encode(q))).await;
        assert!(error.starts_with("q:"), "{q}: {error}");
        assert!(error.contains("nothing to search"), "{q}: {error}");
    }
    let error = refused(&app, &format!("q={}", "card ".repeat(2000))).await;
    assert!(
        error.starts_with("q:") && error.contains("longer"),
        "{error}"
    );
    let many = vec!["w"; 40].join("+");
    assert!(refused(&app, &format!("q={many}")).await.contains("terms"));
    assert_eq!(
        ids(&app, "q=").await,
        [other, plain],
        "an empty q does not filter"
    );
    let listed = ids(&app, "").await;
    assert_eq!(listed.len(), 2, "nothing lost");
}

async fn field_filters_compare_body_fields_and_headers(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let big = post_json(
        &app,
        "s",
        r#"{"data":{"object":{"amount":1500,"currency":"eur","note":"Refusée"}},"items":[{"qty":"3"}]}"#,
        &[("x-github-event", "push")],
    )
    .await;
    let small = post_json(
        &app,
        "s",
        r#"{"data":{"object":{"amount":999,"currency":"EUR"}},"items":[{"qty":"x"}]}"#,
        &[("x-github-event", "issues")],
    )
    .await;
    let form = app
        .post(
            "s",
            &[("content-type", "application/x-www-form-urlencoded")],
            "MessageStatus=delivered&To=%2B1555",
        )
        .await;
    let form: Value = form.json().await.expect("json");
    let form = form["id"].as_i64().expect("id");
    let check = |field: &str| {
        let query = format!("field={}", encode(field));
        let app = &app;
        async move { ids(app, &query).await }
    };
    assert_eq!(check("/data/object/amount>=1000").await, [big]);
    assert_eq!(check("/data/object/amount<1000").await, [small]);
    assert_eq!(
        check("/data/object/currency=eur").await,
        [big],
        "case-sensitive"
    );
    assert_eq!(check("/data/object/currency~=EU").await, [small, big]);
    assert_eq!(check("/data/object/note~=REFUSÉE").await, [big]);
    assert_eq!(check("/items/0/qty>2").await, [big], "a numeric string");
    assert_eq!(check("header:X-GitHub-Event=push").await, [big]);
    assert_eq!(
        check("/MessageStatus=delivered").await,
        [form],
        "a form body"
    );
    assert_eq!(check("/nothing/here=1").await, [] as [i64; 0]);
    assert_eq!(
        check("/nothing/here!=1").await,
        [form, small, big],
        "a missing field differs from anything"
    );
    let both = format!(
        "field={}&field={}",
        encode("/data/object/amount>0"),
        encode("header:x-github-event!=push")
    );
    assert_eq!(ids(&app, &both).await, [small], "all must hold");
}

async fn malformed_field_filters_are_refused_naming_them(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let kept = post_json(&app, "s", r#"{"a":1}"#, &[]).await;
    for (field, why) in [
        ("/a>x", "not a number"),
        ("/a<=", "not a number"),
        ("/a=>1", "unknown operator `=>`"),
        ("/a<>1", "unknown operator `<>`"),
        ("=1", "pointer is empty"),
        ("a=1", "not a JSON pointer"),
        ("/a~2=1", "not a JSON pointer"),
        ("/a", "no operator"),
        ("header:=1", "header name"),
    ] {
        let error = refused(&app, &format!("field={}", encode(field))).await;
        assert!(error.starts_with("field: "), "{field}: {error}");
        assert!(error.contains(&format!("`{field}`")), "{field}: {error}");
        assert!(error.contains(why), "{field}: {error}");
    }
    let good_then_bad = format!("field={}&field={}", encode("/a=1"), encode("/a>>1"));
    assert!(refused(&app, &good_then_bad).await.contains("`/a>>1`"));
    assert_eq!(ids(&app, "").await, [kept], "nothing lost");
}

async fn pages_stay_exact_with_q_and_field(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let mut matching = Vec::new();
    for n in 0..9 {
        let word = if n % 3 == 0 { "wanted" } else { "other" };
        let id = post_json(&app, "s", &format!(r#"{{"n":{n},"w":"{word}"}}"#), &[]).await;
        if n % 3 == 0 {
            matching.push(id);
        }
    }
    matching.reverse();
    for query in [
        "q=wanted",
        "field=%2Fw%3Dwanted",
        "q=wanted&field=%2Fn%3E%3D0",
    ] {
        let mut seen = Vec::new();
        let mut before: Option<i64> = None;
        loop {
            let cursor = before.map(|b| format!("&before={b}")).unwrap_or_default();
            let page = app
                .get_json(&format!("/api/events?{query}&limit=2{cursor}"))
                .await;
            let events = page["events"].as_array().expect("events");
            assert!(events.len() <= 2, "{query}: {page}");
            seen.extend(events.iter().map(|e| e["id"].as_i64().unwrap()));
            match page["next_before"].as_i64() {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, matching, "{query}: every match once, newest first");
    }
    let first = app.get_json("/api/events?q=wanted&limit=2").await;
    assert_eq!(first["next_before"].as_i64(), Some(matching[1]));
    let last = app.get_json("/api/events?q=wanted&limit=3").await;
    assert_eq!(last["next_before"], Value::Null, "no page after the last");
}

async fn an_event_is_searchable_within_a_second_of_its_200(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    for n in 0..3 {
        let word = format!("fresh{n}word");
        let id = post_json(&app, "s", &format!(r#"{{"w":"{word}"}}"#), &[]).await;
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            if found(&app, &word).await == [id] {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{word} not searchable within 1 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn the_stream_takes_q_and_field(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let early = post_json(&app, "s", r#"{"w":"wanted","n":5}"#, &[]).await;
    let url = app.url("/api/stream?q=wanted&field=%2Fn%3E1");
    let mut live = SseReader::open(&app.client, &url, None).await;
    let mut resumed = SseReader::open(&app.client, &url, Some(0)).await;
    // A live stream starts where the feed is when it connects, which on PostgreSQL may still
    // be before `early`: read up to a marker sent after it connected.
    let marker = post_json(&app, "s", r#"{"w":"wanted","n":9}"#, &[]).await;
    while let Some(id) = live.next_id(Duration::from_secs(5)).await {
        if id == marker {
            break;
        }
        assert_eq!(id, early);
    }
    let mut wanted = Vec::new();
    for n in 0..6 {
        post_json(&app, "s", r#"{"w":"unwanted","n":5}"#, &[]).await;
        let id = post_json(&app, "s", &format!(r#"{{"w":"wanted","n":{n}}}"#), &[]).await;
        if n > 1 {
            wanted.push(id);
        }
    }
    let each = Duration::from_secs(5);
    assert_eq!(live.next_ids(4, each).await, wanted, "live, filtered");
    let mut all = vec![early, marker];
    all.extend(&wanted);
    assert_eq!(resumed.next_ids(6, each).await, all, "backlog, then live");
    let response = app
        .client
        .get(app.url("/api/stream?field=%2Fn%3E%3Dx"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["error"].as_str().unwrap().starts_with("field:"),
        "{body}"
    );
    assert_eq!(app.get_status("/api/stream?q=%2A").await, 400);
}

/// Runs SQL on the app's database (the server keeps running) and answers the first column
/// of the first row of the last statement as a number.
async fn sql_count(app: &TestApp, statements: &[&str]) -> i64 {
    match &app.pg {
        None => {
            let conn = rusqlite::Connection::open(&app.db_path).expect("open");
            conn.busy_timeout(Duration::from_secs(5)).expect("timeout");
            let (last, before) = statements.split_last().expect("a statement");
            for statement in before {
                conn.execute_batch(statement).expect("sql");
            }
            conn.query_row(last, [], |r| r.get(0)).expect("count")
        }
        Some(db) => {
            let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(connection);
            let (last, before) = statements.split_last().expect("a statement");
            for statement in before {
                client.batch_execute(statement).await.expect("sql");
            }
            client.query_one(*last, &[]).await.expect("count").get(0)
        }
    }
}

async fn deleting_an_event_deletes_its_words(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let gone = post_json(&app, "s", r#"{"w":"alpha beta"}"#, &[]).await;
    let kept = post_json(&app, "s", r#"{"w":"alpha"}"#, &[]).await;
    let words = match app.pg {
        None => "SELECT count(*) FROM events_fts WHERE events_fts MATCH 'alpha'",
        Some(_) => "SELECT count(*) FROM event_words WHERE doc @@ 'alpha'::tsquery",
    };
    // The index is written behind ingest: wait until it holds both.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sql_count(&app, &[words]).await < 2 {
        assert!(Instant::now() < deadline, "both events indexed within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delete = format!("DELETE FROM events WHERE id = {gone}");
    let bodies = format!("DELETE FROM bodies WHERE id = {gone}");
    assert_eq!(sql_count(&app, &[&delete, &bodies, words]).await, 1);
    assert_eq!(found(&app, "alpha").await, [kept]);
    assert_eq!(found(&app, "beta").await, [] as [i64; 0]);
}

/// Stops the app, removes the search index and sets the schema back to the version before
/// search (SQLite 6, PostgreSQL 7; later migrations run again and must not mind), as in a
/// database made before search existed, and starts it again on that database.
async fn without_search(mut app: TestApp) -> TestApp {
    let db = app.pg.take();
    let database = app.database.clone();
    let db_path = app.db_path.clone();
    let dir = app.stop().await;
    match &db {
        None => {
            let conn = rusqlite::Connection::open(&db_path).expect("open");
            conn.execute_batch(
                "DROP TRIGGER events_fts_forget; DROP TABLE events_fts; DROP TABLE search_cursor;
                 PRAGMA user_version = 6;",
            )
            .expect("downgrade");
        }
        Some(db) => {
            let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(connection);
            client
                .batch_execute(
                    "DROP TABLE event_words;
                     DROP TABLE search_cursor;
                     DROP TRIGGER event_words_forget ON events;
                     DROP FUNCTION hookwatch_forget_words();
                     DELETE FROM schema_migrations WHERE version >= 8;",
                )
                .await
                .expect("downgrade");
        }
    }
    let mut app = spawn_at(dir, "", None, &database).await;
    app.pg = db;
    app
}

async fn events_stored_before_search_existed_are_found(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let old = post_json(
        &app,
        "s",
        r#"{"type":"payout.reversed","w":"Ancienne"}"#,
        &[],
    )
    .await;
    let binary = app
        .post(
            "s",
            &[("content-type", "image/png")],
            vec![0x89, 0xff, 0x00, b'a'],
        )
        .await;
    assert_eq!(binary.status(), 200);
    let app = without_search(app).await;
    assert_eq!(found(&app, "ancienne").await, [old]);
    assert_eq!(found(&app, "reversed").await, [old]);
    let new = post_json(&app, "s", r#"{"w":"ancienne"}"#, &[]).await;
    assert_eq!(found(&app, "ancienne").await, [new, old]);
    assert_eq!(ids(&app, "").await.len(), 3);
}

async fn the_stream_replays_from_since_then_goes_live(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let first = post_json(&app, "s", r#"{"w":"wanted"}"#, &[]).await;
    post_json(&app, "s", r#"{"w":"other"}"#, &[]).await;
    let second = post_json(&app, "s", r#"{"w":"wanted"}"#, &[]).await;
    let each = Duration::from_secs(5);
    let url = app.url("/api/stream?since=1h&q=wanted");
    let mut replay = SseReader::open(&app.client, &url, None).await;
    assert_eq!(replay.next_ids(2, each).await, [first, second], "replayed");
    let resumed_url = app.url("/api/stream?since=1h");
    let mut resumed = SseReader::open(&app.client, &resumed_url, Some(first)).await;
    assert_eq!(
        resumed.next_id(each).await,
        Some(first + 1),
        "Last-Event-ID wins"
    );
    let live = post_json(&app, "s", r#"{"w":"wanted"}"#, &[]).await;
    assert_eq!(replay.next_id(each).await, Some(live), "then live");
    let future = app.url("/api/stream?since=2999-01-01T00:00:00Z");
    let mut nothing = SseReader::open(&app.client, &future, None).await;
    post_json(&app, "s", r#"{"w":"wanted"}"#, &[]).await;
    assert_eq!(
        nothing.next_id(Duration::from_millis(500)).await,
        None,
        "nothing received since a time to come"
    );
}

async fn field_filters_read_large_bodies_too(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let padding = "x".repeat(1_500_000);
    let mut wanted = Vec::new();
    for n in 0..6 {
        let body = format!(r#"{{"n":{n},"pad":"{padding}","tail":"end{n}"}}"#);
        let id = post_json(&app, "s", &body, &[]).await;
        if n % 2 == 1 {
            wanted.push(id);
        }
    }
    wanted.reverse();
    let one = format!("field={}", encode("/tail~=1"));
    let one = format!("{one}&field={}", encode("/n!=2"));
    assert_eq!(ids(&app, &format!("{one}&limit=5")).await, wanted[2..]);
    let any_odd = ["/tail=end1", "/tail=end3", "/tail=end5"];
    for (field, id) in any_odd.iter().zip(wanted.iter().rev()) {
        assert_eq!(ids(&app, &format!("field={}", encode(field))).await, [*id]);
    }
    let some = ids(&app, &format!("field={}&limit=2", encode("/n>=1"))).await;
    assert_eq!(some.len(), 2);
}

/// `hookwatch events` on the app's database, its exit code, stdout and stderr.
async fn events_command(app: &TestApp, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["events", "--database", &app.database];
    all.extend_from_slice(args);
    let all: Vec<String> = all.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_hookwatch"))
            .args(&all)
            .env_remove("HOOKWATCH_DATABASE")
            .env_remove("HOOKWATCH_CONFIG")
            .output()
            .expect("run hookwatch")
    })
    .await
    .expect("join");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

async fn the_events_command_takes_q_and_field(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let declined = post_json(&app, "s", r#"{"note":"Card declined","n":2}"#, &[]).await;
    post_json(&app, "s", r#"{"note":"card declined","n":0}"#, &[]).await;
    post_json(&app, "s", r#"{"note":"card ok","n":5}"#, &[]).await;
    let args = ["--json", "--q", "\"card declined\"", "--field", "/n>=1"];
    let (code, out, err) = events_command(&app, &args).await;
    assert_eq!(code, Some(0), "{err}");
    let ids: Vec<i64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [declined]);
    let (code, _, err) = events_command(&app, &["--field", "/n=>1"]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("field") && err.contains("`/n=>1`"), "{err}");
    let (code, _, err) = events_command(&app, &["--q", "*"]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("q:"), "{err}");
}
