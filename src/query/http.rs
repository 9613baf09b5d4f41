//! The read API: events, one event, its raw body, stats, sources, health and the
//! live stream. Thin: parse, ask the store, render with `query::view`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::stream::{StreamFilter, items};
use super::{ListParams, ParamError, parse_time, select, view};
use crate::config::SourceSettings;
use crate::feed::{Feed, FeedItem};
use crate::http::{ApiError, NoParams, Params, QueryParams};
use crate::metrics::Metrics;
use crate::openapi::schemas as doc;
use crate::store::Store;
use utoipa::IntoParams;

/// What the read handlers need from the app.
#[derive(Clone)]
pub struct QueryState {
    pub store: Store,
    pub feed: Feed,
    pub sources: Arc<BTreeMap<String, SourceSettings>>,
    /// Cancelled at shutdown so open streams end and the server can stop.
    pub shutdown: CancellationToken,
    /// Counts the open streams.
    pub metrics: Metrics,
}

impl QueryParams for ListParams {
    const NAMES: &'static [&'static str] = &[
        "source",
        "type",
        "status",
        "signature",
        "error",
        "since",
        "until",
        "limit",
        "before",
        "q",
        "field",
    ];
    const REPEATABLE: &'static [&'static str] = &["field"];

    fn repeated(&mut self, _name: &str, values: Vec<String>) {
        self.field = values;
    }
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> ApiError {
        ApiError::bad_request("invalid_parameter", e.to_string())
    }
}

/// `GET /api/events`
#[utoipa::path(get, path = "/api/events", tag = "read",
    summary = "List events, newest first",
    params(ListParams),
    responses(
        (status = 200, description = "A page of event summaries", body = doc::EventPage),
        (status = 400, description = "A bad parameter", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn list_events(
    State(state): State<QueryState>,
    Params(params): Params<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let filter = params.parse(Utc::now())?;
    let fields = params.parse_fields()?;
    let page = select::page(&state.store, filter, &fields).await?;
    let events: Vec<Value> = page.events.iter().map(view::summary).collect();
    Ok(Json(json!({ "events": events, "next_before": page.next })))
}

/// `GET /api/events/{id}`
#[utoipa::path(get, path = "/api/events/{id}", tag = "read",
    summary = "One whole event",
    params(("id" = i64, Path, description = "The event id")),
    responses(
        (status = 200, description = "The whole event", body = doc::EventDetail),
        (status = 400, description = "Not an event id, or a query parameter", body = doc::ErrorBody),
        (status = 404, description = "No such event", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn get_event(
    State(state): State<QueryState>,
    Path(id): Path<String>,
    _: Params<NoParams>,
) -> Result<Json<Value>, ApiError> {
    let event = find(&state.store, &id).await?;
    let forwards = state.store.deliveries_of_event(event.id).await?;
    let mut detail = view::detail(&event);
    detail["forwards"] = forwards.iter().map(crate::forward::view::forward).collect();
    Ok(Json(detail))
}

/// `GET /api/events/{id}/raw`: the exact bytes with the original content type, as an
/// attachment so a hostile body can never run in hookwatch's origin.
#[utoipa::path(get, path = "/api/events/{id}/raw", tag = "read",
    summary = "An event's body, byte for byte",
    params(("id" = i64, Path, description = "The event id")),
    responses(
        (status = 200, description = "The body's exact bytes with the original Content-Type",
            content_type = "*/*", body = serde_json::Value),
        (status = 400, description = "Not an event id, or a query parameter", body = doc::ErrorBody),
        (status = 404, description = "No such event", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn get_raw(
    State(state): State<QueryState>,
    Path(id): Path<String>,
    _: Params<NoParams>,
) -> Result<Response, ApiError> {
    let event = find(&state.store, &id).await?;
    let content_type = event
        .new
        .content_type
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = format!("attachment; filename=\"event-{}.bin\"", event.id);
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'"),
        ),
    ];
    Ok((headers, event.new.body).into_response())
}

/// The stored event whose id is the path's `id`: `400` when it is not a whole number, `404`
/// when there is none.
pub(crate) async fn find(store: &Store, id: &str) -> Result<crate::model::Event, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_id", "an event id is a whole number"))?;
    store
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no event {id}")))
}

/// Parameters of `/api/stats`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// RFC 3339, or an age like `15m`, `2h`, `7d`.
    #[param(value_type = Option<doc::Time>)]
    pub since: Option<String>,
}

impl QueryParams for StatsParams {
    const NAMES: &'static [&'static str] = &["since"];
}

/// `GET /api/stats`
#[utoipa::path(get, path = "/api/stats", tag = "read",
    summary = "Totals, by source and type",
    params(StatsParams),
    responses(
        (status = 200, description = "Totals", body = doc::Stats),
        (status = 400, description = "A bad parameter", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn stats(
    State(state): State<QueryState>,
    Params(p): Params<StatsParams>,
) -> Result<Json<Value>, ApiError> {
    let since = match p.since.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(parse_time(text, Utc::now()).ok_or_else(|| ParamError {
            param: "since",
            problem: format!("`{text}` is not RFC 3339 or an age like 15m, 2h, 7d"),
        })?),
    };
    let stats = state.store.stats(since).await?;
    Ok(Json(serde_json::to_value(stats).unwrap_or(Value::Null)))
}

/// `GET /api/sources`: sources seen in the data, plus configured ones not heard from yet.
#[utoipa::path(get, path = "/api/sources", tag = "read",
    summary = "Every source, with its counts",
    responses(
        (status = 200, description = "One row per source", body = doc::SourceList),
        (status = 400, description = "A query parameter (none is taken)", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn sources(
    State(state): State<QueryState>,
    _: Params<NoParams>,
) -> Result<Json<Value>, ApiError> {
    let rows = state.store.sources().await?;
    let verified = |name: &str| {
        state
            .sources
            .get(name)
            .is_some_and(|s| s.verifier.is_some())
    };
    let mut out: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "source": r.source, "count": r.count, "errors": r.errors,
                "last_received": view::time(r.last_received), "provider": r.provider,
                "verified": verified(&r.source),
            })
        })
        .collect();
    for (name, settings) in state.sources.iter() {
        if !rows.iter().any(|r| &r.source == name) {
            let provider = settings.rules.provider.map(|p| p.as_str());
            out.push(json!({
                "source": name, "count": 0, "errors": 0, "last_received": null,
                "provider": provider, "verified": settings.verifier.is_some(),
            }));
        }
    }
    Ok(Json(json!({ "sources": out })))
}

/// `GET /healthz`: no token needed; 503 when the store cannot answer.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    summary = "Whether the store answers",
    responses(
        (status = 200, description = "The store answers", body = doc::Health),
        (status = 503, description = "The store is unreachable", body = doc::Health),
    ))]
pub async fn healthz(State(state): State<QueryState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(error) => {
            tracing::warn!(error = %error, "Health check failed.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "error": "the store is unreachable"})),
            )
                .into_response()
        }
    }
}

/// How long a disconnected stream client waits before reconnecting (SSE `retry:`).
const RECONNECT: Duration = Duration::from_secs(1);

/// Parameters of `/api/stream`: the list filters that apply to events still to come.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// A source name.
    #[param(pattern = "^[A-Za-z0-9._-]{0,64}$")]
    pub source: Option<String>,
    /// An event type; a trailing `*` matches a prefix (`charge.*`).
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// `received` or `rejected`.
    #[param(pattern = "^(received|rejected)?$")]
    pub status: Option<String>,
    /// `valid`, `invalid`, `missing` or `unverified`.
    #[param(pattern = "^(valid|invalid|missing|unverified)?$")]
    pub signature: Option<String>,
    /// `true` or `false`.
    #[param(schema_with = doc::flag)]
    pub error: Option<String>,
    /// Replays the stored events received since then first (when not resuming).
    #[param(value_type = Option<doc::Time>)]
    pub since: Option<String>,
    /// Full-text search, as on `/api/events`.
    #[param(max_length = 500, pattern = "^$|[^\\W_]")]
    pub q: Option<String>,
    /// `POINTER OP VALUE`, as on `/api/events`. Repeatable: set by `repeated`, not by serde.
    #[serde(skip)]
    pub field: Vec<String>,
    /// The same as the `Last-Event-ID` header, for a client that opens a new connection
    /// itself (a browser's EventSource cannot set that header).
    pub last_event_id: Option<String>,
}

impl QueryParams for StreamParams {
    const NAMES: &'static [&'static str] = &[
        "source",
        "type",
        "status",
        "signature",
        "error",
        "since",
        "q",
        "field",
        "last_event_id",
    ];
    const REPEATABLE: &'static [&'static str] = &["field"];

    fn repeated(&mut self, _name: &str, values: Vec<String>) {
        self.field = values;
    }
}

/// `GET /api/stream`: Server-Sent Events, resumable with `Last-Event-ID`.
#[utoipa::path(get, path = "/api/stream", tag = "read",
    summary = "Events and alerts as they happen (Server-Sent Events)",
    params(StreamParams,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    responses(
        (status = 200, description = "Server-Sent Events: `event: webhook` (an event summary, \
            `id:` its id) and `event: alert`", content_type = "text/event-stream", body = String),
        (status = 400, description = "A bad parameter", body = doc::ErrorBody),
        (status = 401, description = "No or a wrong token", body = doc::ErrorBody),
        (status = 503, description = "The store is unavailable", body = doc::ErrorBody),
    ))]
pub async fn stream(
    State(state): State<QueryState>,
    Params(p): Params<StreamParams>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let list = ListParams {
        source: p.source,
        event_type: p.event_type,
        status: p.status,
        signature: p.signature,
        error: p.error,
        since: p.since,
        q: p.q,
        field: p.field,
        ..ListParams::default()
    };
    let filter = StreamFilter::from_list(list.parse(Utc::now())?, list.parse_fields()?);
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(p.last_event_id.as_deref())
        .and_then(|v| v.trim().parse::<i64>().ok());
    // `since` without a resume point replays what is stored from then: from the first id on,
    // the `since` filter picking the events.
    let last_id = resume.or(filter.since.map(|_| 0));
    // First tell the browser to reconnect after a second (not its default of a few), so a
    // restart of hookwatch leaves only a short gap, which `Last-Event-ID` then fills.
    let reconnect = futures_util::stream::once(async { SseEvent::default().retry(RECONNECT) });
    let events = reconnect
        .chain(
            items(state.store.clone(), &state.feed, filter, last_id).map(|item| sse_event(&item)),
        )
        .map(Ok)
        .take_until(state.shutdown.cancelled_owned());
    // Counted while the response's stream lives: the guard goes with it.
    let open = state.metrics.stream_opened();
    let events = events.inspect(move |_| {
        let _ = &open;
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn sse_event(item: &FeedItem) -> SseEvent {
    match item {
        FeedItem::Event(e) => SseEvent::default()
            .event("webhook")
            .id(e.id.to_string())
            .data(view::summary(e).to_string()),
        FeedItem::Alert(a) => SseEvent::default()
            .event("alert")
            .data(view::alert(a).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::takes_every_name_it_lists;

    #[test]
    fn each_route_parses_every_parameter_it_lists() {
        assert!(takes_every_name_it_lists::<ListParams>());
        assert!(takes_every_name_it_lists::<StatsParams>());
        assert!(takes_every_name_it_lists::<StreamParams>());
        assert!(takes_every_name_it_lists::<crate::alert::http::AlertParams>());
    }
}
