//! Which store a `--database` URL names, checked as the store will use it.
//!
//! The store owns what a database URL means: a PostgreSQL URL is resolved here exactly as
//! `open` resolves it (its `sslmode`, its `sslrootcert` file), so a mistake in it is a
//! configuration error at start, not a failure to connect later. Nothing here prints a URL
//! with its password.

use std::path::PathBuf;

use super::postgres;
use crate::redact;

/// Which store to use, parsed from `--database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A file path for the embedded SQLite store.
    Sqlite(PathBuf),
    /// A `postgres://` connection URL (kept whole; it may carry a password, so never print it).
    Postgres(String),
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH`, `postgres://…` and `postgresql://…`.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            postgres::check_url(url).map_err(|e| e.to_string())?;
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                format!("`{url}` is not a database URL: use sqlite://PATH or postgres://…")
            })?;
        if path.is_empty() {
            return Err("the sqlite URL has no file path (sqlite://hookwatch.db)".into());
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    /// A description safe to print: the file path, or the PostgreSQL URL without its password.
    pub fn display_safe(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("SQLite file {}", path.display()),
            DatabaseUrl::Postgres(url) => format!("PostgreSQL {}", redact::url(url)),
        }
    }

    /// The URL as `--database` takes it (`sqlite://PATH`), with a PostgreSQL password shown
    /// as `***`: what `check-config` prints, so it can be pasted back.
    pub fn url_safe(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => redact::url(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_and_postgres_urls_are_recognised() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://hookwatch.db"),
            Ok(DatabaseUrl::Sqlite("hookwatch.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/h.db"),
            Ok(DatabaseUrl::Sqlite("/var/lib/h.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u:p@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        let error = DatabaseUrl::parse("postgres://u:s3cret@h/db?sslmode=bogus").unwrap_err();
        assert!(
            error.contains("sslmode") && !error.contains("s3cret"),
            "{error}"
        );
    }

    #[test]
    fn a_postgres_password_is_never_displayed() {
        let url = DatabaseUrl::Postgres("postgres://app:s3cret@db:5432/hooks".into());
        let shown = url.display_safe();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db:5432/hooks"));
        let tricky = DatabaseUrl::Postgres("postgres://app:p@ss@db/hooks".into()).display_safe();
        assert!(!tricky.contains("ss@"), "{tricky}");
        assert!(tricky.ends_with("@db/hooks"), "{tricky}");
    }

    #[test]
    fn the_database_is_shown_as_a_url_that_can_be_pasted_back() {
        let sqlite = DatabaseUrl::parse("sqlite:data/h.db").unwrap();
        assert_eq!(sqlite.url_safe(), "sqlite://data/h.db");
        assert_eq!(DatabaseUrl::parse(&sqlite.url_safe()), Ok(sqlite));
        let absolute = DatabaseUrl::Sqlite("/var/lib/h.db".into());
        assert_eq!(absolute.url_safe(), "sqlite:///var/lib/h.db");
        let cases = [
            (
                "postgres://app:s3cret@db:5432/hooks",
                "postgres://app:***@db:5432/hooks",
            ),
            ("postgres://app@db/hooks", "postgres://app@db/hooks"),
            ("postgresql://db/hooks", "postgresql://db/hooks"),
            (
                "postgres://db/hooks?user=app&password=s3cret&sslmode=require",
                "postgres://db/hooks?user=app&password=***&sslmode=require",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(DatabaseUrl::Postgres(url.into()).url_safe(), shown);
        }
    }
}
