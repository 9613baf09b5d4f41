//! Slow and greedy clients: connections that trickle a request a byte a second are cut after
//! the header or body timeout while a normal sender keeps being served quickly, and the
//! number of connections served at once is bounded.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::raw_http::{answers, read_to_close};
use crate::support::*;

/// How a slow client ended: after how long, and with which status (none: closed silently).
struct Cut {
    after: Duration,
    status: Option<u16>,
}

/// Sends `start` at once, then one byte of `trickle` a second, until the server answers or
/// closes.
async fn trickle(addr: SocketAddr, start: &'static [u8], trickle: &'static [u8]) -> Cut {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let began = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(start).await.expect("write");
    let writing = tokio::spawn(async move {
        for byte in trickle.iter().cycle() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
        }
    });
    let mut read = Vec::new();
    // Not cut within the bound shows as a cut far too late. A reset after the answer is fine:
    // the answer was read first.
    let _ = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut read)).await;
    writing.abort();
    Cut {
        after: began.elapsed(),
        status: answers(&read).first().map(|a| a.status),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_slow_clients_are_cut_while_a_normal_sender_gets_quick_200s() {
    let app = spawn_app_with("header_timeout_secs = 1\nbody_idle_timeout_secs = 2\n").await;
    let mut slow = tokio::task::JoinSet::new();
    for n in 0..500 {
        let addr = app.addr;
        slow.spawn(async move {
            let cut =
                match n % 2 {
                    0 => {
                        trickle(
                            addr,
                            b"POST /webhook/slow HTTP/1.1\r\nHost: x\r\n",
                            b"X-Slow: 1\r\n",
                        )
                        .await
                    }
                    _ => trickle(
                        addr,
                        b"POST /webhook/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
                        b"{\"slow\": true}",
                    )
                    .await,
                };
            (n % 2 == 0, cut)
        });
    }
    let mut latencies = Vec::new();
    let body = r#"{"type":"ping"}"#;
    while !slow.is_empty() {
        let started = Instant::now();
        let response = app
            .post("normal", &[("content-type", "application/json")], body)
            .await;
        latencies.push(started.elapsed());
        assert_eq!(response.status(), 200);
        while let Some(done) = slow.try_join_next() {
            let (header, cut) = done.expect("slow client");
            let (timeout, answer) = match header {
                true => (Duration::from_secs(1), 408),
                false => (Duration::from_secs(2), 408),
            };
            assert!(
                // The server's clock starts at accept, a moment before the client's.
                cut.after >= timeout - Duration::from_millis(100)
                    && cut.after < timeout + Duration::from_millis(1500),
                "cut after {:?} (timeout {timeout:?})",
                cut.after
            );
            assert_eq!(cut.status, Some(answer), "after {:?}", cut.after);
        }
    }
    latencies.sort();
    let p99 = percentile(&latencies, 0.99);
    println!(
        "{} deliveries beside 500 slow clients: median {:?}, p99 {p99:?}, max {:?}",
        latencies.len(),
        percentile(&latencies, 0.5),
        latencies.last().unwrap()
    );
    assert!(latencies.len() >= 20, "only {} deliveries", latencies.len());
    assert!(
        p99 < Duration::from_millis(100),
        "p99 {p99:?} over {} deliveries (median {:?})",
        latencies.len(),
        percentile(&latencies, 0.5)
    );
    let stats = app.get_json("/api/events?source=slow").await;
    assert_eq!(stats["events"].as_array().unwrap().len(), 0, "{stats}");
}

#[tokio::test]
async fn beyond_max_connections_a_client_waits_until_a_connection_closes() {
    let app = spawn_app_with("max_connections = 3\nheader_timeout_secs = 60\n").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    let mut waiting = TcpStream::connect(app.addr).await.unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.peek(&mut first)).await;
    assert!(early.is_err(), "answered while every slot was taken");
    drop(held.pop());
    let started = Instant::now();
    let all = answers(&read_to_close(&mut waiting).await);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
