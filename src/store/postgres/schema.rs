//! The PostgreSQL schema as numbered migrations, recorded in `schema_migrations`.
//!
//! Several instances may start at once against one database, so `migrate` runs everything in
//! one transaction under a transaction-scoped advisory lock: the first instance applies the
//! pending migrations, the others wait for it and then find nothing to do. DDL is
//! transactional in PostgreSQL, so a crash mid-upgrade leaves the previous version intact.
//! Append new migrations; never edit a released one.
//!
//! Mirrors `store::sqlite::schema` column for column: `received_at` is BIGINT microseconds
//! since the epoch (the same numbers the shared WHERE builder binds), and the text columns that
//! are range-compared (`source`, `event_type`) use `COLLATE "C"`, PostgreSQL's byte order,
//! so `type=charge.*` means the same thing on both backends.

use tokio_postgres::Client;

/// The advisory lock key every instance takes while migrating ("hookwatc" in ASCII).
const MIGRATION_LOCK: i64 = 0x686f_6f6b_7761_7463;

/// Every migration, in order; the index + 1 is its version.
const MIGRATIONS: &[&str] = &[
    // 1: events (narrow rows), bodies apart, and the rollups that keep stats cheap.
    r#"
    CREATE TABLE events (
        id                BIGINT PRIMARY KEY,
        source            TEXT COLLATE "C" NOT NULL,
        received_at       BIGINT NOT NULL,
        method            TEXT NOT NULL,
        path              TEXT NOT NULL,
        query             TEXT NOT NULL,
        remote_addr       TEXT NOT NULL,
        content_type      TEXT,
        size              BIGINT NOT NULL,
        provider          TEXT NOT NULL,
        event_type        TEXT COLLATE "C",
        delivery_id       TEXT COLLATE "C",
        signature         TEXT NOT NULL,
        signature_reason  TEXT,
        signature_failure BOOLEAN NOT NULL,
        status            TEXT NOT NULL,
        is_error          BOOLEAN NOT NULL,
        duplicates        BIGINT NOT NULL DEFAULT 0,
        enrichment        TEXT
    );
    CREATE SEQUENCE events_id_seq OWNED BY events.id;
    ALTER TABLE events ALTER COLUMN id SET DEFAULT nextval('events_id_seq');
    CREATE UNIQUE INDEX events_dedup ON events (source, delivery_id)
        WHERE status = 'received' AND delivery_id IS NOT NULL;
    CREATE INDEX events_source_type ON events (source, event_type, id);
    CREATE INDEX events_type ON events (event_type, id);
    CREATE INDEX events_received_at ON events (received_at);
    CREATE TABLE bodies (
        id      BIGINT PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
        headers TEXT NOT NULL,
        body    BYTEA NOT NULL
    );
    CREATE TABLE minute_counts (
        minute             BIGINT NOT NULL,
        source             TEXT COLLATE "C" NOT NULL,
        event_type         TEXT COLLATE "C" NOT NULL,
        total              BIGINT NOT NULL DEFAULT 0,
        errors             BIGINT NOT NULL DEFAULT 0,
        rejected           BIGINT NOT NULL DEFAULT 0,
        signature_failures BIGINT NOT NULL DEFAULT 0,
        duplicates         BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (minute, source, event_type)
    );
    CREATE TABLE sources (
        source        TEXT COLLATE "C" PRIMARY KEY,
        provider      TEXT NOT NULL,
        count         BIGINT NOT NULL,
        errors        BIGINT NOT NULL,
        last_received BIGINT NOT NULL
    );
    "#,
    // 2: alerts. The unique key is the claim: the insert of an alert row decides which
    // instance sends it (`Store::claim_alert`).
    r#"
    CREATE TABLE alerts (
        id               BIGSERIAL PRIMARY KEY,
        rule             TEXT NOT NULL,
        kind             TEXT NOT NULL,
        source           TEXT NOT NULL,
        state            TEXT NOT NULL,
        count            BIGINT NOT NULL,
        window_secs      BIGINT NOT NULL,
        at               BIGINT NOT NULL,
        sample_event_ids TEXT NOT NULL
    );
    CREATE UNIQUE INDEX alerts_claim ON alerts (rule, source, state, at);
    "#,
    // 3: cheaper ingest, measured under load.
    // - A third of PostgreSQL's CPU went to compressing each body (pglz) and a tenth to
    //   checking the foreign key of each body row. Bodies up to ~8 KB, most webhooks, now stay
    //   inline and uncompressed (larger ones are still compressed and moved out of line), and
    //   the foreign key goes: the writer inserts a body only with its event, in one
    //   transaction, and whatever deletes events (retention) deletes their bodies with them.
    // - Writers of several instances upserting the same rollup rows waited for each other's
    //   COMMIT. Each writer now adds to its own `shard` of every rollup row (`rollup`), and
    //   readers sum the shards.
    r#"
    ALTER TABLE bodies DROP CONSTRAINT IF EXISTS bodies_id_fkey;
    ALTER TABLE bodies SET (toast_tuple_target = 8160);
    ALTER TABLE minute_counts ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
    ALTER TABLE minute_counts DROP CONSTRAINT minute_counts_pkey,
        ADD PRIMARY KEY (minute, source, event_type, shard);
    ALTER TABLE sources ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
    ALTER TABLE sources DROP CONSTRAINT sources_pkey, ADD PRIMARY KEY (source, shard);
    "#,
    // 4: an enrichment claim is a lease (microseconds since the epoch it runs until), so a
    // claim whose instance died is taken over (`Store::expired_enrichment_claims`). Claims
    // made before this version had none: they count as expired.
    r#"
    ALTER TABLE events ADD COLUMN enrichment_lease BIGINT;
    UPDATE events SET enrichment_lease = 0 WHERE enrichment = '{"pending":true}';
    CREATE INDEX events_enrichment_lease ON events (enrichment_lease)
        WHERE enrichment_lease IS NOT NULL;
    "#,
    // 5: sending an alert to its sinks is a lease too (`notify_until`, microseconds; NULL once
    // every sink is done with it), so an alert whose instance died before notifying is sent
    // by another (`Store::take_unnotified_alerts`).
    r#"
    ALTER TABLE alerts ADD COLUMN notify_until BIGINT;
    CREATE INDEX alerts_notify_until ON alerts (notify_until) WHERE notify_until IS NOT NULL;
    "#,
    // 6: dashboard sessions (`store::session`): the hash of the id, never the id itself.
    r#"
    CREATE TABLE sessions (
        id_hash           TEXT PRIMARY KEY,
        token_fingerprint TEXT NOT NULL,
        created_at        BIGINT NOT NULL,
        last_seen         BIGINT NOT NULL
    );
    CREATE INDEX sessions_last_seen ON sessions (last_seen);
    "#,
    // 7: the forwarding queue (`store::forward`): deliveries, their attempts, paused targets
    // and the enqueuer's cursor (the newest event already turned into deliveries).
    r#"
    CREATE TABLE deliveries (
        id          BIGSERIAL PRIMARY KEY,
        event_id    BIGINT NOT NULL,
        source      TEXT NOT NULL,
        target      TEXT NOT NULL,
        to_url      TEXT,
        replay      BIGINT NOT NULL,
        state       TEXT NOT NULL,
        attempts    BIGINT NOT NULL,
        next_at     BIGINT NOT NULL,
        lease_until BIGINT,
        last_status BIGINT,
        last_error  TEXT,
        updated_at  BIGINT NOT NULL,
        UNIQUE (event_id, target, replay)
    );
    CREATE INDEX deliveries_due ON deliveries (target, next_at) WHERE state = 'pending';
    CREATE INDEX deliveries_target_state ON deliveries (target, state);
    CREATE TABLE delivery_attempts (
        delivery_id      BIGINT NOT NULL,
        n                BIGINT NOT NULL,
        at               BIGINT NOT NULL,
        status           BIGINT,
        ms               BIGINT NOT NULL,
        error            TEXT,
        response_excerpt TEXT NOT NULL,
        PRIMARY KEY (delivery_id, n)
    );
    CREATE TABLE forward_paused (
        target TEXT PRIMARY KEY,
        since  BIGINT NOT NULL
    );
    CREATE TABLE forward_cursor (
        id       BIGINT PRIMARY KEY CHECK (id = 1),
        event_id BIGINT NOT NULL
    );
    "#,
    // 8: full-text search (`q`). Each event's distinct words (`search::text::distinct_words`:
    // of its type and its body's text, split and lower-cased by hookwatch) as a tsvector
    // without positions, in a table of their own so event rows stay narrow, with a GIN index.
    // Existing events are indexed
    // here: the same words, cut by a regular expression (the `simple` configuration: no
    // stemming, no stop words); a body that is not UTF-8 gives only its type's words. Whatever deletes events (retention,
    // prune) deletes their words with them, by a statement-level trigger (one DELETE per
    // statement, not per row).
    r#"
    CREATE TABLE event_words (
        id  BIGINT PRIMARY KEY,
        doc TSVECTOR NOT NULL
    );
    CREATE FUNCTION pg_temp.hookwatch_words(event_type TEXT, body BYTEA) RETURNS TSVECTOR
    LANGUAGE plpgsql AS $words$
    DECLARE text_of TEXT := COALESCE(event_type, '');
    BEGIN
        BEGIN
            text_of := text_of || ' ' || convert_from(body, 'UTF8');
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
        RETURN strip(to_tsvector('simple', left(trim(regexp_replace(lower(text_of),
            '[^[:alnum:]]+', ' ', 'g')), 262144)));
    END
    $words$;
    INSERT INTO event_words (id, doc)
        SELECT e.id, pg_temp.hookwatch_words(e.event_type, b.body)
        FROM events e JOIN bodies b USING (id);
    DROP FUNCTION pg_temp.hookwatch_words(TEXT, BYTEA);
    CREATE INDEX event_words_doc ON event_words USING gin (doc);
    CREATE FUNCTION hookwatch_forget_words() RETURNS TRIGGER LANGUAGE plpgsql AS $forget$
    BEGIN
        DELETE FROM event_words WHERE id IN (SELECT id FROM gone);
        RETURN NULL;
    END
    $forget$;
    CREATE TRIGGER event_words_forget AFTER DELETE ON events REFERENCING OLD TABLE AS gone
        FOR EACH STATEMENT EXECUTE FUNCTION hookwatch_forget_words();
    "#,
    // 9: deleting events (retention, prune) deletes their deliveries and their attempts, so
    // nothing waits to forward an event that is gone and pruning needs no list of tables;
    // one statement-level trigger, like the words'.
    r#"
    DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT d.id FROM deliveries d
        WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id));
    DELETE FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
    CREATE OR REPLACE FUNCTION hookwatch_forget_deliveries() RETURNS TRIGGER LANGUAGE plpgsql AS $forget$
    BEGIN
        DELETE FROM delivery_attempts WHERE delivery_id IN
            (SELECT d.id FROM deliveries d JOIN gone g ON d.event_id = g.id);
        DELETE FROM deliveries WHERE event_id IN (SELECT id FROM gone);
        RETURN NULL;
    END
    $forget$;
    DROP TRIGGER IF EXISTS deliveries_forget ON events;
    CREATE TRIGGER deliveries_forget AFTER DELETE ON events REFERENCING OLD TABLE AS gone
        FOR EACH STATEMENT EXECUTE FUNCTION hookwatch_forget_deliveries();
    "#,
    // 10: the full-text index is written behind ingest (`store::index`): its cursor is the
    // newest event whose words are in `event_words`. Everything stored so far was indexed
    // where it was stored.
    r#"
    CREATE TABLE search_cursor (
        id       INT PRIMARY KEY CHECK (id = 1),
        event_id BIGINT NOT NULL
    );
    INSERT INTO search_cursor (id, event_id) SELECT 1, COALESCE(max(id), 0) FROM events;
    "#,
    // 11: a target's last success and last failure (`/api/forwards/targets`) each read from
    // an index of their own, not from all of the target's deliveries and attempts.
    r#"
    CREATE INDEX IF NOT EXISTS deliveries_last_success ON deliveries (target, updated_at)
        WHERE state = 'delivered' AND to_url IS NULL;
    CREATE INDEX IF NOT EXISTS delivery_attempts_failed ON delivery_attempts (at)
        WHERE status IS NULL OR status < 200 OR status > 299;
    "#,
    // 12: replays to a caller's own `to` are claimed from an index of their own, not found
    // among every pending delivery of the rules' targets.
    r#"
    CREATE INDEX IF NOT EXISTS deliveries_ad_hoc_due ON deliveries (next_at)
        WHERE state = 'pending' AND to_url IS NOT NULL;
    "#,
];

/// Brings the database up to the newest version; safe to call from several instances at once.
pub(super) async fn migrate(client: &mut Client) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        tracing::info!(version, "Applying PostgreSQL migration.");
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await
}
