//! Who may see the dashboard: without the token, a redirect to the login form and no event
//! data; with it (cookie or bearer), the page. Every answer carries the security headers.

use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

use crate::support::{TestApp, spawn_app, spawn_in, spawn_insecure};

const TOKEN: &str = "s3cret-token-for-tests";
const MARKER: &str = "marker-7f3a-in-a-payload";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

async fn app_with_token_and_an_event() -> TestApp {
    let app = spawn_in(tempfile::tempdir().unwrap(), "", Some(TOKEN)).await;
    let body = format!(r#"{{"type":"{MARKER}","note":"{MARKER}"}}"#);
    let response = app
        .post("demo", &[("content-type", "application/json")], body)
        .await;
    assert_eq!(response.status(), 200);
    app
}

async fn log_in(app: &TestApp, token: &str) -> reqwest::Response {
    client()
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("token", token)
                .finish(),
        )
        .send()
        .await
        .expect("login")
}

#[tokio::test]
async fn without_the_token_the_dashboard_redirects_to_login_and_sends_no_event_data() {
    let app = app_with_token_and_an_event().await;
    let response = client().get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/login");
    assert!(!response.text().await.unwrap().contains(MARKER));

    let login = client().get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(!login.text().await.unwrap().contains(MARKER));
}

#[tokio::test]
async fn without_the_token_every_api_and_script_answers_401() {
    let app = app_with_token_and_an_event().await;
    let paths = [
        "/api/events",
        "/api/events/1",
        "/api/events/1/raw",
        "/api/stats?since=15m",
        "/api/sources",
        "/api/stream",
        "/api/meta",
        "/assets/app.js",
        "/assets/detail.js",
    ];
    for path in paths {
        let response = client().get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert!(!response.text().await.unwrap().contains(MARKER), "{path}");
    }
    let forged = client()
        .get(app.url("/api/events"))
        .header("cookie", format!("hookwatch_session={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401, "the token itself is not a session");
}

#[tokio::test]
async fn logging_in_sets_an_http_only_strict_session_cookie_that_opens_the_dashboard() {
    let app = app_with_token_and_an_event().await;
    let response = log_in(&app, TOKEN).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with("hookwatch_session="), "{cookie}");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{part} missing in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert!(
        !cookie.contains(TOKEN),
        "the cookie must not carry the token"
    );
    let session = cookie.split(';').next().unwrap().to_string();

    let page = client()
        .get(app.url("/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/assets/app.js") && !html.contains(TOKEN));
    let api = client()
        .get(app.url("/api/events"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);

    let out = client()
        .post(app.url("/logout"))
        .header("cookie", &session)
        .header("origin", format!("http://{}", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let cleared = out.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("hookwatch_session=;") && cleared.contains("Max-Age=0"));
}

#[tokio::test]
async fn a_wrong_token_shows_the_login_form_again_with_401_and_no_cookie() {
    let app = app_with_token_and_an_event().await;
    let response = log_in(&app, "not-the-token").await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().get(SET_COOKIE).is_none());
    let html = response.text().await.unwrap();
    assert!(html.contains("not right") && !html.contains(MARKER));
}

#[tokio::test]
async fn a_bearer_token_opens_the_page_and_the_api() {
    let app = app_with_token_and_an_event().await;
    for path in ["/", "/assets/app.js", "/api/meta", "/api/events"] {
        let response = client()
            .get(app.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn every_dashboard_answer_carries_a_strict_content_security_policy() {
    let app = spawn_app().await;
    for path in ["/", "/assets/app.js", "/assets/app.css", "/api/meta"] {
        let response = client().get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: {directive} missing in {csp}"
            );
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
    }
}

#[tokio::test]
async fn without_a_token_on_loopback_the_page_opens_and_shows_no_warning() {
    let app = spawn_app().await;
    let login = client().get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), 303, "no login form when there is no token");
    let meta = app.get_json("/api/meta").await;
    assert_eq!(meta["insecure"], false);
    assert_eq!(meta["auth"], false);
}

#[tokio::test]
async fn with_insecure_no_auth_on_a_public_address_the_page_is_told_to_warn() {
    let app = spawn_insecure().await;
    let meta = app.get_json("/api/meta").await;
    assert_eq!(meta["insecure"], true);
    assert!(meta["version"].is_string());
}
