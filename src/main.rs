//! The `hookwatch` binary: logging, then the command line. Everything else is the library.

use std::process::ExitCode;

/// mimalloc instead of the system allocator: ingest allocates many small, short-lived objects
/// (headers, parsed JSON) across threads, where glibc's malloc spends a large share of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HOOKWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    hookwatch::cli::run()
}
