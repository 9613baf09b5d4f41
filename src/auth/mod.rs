//! Access control: when a token is configured, the API and the dashboard need it, as
//! `Authorization: Bearer TOKEN` or as the dashboard's session cookie.
//!
//! The cookie holds an HMAC of the token, never the token itself, and every comparison is
//! constant-time. This file is the policy; `auth::http` reads requests and guards routes.

pub mod http;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "hookwatch_session";

/// The configured token, if any; cheap to clone.
#[derive(Clone, Default)]
pub struct Auth {
    token: Option<std::sync::Arc<str>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.token.as_ref().map(|_| "[hidden]"))
            .finish()
    }
}

impl Auth {
    pub fn new(token: Option<String>) -> Auth {
        Auth {
            token: token.map(Into::into),
        }
    }

    /// Whether any token is required at all.
    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    /// Whether a request presenting these credentials may pass: the bearer token when one is
    /// sent (a wrong one is not rescued by a cookie), else a valid session cookie.
    pub fn allows_credentials(&self, bearer: Option<&str>, session: Option<&str>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        match (bearer, session) {
            (Some(bearer), _) => bool::from(bearer.as_bytes().ct_eq(token.as_bytes())),
            (None, Some(session)) => {
                bool::from(session.as_bytes().ct_eq(session_value(token).as_bytes()))
            }
            (None, None) => false,
        }
    }

    /// Whether `candidate` is the token (for the login form).
    pub fn is_token(&self, candidate: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| bool::from(candidate.as_bytes().ct_eq(t.as_bytes())))
    }

    /// The cookie value proving a login; `None` when no token is configured.
    pub fn session(&self) -> Option<String> {
        self.token.as_deref().map(session_value)
    }
}

/// A value derived from the token, so the cookie does not carry the token itself.
fn session_value(token: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(token.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"hookwatch session v1");
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_token_or_the_session_passes_and_nothing_else() {
        let auth = Auth::new(Some("s3cret".into()));
        let session = auth.session().unwrap();
        assert!(auth.allows_credentials(Some("s3cret"), None));
        assert!(auth.allows_credentials(None, Some(&session)));
        assert!(
            !auth.allows_credentials(None, Some("s3cret")),
            "the token is not a session"
        );
        assert!(!auth.allows_credentials(Some("wrong"), Some(&session)));
        assert!(!auth.allows_credentials(None, None));
        assert!(!session.contains("s3cret"));
        assert!(Auth::new(None).allows_credentials(None, None));
    }
}
