//! Why the store could not do what was asked, with the backend's own error kept as a typed
//! source, so a caller can look at the cause and a log shows all of it.
//!
//! Every variant's message ends with its cause's (`cannot open the store: cannot connect to
//! PostgreSQL: …`), so a log line with `%error` says everything; `Causes` prints a chain
//! without repeating the parts each message already carries.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use super::postgres::PgError;
use super::sqlite::SqliteError;

/// A store failure. `Unavailable` means nothing was committed or read: the caller tries again
/// later (ingest answers `503` with `Retry-After`). `Open` stops start-up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(#[source] Cause),
    #[error("cannot open the store: {0}")]
    Open(#[source] Cause),
}

/// What failed underneath. Shared (`Arc`) because a failed batch answers every job in it with
/// the same cause.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Cause {
    #[error(transparent)]
    Sqlite(Arc<SqliteError>),
    #[error(transparent)]
    Postgres(Arc<PgError>),
    /// The writer task or thread is gone (the process is shutting down).
    #[error("the writer has stopped")]
    WriterStopped,
}

impl From<SqliteError> for Cause {
    fn from(error: SqliteError) -> Cause {
        Cause::Sqlite(Arc::new(error))
    }
}

impl From<PgError> for Cause {
    fn from(error: PgError) -> Cause {
        Cause::Postgres(Arc::new(error))
    }
}

impl StoreError {
    /// Whatever went wrong while serving a request.
    pub(crate) fn unavailable(cause: impl Into<Cause>) -> StoreError {
        StoreError::Unavailable(cause.into())
    }

    /// Whatever kept the store from opening.
    pub(crate) fn open(cause: impl Into<Cause>) -> StoreError {
        StoreError::Open(cause.into())
    }
}

/// An error and its sources as one line, each part once: a source whose text its error's
/// message already contains is skipped (`error performing TLS handshake: invalid peer
/// certificate: UnknownIssuer`).
pub struct Causes<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(inner) = cause {
            let more = inner.to_string();
            if !text.contains(&more) {
                text = format!("{text}: {more}");
            }
            cause = inner.source();
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_error_keeps_its_cause_typed_and_says_it_once() {
        let io = std::io::Error::other("disk on fire");
        let error = StoreError::unavailable(SqliteError::Thread(io));
        let source = error.source().expect("a source");
        assert!(source.downcast_ref::<Cause>().is_some(), "{source:?}");
        assert_eq!(
            Causes(&error).to_string(),
            "store unavailable: cannot start the writer thread: disk on fire"
        );
    }
}
