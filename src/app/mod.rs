//! Wiring: open the store, build the shared pieces, assemble the router, run the server.
//!
//! `serve(listener, …, shutdown)` takes a bound listener so tests bind port 0. Graceful
//! shutdown: on the signal the server stops accepting, in-flight requests finish (each waits
//! for its commit), open streams end, then `serve` returns.

pub mod auth;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::middleware;
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::alert::{self, AlertSettings};
use crate::config::{DatabaseUrl, Settings, SourceSettings};
use crate::feed::Feed;
use crate::http::ApiError;
use crate::ingest::Ingest;
use crate::ingest::http::{IngestState, bad_source, receive};
use crate::query::http::{self as query_http, QueryState};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};

/// Opens the configured store.
pub fn open_store(database: &DatabaseUrl) -> Result<Store, StoreError> {
    match database {
        DatabaseUrl::Sqlite(path) => Ok(Store::Sqlite(SqliteStore::open(path)?)),
        DatabaseUrl::Postgres(_) => Err(StoreError::Open(
            "PostgreSQL support is not built yet; use a sqlite:// database".into(),
        )),
    }
}

/// What `serve` needs besides the listener.
pub struct ServeOptions {
    pub store: Store,
    pub token: Option<String>,
    pub max_body_bytes: u64,
    pub sources: BTreeMap<String, SourceSettings>,
    pub alerts: AlertSettings,
}

impl ServeOptions {
    /// Takes the parts of the settings the server uses.
    pub fn from_settings(settings: Settings, store: Store) -> ServeOptions {
        ServeOptions {
            store,
            token: settings.token,
            max_body_bytes: settings.max_body_bytes,
            sources: settings.sources,
            alerts: settings.alerts,
        }
    }
}

/// Serves until `shutdown` completes, then drains and returns.
pub async fn serve(
    listener: TcpListener,
    mut options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cancel = CancellationToken::new();
    let feed = Feed::default();
    // Alerts run off the feed, never on the ingest path.
    let alerts = alert::spawn(
        std::mem::take(&mut options.alerts),
        options.store.clone(),
        feed.clone(),
        cancel.clone(),
    );
    let router = router(options, feed, cancel.clone());
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let stop = cancel.clone();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stop.cancel();
        })
        .await?;
    cancel.cancel();
    if let Some(task) = alerts {
        let _ = task.await;
    }
    Ok(())
}

/// Every route of the app; `feed` is where ingest publishes stored events.
pub fn router(options: ServeOptions, feed: Feed, shutdown: CancellationToken) -> Router {
    let sources = Arc::new(options.sources);
    let auth = auth::Auth::new(options.token);
    let ingest = IngestState {
        ingest: Ingest::new(options.store.clone(), feed.clone(), sources.clone()),
        max_body_bytes: options.max_body_bytes,
    };
    let alerts = get(alert::http::list).with_state(options.store.clone());
    let query = QueryState {
        store: options.store,
        feed,
        sources,
        shutdown,
    };
    let webhook = Router::new()
        .route(
            "/webhook/{source}",
            post(receive)
                .put(receive)
                .patch(receive)
                .fallback(method_not_allowed),
        )
        .route("/webhook/", any(bad_source))
        .route("/webhook/{source}/{*rest}", any(bad_source))
        .with_state(ingest);
    let api = Router::new()
        .route("/api/events", get(query_http::list_events))
        .route("/api/events/{id}", get(query_http::get_event))
        .route("/api/events/{id}/raw", get(query_http::get_raw))
        .route("/api/stats", get(query_http::stats))
        .route("/api/sources", get(query_http::sources))
        .route("/api/stream", get(query_http::stream))
        .route("/api/alerts", alerts)
        .route_layer(middleware::from_fn_with_state(
            auth.clone(),
            auth::require_token,
        ))
        .route("/healthz", get(query_http::healthz))
        .with_state(query);
    Router::new().merge(webhook).merge(api).fallback(not_found)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "webhooks are accepted with POST, PUT or PATCH",
    )
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("nothing at {}", uri.path()))
}
