//! A batch's redeliveries: which jobs repeat another (`Plan`), and counting them on their
//! originals in one small transaction after the batch statement (`count_duplicates`).
//!
//! A redelivery repeats an event already stored (by any instance: the batch statement's
//! `ON CONFLICT DO NOTHING` skipped it) or a job earlier in the same batch (resolved here, in
//! memory: the first is the candidate, the rest follow it). A redelivery is answered only
//! once it is counted; when that transaction fails, only the redeliveries are answered 503.
//! It draws no ids, so it does not take the batch lock.

use std::collections::HashMap;

use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::{ToSql, Type};

use super::PgError;
use super::rollup;
use crate::model::{NewEvent, Status};
use crate::store::rollup::Rollups;

/// Which jobs of a batch go to the database, and which repeat an earlier job of the batch.
#[derive(Debug, PartialEq)]
pub(super) struct Plan {
    /// For each job: `None` when it is a candidate for insertion, else the candidate it repeats.
    pub repeats: Vec<Option<usize>>,
    /// For each job: how many later jobs of the batch repeat it.
    pub followers: Vec<i64>,
}

impl Plan {
    pub(super) fn of(events: &[&NewEvent]) -> Plan {
        let mut first: HashMap<(&str, &str), usize> = HashMap::new();
        let mut repeats = vec![None; events.len()];
        let mut followers = vec![0; events.len()];
        for (i, e) in events.iter().enumerate() {
            let Some(key) = dedup_key(e) else { continue };
            match first.get(&key) {
                Some(&leader) => {
                    repeats[i] = Some(leader);
                    followers[leader] += 1;
                }
                None => {
                    first.insert(key, i);
                }
            }
        }
        Plan { repeats, followers }
    }

    /// The jobs that go to the database, in order.
    pub(super) fn candidates(&self) -> Vec<usize> {
        (0..self.repeats.len())
            .filter(|&i| self.repeats[i].is_none())
            .collect()
    }
}

/// The (source, delivery id) that makes a later delivery a duplicate; rejected deliveries
/// never take part.
fn dedup_key(e: &NewEvent) -> Option<(&str, &str)> {
    match (&e.status, &e.delivery_id) {
        (Status::Received, Some(id)) => Some((e.source.as_str(), id.as_str())),
        _ => None,
    }
}

/// How many times each original of a batch's redeliveries was delivered again, by the job
/// index of its candidate: a candidate that was not stored (its original is in the database)
/// counts itself and its followers; a stored one counts its followers.
pub(super) fn redeliveries(
    plan: &Plan,
    candidates: &[usize],
    drawn: &[(i64, bool)],
) -> Vec<(usize, i64)> {
    candidates
        .iter()
        .zip(drawn)
        .filter_map(|(&i, &(_, stored))| {
            let count = plan.followers[i] + i64::from(!stored);
            (count > 0).then_some((i, count))
        })
        .collect()
}

/// Counts a batch's redeliveries (`redeliveries`) in one transaction: adds them to their
/// originals' `duplicates`, and each to the minute it arrived in, under its original's event
/// type. Returns the original's id by candidate; a candidate missing from it had its original
/// deleted since (it is stored as new when sent again). On an error the caller rolls back.
pub(super) async fn count_duplicates(
    tx: &ClientWrapper,
    events: &[&NewEvent],
    plan: &Plan,
    counts: &[(usize, i64)],
    shard: i16,
) -> Result<HashMap<usize, i64>, PgError> {
    let keys: Vec<(&str, &str)> = counts
        .iter()
        .filter_map(|&(i, _)| dedup_key(events[i]))
        .collect();
    let sources: Vec<&str> = keys.iter().map(|k| k.0).collect();
    let deliveries: Vec<&str> = keys.iter().map(|k| k.1).collect();
    let n: Vec<i64> = counts.iter().map(|&(_, n)| n).collect();
    // Planned afresh each time (an unnamed statement), never from a cached plan: this one
    // joins the table, and a plan cached while the table was small (a full index scan per
    // redelivery) stays cached however large the table grows when nothing ANALYZEs it.
    let params = [
        (&sources as &(dyn ToSql + Sync), Type::TEXT_ARRAY),
        (&deliveries, Type::TEXT_ARRAY),
        (&n, Type::INT8_ARRAY),
    ];
    let update = tx.query_typed(
        "UPDATE events e SET duplicates = e.duplicates + d.n
         FROM UNNEST($1::text[], $2::text[], $3::int8[]) AS d(source, delivery_id, n)
         WHERE e.source = d.source AND e.delivery_id = d.delivery_id
           AND e.status = 'received' AND e.delivery_id IS NOT NULL
         RETURNING e.id, e.source, e.delivery_id, e.event_type",
        &params,
    );
    let (_, rows) = tokio::try_join!(tx.batch_execute("BEGIN"), update)?;
    let mut by_key: HashMap<(String, String), (i64, Option<String>)> = HashMap::new();
    for row in rows {
        by_key.insert((row.get(1), row.get(2)), (row.get(0), row.get(3)));
    }
    let mut found: HashMap<usize, (i64, Option<String>)> = HashMap::new();
    for (&(i, _), (source, delivery)) in counts.iter().zip(keys) {
        if let Some(hit) = by_key.remove(&(source.to_string(), delivery.to_string())) {
            found.insert(i, hit);
        }
    }
    let count_of: HashMap<usize, i64> = counts.iter().copied().collect();
    let mut rollups = Rollups::default();
    for (j, e) in events.iter().enumerate() {
        let leader = plan.repeats[j].unwrap_or(j);
        let unstored = |&n: &i64| n > plan.followers[j];
        let duplicate = leader != j || count_of.get(&j).is_some_and(unstored);
        if let (true, Some((_, event_type))) = (duplicate, found.get(&leader)) {
            rollups.add_duplicate(e, event_type.as_deref());
        }
    }
    rollup::prepare(tx).await?;
    tokio::try_join!(
        rollup::write_duplicates(&rollups, shard, tx),
        tx.batch_execute("COMMIT")
    )?;
    Ok(found.into_iter().map(|(i, (id, _))| (i, id)).collect())
}
