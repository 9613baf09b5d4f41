//! The accept loop: hyper's HTTP/1.1 connections, bounded in number and in patience.
//!
//! Connections are served here rather than by `axum::serve` for three things it cannot do:
//! - a bound: a connection is accepted only with one of `max_connections` slots in hand, so
//!   beyond the bound new clients wait in the kernel's listen backlog;
//! - patience: hyper's header timeout cuts a client that sends its request head too slowly
//!   (or keeps an idle connection), and each request body gives up when it stalls (`body`);
//! - JSON even for the answers hyper gives on its own (`conn`, `refusal`).
//!
//! Graceful shutdown: when `shutdown` completes the loop stops accepting, every connection
//! is told to finish its in-flight request and close, and `run` returns once all have.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

use super::body::Paced;
use super::conn::{Counted, Watch, WatchedStream};
use super::refusal;
use crate::config::ConnectionLimits;

/// Headers a request may carry; more is `431`.
pub const MAX_HEADERS: usize = 100;

/// Serves `router` on `listener` until `shutdown` completes, then drains and returns.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let draining = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        // The semaphore is never closed.
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = accept(&listener) => accepted,
        };
        let connection = Connection {
            router: router.clone(),
            limits,
            draining: draining.clone(),
            _slot: slot,
        };
        connections.spawn(connection.serve(stream, peer));
    }
    drop(listener);
    draining.cancel();
    connections.close();
    connections.wait().await;
}

/// The next connection. Errors about one connection (reset before it was accepted) are
/// skipped; others, such as running out of file descriptors, are logged and retried after a
/// pause, as they clear only when connections close.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                tracing::error!(error = %error, "Cannot accept a connection.");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// What one connection's task holds; the slot is given back when it ends.
struct Connection {
    router: Router,
    limits: ConnectionLimits,
    draining: CancellationToken,
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(self, stream: TcpStream, peer: SocketAddr) {
        let stream = Arc::new(stream);
        let watch = Arc::new(Watch::default());
        let io = TokioIo::new(WatchedStream::new(stream.clone(), watch.clone()));
        let (router, body_timeout) = (self.router, self.limits.body_idle_timeout);
        let service_watch = watch.clone();
        let service = service_fn(move |request: hyper::Request<Incoming>| {
            service_watch.dispatched();
            let mut request = request.map(|body| Body::new(Paced::new(body, body_timeout)));
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = router.clone().call(request);
            let watch = service_watch.clone();
            async move {
                let response = response.await?;
                Ok::<_, Infallible>(response.map(|body| Counted::new(body, watch)))
            }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .max_headers(MAX_HEADERS);
        let outcome = {
            let mut connection = pin!(builder.serve_connection(io, service));
            tokio::select! {
                outcome = connection.as_mut() => outcome,
                () = self.draining.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            }
        };
        let answer = refusal::owed(&watch, &outcome, self.limits.header_timeout);
        if let Some(answer) = &answer {
            tracing::debug!(peer = %peer, status = answer.status.as_u16(),
                reason = %answer.message, "Answered before routing.");
        }
        refusal::close(stream, answer, &self.draining).await;
    }
}
