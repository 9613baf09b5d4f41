//! `GET /openapi.json` and `GET /docs`: the document and a page that shows it. No token:
//! they hold no data. The page is embedded, like the dashboard, and loads nothing from
//! elsewhere.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;

/// Built once: it only changes with the binary.
static DOCUMENT: LazyLock<String> = LazyLock::new(super::document);

const PAGE: &str = include_str!("docs.html");
const SCRIPT: &str = include_str!("docs.js");
/// Only the page's own script and the document, from hookwatch itself.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub async fn document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
        ],
        PAGE,
    )
}

pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}
