//! What a reader of the dashboard sees: counts that agree with their nouns, a source named
//! after its provider said once, ages and durations in words, a time axis under the chart,
//! many sources as a table, and form keys that stay whole at phone width.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::browser::{Tab, js, launch};
use crate::support::{TestApp, spawn_app, spawn_app_with};

async fn post_json(app: &TestApp, source: &str, body: Value) -> Value {
    let response = app
        .post(
            source,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await;
    assert_eq!(response.status(), 200, "post to {source}");
    response.json().await.expect("JSON answer")
}

/// The texts of the elements `selector` finds, as the reader sees them.
async fn texts(tab: &Tab, selector: &str) -> Vec<String> {
    tab.eval(&format!(
        "[...document.querySelectorAll({})].map(e => e.innerText.replace(/\\s+/g, ' ').trim())",
        js(selector)
    ))
    .await
}

const LIST_LOADED: &str = "!document.querySelector('#list').hasAttribute('aria-busy')";

#[tokio::test]
async fn ages_and_durations_read_as_words() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    let tab = browser.open(&app.url("/")).await;
    let (minute, hour, day, month, year) = (60, 3600, 86400, 2_629_800, 31_557_600);
    let cases: &[(i64, &str)] = &[
        (-5, "just now"),
        (0, "just now"),
        (9, "just now"),
        (10, "10 seconds ago"),
        (61, "1 minute ago"),
        (59 * minute + 59, "59 minutes ago"),
        (hour, "1 hour ago"),
        (2 * day + 5, "2 days ago"),
        (13 * day, "1 week ago"),
        (8 * month + day, "8 months ago"),
        (29_257_019, "11 months ago"),
        (2 * year, "2 years ago"),
    ];
    for (seconds, expected) in cases {
        let said: String = tab
            .eval(&format!(
                "import('/assets/dom.js').then(m => m.relative({seconds} * 1000))"
            ))
            .await;
        assert_eq!(said, *expected, "{seconds} s");
    }
    let reason: String = tab
        .eval(
            "import('/assets/detail.js').then(m => \
             m.readableReason('timestamp is 29257019 s old (tolerance 300 s)'))",
        )
        .await;
    assert_eq!(reason, "timestamp is 11 months old (tolerance 5 minutes)");
    browser.close().await;
}

fn stripe_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[tokio::test]
async fn counts_agree_with_their_nouns_and_a_source_named_after_its_provider_is_said_once() {
    let Some(browser) = launch().await else {
        return;
    };
    let config = "[sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"whsec_polish\"]\n\
                  on_invalid = \"accept\"\n";
    let app = spawn_app_with(config).await;
    // One Stripe event, delivered twice, signed eight months ago: one event, one error, one
    // duplicate, one signature failure.
    let signed_at = chrono::Utc::now().timestamp() - 8 * 2_629_800 - 86_400;
    let body = json!({"id": "evt_1", "type": "charge.failed", "data": {"tags": ["vip"]}});
    let body = body.to_string();
    let signature = stripe_signature("whsec_polish", signed_at, &body);
    let headers = [
        ("content-type", "application/json"),
        ("stripe-signature", signature.as_str()),
    ];
    let first: Value = app
        .post("stripe", &headers, body.clone())
        .await
        .json()
        .await
        .unwrap();
    let again: Value = app
        .post("stripe", &headers, body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], "duplicate", "{first} then {again}");
    post_json(&app, "shop", json!({"type": "order.paid"})).await;
    post_json(&app, "shop", json!({"type": "order.paid"})).await;

    let tab = browser.open(&app.url("/?source=stripe")).await;
    tab.until(
        "the cards",
        "document.querySelector('#cards').textContent.includes('signature failure')",
    )
    .await;
    let cards = texts(&tab, "#cards .card:not(.source)").await;
    assert_eq!(
        cards,
        [
            "3 events",
            "1 error",
            "1 duplicate",
            "1 signature failure",
            "0 rejected"
        ]
    );
    tab.until(
        "the sources",
        "document.querySelectorAll('#sources li').length === 2",
    )
    .await;
    let sources = texts(&tab, "#sources li").await;
    assert_eq!(
        sources,
        [
            "shop generic last just now 2 events",
            "stripe last just now 1 error 1 event"
        ]
    );

    // The detail: the stale signature's age in words, one-element branches in the singular.
    tab.until("the list", LIST_LOADED).await;
    tab.eval::<bool>("document.querySelector('#events tr').click(), true")
        .await;
    tab.until("the detail", "document.querySelector('#detail-body .json')")
        .await;
    let reason: String = tab
        .eval("document.querySelector('#detail-body .reason').textContent")
        .await;
    assert_eq!(reason, "timestamp is 8 months old (tolerance 5 minutes)");
    let branches = texts(&tab, "#detail-body .json summary").await;
    assert!(
        branches.contains(&"data: { 1 key }".to_string())
            && branches.contains(&"tags: [ 1 item ]".to_string()),
        "{branches:?}"
    );
    tab.assert_nothing_ran().await;
    browser.close().await;
}

#[tokio::test]
async fn the_chart_has_a_time_axis_of_clock_times_or_days() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    post_json(&app, "shop", json!({"type": "order.paid"})).await;
    let tab = browser.open(&app.url("/")).await;
    tab.until(
        "a bar",
        "document.querySelectorAll('#chart rect').length > 0",
    )
    .await;
    let labels = texts(&tab, "#chart-axis span").await;
    assert!(labels.len() >= 3, "{labels:?}");
    // Quarter hours of the last hour, in order, as the browser's clock tells them.
    let minutes: Vec<i64> = tab
        .eval(
            "[...document.querySelectorAll('#chart-axis span')].map(s => { \
               const [h, m] = s.textContent.split(':').map(Number); const now = new Date(); \
               return ((now.getHours() * 60 + now.getMinutes()) - (h * 60 + m) + 1440) % 1440; })",
        )
        .await;
    for (label, ago) in labels.iter().zip(&minutes) {
        assert!(
            label.len() == 5 && label.ends_with(['0', '5']) && (0..=60).contains(ago),
            "{label} is {ago} min ago: {labels:?}"
        );
    }
    assert!(minutes.windows(2).all(|w| w[0] > w[1]), "{labels:?}");
    let lefts: Vec<f64> = tab
        .eval("[...document.querySelectorAll('#chart-axis span')].map(s => s.getBoundingClientRect().left)")
        .await;
    assert!(lefts.windows(2).all(|w| w[0] < w[1]), "{lefts:?}");

    tab.eval::<bool>(
        "(() => { const w = document.querySelector('#window'); w.value = '7d'; \
         w.dispatchEvent(new Event('change')); return true; })()",
    )
    .await;
    tab.until(
        "days on the axis",
        "document.querySelector('#legend').textContent.startsWith('peak 1 per 2 h') && \
         [...document.querySelectorAll('#chart-axis span')].length >= 5 && \
         [...document.querySelectorAll('#chart-axis span')].every(s => /^\\S+ \\d{1,2}$/.test(s.textContent))",
    )
    .await;
    tab.assert_nothing_ran().await;
    browser.close().await;
}

#[tokio::test]
async fn beyond_eight_sources_the_source_cards_become_a_table() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    for n in 1..=8 {
        post_json(&app, &format!("source-{n}"), json!({"type": "tick"})).await;
    }
    let tab = browser.open(&app.url("/")).await;
    tab.until(
        "a card per source",
        "document.querySelectorAll('#cards .card.source').length === 8",
    )
    .await;
    assert!(
        tab.eval::<bool>("document.querySelector('#by-source-box').hidden")
            .await
    );
    tab.until("the stream is live", "document.querySelector('#conn.live')")
        .await;
    post_json(&app, "source-9", json!({"type": "tick"})).await;
    post_json(&app, "source-9", json!({"type": "tock"})).await;
    tab.until(
        "a table instead of cards",
        "!document.querySelector('#by-source-box').hidden && \
         document.querySelectorAll('#by-source tbody tr').length === 9 && \
         document.querySelectorAll('#cards .card.source').length === 0",
    )
    .await;
    let rows = texts(&tab, "#by-source tbody tr").await;
    assert_eq!(rows[0], "source-9 2", "the busiest first: {rows:?}");
    tab.resize(375, 800).await;
    tab.until(
        "no sideways scrolling at 375 px",
        "document.documentElement.scrollWidth <= 375",
    )
    .await;
    tab.assert_nothing_ran().await;
    browser.close().await;
}

#[tokio::test]
async fn form_keys_stay_whole_at_phone_width() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    let body = format!(
        "AccountSid=AC0123456789abcdef&MessagingServiceSid=MG0123456789abcdef&\
         MessageStatus=delivered&Body={}",
        "x".repeat(300)
    );
    let form = [("content-type", "application/x-www-form-urlencoded")];
    assert_eq!(app.post("sms", &form, body).await.status(), 200);
    let tab = browser.open(&app.url("/")).await;
    tab.resize(375, 800).await;
    tab.until("the list", LIST_LOADED).await;
    tab.eval::<bool>("document.querySelector('#events tr').click(), true")
        .await;
    tab.until(
        "the form table",
        "document.querySelectorAll('#detail-body .body td').length === 8",
    )
    .await;
    // One line box per key: a key broken mid-word would have two.
    let lines: Vec<(String, usize)> = tab
        .eval(
            "[...document.querySelectorAll('#detail-body .body tr')].map(tr => { \
               const r = document.createRange(); r.selectNodeContents(tr.cells[0]); \
               return [tr.cells[0].textContent, r.getClientRects().length]; })",
        )
        .await;
    let keys: Vec<&str> = lines.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        ["AccountSid", "MessagingServiceSid", "MessageStatus", "Body"]
    );
    assert!(lines.iter().all(|(_, n)| *n == 1), "{lines:?}");
    tab.assert_nothing_ran().await;
    browser.close().await;
}
