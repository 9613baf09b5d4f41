//! The SQLite schema as numbered migrations, applied in order on open.
//!
//! The version lives in `PRAGMA user_version`; each migration runs in its own transaction
//! with the version bump, so a crash mid-upgrade leaves the previous version intact. Append
//! new migrations; never edit a released one.

use rusqlite::Connection;

/// Every migration, in order; the index + 1 is the version it brings the database to.
const MIGRATIONS: &[&str] = &[
    // 1: events (narrow rows, so list scans stay fast), bodies apart, and the rollups that keep
    // stats and sources cheap at millions of events.
    r#"
    CREATE TABLE events (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        source            TEXT NOT NULL,
        received_at       INTEGER NOT NULL,
        method            TEXT NOT NULL,
        path              TEXT NOT NULL,
        query             TEXT NOT NULL,
        remote_addr       TEXT NOT NULL,
        content_type      TEXT,
        size              INTEGER NOT NULL,
        provider          TEXT NOT NULL,
        event_type        TEXT,
        delivery_id       TEXT,
        signature         TEXT NOT NULL,
        signature_reason  TEXT,
        signature_failure INTEGER NOT NULL,
        status            TEXT NOT NULL,
        is_error          INTEGER NOT NULL,
        duplicates        INTEGER NOT NULL DEFAULT 0,
        enrichment        TEXT
    );
    CREATE UNIQUE INDEX events_dedup ON events (source, delivery_id)
        WHERE status = 'received' AND delivery_id IS NOT NULL;
    CREATE INDEX events_source ON events (source, id);
    CREATE INDEX events_source_type ON events (source, event_type, id);
    CREATE INDEX events_type ON events (event_type, id);
    CREATE INDEX events_received_at ON events (received_at);
    CREATE TABLE bodies (
        id      INTEGER PRIMARY KEY,
        headers TEXT NOT NULL,
        body    BLOB NOT NULL
    );
    CREATE TABLE minute_counts (
        minute             INTEGER NOT NULL,
        source             TEXT NOT NULL,
        event_type         TEXT NOT NULL,
        total              INTEGER NOT NULL DEFAULT 0,
        errors             INTEGER NOT NULL DEFAULT 0,
        rejected           INTEGER NOT NULL DEFAULT 0,
        signature_failures INTEGER NOT NULL DEFAULT 0,
        duplicates         INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (minute, source, event_type)
    ) WITHOUT ROWID;
    CREATE TABLE sources (
        source        TEXT PRIMARY KEY,
        provider      TEXT NOT NULL,
        count         INTEGER NOT NULL,
        errors        INTEGER NOT NULL,
        last_received INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 2: alerts. The unique key is the claim: the insert of an alert row is what
    // decides that this instance sends it (`Store::claim_alert`).
    r#"
    CREATE TABLE alerts (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        rule             TEXT NOT NULL,
        kind             TEXT NOT NULL,
        source           TEXT NOT NULL,
        state            TEXT NOT NULL,
        count            INTEGER NOT NULL,
        window_secs      INTEGER NOT NULL,
        at               INTEGER NOT NULL,
        sample_event_ids TEXT NOT NULL
    );
    CREATE UNIQUE INDEX alerts_claim ON alerts (rule, source, state, at);
    "#,
    // 3: an enrichment claim is a lease (microseconds since the epoch it runs until), so a
    // claim whose process died is taken over (`Store::expired_enrichment_claims`). Claims
    // made before this version had none: they count as expired.
    r#"
    ALTER TABLE events ADD COLUMN enrichment_lease INTEGER;
    UPDATE events SET enrichment_lease = 0 WHERE enrichment = '{"pending":true}';
    CREATE INDEX events_enrichment_lease ON events (enrichment_lease)
        WHERE enrichment_lease IS NOT NULL;
    "#,
    // 4: sending an alert to its sinks is a lease too (`notify_until`, microseconds; NULL once
    // every sink is done with it), so an alert whose process died before notifying is sent
    // by another (`Store::take_unnotified_alerts`).
    r#"
    ALTER TABLE alerts ADD COLUMN notify_until INTEGER;
    CREATE INDEX alerts_notify_until ON alerts (notify_until) WHERE notify_until IS NOT NULL;
    "#,
    // 5: dashboard sessions (`store::session`): the hash of the id, never the id itself.
    r#"
    CREATE TABLE sessions (
        id_hash           TEXT PRIMARY KEY,
        token_fingerprint TEXT NOT NULL,
        created_at        INTEGER NOT NULL,
        last_seen         INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sessions_last_seen ON sessions (last_seen);
    "#,
    // 6: the forwarding queue (`store::forward`): deliveries, their attempts, paused targets
    // and the enqueuer's cursor (the newest event already turned into deliveries).
    r#"
    CREATE TABLE deliveries (
        id          INTEGER PRIMARY KEY,
        event_id    INTEGER NOT NULL,
        source      TEXT NOT NULL,
        target      TEXT NOT NULL,
        to_url      TEXT,
        replay      INTEGER NOT NULL,
        state       TEXT NOT NULL,
        attempts    INTEGER NOT NULL,
        next_at     INTEGER NOT NULL,
        lease_until INTEGER,
        last_status INTEGER,
        last_error  TEXT,
        updated_at  INTEGER NOT NULL,
        UNIQUE (event_id, target, replay)
    );
    CREATE INDEX deliveries_due ON deliveries (target, next_at) WHERE state = 'pending';
    CREATE INDEX deliveries_target_state ON deliveries (target, state);
    CREATE TABLE delivery_attempts (
        delivery_id      INTEGER NOT NULL,
        n                INTEGER NOT NULL,
        at               INTEGER NOT NULL,
        status           INTEGER,
        ms               INTEGER NOT NULL,
        error            TEXT,
        response_excerpt TEXT NOT NULL,
        PRIMARY KEY (delivery_id, n)
    ) WITHOUT ROWID;
    CREATE TABLE forward_paused (
        target TEXT PRIMARY KEY,
        since  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE forward_cursor (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        event_id INTEGER NOT NULL
    );
    "#,
    // 7: full-text search (`q`). An FTS5 index of each event's type and body text
    // (`search::text::indexed_text`), keyed by event id, its tokenizer cutting words at every
    // character that is not a letter or digit and folding case. Contentless, so no second
    // copy of the text is kept, with deletes allowed so removing an event can remove its
    // words. The writer adds an event's text in the transaction that stores it; existing
    // events are indexed here. Whatever deletes an
    // event (retention, prune) deletes its words with it, by the trigger.
    r#"
    CREATE VIRTUAL TABLE events_fts USING fts5(
        doc, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0'
    );
    CREATE TRIGGER events_fts_forget AFTER DELETE ON events BEGIN
        DELETE FROM events_fts WHERE rowid = OLD.id;
    END;
    INSERT INTO events_fts (rowid, doc)
        SELECT e.id, COALESCE(e.event_type, '') || ' ' || CAST(b.body AS TEXT)
        FROM events e JOIN bodies b USING (id);
    "#,
    // 8: deleting an event (retention, prune) deletes its deliveries and their attempts, so
    // nothing waits to forward an event that is gone and pruning needs no list of tables.
    r#"
    DELETE FROM delivery_attempts
        WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id NOT IN (SELECT id FROM events));
    DELETE FROM deliveries WHERE event_id NOT IN (SELECT id FROM events);
    CREATE TRIGGER IF NOT EXISTS deliveries_forget AFTER DELETE ON events BEGIN
        DELETE FROM delivery_attempts
            WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = OLD.id);
        DELETE FROM deliveries WHERE event_id = OLD.id;
    END;
    "#,
    // 9: the full-text index is written behind ingest (`store::search`): its cursor is the
    // newest event whose words are in `events_fts`. Everything stored so far was indexed
    // where it was stored.
    r#"
    CREATE TABLE search_cursor (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        event_id INTEGER NOT NULL
    );
    INSERT INTO search_cursor (id, event_id) SELECT 1, COALESCE(max(id), 0) FROM events;
    "#,
    // 10: a target's last success and last failure (`/api/forwards/targets`) each read from
    // an index of their own, not from all of the target's deliveries and attempts.
    r#"
    CREATE INDEX IF NOT EXISTS deliveries_last_success ON deliveries (target, updated_at)
        WHERE state = 'delivered' AND to_url IS NULL;
    CREATE INDEX IF NOT EXISTS delivery_attempts_failed ON delivery_attempts (at)
        WHERE status IS NULL OR status < 200 OR status > 299;
    "#,
    // 11: replays to a caller's own `to` are claimed from an index of their own, not found
    // among every pending delivery of the rules' targets.
    r#"
    CREATE INDEX IF NOT EXISTS deliveries_ad_hoc_due ON deliveries (next_at)
        WHERE state = 'pending' AND to_url IS NOT NULL;
    "#,
];

/// Brings the database up to the newest version.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_harmless() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
    }
}
