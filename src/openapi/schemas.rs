//! The shapes of the JSON answers, for the document only.
//!
//! The handlers build their answers with the views in `query::view` and `alert::view`; these
//! types describe those answers field for field. They cannot drift unnoticed: the test suite
//! runs schemathesis against a live server, which checks every answer against its schema.

#![allow(dead_code)] // never built: only their schemas are read

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::Schema;

/// Bytes as they were sent.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Bytes(Vec<u8>);

/// An age (`15m`, `2h`, `7d`) or an RFC 3339 time; empty is the same as not given. The
/// pattern allows days up to 28 only, so that every time it allows exists.
#[derive(ToSchema)]
#[schema(value_type = String, pattern = "^(|[0-9]{1,6}[smhd]|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))$")]
pub struct Time(String);

/// Query values the API reads as numbers or booleans: an empty value is the same as none
/// (what an HTML form sends for an empty field), so the schema says so.
fn or_empty(value: serde_json::Value, description: &str) -> Schema {
    let empty = serde_json::json!({ "type": "string", "maxLength": 0 });
    let schema = serde_json::json!({ "anyOf": [value, empty], "description": description });
    serde_json::from_value(schema).unwrap_or_default()
}

/// `limit`: 1 to 1000.
pub fn limit() -> Schema {
    let range = serde_json::json!({ "type": "integer", "minimum": 1, "maximum": 1000 });
    or_empty(range, "1 to 1000; 50 when not given.")
}

/// An event id as a query value (`before`).
pub fn event_id() -> Schema {
    let id = serde_json::json!({ "type": "integer", "format": "int64" });
    or_empty(id, "The keyset cursor: the previous page's `next_before`.")
}

/// `true` or `false`.
pub fn flag() -> Schema {
    or_empty(
        serde_json::json!({ "type": "boolean" }),
        "`true` or `false`.",
    )
}

/// Every error answer.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    error: String,
    /// A stable snake_case code, for a program.
    code: String,
}

/// A delivery stored (`status` is `received`) or recognised as a redelivery (`duplicate`,
/// with the first event's id; no other field).
#[derive(ToSchema)]
pub struct Received {
    #[schema(pattern = "^(received|duplicate)$")]
    status: String,
    id: i64,
    source: Option<String>,
    received_at: Option<String>,
}

/// An event without headers, body and enrichment.
#[derive(ToSchema)]
pub struct EventSummary {
    id: i64,
    source: String,
    /// RFC 3339, UTC, microseconds.
    received_at: String,
    method: String,
    path: String,
    query: String,
    remote_addr: String,
    content_type: Option<String>,
    size: i64,
    provider: String,
    event_type: Option<String>,
    delivery_id: Option<String>,
    /// `valid`, `invalid`, `missing` or `unverified`.
    signature: String,
    /// `received` or `rejected`.
    status: String,
    is_error: bool,
    duplicates: i64,
}

/// The whole event: the summary's fields and these.
#[derive(ToSchema)]
pub struct EventDetail {
    id: i64,
    source: String,
    received_at: String,
    method: String,
    path: String,
    query: String,
    remote_addr: String,
    content_type: Option<String>,
    size: i64,
    provider: String,
    event_type: Option<String>,
    delivery_id: Option<String>,
    signature: String,
    signature_reason: Option<String>,
    status: String,
    is_error: bool,
    duplicates: i64,
    /// Header name → value, or an array of values for a header sent several times.
    headers: BTreeMap<String, Value>,
    /// The body parsed (JSON or form), or null.
    body: Value,
    /// The body as text, or null when it is not UTF-8.
    raw_body: Option<String>,
    /// The body in base64, only when it is not UTF-8.
    raw_body_base64: Option<String>,
    enrichment: Value,
    /// One entry per forwarding target the event was queued for.
    forwards: Vec<ForwardOfEvent>,
}

/// An event's delivery to one target.
#[derive(ToSchema)]
pub struct ForwardOfEvent {
    target: String,
    #[schema(pattern = "^(pending|delivered|dead)$")]
    state: String,
    attempts: i64,
    /// When the next attempt is due; null once delivered or dead.
    next_at: Option<String>,
}

/// One attempt at a delivery.
#[derive(ToSchema)]
pub struct AttemptView {
    target: String,
    /// 1 for the first attempt.
    n: i64,
    at: String,
    /// The HTTP status; null when there was no answer, and for a broker.
    status: Option<i64>,
    ms: i64,
    /// Why there was no answer (or the broker refused); null on an answer.
    error: Option<String>,
    /// The first KiB of the answer, as text (a broker's acknowledgement).
    response_excerpt: String,
    replay: bool,
}

#[derive(ToSchema)]
pub struct AttemptList {
    attempts: Vec<AttemptView>,
}

/// A delivery, as `/api/forwards` lists it.
#[derive(ToSchema)]
pub struct ForwardView {
    event_id: i64,
    source: String,
    target: String,
    #[schema(pattern = "^(pending|delivered|dead)$")]
    state: String,
    attempts: i64,
    next_at: Option<String>,
    last_status: Option<i64>,
    last_error: Option<String>,
}

/// One page of deliveries, newest first.
#[derive(ToSchema)]
pub struct ForwardPage {
    forwards: Vec<ForwardView>,
    /// Pass as `before` for the next page; null on the last page.
    next_before: Option<i64>,
}

/// A forwarding target and its totals.
#[derive(ToSchema)]
pub struct TargetView {
    name: String,
    /// The target's `to`, credentials shown as `***`.
    to: String,
    #[schema(pattern = "^(active|paused)$")]
    state: String,
    pending: i64,
    delivered: i64,
    dead: i64,
    last_success_at: Option<String>,
    last_error: Option<String>,
}

#[derive(ToSchema)]
pub struct TargetList {
    targets: Vec<TargetView>,
}

/// A target after pause or resume.
#[derive(ToSchema)]
pub struct TargetState {
    target: String,
    #[schema(pattern = "^(active|paused)$")]
    state: String,
}

/// An optional replay request: a URL to send to instead of the rules' targets.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// An http(s) URL to send to instead of the rules' targets.
    #[schema(
        pattern = "^https?://[a-z][a-z0-9-]{0,30}(\\.[a-z][a-z0-9-]{0,30}){0,3}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]*)*$"
    )]
    to: Option<String>,
}

#[derive(ToSchema)]
pub struct QueuedTarget {
    target: String,
}

/// The deliveries a replay queued.
#[derive(ToSchema)]
pub struct Queued {
    queued: Vec<QueuedTarget>,
}

/// One page of events, newest first.
#[derive(ToSchema)]
pub struct EventPage {
    events: Vec<EventSummary>,
    /// Pass as `before` for the next page; null on the last page.
    next_before: Option<i64>,
}

/// Events of one source in one minute.
#[derive(ToSchema)]
pub struct RatePoint {
    minute: String,
    source: String,
    count: i64,
}

/// Totals since a time.
#[derive(ToSchema)]
pub struct Stats {
    total: i64,
    by_source: BTreeMap<String, i64>,
    by_type: BTreeMap<String, i64>,
    errors: i64,
    duplicates: i64,
    rejected: i64,
    signature_failures: i64,
    latest: BTreeMap<String, String>,
    rate: Vec<RatePoint>,
}

/// One source, heard from or only configured.
#[derive(ToSchema)]
pub struct SourceRow {
    source: String,
    count: i64,
    errors: i64,
    last_received: Option<String>,
    provider: Option<String>,
    verified: bool,
}

#[derive(ToSchema)]
pub struct SourceList {
    sources: Vec<SourceRow>,
}

/// A firing or resolution.
#[derive(ToSchema)]
pub struct AlertView {
    id: i64,
    rule: String,
    kind: String,
    source: String,
    /// `firing` or `resolved`.
    state: String,
    count: i64,
    window_secs: i64,
    at: String,
    sample_event_ids: Vec<i64>,
}

#[derive(ToSchema)]
pub struct AlertList {
    alerts: Vec<AlertView>,
}

/// About the server, for the dashboard.
#[derive(ToSchema)]
pub struct Meta {
    /// No token while listening off loopback (`--insecure-no-auth`).
    insecure: bool,
    /// Whether a token is required.
    auth: bool,
    version: String,
}

/// `ok`, or `unavailable` with an error.
#[derive(ToSchema)]
pub struct Health {
    status: String,
    error: Option<String>,
}
