//! Guessing the token: ten wrong tokens within a minute and the address gets `429` with
//! `Retry-After` everywhere the token is needed, even with the right one; other addresses,
//! requests without a token, stale cookies and `/webhook/` are not affected.

use std::net::IpAddr;

use reqwest::header::RETRY_AFTER;
use reqwest::redirect::Policy;

use super::{TOKEN, app_with_token, client, login_form};
use crate::support::TestApp;

/// A client whose requests come from `address` (any 127.x.y.z reaches the loopback server).
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .local_address(address.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn bearer_status(client: &reqwest::Client, app: &TestApp, token: &str) -> u16 {
    client
        .get(app.url("/api/events"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn assert_throttled(response: &reqwest::Response, what: &str) {
    assert_eq!(response.status(), 429, "{what}");
    let wait: u64 = response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{what}: Retry-After {wait}");
}

#[tokio::test]
async fn ten_wrong_tokens_get_429_everywhere_the_token_is_needed_even_with_the_right_one() {
    let app = app_with_token().await;
    let guesser = client_from("127.0.0.1");
    for n in 0..10 {
        let status = bearer_status(&guesser, &app, &format!("guess-{n}")).await;
        assert_eq!(status, 401, "guess {n}");
    }
    for path in [
        "/api/events",
        "/api/stats",
        "/",
        "/api/meta",
        "/assets/app.js",
    ] {
        let response = guesser
            .get(app.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_throttled(&response, path);
        let body = response.text().await.unwrap();
        assert!(!body.contains("\"events\""), "{path}: {body}");
    }
    let form = guesser.get(app.url("/login")).send().await.unwrap();
    assert_throttled(&form, "GET /login");
    let login = login_form(guesser.post(app.url("/login")), TOKEN)
        .send()
        .await
        .unwrap();
    assert_throttled(&login, "POST /login with the right token");
    assert!(login.headers().get("set-cookie").is_none());
    let body = login.text().await.unwrap();
    assert!(body.contains("Too many wrong tokens"), "{body}");

    let webhook = guesser
        .post(app.url("/webhook/demo"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), 200, "/webhook/ is never throttled");
    let health = guesser.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let neighbour = client_from("127.0.0.2");
    assert_eq!(bearer_status(&neighbour, &app, TOKEN).await, 200);
}

#[tokio::test]
async fn wrong_tokens_in_the_login_form_count_as_guesses() {
    let app = app_with_token().await;
    let guesser = client_from("127.0.0.3");
    for n in 0..10 {
        let response = login_form(guesser.post(app.url("/login")), &format!("guess-{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "guess {n}");
    }
    let response = guesser
        .get(app.url("/api/events"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_throttled(&response, "the API after ten wrong logins");
}

#[tokio::test]
async fn no_token_an_empty_one_or_a_stale_cookie_never_counts_as_a_guess() {
    let app = app_with_token().await;
    let browser = client_from("127.0.0.4");
    let stale = format!("hookwatch_session={}", "0".repeat(64));
    for _ in 0..15 {
        let bare = browser.get(app.url("/api/events")).send().await.unwrap();
        assert_eq!(bare.status(), 401);
        let old = browser
            .get(app.url("/api/events"))
            .header("cookie", &stale)
            .send()
            .await
            .unwrap();
        assert_eq!(old.status(), 401);
        let empty = login_form(browser.post(app.url("/login")), "")
            .send()
            .await
            .unwrap();
        assert_eq!(empty.status(), 401);
    }
    assert_eq!(bearer_status(&browser, &app, TOKEN).await, 200);
    assert_eq!(bearer_status(&client(), &app, TOKEN).await, 200);
}
