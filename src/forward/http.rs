//! The forwarding API: an event's attempts, the deliveries, the targets, pause and resume,
//! and replay. Thin: parse, ask the store, render with `forward::view`.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::target::{self, Kind, Own};
use super::{Forwarding, enqueue, view};
use crate::alert::http::parse_limit;
use crate::http::{ApiError, NoParams, Params, QueryParams};
use crate::model::Event;
use crate::openapi::schemas as doc;
use crate::query::http::find;
use crate::redact;
use crate::store::{DeliveryFilter, DeliveryState, NewDelivery, Store};

/// What the handlers need from the app.
#[derive(Clone)]
pub struct ForwardState {
    pub store: Store,
    pub forwarding: Forwarding,
    /// Where this hookwatch listens, for the loop check of a replay's `to`.
    pub listen: SocketAddr,
    pub public_url: Option<String>,
}

/// `GET /api/events/{id}/attempts`
#[utoipa::path(get, path = "/api/events/{id}/attempts", tag = "forwarding",
    operation_id = "event_attempts",
    summary = "Every attempt to forward an event, oldest first",
    params(("id" = i64, Path, description = "The event id")),
    responses(
        (status = 200, description = "The attempts", body = doc::AttemptList),
        (status = 400, description = "Not an event id, or a query parameter", body = doc::ErrorBody),
        (status = 404, description = "No such event", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn attempts(
    State(state): State<ForwardState>,
    Path(id): Path<String>,
    _: Params<NoParams>,
) -> Result<Json<Value>, ApiError> {
    let event = find(&state.store, &id).await?;
    let attempts = state.store.attempts_of_event(event.id).await?;
    let attempts: Vec<Value> = attempts.iter().map(view::attempt).collect();
    Ok(Json(json!({ "attempts": attempts })))
}

/// Parameters of `/api/forwards`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForwardsParams {
    /// `pending`, `delivered` or `dead`.
    #[param(pattern = "^(pending|delivered|dead)?$")]
    pub state: Option<String>,
    /// A target's name.
    pub target: Option<String>,
    /// A source name.
    pub source: Option<String>,
    /// 1 to 1000; 50 when not given.
    #[param(schema_with = doc::limit)]
    pub limit: Option<String>,
    /// The keyset cursor: the previous page's `next_before`.
    #[param(schema_with = doc::event_id)]
    pub before: Option<String>,
}

impl QueryParams for ForwardsParams {
    const NAMES: &'static [&'static str] = &["state", "target", "source", "limit", "before"];
}

/// `GET /api/forwards`: deliveries, newest first.
#[utoipa::path(get, path = "/api/forwards", tag = "forwarding",
    operation_id = "list_forwards",
    summary = "Deliveries, newest first",
    params(ForwardsParams),
    responses(
        (status = 200, description = "A page of deliveries", body = doc::ForwardPage),
        (status = 400, description = "A bad parameter", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn list(
    State(state): State<ForwardState>,
    Params(params): Params<ForwardsParams>,
) -> Result<Json<Value>, ApiError> {
    let bad = |message: String| ApiError::bad_request("invalid_parameter", message);
    let limit = parse_limit(params.limit.as_deref()).map_err(bad)?;
    let delivery_state = match params.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(DeliveryState::parse(text).ok_or_else(|| {
            bad(format!(
                "state: `{text}` is not one of pending, delivered, dead"
            ))
        })?),
    };
    let before = match params.before.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| bad(format!("before: `{text}` is not a whole number")))?,
        ),
    };
    let filter = DeliveryFilter {
        state: delivery_state,
        target: params.target.filter(|s| !s.is_empty()),
        source: params.source.filter(|s| !s.is_empty()),
        before,
        limit: limit + 1,
    };
    let mut found = state.store.list_deliveries(filter).await?;
    let next_before = if found.len() > limit as usize {
        found.truncate(limit as usize);
        found.last().map(|d| d.id)
    } else {
        None
    };
    let forwards: Vec<Value> = found.iter().map(view::listed).collect();
    Ok(Json(
        json!({ "forwards": forwards, "next_before": next_before }),
    ))
}

/// `GET /api/forwards/targets`
#[utoipa::path(get, path = "/api/forwards/targets", tag = "forwarding",
    operation_id = "list_targets",
    summary = "Forwarding targets, their state and totals",
    responses(
        (status = 200, description = "The targets", body = doc::TargetList),
        (status = 400, description = "A query parameter", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn targets(
    State(state): State<ForwardState>,
    _: Params<NoParams>,
) -> Result<Json<Value>, ApiError> {
    let mut targets = Vec::new();
    for target in state.forwarding.targets.iter() {
        let totals = state.store.target_totals(&target.name).await?;
        targets.push(view::target(target, &totals));
    }
    Ok(Json(json!({ "targets": targets })))
}

/// `POST /api/forwards/targets/{name}/pause`
#[utoipa::path(post, path = "/api/forwards/targets/{name}/pause", tag = "forwarding",
    operation_id = "pause_target",
    summary = "Pause a target: its deliveries wait, none is dropped",
    params(("name" = String, Path, description = "The target's name")),
    responses(
        (status = 200, description = "The target's state now", body = doc::TargetState),
        (status = 403, description = "A cookie request from another origin", body = doc::ErrorBody),
        (status = 404, description = "No such target", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn pause(
    State(state): State<ForwardState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_paused(&state, &name, true).await
}

/// `POST /api/forwards/targets/{name}/resume`
#[utoipa::path(post, path = "/api/forwards/targets/{name}/resume", tag = "forwarding",
    operation_id = "resume_target",
    summary = "Resume a paused target",
    params(("name" = String, Path, description = "The target's name")),
    responses(
        (status = 200, description = "The target's state now", body = doc::TargetState),
        (status = 403, description = "A cookie request from another origin", body = doc::ErrorBody),
        (status = 404, description = "No such target", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn resume(
    State(state): State<ForwardState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_paused(&state, &name, false).await
}

async fn set_paused(
    state: &ForwardState,
    name: &str,
    paused: bool,
) -> Result<Json<Value>, ApiError> {
    let Some(target) = state.forwarding.target(name) else {
        return Err(ApiError::not_found(format!(
            "no forwarding target named `{}`",
            shown(name)
        )));
    };
    state
        .store
        .set_target_paused(&target.name, paused, Utc::now())
        .await?;
    tracing::info!(target = %target.name, paused, "Forwarding target paused or resumed.");
    match paused {
        true => state.forwarding.paused(),
        false => state.forwarding.wake(),
    }
    let shown_state = if paused { "paused" } else { "active" };
    Ok(Json(json!({ "target": target.name, "state": shown_state })))
}

/// The body of a replay request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    to: Option<String>,
}

/// `POST /api/events/{id}/replay`, with an optional `{"to":URL}`.
#[utoipa::path(post, path = "/api/events/{id}/replay", tag = "forwarding",
    operation_id = "replay_event",
    summary = "Send a stored event again, through the forwarding queue",
    params(("id" = i64, Path, description = "The event id")),
    request_body(content = Option<doc::ReplayRequest>, content_type = "application/json"),
    responses(
        (status = 202, description = "The deliveries queued", body = doc::Queued),
        (status = 400, description = "Not an event id, a bad body or a bad `to`", body = doc::ErrorBody),
        (status = 403, description = "A cookie request from another origin", body = doc::ErrorBody),
        (status = 404, description = "No such event", body = doc::ErrorBody),
        (status = 409, description = "No rule takes the event and no `to` was given", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn replay(
    State(state): State<ForwardState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request: ReplayBody = match body.iter().all(u8::is_ascii_whitespace) {
        true => ReplayBody::default(),
        false => serde_json::from_slice::<Option<ReplayBody>>(&body)
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                ApiError::bad_request(
                    "invalid_body",
                    format!("expected {{\"to\":URL}} or nothing: {e}"),
                )
            })?,
    };
    let event = find(&state.store, &id).await?;
    let queued: Vec<NewDelivery> = match request.to {
        Some(to) => vec![ad_hoc(&state, &event, &to)?],
        None => enqueue::deliveries(std::slice::from_ref(&event), &state.forwarding.targets),
    };
    if queued.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_forward_rule",
            "no [[forward]] rule takes this event; give a {\"to\":URL} to send it somewhere",
        ));
    }
    let names: Vec<Value> = queued
        .iter()
        .map(|d| json!({ "target": d.target }))
        .collect();
    state.store.replay_deliveries(queued, Utc::now()).await?;
    state.forwarding.wake();
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": names }))))
}

/// A replay to a URL of the caller's: an HTTP URL that is not this hookwatch's `/webhook/`.
fn ad_hoc(state: &ForwardState, event: &Event, to: &str) -> Result<NewDelivery, ApiError> {
    let own = Own {
        listen: state.listen,
        public_url: state.public_url.as_deref(),
    };
    let bad = |message: String| ApiError::bad_request("invalid_to", message);
    match target::check(to, &own) {
        Ok(Kind::Http) => Ok(NewDelivery {
            event_id: event.id,
            source: event.new.source.clone(),
            target: redact::url(to),
            to: Some(to.to_string()),
        }),
        Ok(_) => Err(bad(
            "to: a replay's own `to` is an http(s) URL; a broker gets replays through its \
             [[forward]] rule (leave `to` out)"
                .into(),
        )),
        Err(error) => Err(bad(format!("to: {error}"))),
    }
}

/// A name from the URL, shortened for an error message.
fn shown(name: &str) -> String {
    name.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_params_take_every_name_they_list() {
        assert!(crate::http::takes_every_name_it_lists::<ForwardsParams>());
    }
}
