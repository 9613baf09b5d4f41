//! The empty list's hint: the command it shows is pasted into a real shell, as a new user
//! would, and must make an event with a type on this very server.

use serde_json::Value;

use crate::browser::launch;
use crate::support::spawn_app;

fn has_curl() -> bool {
    std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok()
}

#[tokio::test]
async fn the_empty_list_shows_a_command_that_makes_an_event_when_pasted() {
    if !has_curl() {
        eprintln!("\n!!! SKIPPING the pasted hint: no curl on this machine !!!\n");
        return;
    }
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    let tab = browser.open(&app.url("/")).await;
    let shown = "!document.querySelector('#empty').hidden && \
                 !document.querySelector('#example').hidden && \
                 document.querySelector('#example-command').textContent.startsWith('curl ')";
    tab.until("the hint", shown).await;
    // The rest of an empty page says it is empty, rather than drawing a peak of 1.
    tab.until(
        "the empty glance",
        "document.querySelector('#legend').textContent === 'no events in this window' && \
         document.querySelector('#sources').textContent === 'None yet.'",
    )
    .await;
    let command: String = tab
        .eval("document.querySelector('#example-command').textContent")
        .await;
    assert!(
        command.contains(&app.url("/webhook/")),
        "a full URL: {command}"
    );
    assert!(
        command.contains("content-type: application/json"),
        "{command}"
    );

    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .output()
        .await
        .expect("run sh");
    assert!(output.status.success(), "{command}\n{output:?}");
    let answer: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{command}\n{output:?}"));
    assert_eq!(answer["status"], "received", "{answer}");
    let event = app.get_json(&format!("/api/events/{}", answer["id"])).await;
    let kind = event["event_type"].as_str().unwrap_or_default();
    assert!(!kind.is_empty(), "an event with a type: {event}");
    assert_eq!(event["content_type"], "application/json");

    tab.until(
        "the new event listed and the hint gone",
        &format!(
            "document.querySelector('#empty').hidden && \
             document.querySelector('#events').textContent.includes({})",
            crate::browser::js(kind)
        ),
    )
    .await;

    // Filters that match nothing say so, rather than offering the command.
    tab.goto(&app.url("/?source=nothing-here")).await;
    tab.until(
        "the filtered empty list",
        "!document.querySelector('#empty').hidden && document.querySelector('#example').hidden && \
         document.querySelector('#empty-text').textContent === 'No events match these filters.'",
    )
    .await;
    tab.assert_nothing_ran().await;
    browser.close().await;
}

/// Records whether `#empty` was ever shown: at DOMContentLoaded, and at every change of its
/// `hidden` attribute since (each record's old value is the state the one before it left).
const WATCH_EMPTY: &str = "window.__emptyShown = false; \
    document.addEventListener('DOMContentLoaded', () => { \
      const node = document.getElementById('empty'); \
      if (!node.hidden) window.__emptyShown = true; \
      new MutationObserver((records) => { \
        const states = records.map((r) => r.oldValue).slice(1).concat([node.getAttribute('hidden')]); \
        if (states.some((s) => s === null)) window.__emptyShown = true; \
      }).observe(node, { attributes: true, attributeFilter: ['hidden'], attributeOldValue: true }); \
    });";

#[tokio::test]
async fn a_list_with_events_never_says_there_are_none_while_it_loads() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_app().await;
    let body = r#"{"type":"already.here"}"#;
    let json = [("content-type", "application/json")];
    assert_eq!(app.post("shop", &json, body).await.status(), 200);
    let tab = browser.open("about:blank").await;
    tab.add_init_script(WATCH_EMPTY).await;
    tab.goto(&app.url("/")).await;
    tab.until(
        "the event listed",
        "!document.querySelector('#list').hasAttribute('aria-busy') && \
         document.querySelector('#events').textContent.includes('already.here')",
    )
    .await;
    assert!(
        !tab.eval::<bool>("window.__emptyShown").await,
        "the page said there were no events while it loaded them"
    );
    tab.assert_nothing_ran().await;
    browser.close().await;
}
