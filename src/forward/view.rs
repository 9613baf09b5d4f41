//! Deliveries, attempts and targets as the API shows them. Pure; a target's `to` only ever
//! appears masked.

use serde_json::{Value, json};

use super::settings::TargetSettings;
use crate::query::view::time;
use crate::redact;
use crate::store::{AttemptRecord, Delivery, DeliveryState, TargetTotals};

/// `next_at` is shown only while the delivery waits.
fn next_at(d: &Delivery) -> Value {
    match d.state {
        DeliveryState::Pending => time(d.next_at).into(),
        _ => Value::Null,
    }
}

/// One entry of an event detail's `forwards`.
pub fn forward(d: &Delivery) -> Value {
    json!({
        "target": d.target,
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "next_at": next_at(d),
    })
}

/// One entry of `/api/forwards`.
pub fn listed(d: &Delivery) -> Value {
    json!({
        "event_id": d.event_id,
        "source": d.source,
        "target": d.target,
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "next_at": next_at(d),
        "last_status": d.last_status,
        "last_error": d.last_error,
    })
}

/// One entry of `/api/events/{id}/attempts`.
pub fn attempt(a: &AttemptRecord) -> Value {
    json!({
        "target": a.target,
        "n": a.n,
        "at": time(a.at),
        "status": a.status,
        "ms": a.ms,
        "error": a.error,
        "response_excerpt": a.response_excerpt,
        "replay": a.replay,
    })
}

/// One entry of `/api/forwards/targets`.
pub fn target(t: &TargetSettings, totals: &TargetTotals) -> Value {
    json!({
        "name": t.name,
        "to": redact::url(&t.to),
        "state": if totals.paused { "paused" } else { "active" },
        "pending": totals.pending,
        "delivered": totals.delivered,
        "dead": totals.dead,
        "last_success_at": totals.last_success_at.map(time),
        "last_error": totals.last_error,
    })
}
