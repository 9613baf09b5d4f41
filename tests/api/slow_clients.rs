//! Slow and greedy clients: connections that trickle a request a byte a second are cut after
//! the header or body timeout while a normal sender keeps being served quickly, and the
//! number of connections served at once is bounded.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::raw_http::{answers, read_to_close};
use crate::support::*;

/// How a slow client ended: which kind it was, after how long, and with which status (none:
/// closed silently).
struct Cut {
    slow_header: bool,
    after: Duration,
    status: Option<u16>,
}

const SLOW_HEADER: (&[u8], &[u8]) = (
    b"POST /webhook/slow HTTP/1.1\r\nHost: x\r\n",
    b"X-Slow: 1\r\n",
);
const SLOW_BODY: (&[u8], &[u8]) = (
    b"POST /webhook/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
    b"{\"slow\": true}",
);

/// Sends `start` at once, says so on `ready`, then sends one byte of `trickle` a second until
/// the server answers or closes.
async fn trickle(
    addr: SocketAddr,
    (start, trickle): (&'static [u8], &'static [u8]),
    ready: mpsc::UnboundedSender<()>,
) -> (Duration, Option<u16>) {
    // Before the connection exists, so before the server's clock for it starts.
    let began = Instant::now();
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(start).await.expect("write");
    let _ = ready.send(());
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
    (began.elapsed(), answers(&read).first().map(|a| a.status))
}

/// `count` slow clients, half trickling their headers and half their bodies, on a runtime of
/// their own as an attacker is another machine. Returns once all have connected and sent
/// their first bytes; each one's end arrives on the channel.
async fn attack(addr: SocketAddr, count: usize) -> mpsc::UnboundedReceiver<Cut> {
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let (cuts_tx, cuts) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let mut clients = tokio::task::JoinSet::new();
            for n in 0..count {
                let (ready, cuts) = (ready_tx.clone(), cuts_tx.clone());
                clients.spawn(async move {
                    let slow_header = n % 2 == 0;
                    let kind = if slow_header { SLOW_HEADER } else { SLOW_BODY };
                    let (after, status) = trickle(addr, kind, ready).await;
                    let _ = cuts.send(Cut {
                        slow_header,
                        after,
                        status,
                    });
                });
            }
            clients.join_all().await;
        });
    });
    for _ in 0..count {
        ready.recv().await.expect("every slow client connects");
    }
    cuts
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_slow_clients_are_cut_while_a_normal_sender_gets_quick_200s() {
    let app = spawn_app_with("header_timeout_secs = 2\nbody_idle_timeout_secs = 3\n").await;
    let mut cuts = attack(app.addr, 500).await;
    let (mut latencies, mut cut) = (Vec::new(), 0);
    let body = r#"{"type":"ping"}"#;
    while cut < 500 {
        let started = Instant::now();
        let response = app
            .post("normal", &[("content-type", "application/json")], body)
            .await;
        latencies.push(started.elapsed());
        assert_eq!(response.status(), 200);
        while let Ok(done) = cuts.try_recv() {
            cut += 1;
            let timeout = Duration::from_secs(if done.slow_header { 2 } else { 3 });
            assert!(
                done.after >= timeout && done.after < timeout + Duration::from_millis(1500),
                "cut after {:?} (timeout {timeout:?})",
                done.after
            );
            assert_eq!(done.status, Some(408), "after {:?}", done.after);
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

#[tokio::test]
async fn a_slow_client_delays_a_graceful_stop_by_no_more_than_the_header_timeout() {
    let app = spawn_app_with("header_timeout_secs = 1\n").await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"POST /webhook/slow HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Let the server accept it before stopping.
    assert_eq!(app.get_status("/healthz").await, 200);
    let started = Instant::now();
    app.stop().await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2500), "{took:?}");
    // It was answered before the stop completed, not dropped.
    let all = answers(&read_to_close(&mut slow).await);
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].error(408);
}

#[tokio::test]
async fn a_body_that_keeps_moving_is_received_however_long_it_takes() {
    let app = spawn_app_with("body_idle_timeout_secs = 1\n").await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let chunk = format!("{:1024}", "");
    let length = 2 + 4 * chunk.len();
    let head = format!(
        "POST /webhook/steady HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\
         Connection: close\r\n\r\n["
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    for _ in 0..4 {
        // Slower than nothing, faster than the timeout: 1 KiB every 600 ms.
        tokio::time::sleep(Duration::from_millis(600)).await;
        stream.write_all(chunk.as_bytes()).await.unwrap();
    }
    stream.write_all(b"]").await.unwrap();
    let all = answers(&read_to_close(&mut stream).await);
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "longer than the timeout"
    );
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].status, 200, "{all:?}");
    assert_eq!(all[0].json()["status"], "received");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_without_an_answer() {
    let app = spawn_app_with("header_timeout_secs = 1\n").await;
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    let read = read_to_close(&mut idle).await;
    assert!(read.is_empty(), "{:?}", String::from_utf8_lossy(&read));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}
