//! `POST /api/events/{id}/enrich`: re-run enrichment for one event now and answer the new
//! document. Behind the token like all of `/api`. Asks the service afresh (the cache is
//! refreshed, not read) and spends from the daily budget like any call.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::{Enricher, Trigger};
use crate::http::ApiError;
use crate::model::Status;
use crate::openapi::schemas as doc;
use crate::store::Store;

/// What the handler needs: the store, and the enricher when enrichment is configured.
#[derive(Clone)]
pub struct EnrichState {
    pub store: Store,
    pub enricher: Option<Arc<Enricher>>,
}

/// `POST /api/events/{id}/enrich`
#[utoipa::path(post, path = "/api/events/{id}/enrich", tag = "read",
    summary = "Enrich one event now",
    params(("id" = i64, Path, description = "The event id")),
    responses(
        (status = 200, description = "The enrichment document, also stored with the event",
            body = Object),
        (status = 400, description = "Not an event id", body = doc::ErrorBody),
        (status = 403, description = "A cookie request from another origin", body = doc::ErrorBody),
        (status = 404, description = "No such event", body = doc::ErrorBody),
        (status = 409, description = "Enrichment is not configured, or the event was rejected",
            body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn enrich_event(
    State(state): State<EnrichState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let event = crate::query::http::find(&state.store, &id).await?;
    let Some(enricher) = state.enricher else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "enrichment_not_configured",
            "enrichment is not configured: add an [enrichment] section to the config file",
        ));
    };
    if event.new.status == Status::Rejected {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "rejected_event",
            "rejected events are never enriched: their content is unproven",
        ));
    }
    let document = enricher.enrich(&event, Trigger::OnDemand).await?;
    Ok(Json(document))
}
