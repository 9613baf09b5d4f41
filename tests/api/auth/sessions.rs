//! Dashboard sessions: a random cookie per login, ended by logout and by a token change, kept
//! in the store across restarts, expiring after their idle time; on SQLite and PostgreSQL.

use chrono::{DateTime, TimeDelta, Utc};
use hookwatch::auth::Sessions;
use hookwatch::store::{self, DatabaseUrl, Store, StoreSettings};
use reqwest::header::SET_COOKIE;

use super::{TOKEN, client, login_form};
use crate::pg;
use crate::support::{Backend, TestApp, spawn_at, spawn_in, spawn_on};

/// Logs in with `token`; answers the `name=value` of the session cookie.
pub async fn log_in(app: &TestApp, token: &str) -> String {
    let response = login_form(client().post(app.url("/login")), token)
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 303, "login with the right token");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_string();
    assert!(pair.starts_with("hookwatch_session="), "{cookie}");
    pair
}

/// The status of `GET /api/events` with this cookie.
async fn with_cookie(app: &TestApp, cookie: &str) -> u16 {
    client()
        .get(app.url("/api/events"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn log_out(app: &TestApp, cookie: &str) {
    let response = client()
        .post(app.url("/logout"))
        .header("cookie", cookie)
        .header("origin", format!("http://{}", app.addr))
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), 303);
}

fn token_config() -> String {
    format!("token = \"{TOKEN}\"\n")
}

#[tokio::test]
async fn a_cookie_captured_before_logout_gets_401_after_it_on_both_backends() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_on(backend, &token_config()).await else {
            continue;
        };
        let cookie = log_in(&app, TOKEN).await;
        assert_eq!(with_cookie(&app, &cookie).await, 200, "{backend:?}");
        let copied = cookie.clone();
        log_out(&app, &cookie).await;
        assert_eq!(with_cookie(&app, &copied).await, 401, "{backend:?}");
        let page = client()
            .get(app.url("/"))
            .header("cookie", &copied)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 303, "{backend:?}: back to the login form");
    }
}

#[tokio::test]
async fn two_logins_get_different_cookies_and_logging_out_of_one_keeps_the_other() {
    let app = super::app_with_token().await;
    let first = log_in(&app, TOKEN).await;
    let second = log_in(&app, TOKEN).await;
    assert_ne!(first, second);
    assert!(!first.contains(TOKEN) && !second.contains(TOKEN));
    log_out(&app, &first).await;
    assert_eq!(with_cookie(&app, &first).await, 401);
    assert_eq!(with_cookie(&app, &second).await, 200);
}

#[tokio::test]
async fn a_session_survives_a_restart_and_a_token_change_ends_it() {
    let app = spawn_in(tempfile::tempdir().unwrap(), "", Some(TOKEN)).await;
    let cookie = log_in(&app, TOKEN).await;
    let app = app.restart().await;
    assert_eq!(with_cookie(&app, &cookie).await, 200, "after a restart");
    let dir = app.stop().await;
    let new_token = "a-new-token-after-rotation";
    let app = spawn_in(dir, "", Some(new_token)).await;
    assert_eq!(
        with_cookie(&app, &cookie).await,
        401,
        "made under the old token"
    );
    let fresh = log_in(&app, new_token).await;
    assert_eq!(with_cookie(&app, &fresh).await, 200);
}

#[tokio::test]
async fn on_postgresql_a_session_outlives_its_instance_and_ends_with_the_token() {
    let Some(db) = pg::fresh_db().await else {
        return;
    };
    let dir = || tempfile::tempdir().unwrap();
    let first = spawn_at(dir(), "", Some(TOKEN), &db.url).await;
    let cookie = log_in(&first, TOKEN).await;
    first.stop().await;
    let second = spawn_at(dir(), "", Some(TOKEN), &db.url).await;
    assert_eq!(with_cookie(&second, &cookie).await, 200, "another instance");
    second.stop().await;
    let rotated = spawn_at(dir(), "", Some("a-new-token-after-rotation"), &db.url).await;
    assert_eq!(with_cookie(&rotated, &cookie).await, 401, "another token");
}

#[tokio::test]
async fn a_stale_or_malformed_cookie_is_401_and_never_an_error() {
    let app = super::app_with_token().await;
    for cookie in [
        "hookwatch_session=",
        "hookwatch_session=not-hex",
        &format!("hookwatch_session={}", "a".repeat(64)),
        &format!("hookwatch_session={}", "é".repeat(32)),
    ] {
        assert_eq!(with_cookie(&app, cookie).await, 401, "{cookie}");
    }
}

#[tokio::test]
async fn session_idle_is_read_from_the_config_file_and_checked() {
    let app = spawn_in(
        tempfile::tempdir().unwrap(),
        "session_idle = \"30m\"\n",
        Some(TOKEN),
    )
    .await;
    let cookie = log_in(&app, TOKEN).await;
    assert_eq!(with_cookie(&app, &cookie).await, 200);
    for bad in ["0s", "12", "soon", "-5m"] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hookwatch.toml");
        std::fs::write(&config, format!("session_idle = \"{bad}\"\n")).unwrap();
        let overrides = hookwatch::config::Overrides {
            config: Some(config),
            ..Default::default()
        };
        let error = hookwatch::config::Settings::resolve(&overrides)
            .unwrap_err()
            .to_string();
        assert!(error.contains("session_idle"), "{bad}: {error}");
    }
}

/// The sessions of `TOKEN` on a store, idle after one hour.
fn sessions(store: &Store, token: &str) -> Sessions {
    Sessions::new(store.clone(), token, TimeDelta::hours(1))
}

async fn stores() -> Vec<(Store, Option<pg::TestDb>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(dir.path().join("s.db"));
    let sqlite = store::open(&url, &StoreSettings::default()).await.unwrap();
    let mut stores = vec![(sqlite, None, dir)];
    if let Some(db) = pg::fresh_db().await {
        let url = DatabaseUrl::Postgres(db.url.clone());
        let store = store::open(&url, &StoreSettings { pool_size: 2 })
            .await
            .unwrap();
        stores.push((store, Some(db), tempfile::tempdir().unwrap()));
    }
    stores
}

#[tokio::test]
async fn a_session_slides_while_used_and_expires_after_its_idle_time_on_both_backends() {
    let t0 = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let at = |minutes: i64| t0 + TimeDelta::minutes(minutes);
    for (store, _db, _dir) in stores().await {
        // Fresh `Sessions` for each check: the store answers, not a cache.
        let id = sessions(&store, TOKEN).create(t0).await.unwrap();
        for minutes in [50, 100, 150] {
            let valid = sessions(&store, TOKEN).validate(&id, at(minutes)).await;
            assert!(valid.unwrap(), "used every 50 minutes: valid at {minutes}");
        }
        let expired = sessions(&store, TOKEN).validate(&id, at(150 + 61)).await;
        assert!(!expired.unwrap(), "idle for 61 minutes");

        let other = sessions(&store, TOKEN).create(t0).await.unwrap();
        let rotated = sessions(&store, "another-token-entirely");
        assert!(!rotated.validate(&other, at(1)).await.unwrap());
        assert_eq!(
            rotated.revoke_other_tokens().await.unwrap(),
            2,
            "both of TOKEN"
        );
        assert!(
            !sessions(&store, TOKEN)
                .validate(&other, at(2))
                .await
                .unwrap()
        );
    }
}
