//! The one integration test binary: the real server on loopback with a real SQLite file.

mod browser;
mod dashboard;
mod ingest;
#[allow(dead_code)] // not every test file uses every helper
mod support;
