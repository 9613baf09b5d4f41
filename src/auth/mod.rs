//! Access control: when a token is configured, the API and the dashboard need it, as
//! `Authorization: Bearer TOKEN` or as the dashboard's session cookie.
//!
//! The token is compared in constant time and never stored or sent back. A login makes a
//! session (`session`, kept in the store by `sessions`): the cookie holds a random id, and
//! the session ends at logout, after its idle time, or when the token changes. Wrong tokens
//! are throttled per client address (`throttle`). This file is the policy; `auth::http` reads
//! requests and guards routes.
//!
//! Depends on `store` (sessions) only; knows nothing of HTTP outside `http`.

pub mod http;
pub mod origin;
pub mod session;
pub mod sessions;
pub mod throttle;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use subtle::ConstantTimeEq;

pub use sessions::{SessionError, Sessions};
use throttle::Throttle;

use crate::store::Store;

/// Name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "hookwatch_session";
/// How long a session lasts without use when the config does not say.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);

/// The configured token and what guards it, if any; cheap to clone.
#[derive(Clone, Default)]
pub struct Auth {
    guard: Option<Arc<Guard>>,
}

struct Guard {
    token: Box<str>,
    sessions: Sessions,
    throttle: Mutex<Throttle>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.guard.as_ref().map(|_| "[hidden]"))
            .finish()
    }
}

/// The credentials a request presents.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// From `Authorization: Bearer`; `None` when absent or empty.
    pub bearer: Option<&'a str>,
    /// The session cookie's value.
    pub session: Option<&'a str>,
}

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// No valid credentials (`401`).
    Denied,
    /// Too many wrong tokens from this client address: refused for this long (`429`).
    Throttled(Duration),
}

/// The answer to a login attempt.
#[derive(Debug)]
pub enum Login {
    /// The token was right: the new session's id, for the cookie.
    Session(String),
    /// The token was wrong (or empty).
    Refused,
    Throttled(Duration),
}

impl Auth {
    /// Guards with `token` when one is set; sessions live in `store` and end after `idle`
    /// without use.
    pub fn new(token: Option<String>, store: Store, idle: Duration) -> Auth {
        let idle = TimeDelta::from_std(idle).unwrap_or(TimeDelta::MAX);
        Auth {
            guard: token.map(|token| {
                Arc::new(Guard {
                    sessions: Sessions::new(store, &token, idle),
                    token: token.into(),
                    throttle: Mutex::new(Throttle::default()),
                })
            }),
        }
    }

    /// Whether any token is required at all.
    pub fn enabled(&self) -> bool {
        self.guard.is_some()
    }

    /// The sessions, when a token is set.
    pub fn sessions(&self) -> Option<&Sessions> {
        self.guard.as_ref().map(|g| &g.sessions)
    }

    /// Whether a request from `client` presenting these credentials may pass at `now`: the
    /// bearer token when one is sent (a wrong one is not rescued by a cookie and counts
    /// toward the throttle), else a valid session. A throttled address is refused whatever it
    /// sends. A store failure while checking a session refuses (it is logged).
    pub async fn access(
        &self,
        credentials: Credentials<'_>,
        client: IpAddr,
        now: DateTime<Utc>,
    ) -> Access {
        let Some(guard) = &self.guard else {
            return Access::Allowed;
        };
        if let Some(wait) = guard.throttled(client) {
            return Access::Throttled(wait);
        }
        match credentials {
            Credentials {
                bearer: Some(bearer),
                ..
            } => match guard.is_token(bearer) {
                true => Access::Allowed,
                false => {
                    guard.wrong_token(client);
                    Access::Denied
                }
            },
            Credentials {
                session: Some(id), ..
            } => match guard.sessions.validate(id, now).await {
                Ok(true) => Access::Allowed,
                Ok(false) => Access::Denied,
                Err(error) => {
                    tracing::error!(error = %error, "Cannot check a session.");
                    Access::Denied
                }
            },
            _ => Access::Denied,
        }
    }

    /// How long `client` is still refused for guessing, if it is.
    pub fn throttled(&self, client: IpAddr) -> Option<Duration> {
        self.guard.as_ref()?.throttled(client)
    }

    /// A login with `candidate` from `client` at `now`. An empty candidate is refused without
    /// counting as a guess.
    pub async fn login(
        &self,
        candidate: &str,
        client: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Login, SessionError> {
        let Some(guard) = &self.guard else {
            return Ok(Login::Refused);
        };
        if let Some(wait) = guard.throttled(client) {
            return Ok(Login::Throttled(wait));
        }
        if candidate.is_empty() {
            return Ok(Login::Refused);
        }
        if !guard.is_token(candidate) {
            guard.wrong_token(client);
            return Ok(Login::Refused);
        }
        guard.sessions.create(now).await.map(Login::Session)
    }
}

impl Guard {
    fn is_token(&self, candidate: &str) -> bool {
        bool::from(candidate.as_bytes().ct_eq(self.token.as_bytes()))
    }

    fn throttled(&self, client: IpAddr) -> Option<Duration> {
        let throttle = self.throttle.lock().ok()?;
        throttle.blocked(client, Instant::now())
    }

    /// Counts a wrong token; says so in the log once, when the address reaches the limit.
    fn wrong_token(&self, client: IpAddr) {
        let Ok(mut throttle) = self.throttle.lock() else {
            return;
        };
        if let Some(wait) = throttle.failed(client, Instant::now()) {
            tracing::warn!(
                client = %client,
                wrong_tokens = throttle::LIMIT,
                retry_after_secs = wait.as_secs(),
                "Too many wrong tokens from one address; refusing it until its minute is over."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::store::{DatabaseUrl, StoreSettings};

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    async fn auth(dir: &tempfile::TempDir, token: Option<&str>) -> Auth {
        let url = DatabaseUrl::Sqlite(dir.path().join("auth.db"));
        let store = crate::store::open(&url, &StoreSettings::default())
            .await
            .unwrap();
        Auth::new(token.map(str::to_string), store, DEFAULT_SESSION_IDLE)
    }

    fn bearer(token: &str) -> Credentials<'_> {
        Credentials {
            bearer: Some(token),
            session: None,
        }
    }

    #[tokio::test]
    async fn the_bearer_token_or_a_session_passes_and_a_wrong_bearer_is_not_rescued() {
        let dir = tempfile::tempdir().unwrap();
        let auth = auth(&dir, Some("a-token-for-unit-tests")).await;
        let now = Utc::now();
        let Login::Session(id) = auth
            .login("a-token-for-unit-tests", CLIENT, now)
            .await
            .unwrap()
        else {
            panic!("the right token logs in");
        };
        let session = |bearer| Credentials {
            bearer,
            session: Some(id.as_str()),
        };
        let access = |credentials| auth.access(credentials, CLIENT, now);
        assert_eq!(
            access(bearer("a-token-for-unit-tests")).await,
            Access::Allowed
        );
        assert_eq!(access(session(None)).await, Access::Allowed);
        assert_eq!(access(session(Some("wrong"))).await, Access::Denied);
        assert_eq!(access(Credentials::default()).await, Access::Denied);
        let token_as_session = Credentials {
            bearer: None,
            session: Some("a-token-for-unit-tests"),
        };
        assert_eq!(access(token_as_session).await, Access::Denied);
        assert!(!id.contains("a-token-for-unit-tests"));
    }

    #[tokio::test]
    async fn without_a_token_everything_passes_and_nobody_logs_in() {
        let dir = tempfile::tempdir().unwrap();
        let auth = auth(&dir, None).await;
        let now = Utc::now();
        assert_eq!(
            auth.access(Credentials::default(), CLIENT, now).await,
            Access::Allowed
        );
        assert!(matches!(
            auth.login("anything", CLIENT, now).await.unwrap(),
            Login::Refused
        ));
    }
}
