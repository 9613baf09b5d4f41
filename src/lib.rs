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
//! main → cli → app (wiring, router, auth)
//!               → ingest · query · alert (features; each has its http.rs)
//!                   → verify · provider · feed · store (logic and storage)
//!                       → model (plain data, no I/O)
//! ```
//!
//! - [`model`]: the event as received and stored.
//! - [`provider`]: what a sender's payload means (type, delivery id, errors). Pure.
//! - [`verify`]: signature schemes. Pure; time is passed in.
//! - [`store`]: SQLite (and later PostgreSQL) behind one enum; group commit.
//! - [`feed`]: broadcast of stored events to whoever listens.
//! - [`ingest`]: one delivery in, one answer out.
//! - [`query`]: filters, JSON views, the live stream, the read API.
//! - [`alert`]: rules evaluated off the feed, stored alerts, sinks, `/api/alerts`.
//! - [`config`]: flags, environment and file resolved into typed settings.
//! - [`app`]: the router and the server's life cycle.
//! - [`cli`]: the commands.

pub mod alert;
pub mod app;
pub mod cli;
pub mod config;
pub mod feed;
pub mod http;
pub mod ingest;
pub mod model;
pub mod provider;
pub mod query;
pub mod store;
pub mod verify;
