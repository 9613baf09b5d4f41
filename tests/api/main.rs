//! The one integration test binary: the real server on loopback with a real SQLite file or a
//! fresh PostgreSQL database.

mod alert_config;
#[allow(dead_code)]
mod alert_support;
mod alerts;
mod backends;
mod browser;
mod configurable;
mod dashboard;
mod enrich;
mod ingest;
mod load;
#[allow(dead_code)] // not every test file uses every helper
mod pg;
mod postgres_cluster;
mod postgres_growth;
mod postgres_stream;
mod postgres_tls;
mod process;
mod read_api;
mod responses;
mod signatures;
#[allow(dead_code)] // not every test file uses every helper
mod sse;
mod store_contract;
#[allow(dead_code)] // not every test file uses every helper
mod support;
mod throwaway;
mod trigger;
