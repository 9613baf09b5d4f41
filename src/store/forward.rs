//! The forwarding queue in the store: deliveries (one per event, target and replay), the
//! attempts made for them, paused targets, and the enqueuer's cursor.
//!
//! The queue lives here rather than in memory so that a delivery waiting for its retry
//! survives a restart or a `kill -9`, and so that several instances on one PostgreSQL share
//! it: each claim is a lease (`lease_until`), and a lease whose instance died runs out and is
//! claimed again. Inserting deliveries is idempotent (a unique `(event_id, target, replay)`),
//! so an enqueuer that repeats work after a crash, or two instances enqueuing the same
//! events, change nothing. Times are microseconds since the epoch, as elsewhere in the store.

use chrono::{DateTime, Utc};

use super::{Backend, Store, StoreError};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryState> {
        match text {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "dead" => Some(DeliveryState::Dead),
            _ => None,
        }
    }
}

/// A delivery to queue: event `event_id` of `source` to the rule named `target`, or, for an
/// ad-hoc replay, to the URL `to` (then `target` is that URL masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub event_id: i64,
    pub source: String,
    pub target: String,
    pub to: Option<String>,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub event_id: i64,
    pub source: String,
    pub target: String,
    /// The URL of an ad-hoc replay; `None` for a rule's target.
    pub to: Option<String>,
    /// 0 for the delivery the rule made, n for the n-th replay.
    pub replay: i64,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: i64,
    pub next_at: DateTime<Utc>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// One recorded attempt, as `/api/events/{id}/attempts` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub target: String,
    pub n: i64,
    pub at: DateTime<Utc>,
    pub status: Option<i64>,
    pub ms: i64,
    pub error: Option<String>,
    pub response_excerpt: String,
    pub replay: bool,
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Delivered,
    Dead,
    RetryAt(DateTime<Utc>),
}

/// An attempt that ended: recorded, and the delivery moved on, in one transaction.
#[derive(Debug, Clone)]
pub struct Finished {
    pub delivery_id: i64,
    /// This attempt's number (1-based).
    pub n: i64,
    pub at: DateTime<Utc>,
    pub status: Option<i64>,
    pub ms: i64,
    pub error: Option<String>,
    pub response_excerpt: String,
    pub after: After,
}

/// A claim this instance holds on a delivery: ended early by `release_deliveries` only
/// while it is still the same claim (`until` is the lease `claim_deliveries` set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub delivery_id: i64,
    pub until: DateTime<Utc>,
}

/// Which deliveries a claim takes: those of one rule's target, or the ad-hoc replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimScope {
    Target(String),
    AdHoc,
}

/// `/api/forwards` filters; newest first, `before` is the keyset cursor (a delivery id).
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub state: Option<DeliveryState>,
    pub target: Option<String>,
    pub source: Option<String>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// One target's totals, for `/api/forwards/targets`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetTotals {
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
    pub last_success_at: Option<DateTime<Utc>>,
    /// The newest failed attempt's error, or `HTTP {status}` when it had an answer.
    pub last_error: Option<String>,
    pub paused: bool,
}

/// A write to the queue; each runs in one transaction.
#[derive(Debug, Clone)]
pub(crate) enum ForwardWrite {
    /// Sets the cursor to the newest event id unless it is set; answers the cursor.
    StartCursor,
    /// Queues deliveries (those already queued are left alone) and moves the cursor to
    /// `cursor` unless it is already past it.
    Enqueue {
        deliveries: Vec<NewDelivery>,
        cursor: i64,
        now: i64,
    },
    /// Queues each delivery as the next replay of its event and target.
    Replay {
        deliveries: Vec<NewDelivery>,
        now: i64,
    },
    /// Leases up to `limit` due deliveries of `scope` until `until`.
    Claim {
        scope: ClaimScope,
        now: i64,
        until: i64,
        limit: u32,
    },
    /// Records each attempt and moves its delivery on; one transaction for the lot.
    Finish(Vec<Finished>),
    /// Ends leases that were taken but never used, so the deliveries are claimable at once.
    Release(Vec<Lease>),
    Pause {
        target: String,
        paused: bool,
        now: i64,
    },
}

/// A read of the queue.
#[derive(Debug, Clone)]
pub(crate) enum ForwardRead {
    /// When the scope's next delivery not held under a live lease falls due.
    NextDue {
        scope: ClaimScope,
        now: i64,
    },
    OfEvent(i64),
    AttemptsOfEvent(i64),
    List(DeliveryFilter),
    Totals(String),
    /// One target's pending deliveries.
    Pending(String),
}

/// What a forward write or read answers.
#[derive(Debug)]
pub(crate) enum ForwardRows {
    Count(i64),
    Time(Option<i64>),
    Deliveries(Vec<Delivery>),
    Attempts(Vec<AttemptRecord>),
    Totals(TargetTotals),
}

impl Store {
    async fn forward_write(&self, write: ForwardWrite) -> Result<ForwardRows, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.forward_write(write).await,
            Backend::Postgres(s) => s.forward_write(write).await,
        }
    }

    async fn forward_read(&self, read: ForwardRead) -> Result<ForwardRows, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.forward_read(read).await,
            Backend::Postgres(s) => s.forward_read(read).await,
        }
    }

    /// The enqueuer's cursor: the newest event already turned into deliveries. Set to the
    /// newest stored event the first time, so events stored before forwarding was configured
    /// are not forwarded.
    pub async fn start_forward_cursor(&self) -> Result<i64, StoreError> {
        match self.forward_write(ForwardWrite::StartCursor).await? {
            ForwardRows::Count(cursor) => Ok(cursor),
            _ => Ok(0),
        }
    }

    /// Queues `deliveries` (idempotent) and moves the cursor to `cursor`, atomically.
    pub async fn enqueue_deliveries(
        &self,
        deliveries: Vec<NewDelivery>,
        cursor: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = now.timestamp_micros();
        let write = ForwardWrite::Enqueue {
            deliveries,
            cursor,
            now,
        };
        self.forward_write(write).await.map(|_| ())
    }

    /// Queues each delivery as a new replay (`replay` = the previous one's + 1), due now.
    pub async fn replay_deliveries(
        &self,
        deliveries: Vec<NewDelivery>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = now.timestamp_micros();
        let write = ForwardWrite::Replay { deliveries, now };
        self.forward_write(write).await.map(|_| ())
    }

    /// Leases up to `limit` deliveries of `scope` that are due at `now`, not leased (or whose
    /// lease ran out) and whose target is not paused, until `until`; earliest due first.
    /// Instances claiming at once get different deliveries.
    pub async fn claim_deliveries(
        &self,
        scope: ClaimScope,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let write = ForwardWrite::Claim {
            scope,
            now: now.timestamp_micros(),
            until: until.timestamp_micros(),
            limit,
        };
        match self.forward_write(write).await? {
            ForwardRows::Deliveries(claimed) => Ok(claimed),
            _ => Ok(Vec::new()),
        }
    }

    /// Records an attempt and moves its delivery on, ending the lease. A delivery another
    /// instance already moved past this attempt is left alone (the attempt is still kept).
    pub async fn finish_attempt(&self, finished: Finished) -> Result<(), StoreError> {
        self.finish_attempts(vec![finished]).await
    }

    /// `finish_attempt` for many attempts of different deliveries, in one transaction (one
    /// commit on SQLite, one statement on PostgreSQL): all are recorded, or none.
    pub async fn finish_attempts(&self, finished: Vec<Finished>) -> Result<(), StoreError> {
        if finished.is_empty() {
            return Ok(());
        }
        let write = ForwardWrite::Finish(finished);
        self.forward_write(write).await.map(|_| ())
    }

    /// Ends leases taken by `claim_deliveries` and not used, so the deliveries can be claimed
    /// again at once. A lease that ran out and was taken by another claim is left alone.
    pub async fn release_deliveries(&self, leases: Vec<Lease>) -> Result<(), StoreError> {
        if leases.is_empty() {
            return Ok(());
        }
        let write = ForwardWrite::Release(leases);
        self.forward_write(write).await.map(|_| ())
    }

    /// Pauses or resumes a target for every instance.
    pub async fn set_target_paused(
        &self,
        target: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let write = ForwardWrite::Pause {
            target: target.to_string(),
            paused,
            now: now.timestamp_micros(),
        };
        self.forward_write(write).await.map(|_| ())
    }

    /// When the next delivery of `scope` that no live lease holds falls due; `None` when
    /// nothing waits or the target is paused. Read from the index of pending deliveries, so
    /// a long backlog costs no more to ask about than a short one.
    pub async fn next_delivery_due(
        &self,
        scope: ClaimScope,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let read = ForwardRead::NextDue {
            scope,
            now: now.timestamp_micros(),
        };
        match self.forward_read(read).await? {
            ForwardRows::Time(at) => Ok(at.and_then(DateTime::from_timestamp_micros)),
            _ => Ok(None),
        }
    }

    /// Every delivery of one event, oldest first.
    pub async fn deliveries_of_event(&self, event_id: i64) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries(ForwardRead::OfEvent(event_id)).await
    }

    /// Deliveries matching the filter, newest first.
    pub async fn list_deliveries(
        &self,
        filter: DeliveryFilter,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries(ForwardRead::List(filter)).await
    }

    async fn deliveries(&self, read: ForwardRead) -> Result<Vec<Delivery>, StoreError> {
        match self.forward_read(read).await? {
            ForwardRows::Deliveries(found) => Ok(found),
            _ => Ok(Vec::new()),
        }
    }

    /// Every attempt made for one event, oldest first.
    pub async fn attempts_of_event(&self, event_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
        match self
            .forward_read(ForwardRead::AttemptsOfEvent(event_id))
            .await?
        {
            ForwardRows::Attempts(found) => Ok(found),
            _ => Ok(Vec::new()),
        }
    }

    /// One target's pending deliveries: `target_totals(..).pending` without reading every
    /// delivery and attempt of the target.
    pub async fn pending_deliveries(&self, target: &str) -> Result<i64, StoreError> {
        match self
            .forward_read(ForwardRead::Pending(target.to_string()))
            .await?
        {
            ForwardRows::Count(count) => Ok(count),
            _ => Ok(0),
        }
    }

    /// One target's totals and whether it is paused.
    pub async fn target_totals(&self, target: &str) -> Result<TargetTotals, StoreError> {
        match self
            .forward_read(ForwardRead::Totals(target.to_string()))
            .await?
        {
            ForwardRows::Totals(totals) => Ok(totals),
            _ => Ok(TargetTotals::default()),
        }
    }
}

/// The `state` and `next_at` columns a finished attempt leaves its delivery with.
pub(crate) fn after_columns(f: &Finished) -> (&'static str, i64) {
    match f.after {
        After::Delivered => (DeliveryState::Delivered.as_str(), f.at.timestamp_micros()),
        After::Dead => (DeliveryState::Dead.as_str(), f.at.timestamp_micros()),
        After::RetryAt(at) => (DeliveryState::Pending.as_str(), at.timestamp_micros()),
    }
}

/// A failed attempt in a few words: its error, or the status it was answered with.
pub(crate) fn failure_text(error: Option<String>, status: Option<i64>) -> Option<String> {
    error.or_else(|| status.map(|status| format!("HTTP {status}")))
}
