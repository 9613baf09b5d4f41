//! The one integration test binary: the real server on loopback with a real SQLite file or a
//! fresh PostgreSQL database.

mod alert_config;
#[allow(dead_code)]
mod alert_support;
mod alerts;
mod archive;
mod auth;
mod backends;
mod brokers;
mod browser;
mod check_config;
mod configurable;
mod contrib;
mod dashboard;
mod enrich;
mod forged;
mod forward;
mod forward_ahead;
mod forward_alert;
mod forward_cli;
mod forward_control;
mod forward_rules;
mod forward_store;
#[allow(dead_code)] // not every test file uses every helper
mod forward_target;
mod ingest;
mod lifecycle;
mod load;
mod logs;
mod metrics;
mod openapi;
#[allow(dead_code)] // not every test file uses every helper
mod pg;
mod postgres_cluster;
mod postgres_growth;
mod postgres_stream;
mod postgres_tls;
mod process;
mod raw_http;
mod read_api;
mod readme;
mod responses;
mod search;
mod search_index;
mod signatures;
mod slow_clients;
mod small_commands;
#[allow(dead_code)] // not every test file uses every helper
mod sse;
mod store_contract;
mod strict_input;
#[allow(dead_code)] // not every test file uses every helper
mod support;
mod tail;
mod throwaway;
mod trigger;
