//! How long an event takes from its `200` on one instance to another instance's live stream:
//! probe events (source `probe`) posted one at a time to `from`, read back from `to`'s
//! `/api/stream?source=probe`, while the benchmark's load runs beside them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

/// `to`'s live stream of the probe events, opened before the load starts (under load the
/// opening alone may take a while).
pub async fn probe_stream(to: &str) -> reqwest::Response {
    let response = reqwest::get(format!("{to}/api/stream?source=probe"))
        .await
        .expect("open the stream");
    assert_eq!(response.status(), 200, "stream status");
    response
}

/// Probes `from` until `until`, one every `GAP`, reading `stream` (`probe_stream`); the
/// delay of each probe seen, in microseconds, sorted, and how many were not seen within a
/// second after the last.
pub async fn stream_delays(
    from: &str,
    stream: reqwest::Response,
    until: Instant,
) -> (Vec<u32>, usize) {
    const GAP: Duration = Duration::from_millis(20);
    let client = reqwest::Client::new();
    let response = stream;
    let arrived: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let reader = tokio::spawn(read_ids(response, arrived.clone()));
    let mut answered: HashMap<i64, Instant> = HashMap::new();
    let mut n = 0u64;
    while n == 0 || Instant::now() < until {
        let posted = client
            .post(format!("{from}/webhook/probe"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"probe":{n}}}"#))
            .send()
            .await;
        let at = Instant::now();
        if let Ok(response) = posted
            && response.status() == 200
            && let Ok(answer) = response.json::<serde_json::Value>().await
            && let Some(id) = answer["id"].as_i64()
        {
            answered.insert(id, at);
        }
        n += 1;
        tokio::time::sleep(GAP).await;
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline && arrived.lock().unwrap().len() < answered.len() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    reader.abort();
    let arrived = arrived.lock().unwrap();
    let mut delays: Vec<u32> = answered
        .iter()
        .filter_map(|(id, at)| Some(arrived.get(id)?.saturating_duration_since(*at)))
        .map(|delay| delay.as_micros() as u32)
        .collect();
    delays.sort_unstable();
    let lost = answered.len() - delays.len();
    (delays, lost)
}

/// Notes when each `id:` of the stream arrives.
async fn read_ids(response: reqwest::Response, arrived: Arc<Mutex<HashMap<i64, Instant>>>) {
    let mut bytes = response.bytes_stream();
    let mut buffer = String::new();
    while let Some(Ok(chunk)) = bytes.next().await {
        let at = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            if let Some(id) = line.strip_prefix("id:").and_then(|v| v.trim().parse().ok()) {
                arrived.lock().unwrap().insert(id, at);
            }
        }
    }
}
