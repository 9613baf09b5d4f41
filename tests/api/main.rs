//! The one integration test binary: the real server on loopback with a real SQLite file.

mod alert_config;
#[allow(dead_code)]
mod alert_support;
mod alerts;
mod ingest;
mod process;
mod read_api;
mod signatures;
#[allow(dead_code)] // not every test file uses every helper
mod support;
