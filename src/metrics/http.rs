//! `GET /metrics`: the instance's metrics in the Prometheus text format (behind the token).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::Metrics;

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The scrape handler.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    summary = "Metrics for Prometheus",
    responses(
        (status = 200, description = "Every metric in the Prometheus text format",
            content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 401, description = "No or a wrong token",
            body = crate::openapi::schemas::ErrorBody),
    ))]
pub async fn scrape(State(metrics): State<Metrics>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render())
}
