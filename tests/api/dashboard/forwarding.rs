//! Forwarding in the dashboard, in real Chromium against a real target server: an event's
//! failed attempt and its Replay button, the deliveries view with a dead delivery and the bulk
//! replay, paging, Pause and Resume on a target, and a hostile target answer shown as text.

use axum::Router;
use axum::http::StatusCode;
use tokio::net::TcpListener;

use crate::browser::{Tab, js, launch};
use crate::forward::{forward_all, post_json, wait_json, wait_state};
use crate::forward_target::{Reply, Target, free_port};
use crate::support::*;

async fn text_of(tab: &Tab, selector: &str) -> String {
    tab.eval(&format!(
        "document.querySelector({}).textContent",
        js(selector)
    ))
    .await
}

async fn click(tab: &Tab, selector: &str) {
    let script = format!("document.querySelector({}).click(), true", js(selector));
    tab.eval::<bool>(&script).await;
}

/// Waits until the text of `selector` contains `needle`.
async fn until_text(tab: &Tab, selector: &str, needle: &str) {
    let check = format!(
        "document.querySelector({}).textContent.includes({})",
        js(selector),
        js(needle)
    );
    tab.until(&format!("{selector} to show {needle}"), &check)
        .await;
}

#[tokio::test]
async fn the_detail_shows_the_failed_attempt_and_replay_delivers_it() {
    let Some(browser) = launch().await else {
        return;
    };
    let port = free_port().await;
    let to = format!("http://127.0.0.1:{port}/in");
    let app = spawn_app_with(&forward_all(&to, "max_attempts = 1")).await;
    let id = post_json(&app, "shop", "{\"n\":1}").await;
    wait_state(&app, id, "dead").await;

    let tab = browser.open(&app.url(&format!("/#event-{id}"))).await;
    tab.until(
        "the attempts",
        "document.querySelector('#detail .attempts table')",
    )
    .await;
    let forwards = text_of(&tab, "#detail .forwards").await;
    assert!(
        forwards.contains("app") && forwards.contains("dead"),
        "{forwards}"
    );
    let attempt = text_of(&tab, "#detail .attempts tbody tr").await;
    assert!(!attempt.contains("200"), "{attempt}");

    let target = Target::start_on(port, Reply::Status(200)).await;
    click(&tab, "#detail button.replay").await;
    until_text(&tab, "#detail .replay-result", "Queued 1 delivery: app").await;
    let got = target.wait_for(1).await;
    assert_eq!(got[0].event_id(), id);
    tab.until(
        "the replayed attempt",
        "document.querySelectorAll('#detail .attempts tbody tr').length === 2",
    )
    .await;
    until_text(&tab, "#detail .attempts", "(replay)").await;
    tab.assert_nothing_ran().await;
    browser.close().await;
}

#[tokio::test]
async fn replay_without_a_matching_rule_shows_the_refusal() {
    let Some(browser) = launch().await else {
        return;
    };
    let target = Target::start(Reply::Status(200)).await;
    let toml = format!(
        "[[forward]]\nsource = \"shop\"\nto = \"{}\"\n",
        target.url("/")
    );
    let app = spawn_app_with(&toml).await;
    let id = post_json(&app, "other", "{}").await;
    let tab = browser.open(&app.url(&format!("/#event-{id}"))).await;
    until_text(
        &tab,
        "#detail .forwards",
        "No forwarding rule took this event.",
    )
    .await;
    click(&tab, "#detail button.replay").await;
    tab.until(
        "the refusal",
        "document.querySelector('#detail .replay-result.error').textContent.length > 0",
    )
    .await;
    let message = text_of(&tab, "#detail .replay-result").await;
    assert!(message.contains("rule"), "{message}");
    assert!(target.received().is_empty());
    browser.close().await;
}

#[tokio::test]
async fn the_deliveries_view_replays_the_dead_ones_and_pauses_a_target() {
    let Some(browser) = launch().await else {
        return;
    };
    let port = free_port().await;
    let to = format!("http://127.0.0.1:{port}/in");
    let app = spawn_app_with(&forward_all(&to, "max_attempts = 1")).await;
    let first = post_json(&app, "shop", "{\"n\":1}").await;
    let second = post_json(&app, "mail", "{\"n\":2}").await;
    wait_state(&app, first, "dead").await;
    wait_state(&app, second, "dead").await;
    let target = Target::start_on(port, Reply::Status(200)).await;

    let tab = browser.open(&app.url("/?view=deliveries&state=dead")).await;
    tab.until(
        "two dead deliveries",
        "document.querySelectorAll('#delivery-rows tr').length === 2 \
         && !document.querySelector('#deliveries-list').hasAttribute('aria-busy')",
    )
    .await;
    let state: String = tab
        .eval("document.querySelector('#delivery-filters select[name=state]').value")
        .await;
    assert_eq!(state, "dead");
    assert!(text_of(&tab, "#delivery-rows").await.contains("dead"));
    assert!(
        !tab.eval::<bool>("document.querySelector('#events').checkVisibility()")
            .await
    );
    until_text(&tab, "#target-rows", "app").await;

    // One source only: the filter goes to the URL and the list.
    tab.eval::<bool>(
        "document.querySelector('#delivery-filters [name=source]').value = 'mail', true",
    )
    .await;
    click(&tab, "#delivery-filters button[type=submit]").await;
    tab.until(
        "mail's delivery only",
        "document.querySelectorAll('#delivery-rows tr').length === 1 \
         && !document.querySelector('#deliveries-list').hasAttribute('aria-busy')",
    )
    .await;
    let url: String = tab.eval("location.search").await;
    assert_eq!(url, "?view=deliveries&state=dead&source=mail");
    until_text(&tab, "#replay-all", "Replay these 1 event").await;
    click(&tab, "#replay-all").await;
    until_text(&tab, "#replay-progress", "Replayed 1 of 1").await;
    assert_eq!(target.wait_for(1).await[0].event_id(), second);

    // Both: the bulk replay sends each listed event once more.
    tab.eval::<bool>("document.querySelector('#delivery-filters [name=source]').value = '', true")
        .await;
    click(&tab, "#delivery-filters button[type=submit]").await;
    until_text(&tab, "#replay-all", "Replay these 2 events").await;
    click(&tab, "#replay-all").await;
    until_text(&tab, "#replay-progress", "Replayed 2 of 2").await;
    let got = target.wait_for(3).await;
    let mut ids: Vec<i64> = got[1..].iter().map(|r| r.event_id()).collect();
    ids.sort();
    assert_eq!(ids, [first, second]);

    // Pause: a new event waits; Resume: it goes.
    click(&tab, "#target-rows button[data-target=app]").await;
    until_text(&tab, "#target-rows", "paused").await;
    until_text(&tab, "#target-rows button", "Resume").await;
    let third = post_json(&app, "shop", "{\"n\":3}").await;
    wait_json(&app, "/api/forwards/targets", |t| {
        t["targets"][0]["pending"] == 1
    })
    .await;
    tab.eval::<bool>(
        "document.querySelector('#delivery-filters [name=state]').value = 'pending', true",
    )
    .await;
    click(&tab, "#delivery-filters button[type=submit]").await;
    tab.until(
        "the waiting delivery",
        &format!(
            "[...document.querySelectorAll('#target-rows td')].some(td => td.textContent === '1') \
             && document.querySelector('#target-rows').textContent.includes('paused') \
             && document.querySelectorAll('#delivery-rows tr').length === 1 \
             && document.querySelector('#delivery-rows a').textContent === '#{third}'"
        ),
    )
    .await;
    assert!(text_of(&tab, "#delivery-rows").await.contains("pending"));
    let url: String = tab.eval("location.search").await;
    assert_eq!(url, "?view=deliveries&state=pending");
    assert_eq!(target.received().len(), 3, "a paused target got a request");
    click(&tab, "#target-rows button[data-target=app]").await;
    until_text(&tab, "#target-rows", "active").await;
    assert_eq!(target.wait_for(4).await[3].event_id(), third);
    tab.assert_nothing_ran().await;
    browser.close().await;
}

const SCRIPT: &str = "<script>window.__pwned=1;alert(1)</script>";
const IMG: &str = r#"<img src=x onerror="window.__pwned=2;alert(2)">"#;

/// A target that answers `500` with markup in its body.
async fn hostile_target() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    let router = Router::new()
        .fallback(|| async { (StatusCode::INTERNAL_SERVER_ERROR, format!("{SCRIPT}{IMG}")) });
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (url, task)
}

#[tokio::test]
async fn a_hostile_target_answer_is_shown_as_text_and_never_runs() {
    let Some(browser) = launch().await else {
        return;
    };
    let (to, task) = hostile_target().await;
    let app = spawn_app_with(&forward_all(&to, "max_attempts = 1")).await;
    let body = serde_json::json!({ "html": SCRIPT, "img": IMG }).to_string();
    let id = post_json(&app, "shop", &body).await;
    wait_state(&app, id, "dead").await;

    let tab = browser.open(&app.url(&format!("/#event-{id}"))).await;
    tab.until(
        "the attempts",
        "document.querySelector('#detail .attempts pre.excerpt')",
    )
    .await;
    let excerpt = text_of(&tab, "#detail .attempts pre.excerpt").await;
    assert_eq!(excerpt, format!("{SCRIPT}{IMG}"));
    assert!(text_of(&tab, "#detail .attempts").await.contains("500"));
    let markup = "document.querySelectorAll('#detail img, #detail script').length === 0";
    assert!(tab.eval::<bool>(markup).await, "markup became elements");

    let list = browser.open(&app.url("/?view=deliveries")).await;
    until_text(&list, "#delivery-rows", "500").await;
    assert!(
        list.eval::<bool>(
            "document.querySelectorAll('#deliveries img, #deliveries script').length === 0"
        )
        .await
    );
    tab.assert_nothing_ran().await;
    list.assert_nothing_ran().await;
    task.abort();
    browser.close().await;
}

#[tokio::test]
async fn the_deliveries_view_pages_older_deliveries() {
    let Some(browser) = launch().await else {
        return;
    };
    let to = format!("http://127.0.0.1:{}/in", free_port().await);
    let app = spawn_app_with(&forward_all(&to, "max_attempts = 1")).await;
    let mut last = 0;
    for n in 0..101 {
        last = post_json(&app, "shop", &format!("{{\"n\":{n}}}")).await;
    }
    wait_json(&app, "/api/forwards/targets", |t| {
        t["targets"][0]["dead"] == 101
    })
    .await;
    let tab = browser.open(&app.url("/?view=deliveries")).await;
    tab.until(
        "the first page",
        "document.querySelectorAll('#delivery-rows tr').length === 100 \
         && !document.querySelector('#older-deliveries').hidden",
    )
    .await;
    let newest: String = tab
        .eval("document.querySelector('#delivery-rows a').textContent")
        .await;
    assert_eq!(newest, format!("#{last}"));
    click(&tab, "#older-deliveries").await;
    tab.until(
        "the older page beneath",
        "document.querySelectorAll('#delivery-rows tr').length === 101 \
         && document.querySelector('#older-deliveries').hidden",
    )
    .await;
    until_text(&tab, "#replay-all", "Replay these 101 events").await;
    browser.close().await;
}
