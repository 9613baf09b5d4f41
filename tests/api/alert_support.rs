//! Test doubles for alert sinks: an HTTP receiver that records every request (and can answer
//! 500 or never answer), and a minimal SMTP server speaking EHLO/MAIL/RCPT/DATA/QUIT.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the receiver answers.
#[derive(Clone, Copy)]
pub enum Answer {
    Ok,
    /// 500 to the first N requests, then 200.
    FailFirst(usize),
    /// Records the request, then never answers.
    Hang,
}

/// One recorded request: the path and the JSON body.
pub type Recorded = (String, Value);

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Receiver {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Bodies received on `path`.
    pub fn bodies(&self, path: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b)
            .collect()
    }
}

#[derive(Clone)]
struct ReceiverState {
    requests: Arc<Mutex<Vec<Recorded>>>,
    answer: Answer,
    seen: Arc<AtomicUsize>,
}

async fn record(State(s): State<ReceiverState>, uri: Uri, body: Bytes) -> StatusCode {
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.requests
        .lock()
        .unwrap()
        .push((uri.path().to_string(), json));
    let n = s.seen.fetch_add(1, Ordering::SeqCst);
    match s.answer {
        Answer::Ok => StatusCode::OK,
        Answer::FailFirst(failures) if n < failures => StatusCode::INTERNAL_SERVER_ERROR,
        Answer::FailFirst(_) => StatusCode::ACCEPTED,
        Answer::Hang => std::future::pending().await,
    }
}

pub async fn start_receiver(answer: Answer) -> Receiver {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let state = ReceiverState {
        requests: requests.clone(),
        answer,
        seen: Arc::new(AtomicUsize::new(0)),
    };
    let app = axum::Router::new()
        .fallback(axum::routing::post(record))
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { addr, requests }
}

/// One email as the SMTP server received it.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A minimal SMTP server: enough of RFC 5321 for one client sending plain-text mail.
pub async fn start_smtp() -> (SocketAddr, Arc<Mutex<Vec<Mail>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let store = mails.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(smtp_session(socket, store.clone()));
        }
    });
    (addr, mails)
}

async fn smtp_session(socket: tokio::net::TcpStream, mails: Arc<Mutex<Vec<Mail>>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut mail = Mail::default();
    let _ = write.write_all(b"220 localhost test SMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-localhost\r\n250 8BITMIME\r\n"
        } else if let Some(from) = upper.strip_prefix("MAIL FROM:") {
            mail.from = line[line.len() - from.len()..].trim().to_string();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(line[8..].trim().to_string());
            b"250 OK\r\n"
        } else if upper == "DATA" {
            let _ = write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await;
            while let Ok(Some(data)) = lines.next_line().await {
                if data == "." {
                    break;
                }
                mail.data.push_str(&data);
                mail.data.push('\n');
            }
            mails.lock().unwrap().push(std::mem::take(&mut mail));
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 Bye\r\n").await;
            return;
        } else {
            b"250 OK\r\n" // RSET, NOOP
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
