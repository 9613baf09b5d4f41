//! `GET /api/alerts?limit=`: stored firings and resolutions, newest first.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::view;
use crate::http::{ApiError, Params, QueryParams};
use crate::openapi::schemas as doc;
use crate::store::Store;

/// Alerts per answer when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most one answer holds.
pub const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// 1 to 1000; 50 when not given.
    #[param(schema_with = doc::limit)]
    pub limit: Option<String>,
}

impl QueryParams for AlertParams {
    const NAMES: &'static [&'static str] = &["limit"];
}

/// Parses `limit`: 1–1000, default 50.
pub fn parse_limit(text: Option<&str>) -> Result<u32, String> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(DEFAULT_LIMIT),
        Some(t) => t
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| format!("limit: `{t}` is not a whole number from 1 to {MAX_LIMIT}")),
    }
}

/// `GET /api/alerts`
#[utoipa::path(get, path = "/api/alerts", tag = "read",
    summary = "Stored alerts, newest first",
    params(AlertParams),
    responses(
        (status = 200, description = "Alerts, newest first", body = doc::AlertList),
        (status = 400, description = "A bad parameter", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn list(
    State(store): State<Store>,
    Params(params): Params<AlertParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = parse_limit(params.limit.as_deref())
        .map_err(|e| ApiError::bad_request("invalid_parameter", e))?;
    let alerts = store.alerts(limit).await?;
    let alerts: Vec<Value> = alerts.iter().map(view::json).collect();
    Ok(Json(json!({ "alerts": alerts })))
}
