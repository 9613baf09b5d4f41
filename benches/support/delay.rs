//! How long a forwarded event takes from its `200` to a consumer reading it at the broker:
//! events sent one at a time at a modest rate, so the delay is the path's own and not
//! queueing under saturation, and readers that note when each event id arrives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::streams::{StreamRangeReply, StreamReadReply};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::percentile;

/// Events of the paced delay measurement, and the gap between two.
const PROBES: usize = 300;
const PROBE_GAP: Duration = Duration::from_millis(5);

/// When each event id was read by a consumer.
pub type Arrivals = Arc<Mutex<HashMap<i64, Instant>>>;

/// Sends `PROBES` events one at a time, one every `PROBE_GAP`, to an otherwise idle
/// hookwatch; prints the delays from each `200` to its arrival in `arrivals`.
pub async fn paced_delays(base: &str, arrivals: &Arrivals) {
    let client = reqwest::Client::new();
    let mut answered = HashMap::new();
    let mut tick = tokio::time::interval(PROBE_GAP);
    for n in 0..PROBES {
        tick.tick().await;
        let answer = client
            .post(format!("{base}/webhook/probe"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"probe":{n}}}"#))
            .send()
            .await
            .unwrap();
        let at = Instant::now();
        let id = answer.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
        answered.insert(id, at);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && arrivals.lock().unwrap().len() < answered.len() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let arrivals = arrivals.lock().unwrap();
    let mut delays: Vec<u32> = answered
        .iter()
        .filter_map(|(id, at)| Some(arrivals.get(id)?.saturating_duration_since(*at)))
        .map(|d| d.as_micros() as u32)
        .collect();
    delays.sort_unstable();
    println!(
        "    200 → readable, {PROBES} events one at a time at {}/s on an idle hookwatch (not under saturation): p50 {:.2} ms  p99 {:.2} ms  not seen within 2 s {}",
        1000 / PROBE_GAP.as_millis(),
        percentile(&delays, 0.50),
        percentile(&delays, 0.99),
        answered.len() - delays.len()
    );
}

/// A core subscription on `subject` (it sees JetStream's publishes too), noting each event's
/// arrival; subscribed before it returns.
pub async fn read_subject(
    client: &async_nats::Client,
    subject: String,
    arrivals: Arrivals,
) -> JoinHandle<()> {
    let mut subscription = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(message) = subscription.next().await {
            let at = Instant::now();
            let id = message
                .headers
                .as_ref()
                .and_then(|h| h.get("hookwatch-event-id")?.as_str().parse().ok());
            if let Some(id) = id {
                arrivals.lock().unwrap().insert(id, at);
            }
        }
    })
}

/// Reads the stream from its newest entry on with `XREAD BLOCK`, noting each event's arrival.
pub async fn read_stream(redis: redis::Client, key: String, arrivals: Arrivals) {
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let newest: StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(&key)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut last = newest.ids.first().map_or("0-0".into(), |e| e.id.clone());
    loop {
        // Blocks well within the connection's response timeout (500 ms).
        let read: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(100)
            .arg("STREAMS")
            .arg(&key)
            .arg(&last)
            .query_async(&mut conn)
            .await
            .unwrap();
        let at = Instant::now();
        for entry in read.iter().flat_map(|r| &r.keys).flat_map(|k| &k.ids) {
            last = entry.id.clone();
            if let Some(id) = entry
                .get::<String>("hookwatch-event-id")
                .and_then(|v| v.parse().ok())
            {
                arrivals.lock().unwrap().insert(id, at);
            }
        }
    }
}
