//! Access with the token: the `Authorization` scheme in any case, sessions that end, and the
//! throttle on wrong tokens.

mod csrf;
mod sessions;
mod start;
mod throttle;

use reqwest::redirect::Policy;

use crate::support::{TestApp, spawn_in};

pub const TOKEN: &str = "s3cret-token-for-auth-tests";

/// A client that does not follow redirects, so a test sees the login's `303` and cookie.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// A login form's body with this token.
pub fn login_form(request: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish();
    request
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

pub async fn app_with_token() -> TestApp {
    spawn_in(tempfile::tempdir().expect("dir"), "", Some(TOKEN)).await
}

#[tokio::test]
async fn the_bearer_scheme_is_accepted_in_any_case() {
    let app = app_with_token().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        for path in ["/api/events", "/", "/api/meta"] {
            let response = client()
                .get(app.url(path))
                .header("authorization", format!("{scheme} {TOKEN}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{scheme} on {path}");
        }
    }
    let wrong = client()
        .get(app.url("/api/events"))
        .header("authorization", format!("bearer {TOKEN}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}
