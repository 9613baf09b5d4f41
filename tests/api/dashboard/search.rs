//! The dashboard's search box in real headless Chromium: a search from the URL fills the box
//! and the list, typing one keeps it in the URL, and a live event appears only if it matches.

use serde_json::json;

use crate::browser::launch;
use crate::support::{TestApp, spawn_app};

async fn post_json(app: &TestApp, body: serde_json::Value) {
    let response = app
        .post(
            "shop",
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await;
    assert_eq!(response.status(), 200);
}

const ROWS: &str = "document.querySelectorAll('#events tr').length";

#[tokio::test]
async fn the_search_box_filters_the_list_and_the_live_stream_and_stays_in_the_url() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    post_json(
        &app,
        json!({"type": "order.created", "note": "Card declined"}),
    )
    .await;
    post_json(&app, json!({"type": "order.created", "note": "all good"})).await;
    let tab = browser.open(&app.url("/?q=declined")).await;
    tab.until("one match", &format!("{ROWS} === 1")).await;
    let q: String = tab
        .eval("document.querySelector('#filters [name=q]').value")
        .await;
    assert_eq!(q, "declined");

    post_json(&app, json!({"type": "order.created", "note": "nothing"})).await;
    post_json(
        &app,
        json!({"type": "order.created", "note": "DECLINED again"}),
    )
    .await;
    tab.until("the live match, only", &format!("{ROWS} === 2"))
        .await;

    tab.eval::<bool>("document.querySelector('#filters [name=q]').value = 'good', true")
        .await;
    tab.eval::<bool>("document.querySelector('#filters').requestSubmit(), true")
        .await;
    tab.until("the new search", &format!("{ROWS} === 1")).await;
    tab.until("in the URL", "location.search.includes('q=good')")
        .await;
    tab.assert_nothing_ran().await;
    browser.close().await;
}
