//! What one batch adds to the rollups (`minute_counts` for stats, `sources` for the source
//! list), summed in memory first so each backend writes each rollup row once per commit.
//!
//! Summing first matters twice: it saves a statement per event on the single writer, and a
//! PostgreSQL multi-row `ON CONFLICT DO UPDATE` may not touch one row twice. The maps are
//! ordered, so concurrent writers lock rows in the same order.

use std::collections::BTreeMap;

use crate::model::{Event, NewEvent, Status};

/// Increments for one (minute, source, event type) row.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub total: i64,
    pub errors: i64,
    pub rejected: i64,
    pub signature_failures: i64,
    pub duplicates: i64,
}

/// Increments for one source row.
#[derive(Debug)]
pub struct SourceCounts {
    pub provider: &'static str,
    pub count: i64,
    pub errors: i64,
    pub last_received: i64,
}

/// Everything one batch adds to the rollups. Keys of `minutes`: (minute since the epoch,
/// source, event type or "").
#[derive(Debug, Default)]
pub struct Rollups {
    pub minutes: BTreeMap<(i64, String, String), Counts>,
    pub sources: BTreeMap<String, SourceCounts>,
}

impl Rollups {
    /// A newly stored event (received or rejected).
    pub fn add_stored(&mut self, e: &NewEvent) {
        let c = self.minute(e, e.event_type.as_deref());
        c.total += 1;
        c.errors += e.is_error as i64;
        c.rejected += (e.status == Status::Rejected) as i64;
        c.signature_failures += e.signature_failure as i64;
        let at = e.received_at.timestamp_micros();
        let s = self
            .sources
            .entry(e.source.clone())
            .or_insert(SourceCounts {
                provider: e.provider.as_str(),
                count: 0,
                errors: 0,
                last_received: at,
            });
        s.provider = e.provider.as_str();
        s.count += 1;
        s.errors += e.is_error as i64;
        s.last_received = s.last_received.max(at);
    }

    /// An imported event, with its redeliveries counted in its own minute.
    pub fn add_imported(&mut self, e: &Event) {
        self.add_stored(&e.new);
        self.minute(&e.new, e.new.event_type.as_deref()).duplicates += e.duplicates;
    }

    /// A redelivery, counted in its own minute under the original's event type.
    pub fn add_duplicate(&mut self, e: &NewEvent, original_type: Option<&str>) {
        self.minute(e, original_type).duplicates += 1;
    }

    fn minute(&mut self, e: &NewEvent, event_type: Option<&str>) -> &mut Counts {
        let key = (
            e.received_at.timestamp().div_euclid(60),
            e.source.clone(),
            event_type.unwrap_or("").to_string(),
        );
        self.minutes.entry(key).or_default()
    }
}
