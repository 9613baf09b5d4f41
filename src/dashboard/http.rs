//! The dashboard's HTTP edge: the page at `/`, the login form, logout, the embedded assets,
//! `/api/meta`, and the security headers every one of those answers carries.
//!
//! Access: with a token configured, `/` and the scripts need the token (`Authorization:
//! Bearer` or the session cookie set by `POST /login`); without it `/` redirects to `/login`
//! and sends no event data. The session cookie holds a random session id (`auth::session`),
//! never the token; `POST /logout` ends the session. An address throttled for guessing the
//! token gets `429` on `/login` and on every page that needs the token.
//!
//! `POST /login` and `POST /logout` pass the cross-origin check (`auth::origin`) before they
//! get here. The Referrer-Policy is `same-origin`, not `no-referrer`: with `no-referrer` a
//! browser sends `Origin: null` even on the page's own forms, which that check refuses; links
//! to other sites still carry no referrer.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::assets::{self, INDEX_HTML, LOGIN_HTML};
use crate::auth::http::{cookie, require_token, too_many_attempts, with_retry_after};
use crate::auth::{Access, Auth, Login, SESSION_COOKIE};
use crate::http::{ApiError, NoParams, Params};
use crate::openapi::schemas as doc;

/// The policy of every dashboard answer: only this origin's files, no inline script or style,
/// no framing, no `<base>`, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

/// What the dashboard's handlers need.
#[derive(Clone, Debug)]
pub struct DashboardState {
    pub auth: Auth,
    /// No token while listening off loopback (`--insecure-no-auth`): the page shows a warning.
    pub insecure: bool,
}

/// The dashboard's routes, to be merged into the app's router.
pub fn router(state: DashboardState) -> Router {
    let meta =
        Router::new()
            .route("/api/meta", get(meta))
            .route_layer(middleware::from_fn_with_state(
                state.auth.clone(),
                require_token,
            ));
    Router::new()
        .route("/", get(index))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/assets/{name}", get(asset))
        .merge(meta)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn index(
    State(state): State<DashboardState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    match state.auth.check(&headers, peer.ip()).await {
        Access::Allowed => html(StatusCode::OK, INDEX_HTML.to_string()),
        Access::Denied => Redirect::to("/login").into_response(),
        Access::Throttled(wait) => too_many_attempts(wait),
    }
}

async fn login_page(
    State(state): State<DashboardState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !state.auth.enabled() {
        return Redirect::to("/").into_response();
    }
    if let Some(wait) = state.auth.throttled(peer.ip()) {
        return login_throttled(wait);
    }
    html(StatusCode::OK, LOGIN_HTML.replace("<!--error-->", ""))
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
}

async fn login(
    State(state): State<DashboardState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !state.auth.enabled() {
        return Redirect::to("/").into_response();
    }
    let login = state
        .auth
        .login(form.token.trim(), peer.ip(), chrono::Utc::now())
        .await;
    match login {
        Ok(Login::Session(id)) => {
            let secure = if over_https(&headers) { "; Secure" } else { "" };
            let cookie =
                format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}");
            see_other("/", cookie)
        }
        Ok(Login::Refused) => {
            tracing::info!(client = %peer.ip(), "Dashboard login refused: wrong token.");
            let message = r#"<p class="error" role="alert">That token is not right.</p>"#;
            html(
                StatusCode::UNAUTHORIZED,
                LOGIN_HTML.replace("<!--error-->", message),
            )
        }
        Ok(Login::Throttled(wait)) => login_throttled(wait),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// The login form again, `429` with `Retry-After`: this address guessed too often.
fn login_throttled(wait: std::time::Duration) -> Response {
    let message = r#"<p class="error" role="alert">Too many wrong tokens from this address. Wait a minute, then try again.</p>"#;
    let page = html(
        StatusCode::TOO_MANY_REQUESTS,
        LOGIN_HTML.replace("<!--error-->", message),
    );
    with_retry_after(page, wait)
}

/// Ends the session in the cookie (in the store too, so a copy of the cookie stops working)
/// and clears the cookie.
async fn logout(State(state): State<DashboardState>, headers: HeaderMap) -> Response {
    if let (Some(sessions), Some(id)) = (state.auth.sessions(), cookie(&headers, SESSION_COOKIE))
        && let Err(error) = sessions.revoke(id).await
    {
        return ApiError::from(error).into_response();
    }
    let secure = if over_https(&headers) { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    see_other("/login", cookie)
}

/// Whether the browser reached us over https (directly or through a proxy that says so).
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn see_other(location: &'static str, cookie: String) -> Response {
    let mut response = Redirect::to(location).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn asset(
    State(state): State<DashboardState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = assets::find(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !asset.public {
        match state.auth.check(&headers, peer.ip()).await {
            Access::Allowed => {}
            Access::Denied => return StatusCode::UNAUTHORIZED.into_response(),
            Access::Throttled(wait) => return too_many_attempts(wait),
        }
    }
    let headers = [
        (header::CONTENT_TYPE, asset.content_type),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    (headers, asset.body).into_response()
}

/// `GET /api/meta`: what the page needs to know about the server, never a secret.
#[utoipa::path(get, path = "/api/meta", tag = "read",
    summary = "What the dashboard needs to know about the server",
    responses(
        (status = 200, description = "What the dashboard needs to know about the server",
            body = doc::Meta),
        (status = 400, description = "A query parameter (none is taken)", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
    ))]
pub async fn meta(
    State(state): State<DashboardState>,
    _: Params<NoParams>,
) -> Json<serde_json::Value> {
    Json(json!({
        "insecure": state.insecure,
        "auth": state.auth.enabled(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

fn html(status: StatusCode, body: String) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    (status, headers, body).into_response()
}

/// Adds the Content-Security-Policy and friends to every dashboard answer.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
