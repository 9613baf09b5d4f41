//! Cross-site request forgery over plain HTTP: a state change that rides on the session cookie
//! needs hookwatch's own `Origin` (or `Referer`); bearer requests and webhooks need none; a
//! login from another origin is refused. The same attack from a real browser page is in
//! `dashboard::csrf`.

use reqwest::header::SET_COOKIE;

use super::sessions::log_in;
use super::{TOKEN, app_with_token, client, login_form};
use crate::support::{TestApp, spawn_in};

/// A `POST` of `path` with the cookie and these extra headers; answers the status.
async fn post_with_cookie(
    app: &TestApp,
    path: &str,
    cookie: &str,
    headers: &[(&str, &str)],
) -> u16 {
    let mut request = client().post(app.url(path)).header("cookie", cookie);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("post").status().as_u16()
}

/// Whether the session still opens the API.
async fn session_works(app: &TestApp, cookie: &str) -> bool {
    let response = client()
        .get(app.url("/api/events"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("get");
    response.status() == 200
}

#[tokio::test]
async fn a_cookie_logout_from_another_origin_or_without_one_is_refused_and_the_session_lives() {
    let app = app_with_token().await;
    let cookie = log_in(&app, TOKEN).await;
    let own = format!("http://{}", app.addr);
    let other_port = format!("http://127.0.0.1:{}", app.addr.port() + 1);
    let other_scheme = format!("https://{}", app.addr);
    let other_referer = format!("{other_port}/attack.html");
    let refused: [&[(&str, &str)]; 5] = [
        &[],
        &[("origin", &other_port)],
        &[("origin", &other_scheme)],
        &[("origin", "null")],
        &[("referer", &other_referer)],
    ];
    for headers in refused {
        for path in [
            "/logout",
            "/api/events/1/enrich",
            "/api/events/1/replay",
            "/api/forwards/targets/app/pause",
            "/api/nothing-here",
        ] {
            let status = post_with_cookie(&app, path, &cookie, headers).await;
            assert_eq!(status, 403, "{path} with {headers:?}");
        }
    }
    let response = client()
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .header("origin", &other_port)
        .send()
        .await
        .unwrap();
    assert!(response.headers().get(SET_COOKIE).is_none());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "cross_origin", "{body}");
    assert!(body["error"].as_str().unwrap().contains("origin"), "{body}");
    let not_text = reqwest::header::HeaderValue::from_bytes(b"http://127.0.0.1\xff").unwrap();
    let own_referer = format!("http://{}/", app.addr);
    let hostile = client()
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .header("origin", not_text)
        .header("referer", &own_referer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        hostile.status(),
        403,
        "an Origin that is not text matches nothing"
    );
    assert!(
        session_works(&app, &cookie).await,
        "no refused request ended the session"
    );

    let own_referer = format!("{own}/?source=stripe");
    let status = post_with_cookie(&app, "/logout", &cookie, &[("referer", &own_referer)]).await;
    assert_eq!(status, 303, "a same-origin Referer is enough");
    assert!(
        !session_works(&app, &cookie).await,
        "the own-origin logout ended it"
    );
    let cookie = log_in(&app, TOKEN).await;
    assert_eq!(
        post_with_cookie(&app, "/logout", &cookie, &[("origin", &own)]).await,
        303
    );
}

#[tokio::test]
async fn bearer_requests_and_webhooks_need_no_origin() {
    let app = app_with_token().await;
    let cookie = log_in(&app, TOKEN).await;
    let elsewhere = "http://127.0.0.1:1";
    let bearer = client()
        .post(app.url("/api/events/1/enrich"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("cookie", &cookie)
        .header("origin", elsewhere)
        .send()
        .await
        .unwrap();
    assert_ne!(bearer.status(), 403, "the bearer token is what counts");
    assert_ne!(bearer.status(), 401);
    let webhook = client()
        .post(app.url("/webhook/anything"))
        .header("cookie", &cookie)
        .header("origin", elsewhere)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), 200, "webhooks come from anywhere");
    let safe = client()
        .get(app.url("/api/events"))
        .header("cookie", &cookie)
        .header("origin", elsewhere)
        .send()
        .await
        .unwrap();
    assert_eq!(safe.status(), 200, "a GET changes nothing");
}

#[tokio::test]
async fn a_login_from_another_origin_is_refused_and_sets_no_cookie() {
    let app = app_with_token().await;
    let attack = login_form(client().post(app.url("/login")), TOKEN)
        .header("origin", "http://127.0.0.1:1")
        .send()
        .await
        .unwrap();
    assert_eq!(attack.status(), 403);
    assert!(attack.headers().get(SET_COOKIE).is_none());
    let own = login_form(client().post(app.url("/login")), TOKEN)
        .header("origin", format!("http://{}", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 303, "the login page's own form");
}

#[tokio::test]
async fn with_public_url_set_its_origin_is_the_own_one_and_the_host_is_not() {
    let toml = "public_url = \"https://hooks.example.com/base\"\n";
    let app = spawn_in(tempfile::tempdir().unwrap(), toml, Some(TOKEN)).await;
    let cookie = log_in(&app, TOKEN).await;
    let host = format!("http://{}", app.addr);
    assert_eq!(
        post_with_cookie(&app, "/logout", &cookie, &[("origin", &host)]).await,
        403
    );
    let public = [("origin", "https://hooks.example.com")];
    assert_eq!(
        post_with_cookie(&app, "/logout", &cookie, &public).await,
        303
    );
}

#[test]
fn a_public_url_that_is_not_an_http_url_is_a_configuration_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookwatch.toml");
    for url in ["hooks.example.com", "ftp://hooks.example.com", "https://"] {
        std::fs::write(&config, format!("public_url = \"{url}\"\n")).unwrap();
        let overrides = hookwatch::config::Overrides {
            config: Some(config.clone()),
            ..Default::default()
        };
        let error = hookwatch::config::Settings::resolve(&overrides).unwrap_err();
        assert!(error.to_string().contains("public_url"), "{url}: {error}");
    }
}
