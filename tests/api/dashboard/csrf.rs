//! Cross-site request forgery in real Chromium: a page served on another loopback port posts
//! a form to hookwatch while the browser holds a dashboard session.
//!
//! `127.0.0.1:A` and `127.0.0.1:B` are the same site (ports do not count), so the
//! `SameSite=Strict` cookie does go with the forged form; only the `Origin` check stops it.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::browser::{Tab, js, launch};
use crate::support::{TestApp, spawn_in};

const TOKEN: &str = "csrf-browser-test-token";

/// Serves pages that auto-submit a form to `target` + each path, on a loopback port of its
/// own; answers that origin.
async fn attacker(target: String) -> String {
    let page = move |path: &'static str| {
        let html = format!(
            "<!doctype html><title>win a prize</title>\
             <form method=post action=\"{target}{path}\"><input name=token value=attacker-token></form>\
             <script>document.forms[0].submit()</script>"
        );
        get(move || async move { Html(html) })
    };
    let router = Router::new()
        .route("/logout.html", page("/logout"))
        .route("/enrich.html", page("/api/events/1/enrich"))
        .route("/login.html", page("/login"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    origin
}

/// Opens the attacker's page and waits for hookwatch's answer to its forged form.
async fn forged_post_is_refused(tab: &Tab, app: &TestApp, page: &str) {
    tab.goto(page).await;
    let refused = format!(
        "location.href.startsWith({}) && document.body.innerText.includes('cross_origin')",
        js(&app.url("/"))
    );
    tab.until(&format!("hookwatch to refuse the form of {page}"), &refused)
        .await;
}

/// Whether the dashboard opens (the session is alive) rather than the login form.
async fn dashboard_opens(tab: &Tab, app: &TestApp) -> bool {
    tab.goto(&app.url("/")).await;
    tab.until(
        "the dashboard or the login form",
        "document.querySelector('#events') || document.querySelector('#token')",
    )
    .await;
    tab.eval("!!document.querySelector('#events')").await
}

#[tokio::test]
async fn a_form_posted_from_another_loopback_port_cannot_log_the_dashboard_out() {
    let Some(browser) = launch().await else {
        return;
    };
    let app = spawn_in(tempfile::tempdir().unwrap(), "", Some(TOKEN)).await;
    let evil = attacker(app.url("")).await;
    let tab = browser.open(&app.url("/login")).await;
    tab.log_in(TOKEN).await;

    forged_post_is_refused(&tab, &app, &format!("{evil}/logout.html")).await;
    assert!(
        dashboard_opens(&tab, &app).await,
        "the session outlived the forged logout"
    );
    forged_post_is_refused(&tab, &app, &format!("{evil}/enrich.html")).await;
    forged_post_is_refused(&tab, &app, &format!("{evil}/login.html")).await;
    assert!(dashboard_opens(&tab, &app).await, "still the same session");

    // The dashboard's own logout button is a same-origin form: it still works.
    tab.eval::<bool>("document.querySelector('#logout button').click(), true")
        .await;
    tab.until(
        "the login form after logging out",
        "location.pathname === '/login' && document.querySelector('#token')",
    )
    .await;
    assert!(!dashboard_opens(&tab, &app).await, "logged out for real");
    browser.close().await;
}
