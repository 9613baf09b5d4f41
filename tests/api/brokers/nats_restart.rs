//! NATS when the server goes away: a restarted server is found again with nothing lost, and a
//! server that is not running fails a delivery at once. The test runs a nats-server of its
//! own, so stopping it disturbs no other test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hookwatch::forward::broker::{Publisher, Target};
use tempfile::TempDir;

use super::event;
use super::nats::{count, jetstream_at, make_stream, publisher};

/// A nats-server of this test's own, on a spare port, storing in a temporary folder.
struct OwnServer {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl OwnServer {
    async fn start() -> OwnServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = OwnServer {
            port,
            dir: TempDir::new().unwrap(),
            child: None,
        };
        server.run().await;
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self) {
        let child = Command::new("/usr/sbin/nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run /usr/sbin/nats-server (apt-get install nats-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while async_nats::connect(self.url()).await.is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn nats_a_restarted_server_is_found_again_and_nothing_is_lost() {
    let mut server = OwnServer::start().await;
    let js = jetstream_at(&server.url()).await;
    make_stream(&js, "restart", "restart").await;
    let to = format!("{}/restart", server.url());
    let target = Target {
        name: "nats-restart",
        to: &to,
        create_stream: false,
    };
    let publisher = Publisher::new(Duration::from_secs(2));
    let events: Vec<_> = (1..=10)
        .map(|id| event("payloads/malformed/invalid_utf8.bin", id))
        .collect();
    for event in &events[..5] {
        publisher.publish(&target, event, None).await.unwrap();
    }

    server.stop();
    let started = Instant::now();
    let error = publisher
        .publish(&target, &events[5], None)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the timeout"
    );
    assert!(!error.is_empty());
    let error = publisher
        .publish(&target, &events[5], None)
        .await
        .unwrap_err();
    assert!(error.contains("refused"), "{error}");

    server.run().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    for event in &events[5..] {
        // Retried as the forwarding queue would, until the server takes it.
        while let Err(error) = publisher.publish(&target, event, None).await {
            assert!(Instant::now() < deadline, "never delivered again: {error}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // A delivery retried after the restart (its PubAck lost with the old server) is dropped.
    let again = publisher.publish(&target, &events[0], None).await.unwrap();
    assert!(again.ends_with("(duplicate)"), "{again}");
    let js = jetstream_at(&server.url()).await;
    assert_eq!(
        count(&js, "restart").await,
        10,
        "nothing lost, nothing twice"
    );
    let mut stream = js.get_stream("restart").await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let message = stream.get_raw_message(last).await.unwrap();
    assert_eq!(&message.payload[..], events[9].new.body.as_slice());
}

#[tokio::test]
async fn nats_a_server_that_is_not_running_fails_at_once_and_says_so() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let to = format!("nats://127.0.0.1:{port}/x");
    let target = Target {
        name: "nats-down",
        to: &to,
        create_stream: false,
    };
    let started = Instant::now();
    let error = publisher()
        .publish(&target, &event("payloads/github/push.json", 1), None)
        .await
        .unwrap_err();
    assert!(error.contains("refused"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
