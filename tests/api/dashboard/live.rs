//! The dashboard in real headless Chromium: log in, watch a webhook arrive live, filter,
//! page backwards, open the detail with the keyboard, and a screenshot with realistic data.

use serde_json::json;

use crate::browser::{js, launch};
use crate::support::{TestApp, all_fixtures, spawn_app, spawn_app_with, spawn_in};

const TOKEN: &str = "browser-test-token";

/// The fixtures' secrets (tests/fixtures/payloads/index.json), accepting invalid ones so the
/// picture shows every badge; their timestamps are old, hence the wide tolerance. Twilio's
/// `public_url` is the source's own: a top-level one would be the dashboard's origin, and the
/// browser reaches it on loopback.
const FIXTURE_SOURCES: &str = r#"
[sources.github]
provider = "github"
secrets = ["It's a Secret to Everybody"]
on_invalid = "accept"
[sources.stripe]
provider = "stripe"
secrets = ["whsec_test_secret"]
tolerance_secs = 400000000
on_invalid = "accept"
[sources.slack]
provider = "slack"
secrets = ["8f742231b10e8888abcd99yyyzzz85a5"]
tolerance_secs = 400000000
on_invalid = "accept"
[sources.shopify]
provider = "shopify"
secrets = ["shopify-fixture-secret"]
on_invalid = "accept"
[sources.standard-webhooks]
provider = "standard"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
tolerance_secs = 400000000
on_invalid = "accept"
[sources.twilio]
provider = "twilio"
secrets = ["12345"]
on_invalid = "accept"
public_url = "https://hookwatch.example"
"#;

async fn post_json(app: &TestApp, source: &str, body: serde_json::Value) {
    let response = app
        .post(
            source,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await;
    assert_eq!(response.status(), 200, "post to {source}");
}

fn rows_with(text: &str) -> String {
    format!(
        "[...document.querySelectorAll('#events tr')].filter(r => r.textContent.includes({})).length",
        js(text)
    )
}

#[tokio::test]
async fn a_webhook_appears_live_and_can_be_filtered_and_inspected_in_the_browser() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_in(tempfile::tempdir().unwrap(), "", Some(TOKEN)).await;
    post_json(&app, "github", json!({"type": "push", "ref": "main"})).await;

    let tab = browser.open(&app.url("/")).await;
    tab.log_in(TOKEN).await;
    let path: String = tab.eval("location.pathname").await;
    assert_eq!(path, "/");
    tab.until("the stream is live", "document.querySelector('#conn.live')")
        .await;
    tab.until("the first page", &format!("{} === 1", rows_with("push")))
        .await;

    let customer = "cus_live_4242";
    post_json(
        &app,
        "stripe",
        json!({"type": "charge.failed", "data": {"customer": customer}}),
    )
    .await;
    tab.until(
        "the live event",
        &format!("{} === 1", rows_with("charge.failed")),
    )
    .await;
    let first: String = tab
        .eval("document.querySelector('#events tr').textContent")
        .await;
    assert!(
        first.contains("stripe") && first.contains("error"),
        "newest first: {first}"
    );

    tab.type_into("#filters [name=type]", "charge.*").await;
    tab.press("Enter").await;
    tab.until("only charges", &format!("{} === 0", rows_with("push")))
        .await;
    let search: String = tab.eval("location.search").await;
    assert!(search.contains("type=charge.*"), "{search}");
    tab.until(
        "the filtered stream",
        "document.querySelector('#conn.live')",
    )
    .await;
    post_json(&app, "github", json!({"type": "push", "ref": "dev"})).await;
    post_json(&app, "stripe", json!({"type": "charge.succeeded"})).await;
    tab.until(
        "the matching live event",
        &format!("{} === 1", rows_with("charge.succeeded")),
    )
    .await;
    assert_eq!(
        tab.eval::<usize>(&rows_with("push")).await,
        0,
        "filtered out live"
    );

    let row = "[...document.querySelectorAll('#events tr')].find(r => r.textContent.includes('charge.failed'))";
    tab.eval::<bool>(&format!("({row}).focus(), true")).await;
    tab.press("Enter").await;
    tab.until(
        "the body value in the detail",
        &format!(
            "document.querySelector('#detail-body').textContent.includes({})",
            js(customer)
        ),
    )
    .await;
    let detail: String = tab
        .eval("document.querySelector('#detail').textContent")
        .await;
    assert!(detail.contains("content-type") && detail.contains("application/json"));
    tab.press("Escape").await;
    tab.until(
        "the detail closes",
        "document.querySelector('#detail').hidden",
    )
    .await;
    tab.assert_nothing_ran().await;
    browser.close().await;
}

#[tokio::test]
async fn older_events_page_backwards_and_filters_come_from_the_url() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    for n in 0..110 {
        post_json(&app, "alpha", json!({"type": "tick", "n": n})).await;
    }
    for n in 0..3 {
        post_json(&app, "beta", json!({"type": "tock", "n": n})).await;
    }
    let tab = browser.open(&app.url("/")).await;
    tab.until(
        "a first page of 100",
        "document.querySelectorAll('#events tr').length === 100",
    )
    .await;
    tab.eval::<bool>("document.querySelector('#older').click(), true")
        .await;
    tab.until(
        "the older page",
        "document.querySelectorAll('#events tr').length === 113",
    )
    .await;
    tab.until("no more pages", "document.querySelector('#older').hidden")
        .await;

    tab.goto(&app.url("/?source=beta&window=15m")).await;
    tab.until(
        "the shared view",
        "document.querySelectorAll('#events tr').length === 3",
    )
    .await;
    let source: String = tab
        .eval("document.querySelector('#filters [name=source]').value")
        .await;
    assert_eq!(source, "beta");
    let window: String = tab.eval("document.querySelector('#window').value").await;
    assert_eq!(window, "15m");
    tab.until(
        "the cards",
        "document.querySelector('#cards').textContent.includes('113')",
    )
    .await;
    tab.assert_nothing_ran().await;
    browser.close().await;
}

#[tokio::test]
async fn pause_holds_new_events_back_and_the_alert_panel_hides_without_alerts() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    let tab = browser.open(&app.url("/")).await;
    tab.until("the stream is live", "document.querySelector('#conn.live')")
        .await;
    tab.until(
        "the alerts endpoint answered",
        "document.querySelector('#alerts').hidden",
    )
    .await;
    // The first page must be in before the post, or it could bring the event itself.
    tab.until(
        "the first page",
        "!document.querySelector('#list').hasAttribute('aria-busy')",
    )
    .await;
    tab.eval::<bool>("document.querySelector('#pause').click(), true")
        .await;
    post_json(&app, "held", json!({"type": "while.paused"})).await;
    tab.until(
        "the held count",
        "document.querySelector('#pending').textContent === '1 new'",
    )
    .await;
    assert_eq!(
        tab.eval::<usize>(&rows_with("while.paused")).await,
        0,
        "paused"
    );
    tab.eval::<bool>("document.querySelector('#pause').click(), true")
        .await;
    tab.until(
        "the held event",
        &format!("{} === 1", rows_with("while.paused")),
    )
    .await;
    let pending: String = tab
        .eval("document.querySelector('#pending').textContent")
        .await;
    assert_eq!(pending, "");
    tab.assert_nothing_ran().await;
    browser.close().await;
}

#[tokio::test]
async fn a_screenshot_of_the_dashboard_with_the_fixture_payloads() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app_with(FIXTURE_SOURCES).await;
    let fixtures = all_fixtures();
    for fixture in &fixtures {
        let source = fixture.name.split('/').nth(1).unwrap_or("generic");
        app.post_fixture(source, fixture).await;
    }
    let tab = browser.open(&app.url("/")).await;
    let expected = fixtures.len().min(100);
    tab.until(
        "every fixture listed",
        &format!(
            "document.querySelectorAll('#events tr').length >= {}",
            expected.saturating_sub(5)
        ),
    )
    .await;
    tab.until(
        "the chart",
        "document.querySelectorAll('#chart rect').length > 0",
    )
    .await;
    assert!(tab.eval::<usize>(&rows_with("charge.failed")).await >= 1);
    tab.eval::<bool>(
        "[...document.querySelectorAll('#events tr')].find(r => r.textContent.includes('charge.failed')).click(), true",
    )
    .await;
    tab.until("the detail", "document.querySelector('#detail-body .json')")
        .await;
    let png = tab.screenshot().await;
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = match std::env::var_os("HOOKWATCH_UPDATE_SCREENSHOT") {
        Some(_) => target.join("docs/dashboard.png"),
        None => target.join("target/dashboard.png"),
    };
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &png).unwrap();
    assert!(png.len() > 10_000, "a real picture");
    // The same in dark mode, then the list at phone width in both, to look at.
    let shots = target.join("target");
    tab.color_scheme("dark").await;
    std::fs::write(shots.join("dashboard-dark.png"), tab.screenshot().await).unwrap();

    tab.press("Escape").await;
    tab.resize(375, 800).await;
    let fits = "document.documentElement.scrollWidth <= 375";
    tab.until("no sideways scrolling at 375 px", fits).await;
    std::fs::write(shots.join("dashboard-375-dark.png"), tab.screenshot().await).unwrap();
    tab.color_scheme("light").await;
    std::fs::write(shots.join("dashboard-375.png"), tab.screenshot().await).unwrap();
    tab.assert_nothing_ran().await;
    browser.close().await;
}

#[tokio::test]
async fn the_alert_panel_shows_a_new_alert_live() {
    let Some(browser) = launch().await else {
        return;
    };
    let config = "[[alerts.rules]]\nname = \"checkout burst\"\nkind = \"burst\"\nsource = \"shop\"\n\
                  threshold = 2\nwindow_secs = 60\ncooldown_secs = 300\n\
                  [[alerts.sinks]]\nkind = \"log\"\n";
    let app = spawn_app_with(config).await;
    let tab = browser.open(&app.url("/")).await;
    tab.until("the stream is live", "document.querySelector('#conn.live')")
        .await;
    assert!(
        tab.eval::<bool>("document.querySelector('#alerts').hidden")
            .await,
        "no alerts yet, no panel"
    );
    post_json(&app, "shop", json!({"type": "order.created"})).await;
    post_json(&app, "shop", json!({"type": "order.created"})).await;
    tab.until(
        "the alert row",
        "!document.querySelector('#alerts').hidden && \
         document.querySelector('#alert-rows').textContent.includes('checkout burst')",
    )
    .await;
    let row: String = tab
        .eval("document.querySelector('#alert-rows tr').textContent")
        .await;
    assert!(row.contains("firing") && row.contains("shop"), "{row}");
    tab.assert_nothing_ran().await;
    browser.close().await;
}

#[tokio::test]
async fn after_a_restart_the_page_reconnects_and_fills_the_gap() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    post_json(&app, "before", json!({"type": "before.restart"})).await;
    let tab = browser.open(&app.url("/")).await;
    tab.until("the stream is live", "document.querySelector('#conn.live')")
        .await;
    post_json(&app, "before", json!({"type": "live.before"})).await;
    tab.until(
        "the live row",
        &format!("{} === 1", rows_with("live.before")),
    )
    .await;
    // hookwatch restarts; webhooks arrive before the page has reconnected.
    let app = app.restart().await;
    post_json(&app, "after", json!({"type": "missed.one"})).await;
    post_json(&app, "after", json!({"type": "missed.two"})).await;
    tab.until(
        "the events posted while the page was disconnected",
        &format!(
            "{} === 1 && {} === 1",
            rows_with("missed.one"),
            rows_with("missed.two")
        ),
    )
    .await;
    tab.until("live again", "document.querySelector('#conn.live')")
        .await;
    assert_eq!(
        tab.eval::<usize>(&rows_with("live.before")).await,
        1,
        "nothing shown twice"
    );
    tab.assert_nothing_ran().await;
    browser.close().await;
}
