//! An event has an address (`#event-42`, beside the filters' query string): a fresh page opened
//! at it shows that event, clicking a row puts the row's event in it, and Back closes it.

use serde_json::json;

use crate::browser::launch;
use crate::support::{TestApp, spawn_app};

async fn post_id(app: &TestApp, source: &str, body: serde_json::Value) -> i64 {
    let response = app
        .post(
            source,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await;
    let answer: serde_json::Value = response.json().await.expect("JSON answer");
    answer["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("stored: {answer}"))
}

const DETAIL_OPEN: &str = "!document.querySelector('#detail').hidden";

fn detail_shows(text: &str) -> String {
    format!(
        "{DETAIL_OPEN} && document.querySelector('#detail-body').textContent.includes({})",
        crate::browser::js(text)
    )
}

#[tokio::test]
async fn an_event_link_opens_that_event_a_click_sets_it_and_back_closes_it() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    let first = post_id(
        &app,
        "shop",
        json!({"type": "order.paid", "note": "first-order"}),
    )
    .await;
    let second = post_id(
        &app,
        "shop",
        json!({"type": "order.refunded", "note": "second-order"}),
    )
    .await;

    // A fresh page at the link shows the event, and the filters stay beside it.
    let tab = browser
        .open(&app.url(&format!("/?source=shop#event-{first}")))
        .await;
    tab.until("the linked event", &detail_shows("first-order"))
        .await;
    tab.until(
        "the list under it",
        "!document.querySelector('#list').hasAttribute('aria-busy')",
    )
    .await;
    let address: String = tab.eval("location.search + location.hash").await;
    assert_eq!(address, format!("?source=shop#event-{first}"));

    // Esc closes it and takes it out of the address; the filters stay.
    tab.press("Escape").await;
    tab.until(
        "the detail closes and leaves the address",
        "document.querySelector('#detail').hidden && location.hash === ''",
    )
    .await;
    let search: String = tab.eval("location.search").await;
    assert_eq!(search, "?source=shop");

    // A click on a row puts its event in the address.
    tab.eval::<bool>(
        "[...document.querySelectorAll('#events tr')].find(r => r.textContent.includes('order.refunded')).click(), true",
    )
    .await;
    tab.until("the clicked event", &detail_shows("second-order"))
        .await;
    let hash: String = tab.eval("location.hash").await;
    assert_eq!(hash, format!("#event-{second}"));

    // Back closes it and leaves the list as it was; Forward opens it again.
    tab.eval::<bool>("history.back(), true").await;
    tab.until(
        "Back closes the event",
        "document.querySelector('#detail').hidden && location.hash === ''",
    )
    .await;
    let address: String = tab.eval("location.pathname + location.search").await;
    assert_eq!(address, "/?source=shop");
    tab.eval::<bool>("history.forward(), true").await;
    tab.until("Forward opens it again", &detail_shows("second-order"))
        .await;

    // Filters changed while it is open stay when it closes; Back then brings the old ones.
    tab.type_into("#filters [name=type]", "order.*").await;
    tab.press("Enter").await;
    tab.until(
        "the new filters in the address, beside the event",
        &format!("location.search.includes('type=order.*') && location.hash === '#event-{second}'"),
    )
    .await;
    tab.press("Escape").await;
    tab.until(
        "the detail closes",
        "document.querySelector('#detail').hidden && location.hash === ''",
    )
    .await;
    let search: String = tab.eval("location.search").await;
    assert_eq!(search, "?source=shop&type=order.*");
    tab.eval::<bool>("history.back(), true").await;
    tab.until(
        "Back brings the list before the filters changed",
        "location.search === '?source=shop' && \
         document.querySelector('#filters [name=type]').value === ''",
    )
    .await;

    // A link to an event that is not there says so.
    tab.goto(&app.url("/#event-999999")).await;
    tab.until(
        "the missing event explained",
        &detail_shows("This event no longer exists."),
    )
    .await;
    tab.assert_nothing_ran().await;
    browser.close().await;
}
