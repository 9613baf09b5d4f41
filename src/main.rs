//! The `hookwatch` binary: logging, then the command line. Everything else is the library.

use std::process::ExitCode;

/// mimalloc instead of the system allocator: ingest allocates many small, short-lived objects
/// (headers, parsed JSON) across threads, where glibc's malloc spends a large share of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if let Err(error) = hookwatch::logs::init() {
        eprintln!("hookwatch: {error}");
        return ExitCode::from(2);
    }
    hookwatch::cli::run()
}
