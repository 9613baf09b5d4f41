//! Requests no HTTP library would send, written byte by byte on a TCP socket: every answer,
//! even one refused before routing, is JSON `{"error": …}` with a fitting status.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// How long any answer in these tests may take to arrive in full.
const DEADLINE: Duration = Duration::from_secs(10);

/// One HTTP answer as read off the socket.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {:?}",
                self.head,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts the JSON error shape and returns the message.
    pub fn error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}", self.head);
        assert!(
            self.head
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{}",
            self.head
        );
        let json = self.json();
        json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message: {json}"))
            .to_string()
    }
}

/// Splits everything read into answers (each framed by its Content-Length).
pub fn answers(mut bytes: &[u8]) -> Vec<RawAnswer> {
    let mut answers = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).to_string();
        let status = head[9..12].parse().expect("status");
        let length = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().expect("length"))
            })
            .unwrap_or(0);
        let body = bytes[end + 4..end + 4 + length].to_vec();
        bytes = &bytes[end + 4 + length..];
        answers.push(RawAnswer { status, head, body });
    }
    answers
}

/// Reads until the server closes the connection.
pub async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut read = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut read))
        .await
        .expect("the server closes the connection")
        .expect("read");
    read
}

/// Sends `request` on a fresh connection and reads every answer until the server closes it.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<RawAnswer> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    answers(&read_to_close(&mut stream).await)
}

/// The only answer to `request`.
async fn one(addr: SocketAddr, request: &[u8]) -> RawAnswer {
    let mut all = exchange(addr, request).await;
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

#[tokio::test]
async fn an_unencoded_angle_bracket_in_the_url_is_a_json_400() {
    let app = spawn_app().await;
    let answer = one(
        app.addr,
        b"GET /api/events?q=<script> HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    let message = answer.error(400);
    assert!(message.contains("percent-encoded"), "{message}");
}

#[tokio::test]
async fn too_many_headers_is_a_json_431() {
    let app = spawn_app().await;
    let mut request = b"POST /webhook/github HTTP/1.1\r\nHost: x\r\n".to_vec();
    for n in 0..150 {
        request.extend_from_slice(format!("X-Padding-{n}: {n}\r\n").as_bytes());
    }
    request.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
    let message = one(app.addr, &request).await.error(431);
    assert!(message.contains("headers"), "{message}");
}

#[tokio::test]
async fn a_conflicting_content_length_is_a_json_400_and_nothing_is_stored() {
    let app = spawn_app().await;
    for request in [
        &b"POST /webhook/github HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 12\r\n\r\n{}"[..],
        &b"POST /webhook/github HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n{}"[..],
    ] {
        let message = one(app.addr, request).await.error(400);
        assert!(message.contains("content-length"), "{message}");
    }
    let listed = app.get_json("/api/events").await;
    assert_eq!(listed["events"].as_array().unwrap().len(), 0, "{listed}");
}

#[tokio::test]
async fn an_http2_preface_without_tls_is_a_json_505() {
    let app = spawn_app().await;
    let message = one(app.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .error(505);
    assert!(message.contains("HTTP/1.1"), "{message}");
}

#[tokio::test]
async fn broken_chunked_framing_is_a_json_400_not_a_413() {
    let app = spawn_app().await;
    let request = b"POST /webhook/github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
    let message = one(app.addr, request).await.error(400);
    assert!(message.contains("could not be read"), "{message}");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_json_on_the_wire() {
    let app = spawn_app().await;
    let request = b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    one(app.addr, request).await.error(404);
    let request = b"DELETE /webhook/github HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    one(app.addr, request).await.error(405);
}

#[tokio::test]
async fn a_malformed_request_after_a_good_one_on_the_same_connection_gets_json_too() {
    let app = spawn_app().await;
    let request = b"POST /webhook/github HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}\
                    GET /a<b HTTP/1.1\r\nHost: x\r\n\r\n";
    let all = exchange(app.addr, request).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0].status, 200, "{all:?}");
    assert_eq!(all[0].json()["status"], "received");
    all[1].error(400);
}

#[tokio::test]
async fn a_request_head_that_stops_arriving_is_a_json_408_after_the_header_timeout() {
    let app = spawn_app_with("header_timeout_secs = 1\n").await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"POST /webhook/github HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let all = answers(&read_to_close(&mut stream).await);
    let waited = started.elapsed();
    assert_eq!(all.len(), 1, "{all:?}");
    let message = all[0].error(408);
    assert!(message.contains("1 s"), "{message}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_a_json_408_and_nothing_is_stored() {
    let app = spawn_app_with("body_idle_timeout_secs = 1\n").await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(
            b"POST /webhook/github HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":",
        )
        .await
        .unwrap();
    let all = answers(&read_to_close(&mut stream).await);
    let waited = started.elapsed();
    assert_eq!(all.len(), 1, "{all:?}");
    let message = all[0].error(408);
    assert!(message.contains("stopped arriving"), "{message}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    let listed = app.get_json("/api/events").await;
    assert_eq!(listed["events"].as_array().unwrap().len(), 0, "{listed}");
}

#[tokio::test]
async fn a_sender_that_waits_for_100_continue_gets_it_and_then_its_200() {
    let app = spawn_app().await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(
            b"POST /webhook/github HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\
              Content-Length: 2\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tokio::time::timeout(DEADLINE, stream.read_exact(&mut byte))
            .await
            .expect("100 Continue arrives")
            .expect("read");
        interim.push(byte[0]);
    }
    assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"{}").await.unwrap();
    let all = answers(&read_to_close(&mut stream).await);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].status, 200);
    assert_eq!(all[0].json()["status"], "received");
}
