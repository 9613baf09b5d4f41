//! Resolved settings: flags, then environment, then the config file, then defaults.
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
mod forward;
mod limits;
mod response;
mod retention;
mod scheme;
mod source;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Which store `--database` names; the store owns what its URLs mean.
pub use crate::store::DatabaseUrl;
pub use enrichment::EnrichmentFile;
pub use file::ConfigFile;
pub use limits::ConnectionLimits;
pub use response::{BodyTemplate, MAX_DELAY_MS, ResponseSettings};
pub use source::{OnInvalid, SourceSettings};

use crate::alert::AlertSettings;

/// GitHub's own ceiling, so no provider's real delivery is refused.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 25 * 1024 * 1024;
/// Where hookwatch listens when nothing says otherwise: loopback only, so it is safe by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The embedded store in the working directory.
pub const DEFAULT_DATABASE: &str = "sqlite://hookwatch.db";
/// The config file read when it exists and none is named.
pub const DEFAULT_CONFIG_FILE: &str = "hookwatch.toml";
/// PostgreSQL connections per instance when nothing says otherwise (see `store`).
pub const DEFAULT_POOL_SIZE: usize = crate::store::DEFAULT_POOL_SIZE;
/// The shortest token accepted off loopback: shorter ones can be guessed, throttle or not.
pub const MIN_TOKEN_CHARS: usize = 16;
/// How to make a token that is long enough, for the messages about short ones.
pub const STRONG_TOKEN_HINT: &str = "make one with `openssl rand -hex 32`";

/// Why the settings could not be resolved. Every variant names what the user must fix; the
/// command line turns any of them into exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The cause is part of the message, not a `source`, so it is printed once.
    #[error("cannot read config file {}: {}", path.display(), read_problem(error))]
    Read {
        path: PathBuf,
        error: std::io::Error,
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
    #[error(
        "refusing to listen on {listen} with a token of {chars} characters: it could be \
         guessed. Use at least {MIN_TOKEN_CHARS} random characters; {STRONG_TOKEN_HINT}"
    )]
    WeakToken { listen: SocketAddr, chars: usize },
}

/// An I/O error in a user's words; a missing file is the common case.
fn read_problem(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => error.to_string(),
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
    /// How long a dashboard session lasts without use (`session_idle`).
    pub session_idle: std::time::Duration,
    /// The top-level `public_url`, which sources inherit; an `http` or `https` URL.
    pub public_url: Option<String>,
    /// Timeouts and the connection bound that keep slow clients from holding the server.
    pub limits: ConnectionLimits,
    pub sources: BTreeMap<String, SourceSettings>,
    /// `[enrichment]`, when configured.
    pub enrichment: Option<crate::enrich::EnrichSettings>,
    pub alerts: AlertSettings,
    /// `[retention]` and each source's `retention`.
    pub retention: crate::retention::Retention,
    /// `[[forward]]` rules, in file order; names are unique.
    pub forward: Vec<crate::forward::settings::TargetSettings>,
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
        let session_idle = match &file.session_idle {
            None => crate::auth::DEFAULT_SESSION_IDLE,
            Some(text) => parse_session_idle(text).map_err(|e| invalid("session_idle", e))?,
        };
        let limits = limits::resolve(&file).map_err(|(key, problem)| invalid(key, problem))?;
        let retention =
            retention::resolve(&file).map_err(|(key, problem)| invalid(&key, problem))?;
        let public_url = file.public_url.clone();
        if let Some(url) = &public_url
            && crate::auth::origin::Origin::of_url(url).is_none()
        {
            return Err(invalid(
                "public_url",
                format!("`{url}` is not an http:// or https:// URL with a host"),
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
                session_idle,
                public_url,
                limits,
                sources: BTreeMap::new(),
                enrichment: None,
                alerts: AlertSettings::default(),
                retention,
                forward: Vec::new(),
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
        let own = crate::forward::target::Own {
            listen,
            public_url: public_url.as_deref(),
        };
        let forward = forward::resolve(&file.forward, &own, &sources)
            .map_err(|(key, problem)| invalid(&key, problem))?;
        for (index, rule) in alerts.rules.iter().enumerate() {
            if let Some(target) = &rule.target
                && !forward.iter().any(|t| &t.name == target)
            {
                let problem = format!("no [[forward]] rule is named `{target}`");
                return Err(invalid(&format!("alerts.rules[{index}].target"), problem));
            }
        }
        if token.is_none() && !overrides.insecure_no_auth && !listen.ip().is_loopback() {
            return Err(ConfigError::PublicWithoutToken { listen });
        }
        if let Some(chars) = token.as_deref().map(|t| t.chars().count())
            && chars < MIN_TOKEN_CHARS
            && !listen.ip().is_loopback()
        {
            return Err(ConfigError::WeakToken { listen, chars });
        }
        Ok(Settings {
            listen,
            database,
            token,
            insecure_no_auth: overrides.insecure_no_auth,
            max_body_bytes,
            pool_size,
            session_idle,
            public_url,
            limits,
            sources,
            enrichment,
            alerts,
            retention,
            forward,
            config_path: path,
        })
    }
}

impl Settings {
    /// Whether the token is shorter than [`MIN_TOKEN_CHARS`] (allowed on loopback only, with
    /// a warning).
    pub fn weak_token(&self) -> bool {
        self.token
            .as_deref()
            .is_some_and(|t| t.chars().count() < MIN_TOKEN_CHARS)
    }
}

/// `session_idle`: an age like `30m`, `12h` or `7d`, at least a second.
fn parse_session_idle(text: &str) -> Result<std::time::Duration, String> {
    crate::query::parse_age(text)
        .and_then(|age| age.to_std().ok())
        .filter(|age| age.as_secs() >= 1)
        .ok_or_else(|| format!("`{text}` is not a duration like 30m, 12h or 7d (at least 1s)"))
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
    let text = std::fs::read_to_string(&path).map_err(|error| ConfigError::Read {
        path: path.clone(),
        error,
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
