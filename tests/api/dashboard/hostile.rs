//! A hostile-payload corpus rendered in real Chromium, in the list and in every detail: script
//! tags, `onerror` attributes, `javascript:` URLs and `</script>` breakouts in the body, the
//! type, header names and values, the query string and the source name. Nothing may run,
//! no dialog may open, no CSP rule may even be tested, and the text must show literally.

use serde_json::json;

use crate::browser::{Tab, js, launch};
use crate::support::{TestApp, spawn_app};

const IMG: &str = r#"<img src=x onerror="window.__pwned=1;document.title='pwned';alert(1)">"#;
const SCRIPT: &str = "<script>window.__pwned=2;alert(2)</script>";
const BREAKOUT: &str = "</script><script>alert(3)</script><!--";
const LINK: &str = "javascript:window.__pwned=4;alert(4)";
const SVG: &str = "<svg onload=alert(5)><a href=\"javascript:alert(6)\">x</a></svg>";
const HEADER_VALUE: &str = "\"><img src=x onerror=alert(7)>";
/// Header names are HTTP tokens: no `<`, but quotes and pipes are allowed.
const HEADER_NAME: &str = "x-evil'onmouseover|alert`8`";
/// Source names are `[A-Za-z0-9._-]`: the worst allowed is one that pollutes prototypes.
const SOURCE: &str = "__proto__";

async fn post_corpus(app: &TestApp) {
    let body = json!({
        "type": IMG, "html": SCRIPT, "breakout": BREAKOUT, "link": LINK, "svg": SVG,
        IMG: "a key that is markup", "nested": {"deeper": [SCRIPT, {"x": BREAKOUT}]},
    });
    let headers = [
        ("content-type", "application/json"),
        (HEADER_NAME, HEADER_VALUE),
        ("x-script", SCRIPT),
        ("x-link", LINK),
    ];
    let sends = [
        ("generic", &headers[..], body.to_string()),
        (
            SOURCE,
            &headers[..1],
            json!({"type": SCRIPT, "event": LINK}).to_string(),
        ),
    ];
    for (source, headers, body) in sends {
        assert_eq!(
            app.post(source, headers, body).await.status(),
            200,
            "{source}"
        );
    }
    let html = format!("<html><body>{SCRIPT}{IMG}{BREAKOUT}</body></html>");
    let form = format!("a={}&b={}", urlencode(SCRIPT), urlencode(LINK));
    let text_bodies = [
        ("text/html", html),
        ("application/x-www-form-urlencoded", form),
    ];
    for (content_type, body) in text_bodies {
        let response = app
            .post("generic", &[("content-type", content_type)], body)
            .await;
        assert_eq!(response.status(), 200);
    }
    let query = app
        .client
        .post(app.url(&format!("/webhook/generic?next={}", urlencode(BREAKOUT))))
        .header("content-type", "text/plain")
        .body(IMG)
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 200);
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

const NO_MARKUP: &str = "document.querySelectorAll('#events img, #events script, #events svg, \
    #detail img, #detail script, #detail iframe, #detail svg, #detail a[href^=\"javascript\"]').length === 0";

async fn text_of(tab: &Tab, selector: &str) -> String {
    tab.eval(&format!(
        "document.querySelector({}).textContent",
        js(selector)
    ))
    .await
}

#[tokio::test]
async fn a_script_tag_in_a_payload_is_shown_as_text_and_never_runs() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    post_corpus(&app).await;
    let tab = browser.open(&app.url("/")).await;
    tab.until(
        "all five events",
        "document.querySelectorAll('#events tr').length === 5",
    )
    .await;
    let list = text_of(&tab, "#events").await;
    assert!(
        list.contains(IMG) && list.contains(SCRIPT) && list.contains(SOURCE),
        "{list}"
    );
    tab.until(
        "the source list",
        &format!(
            "document.querySelector('#sources').textContent.includes({})",
            js(SOURCE)
        ),
    )
    .await;

    let ids: Vec<String> = tab
        .eval("[...document.querySelectorAll('#events tr')].map(r => r.dataset.id)")
        .await;
    let mut details = String::new();
    for id in ids {
        let open = format!("document.querySelector('#events tr[data-id=\"{id}\"]').click(), true");
        tab.eval::<bool>(&open).await;
        let title = format!(
            "document.querySelector('#detail-title').textContent.startsWith('Event {id} ')"
        );
        tab.until("the detail", &title).await;
        tab.until(
            "the headers",
            "document.querySelector('#detail-body table')",
        )
        .await;
        tab.eval::<bool>(
            "document.querySelectorAll('#detail details').forEach(d => d.open = true), true",
        )
        .await;
        assert!(
            tab.eval::<bool>(NO_MARKUP).await,
            "markup became elements in event {id}"
        );
        details.push_str(&text_of(&tab, "#detail").await);
    }
    for needle in [
        SCRIPT,
        LINK,
        HEADER_VALUE,
        HEADER_NAME,
        "</script><script>alert(3)",
        "window.__pwned=1",
    ] {
        assert!(
            details.contains(needle),
            "`{needle}` is not shown literally"
        );
    }
    tab.assert_nothing_ran().await;
    browser.close().await;
}
