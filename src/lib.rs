//! # hookwatch
//!
//! A self-hosted webhook monitor: receive every delivery, keep it exactly and durably, prove
//! which are genuine, drop redeliveries, and answer questions about them.
//!
//! ## Layout
//!
//! Dependencies flow one way, top to bottom:
//!
//! ```text
//! main → cli → app (wiring, router)
//!               → ingest · query · dashboard · enrich · alert · openapi (features; each has its http.rs)
//!                   → verify · provider · auth · feed · store (logic and storage)
//!                   → metrics (counters every layer records into)
//!                       → model (plain data, no I/O)
//! ```
//!
//! - [`model`]: the event as received and stored.
//! - [`provider`]: what a sender's payload means (type, delivery id, errors). Pure.
//! - [`verify`]: signature schemes. Pure; time is passed in.
//! - [`store`]: SQLite and PostgreSQL behind one enum; group commit; PostgreSQL also feeds
//!   every instance's events to [`feed`] (LISTEN/NOTIFY).
//! - [`feed`]: broadcast of stored events, published by the store in commit order.
//! - [`auth`]: the token, dashboard sessions (kept in the store), the throttle on wrong tokens
//!   and the API guard.
//! - [`enrich`]: outside context (web search, a team's lookup service) attached to events in
//!   the background.
//! - [`ingest`]: one delivery in, one answer out.
//! - [`query`]: filters, JSON views, the live stream, the read API.
//! - [`search`]: the full-text `q` and the `field` filters, pure (forwarding rules use them too).
//! - [`indexer`]: the task that writes the full-text index behind ingest.
//! - [`dashboard`]: the live web page at `/`, its login and its embedded assets.
//! - [`alert`]: rules evaluated off the feed, stored alerts, sinks, `/api/alerts`.
//! - [`forward`]: the rules of forwarding events on (which, where, when to retry); pure.
//! - [`braces`]: the `{placeholder}` syntax every template shares.
//! - [`redact`]: URLs shown without their credentials.
//! - [`retention`]: which events are old or many enough to delete, and the task that does.
//! - [`retry_after`]: the `Retry-After` header read as a wait.
//! - [`archive`]: the export format (one JSON line per event) and reading it back. Pure.
//! - [`config`]: flags, environment and file resolved into typed settings.
//! - [`app`]: the router and the server's life cycle.
//! - [`cli`]: the commands.
//! - [`logs`]: the log's format and filter, from the environment.
//! - [`metrics`]: the counters behind `/metrics`, one registry per instance.
//! - [`openapi`]: the OpenAPI document of the routes, `/openapi.json` and `/docs`.

pub mod alert;
pub mod app;
pub mod archive;
pub mod auth;
pub mod braces;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod enrich;
pub mod feed;
pub mod forward;
pub mod http;
pub mod indexer;
pub mod ingest;
pub mod logs;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod provider;
pub mod query;
pub mod redact;
pub mod retention;
pub mod retry_after;
pub mod search;
pub mod store;
pub mod verify;
