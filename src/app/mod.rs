//! Wiring: open the store, build the shared pieces, assemble the router, run the server.
//!
//! `serve(listener, …, shutdown)` takes a bound listener so tests bind port 0. Graceful
//! shutdown: on the signal the server stops accepting, in-flight requests finish (each waits
//! for its commit), open streams end, then `serve` returns. The accept loop and what it
//! guards against (slow clients, too many of them, hyper's bare error answers) is `server`.

mod body;
mod conn;
mod refusal;
mod server;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alert::{self, AlertSettings};
use crate::auth::Auth;
use crate::auth::http::{OwnOrigin, require_token, same_origin};
use crate::auth::origin::Origin;
use crate::config::{ConnectionLimits, Settings, SourceSettings};
use crate::dashboard::http::{self as dashboard_http, DashboardState};
use crate::enrich::{self, EnrichSettings, http::EnrichState};
use crate::feed::Feed;
use crate::forward::outcome::Outcomes;
use crate::forward::{self, http as forward_http, http::ForwardState, settings::TargetSettings};
use crate::http::ApiError;
use crate::indexer;
use crate::ingest::Ingest;
use crate::ingest::http::{IngestState, bad_source, receive};
use crate::metrics::{Metrics, http as metrics_http};
use crate::openapi::http as openapi_http;
use crate::query::http::{self as query_http, QueryState};
use crate::retention::{self, Retention};
use crate::store::{self, Store, StoreError, StoreSettings};

/// Opens the configured store (for PostgreSQL: connects and migrates, so it is async).
pub async fn open_store(settings: &Settings) -> Result<Store, StoreError> {
    let store_settings = StoreSettings {
        pool_size: settings.pool_size,
    };
    store::open(&settings.database, &store_settings).await
}

/// What `serve` needs besides the listener.
pub struct ServeOptions {
    pub store: Store,
    pub token: Option<String>,
    pub max_body_bytes: u64,
    pub sources: BTreeMap<String, SourceSettings>,
    /// No token while listening off loopback (`--insecure-no-auth`): the dashboard warns.
    pub insecure: bool,
    /// How long a dashboard session lasts without use.
    pub session_idle: std::time::Duration,
    pub enrichment: Option<EnrichSettings>,
    pub alerts: AlertSettings,
    pub limits: ConnectionLimits,
    /// The top-level `public_url`: its origin is hookwatch's own for the cross-origin check.
    pub public_url: Option<String>,
    /// What the background pruning deletes.
    pub retention: Retention,
    /// `[[forward]]` rules.
    pub forward: Vec<TargetSettings>,
    /// Where hookwatch listens (`serve` sets the bound address), for the loop check of a
    /// replay's `to`.
    pub listen: SocketAddr,
    /// Background work `serve` waits for at shutdown (forwarding attempts under way), for at
    /// most [`SHUTDOWN_GRACE`].
    pub tasks: TaskTracker,
    /// The forwarding worker's attempt outcomes, which `forward_failures` alert rules watch.
    pub outcomes: Outcomes,
}

/// How long `serve` waits at shutdown for forwarding attempts under way to be recorded; one
/// still running after it is taken over once its lease runs out.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl ServeOptions {
    /// Takes the parts of the settings the server uses.
    pub fn from_settings(settings: Settings, store: Store) -> ServeOptions {
        let insecure = settings.token.is_none() && !settings.listen.ip().is_loopback();
        ServeOptions {
            insecure,
            store,
            token: settings.token,
            max_body_bytes: settings.max_body_bytes,
            session_idle: settings.session_idle,
            sources: settings.sources,
            enrichment: settings.enrichment,
            alerts: settings.alerts,
            limits: settings.limits,
            public_url: settings.public_url,
            retention: settings.retention,
            forward: settings.forward,
            listen: settings.listen,
            tasks: TaskTracker::new(),
            outcomes: Outcomes::default(),
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
    if let Ok(bound) = listener.local_addr() {
        options.listen = bound;
    }
    if !options.forward.is_empty() {
        // The forwarding queue starts at the newest event stored before this server takes its
        // first request, so no event received from now on can fall behind the start.
        if let Err(error) = options.store.start_forward_cursor().await {
            tracing::error!(error = %error, "Cannot start the forwarding queue yet; it starts when the store answers.");
        }
    }
    let feed = Feed::default();
    let metrics = instance_metrics(&options);
    options.store.start_feed(feed.clone(), cancel.clone());
    // Alerts run off the feed, never on the ingest path.
    let alerts = alert::spawn(
        std::mem::take(&mut options.alerts),
        options.store.clone(),
        feed.clone(),
        metrics.clone(),
        options.outcomes.subscribe(),
        cancel.clone(),
    );
    let indexing = indexer::spawn(options.store.clone(), feed.clone(), cancel.clone());
    let pruning = retention::task::spawn(
        std::mem::take(&mut options.retention),
        options.store.clone(),
        cancel.clone(),
    );
    let limits = options.limits;
    let tasks = options.tasks.clone();
    let router = router(options, feed, metrics, cancel.clone());
    let stop = cancel.clone();
    server::run(listener, router, limits, async move {
        shutdown.await;
        stop.cancel();
    })
    .await;
    cancel.cancel();
    if let Some(task) = alerts {
        let _ = task.await;
    }
    let _ = pruning.await;
    let _ = indexing.await;
    tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("Forwarding attempts still under way at shutdown are retried later.");
    }
    Ok(())
}

/// Every route of the app; `feed` is where the store publishes stored events. Starts the
/// enrichment tasks, so it must be called inside the runtime; they stop at `shutdown`.
pub fn router(
    options: ServeOptions,
    feed: Feed,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> Router {
    let enrich = EnrichState {
        store: options.store.clone(),
        enricher: options.enrichment.and_then(|settings| {
            enrich::spawn(
                settings,
                options.store.clone(),
                &feed,
                metrics.clone(),
                shutdown.clone(),
            )
            .inspect_err(|error| tracing::error!(error = %error, "Enrichment is off."))
            .ok()
        }),
    };
    let sources = Arc::new(options.sources);
    let forward = ForwardState {
        store: options.store.clone(),
        forwarding: forward::spawn(
            options.forward,
            options.store.clone(),
            &feed,
            sources.clone(),
            forward::Reports {
                metrics: metrics.clone(),
                outcomes: options.outcomes.clone(),
            },
            &options.tasks,
            shutdown.clone(),
        ),
        listen: options.listen,
        public_url: options.public_url.clone(),
    };
    let auth = Auth::new(options.token, options.store.clone(), options.session_idle);
    let own_origin = OwnOrigin(options.public_url.as_deref().and_then(Origin::of_url));
    forget_sessions_of_other_tokens(&auth);
    let dashboard = dashboard_http::router(DashboardState {
        auth: auth.clone(),
        insecure: options.insecure,
    });
    let ingest = IngestState {
        ingest: Ingest::new(options.store.clone(), sources.clone(), metrics.clone()),
        max_body_bytes: options.max_body_bytes,
    };
    let alerts = get(alert::http::list).with_state(options.store.clone());
    let query = QueryState {
        store: options.store,
        feed,
        sources,
        shutdown,
        metrics: metrics.clone(),
    };
    let webhook = Router::new()
        .route(
            "/webhook/{source}",
            post(receive).put(receive).patch(receive),
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
        .route("/metrics", get(metrics_http::scrape).with_state(metrics))
        // Unknown API paths are behind the token too: without it, 401 says nothing about
        // which paths exist.
        .route("/api/{*rest}", any(not_found))
        .route_layer(middleware::from_fn_with_state(auth.clone(), require_token))
        .route("/healthz", get(query_http::healthz))
        .route("/openapi.json", get(openapi_http::document))
        .route("/docs", get(openapi_http::page))
        .route("/docs/docs.js", get(openapi_http::script))
        .with_state(query);
    let enrich_api = Router::new()
        .route("/api/events/{id}/enrich", post(enrich::http::enrich_event))
        .route_layer(middleware::from_fn_with_state(auth.clone(), require_token))
        .with_state(enrich);
    let forward_api = Router::new()
        .route("/api/events/{id}/attempts", get(forward_http::attempts))
        .route("/api/events/{id}/replay", post(forward_http::replay))
        .route("/api/forwards", get(forward_http::list))
        .route("/api/forwards/targets", get(forward_http::targets))
        .route(
            "/api/forwards/targets/{name}/pause",
            post(forward_http::pause),
        )
        .route(
            "/api/forwards/targets/{name}/resume",
            post(forward_http::resume),
        )
        .route_layer(middleware::from_fn_with_state(auth.clone(), require_token))
        .with_state(forward);
    // What a browser may send state changes to; webhooks come from anywhere by design.
    let browser = Router::new()
        .merge(api)
        .merge(enrich_api)
        .merge(forward_api)
        .merge(dashboard)
        .layer(middleware::from_fn_with_state(own_origin, same_origin));
    Router::new()
        .merge(webhook)
        .merge(browser)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
}

/// This instance's metrics: the store's batch timings and a series per configured source.
pub fn instance_metrics(options: &ServeOptions) -> Metrics {
    let configured = options
        .sources
        .iter()
        .map(|(name, settings)| (name.clone(), settings.verifier.is_some()))
        .collect();
    Metrics::new(options.store.metrics(), configured)
}

/// Deletes the stored sessions made under another token (the token changed), in the
/// background: they are refused anyway, this only keeps them from piling up.
fn forget_sessions_of_other_tokens(auth: &Auth) {
    if !auth.enabled() {
        return;
    }
    let auth = auth.clone();
    tokio::spawn(async move {
        let Some(sessions) = auth.sessions() else {
            return;
        };
        match sessions.revoke_other_tokens().await {
            Ok(0) => {}
            Ok(revoked) => tracing::info!(revoked, "Ended the sessions of an earlier token."),
            Err(error) => {
                tracing::warn!(error = %error, "Cannot end the sessions of an earlier token.")
            }
        }
    });
}

/// Every 405 answers JSON like every other error.
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    let message = match uri.path().starts_with("/webhook/") {
        true => "webhooks are accepted with POST, PUT or PATCH".to_string(),
        false => format!("{method} is not allowed on {}", uri.path()),
    };
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
    )
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("nothing at {}", uri.path()))
}
