//! Resolved settings: flags, then environment, then the config file, then defaults (SPEC §1).
//!
//! Raw user input becomes typed settings in one step (`Settings::resolve`), so the rest of the
//! program never sees an unparsed value. Each lower module later receives only its own small
//! part (a `SourceSettings`, a `SqliteConfig`), never the whole `Settings`.
//! Depends on `model`, `provider`, `verify` and `enrich` for the types it resolves into; no
//! I/O beyond reading the file and the environment.

mod alert_sinks;
mod alerts;
mod enrichment;
mod file;
mod response;
mod scheme;
mod source;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use enrichment::EnrichmentFile;
pub use file::ConfigFile;
pub use response::{BodyTemplate, MAX_DELAY_MS, ResponseSettings};
pub use source::{OnInvalid, SourceSettings};

use crate::alert::AlertSettings;

/// GitHub's own ceiling, so no provider's real delivery is refused (SPEC §2).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 25 * 1024 * 1024;
/// Where hookwatch listens when nothing says otherwise: loopback only, so it is safe by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The embedded store in the working directory.
pub const DEFAULT_DATABASE: &str = "sqlite://hookwatch.db";
/// The config file read when it exists and none is named.
pub const DEFAULT_CONFIG_FILE: &str = "hookwatch.toml";
/// PostgreSQL connections per instance when nothing says otherwise (see `store::postgres`).
pub const DEFAULT_POOL_SIZE: usize = crate::store::postgres::DEFAULT_POOL_SIZE;

/// Why the settings could not be resolved. Every variant names what the user must fix; the
/// command line turns any of them into exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// An alert rule or sink; `item` names it (`alerts.rules[2] "stripe burst"`).
    #[error("{origin}: {item}: {problem}")]
    Alert {
        origin: String,
        item: String,
        problem: String,
    },
    #[error("{origin}: key `{key}`: {problem}")]
    Invalid {
        origin: String,
        key: String,
        problem: String,
    },
    #[error(
        "refusing to listen on {listen} without a token: anyone on the network could read \
         every webhook. Set one with --token TOKEN, the HOOKWATCH_TOKEN environment variable \
         or `token = \"…\"` in the config file (or pass --insecure-no-auth)"
    )]
    PublicWithoutToken { listen: SocketAddr },
}

/// Which store to use, parsed from `--database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A file path for the embedded SQLite store.
    Sqlite(PathBuf),
    /// A `postgres://` connection URL (kept whole; it may carry a password, so never print it).
    Postgres(String),
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH`, `postgres://…` and `postgresql://…`. A
    /// PostgreSQL URL is resolved here as the store will (its `sslmode`, its `sslrootcert`
    /// file), so a mistake in it is a configuration error, not a failure to connect.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            crate::store::postgres::tls::connect_options(url).map_err(|e| e.to_string())?;
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
            DatabaseUrl::Postgres(url) => format!("PostgreSQL {}", redact_password(url)),
        }
    }
}

/// Hides `:password@` in a URL so it can be logged.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The last `@` ends the user info: a password may itself contain `@`.
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

/// What the command line and environment supplied; `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub config: Option<PathBuf>,
    pub token: Option<String>,
    pub insecure_no_auth: bool,
    /// PostgreSQL pool size (`--pool-size`, `HOOKWATCH_POOL_SIZE`).
    pub pool_size: Option<usize>,
}

/// Everything `serve` and the offline commands need, fully validated.
#[derive(Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database: DatabaseUrl,
    /// The API token; compared in constant time and never printed.
    pub token: Option<String>,
    pub insecure_no_auth: bool,
    pub max_body_bytes: u64,
    /// Connections in the PostgreSQL pool; unused with SQLite.
    pub pool_size: usize,
    pub sources: BTreeMap<String, SourceSettings>,
    /// `[enrichment]`, when configured.
    pub enrichment: Option<crate::enrich::EnrichSettings>,
    pub alerts: AlertSettings,
    /// The config file that was read, for the start-up banner.
    pub config_path: Option<PathBuf>,
}

impl Settings {
    /// Resolves the settings in precedence order and validates all of them.
    pub fn resolve(overrides: &Overrides) -> Result<Settings, ConfigError> {
        Settings::resolve_scoped(overrides, Scope::Serve)
    }

    /// The settings the offline commands (`events`, `stats`) need: the file is still read and
    /// checked, but sources and enrichment are left out, so a secret's environment variable
    /// that is not set in this shell does not stop someone reading the database.
    pub fn resolve_for_reading(overrides: &Overrides) -> Result<Settings, ConfigError> {
        Settings::resolve_scoped(overrides, Scope::Read)
    }

    fn resolve_scoped(overrides: &Overrides, scope: Scope) -> Result<Settings, ConfigError> {
        let (file, path) = load_file(overrides.config.as_deref())?;
        let origin = path
            .as_ref()
            .map(|p| format!("config file {}", p.display()))
            .unwrap_or_else(|| "settings".into());
        let invalid = |key: &str, problem: String| ConfigError::Invalid {
            origin: origin.clone(),
            key: key.to_string(),
            problem,
        };
        let listen_text = pick(&overrides.listen, &file.listen, DEFAULT_LISTEN);
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid(
                "listen",
                format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
            )
        })?;
        let database_text = pick(&overrides.database, &file.database, DEFAULT_DATABASE);
        let database = DatabaseUrl::parse(&database_text).map_err(|e| invalid("database", e))?;
        let token = overrides.token.clone().or(file.token.clone());
        if token.as_deref() == Some("") {
            return Err(invalid("token", "the token is empty".into()));
        }
        let max_body_bytes = file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if max_body_bytes == 0 {
            return Err(invalid("max_body_bytes", "must be at least 1".into()));
        }
        let pool_size = overrides
            .pool_size
            .or(file.pool_size)
            .unwrap_or(DEFAULT_POOL_SIZE);
        if !(2..=1000).contains(&pool_size) {
            return Err(invalid(
                "pool_size",
                format!("{pool_size} is out of range: use 2 to 1000 connections"),
            ));
        }
        if scope == Scope::Read {
            return Ok(Settings {
                listen,
                database,
                token: None,
                insecure_no_auth: false,
                max_body_bytes,
                pool_size,
                sources: BTreeMap::new(),
                enrichment: None,
                alerts: AlertSettings::default(),
                config_path: path,
            });
        }
        let sources = source::resolve_all(&file, &origin)?;
        let enrichment = enrichment::resolve(file.enrichment.as_ref(), &origin, |var| {
            std::env::var(var).ok()
        })?;
        let alerts = alerts::resolve(file.alerts.as_ref(), file.public_url.as_deref()).map_err(
            |(item, problem)| ConfigError::Alert {
                origin: origin.clone(),
                item,
                problem,
            },
        )?;
        if token.is_none() && !overrides.insecure_no_auth && !listen.ip().is_loopback() {
            return Err(ConfigError::PublicWithoutToken { listen });
        }
        Ok(Settings {
            listen,
            database,
            token,
            insecure_no_auth: overrides.insecure_no_auth,
            max_body_bytes,
            pool_size,
            sources,
            enrichment,
            alerts,
            config_path: path,
        })
    }
}

/// How much of the configuration a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Serve,
    Read,
}

/// The flag/env value, else the file's, else the default.
fn pick(over: &Option<String>, file: &Option<String>, default: &str) -> String {
    over.clone()
        .or_else(|| file.clone())
        .unwrap_or_else(|| default.to_string())
}

/// Reads the named file, or `./hookwatch.toml` when it exists, or nothing.
fn load_file(named: Option<&Path>) -> Result<(ConfigFile, Option<PathBuf>), ConfigError> {
    let path = match named {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_CONFIG_FILE).exists() => PathBuf::from(DEFAULT_CONFIG_FILE),
        None => return Ok((ConfigFile::default(), None)),
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let file = ConfigFile::parse(&text).map_err(|e| ConfigError::Parse {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok((file, Some(path)))
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
    }

    #[test]
    fn a_bad_postgres_tls_setting_is_a_configuration_error_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hookwatch.toml");
        std::fs::write(&config, "").unwrap();
        let overrides = Overrides {
            database: Some("postgres://app:s3cret@db/hooks?sslmode=verify-everything".into()),
            config: Some(config),
            ..Overrides::default()
        };
        let error = Settings::resolve(&overrides).unwrap_err().to_string();
        assert!(
            error.contains("`database`") && error.contains("sslmode"),
            "{error}"
        );
        assert!(!error.contains("s3cret"), "{error}");
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
    fn pool_size_comes_from_the_flag_then_the_file_then_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hookwatch.toml");
        std::fs::write(&config, "pool_size = 5\n").unwrap();
        let mut overrides = Overrides {
            config: Some(config),
            ..Overrides::default()
        };
        assert_eq!(Settings::resolve(&overrides).unwrap().pool_size, 5);
        overrides.pool_size = Some(40);
        assert_eq!(Settings::resolve(&overrides).unwrap().pool_size, 40);
        overrides.pool_size = Some(1);
        let error = Settings::resolve(&overrides).unwrap_err().to_string();
        assert!(error.contains("pool_size"), "{error}");
        let defaults = Overrides {
            config: Some(dir.path().join("missing-is-an-error.toml")),
            ..Overrides::default()
        };
        assert!(Settings::resolve(&defaults).is_err());
        std::fs::write(dir.path().join("empty.toml"), "").unwrap();
        let empty = Overrides {
            config: Some(dir.path().join("empty.toml")),
            ..Overrides::default()
        };
        assert_eq!(
            Settings::resolve(&empty).unwrap().pool_size,
            DEFAULT_POOL_SIZE
        );
    }
}
