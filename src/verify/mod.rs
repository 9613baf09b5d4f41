//! Webhook signature verification: does this request carry a valid signature from a sender that
//! holds one of the source's secrets?
//!
//! Pure code: no I/O, no clock (the caller passes `now`), no tokio, axum or SQL. It depends only
//! on [`crate::model`]. What to do with the result (store it, answer 401) is the caller's policy;
//! this module only returns an [`Outcome`], which is stored with the event.
//!
//! Entry points: [`Scheme::for_provider`] picks the scheme, a [`Verifier`] holds the resolved
//! settings of one source, and [`Verifier::verify`] checks one [`Request`].
//!
//! Layout: one file per scheme, chosen by the [`Scheme`] enum: the providers' own (`stripe`,
//! `github`, `slack`, `shopify`, `standard`, `twilio`) and the ones described in config for
//! senders hookwatch does not know (`hmac` with its `template`, `basic`, `api_key`); `mac`
//! computes and compares HMACs in constant time; `timestamp` owns the replay window; `address`
//! decides the client address and checks `allow_ips`; `outcome` holds [`Outcome`] and
//! [`Reason`].
//!
//! Every scheme follows the same order: a signature header that is absent gives
//! [`Outcome::Missing`]; one that cannot be parsed gives [`Reason::MalformedHeader`]; then the
//! HMAC of every secret is compared with every offered signature (any match is valid, so secrets
//! can be rotated); only a request whose signature matches has its timestamp checked, so a forged
//! request is reported as [`Reason::WrongSecret`] and a genuine but replayed or skewed one as
//! [`Reason::StaleTimestamp`] or [`Reason::FutureTimestamp`].
//!
//! Work is linear in the size of the headers and the body. Headers that may list several
//! signatures (Stripe, Standard Webhooks) have at most [`MAX_SIGNATURES`] of them examined, so a
//! sender cannot make one request cost more than that many comparisons per secret.

mod address;
mod api_key;
mod basic;
mod github;
mod hmac;
mod mac;
mod outcome;
mod shopify;
mod sign;
mod slack;
mod standard;
mod stripe;
mod template;
mod timestamp;
mod twilio;

#[cfg(test)]
mod robustness;
#[cfg(test)]
mod vectors;

use std::fmt;

use crate::model::{Header, Provider};

pub use address::{Networks, NotCidr, client_address};
pub use api_key::ApiKeyScheme;
pub use basic::BasicScheme;
pub use hmac::{Encoding, HmacScheme};
pub use mac::Algorithm;
pub use outcome::{Outcome, Reason};
pub use sign::{SignError, Signed, sign};
pub use template::{Part, Template, TemplateError, is_header_name};

/// How many signature entries of one header are examined at most; later ones are ignored.
///
/// Senders list one signature per active secret (two during a rotation), so 32 is generous,
/// while it keeps a header of a million entries from costing a million comparisons.
pub const MAX_SIGNATURES: usize = 32;

/// Which signing scheme a source uses: its provider's own, because each provider signs its own
/// way, or one described in the source's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// `stripe-signature: t=…,v1=…`: hex HMAC-SHA256 of `"{t}.{body}"`.
    Stripe,
    /// `x-hub-signature-256: sha256=…`: hex HMAC-SHA256 of the body.
    Github,
    /// `x-slack-signature: v0=…` and `x-slack-request-timestamp`: hex HMAC-SHA256 of
    /// `"v0:{ts}:{body}"`.
    Slack,
    /// `x-shopify-hmac-sha256`: base64 HMAC-SHA256 of the body.
    Shopify,
    /// Standard Webhooks (`webhook-*` or Svix's `svix-*` headers): base64 HMAC-SHA256 of
    /// `"{id}.{ts}.{body}"` keyed with the base64-decoded secret.
    Standard,
    /// `x-twilio-signature`: base64 HMAC-SHA1 of the URL and the sorted form parameters.
    Twilio,
    /// `scheme = "hmac"`: header, algorithm, encoding and signed content from config.
    Hmac(Box<HmacScheme>),
    /// `scheme = "basic"`: HTTP basic auth; the secrets are the accepted passwords.
    Basic(BasicScheme),
    /// `scheme = "api_key"`: a key in a header or query parameter; the secrets are the keys.
    ApiKey(ApiKeyScheme),
}

impl Scheme {
    /// The scheme a provider signs with; `None` for [`Provider::Generic`], which has no
    /// standard scheme, so its events are stored as unverified.
    pub fn for_provider(provider: Provider) -> Option<Scheme> {
        match provider {
            Provider::Stripe => Some(Scheme::Stripe),
            Provider::Github => Some(Scheme::Github),
            Provider::Slack => Some(Scheme::Slack),
            Provider::Shopify => Some(Scheme::Shopify),
            Provider::Standard => Some(Scheme::Standard),
            Provider::Twilio => Some(Scheme::Twilio),
            Provider::Generic => None,
        }
    }

    /// The `scheme` value of a scheme described in config; `None` for a provider's own.
    pub fn config_name(&self) -> Option<&'static str> {
        match self {
            Scheme::Hmac(_) => Some("hmac"),
            Scheme::Basic(_) => Some("basic"),
            Scheme::ApiKey(_) => Some("api_key"),
            _ => None,
        }
    }

    /// Whether `secret` can be used with this scheme, so config can refuse a bad one at
    /// start-up instead of every delivery failing. Only Standard Webhooks constrains secrets:
    /// they must be base64 (after an optional `whsec_`). The error never contains the secret.
    pub fn check_secret(&self, secret: &str) -> Result<(), &'static str> {
        match self {
            Scheme::Standard => standard::check_secret(secret),
            _ if secret.is_empty() => Err("the secret is empty"),
            _ => Ok(()),
        }
    }
}

/// A source's verification settings, resolved from config at start-up.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    pub scheme: Scheme,
    /// Every secret the source accepts; any one matching is valid, so a secret can be rotated
    /// without losing deliveries. Config rejects an empty list (an empty list never matches).
    pub secrets: Vec<String>,
    /// How far a signed timestamp may be from `now`, in either direction, for the schemes that
    /// sign one (Stripe, Slack, Standard Webhooks). The window is inclusive.
    pub tolerance_secs: u64,
}

/// Hides the secrets, so a `Verifier` can be logged or shown in a panic message safely.
impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme)
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .field("tolerance_secs", &self.tolerance_secs)
            .finish()
    }
}

impl Verifier {
    /// Checks one request's signature at time `now_unix_secs` (seconds since the Unix epoch).
    ///
    /// Never panics and never does I/O, whatever the sender put in the request.
    pub fn verify(&self, req: &Request<'_>, now_unix_secs: i64) -> Outcome {
        let window = timestamp::Window {
            now: now_unix_secs,
            tolerance_secs: self.tolerance_secs,
        };
        let secrets = self.secrets.as_slice();
        match &self.scheme {
            Scheme::Stripe => stripe::verify(req, secrets, window),
            Scheme::Github => github::verify(req, secrets),
            Scheme::Slack => slack::verify(req, secrets, window),
            Scheme::Shopify => shopify::verify(req, secrets),
            Scheme::Standard => standard::verify(req, secrets, window),
            Scheme::Twilio => twilio::verify(req, secrets),
            Scheme::Hmac(scheme) => hmac::verify(scheme, req, secrets, window),
            Scheme::Basic(scheme) => basic::verify(scheme, req, secrets),
            Scheme::ApiKey(scheme) => api_key::verify(scheme, req, secrets),
        }
    }

    /// Why a request whose outcome is [`Outcome::Missing`] is so: the header (or parameter)
    /// the scheme looks for, by name.
    pub fn missing_reason(&self) -> String {
        let name = match &self.scheme {
            Scheme::Stripe => "stripe-signature header",
            Scheme::Github => "x-hub-signature-256 header",
            Scheme::Slack => "x-slack-signature or x-slack-request-timestamp header",
            Scheme::Shopify => "x-shopify-hmac-sha256 header",
            Scheme::Standard => "webhook-signature (or svix-signature) header",
            Scheme::Twilio => "x-twilio-signature header",
            Scheme::Hmac(scheme) => return format!("no {} header was sent", scheme.header),
            Scheme::Basic(_) => "authorization header",
            Scheme::ApiKey(scheme) => {
                let places: Vec<String> = (scheme.header.iter().map(|h| format!("{h} header")))
                    .chain(scheme.query.iter().map(|q| format!("{q} query parameter")))
                    .collect();
                return format!("no API key was sent (in the {})", places.join(" or the "));
            }
        };
        format!("no {name} was sent")
    }

    /// Replaces the credentials this scheme checked with `***` in what is stored: the
    /// `Authorization` value of basic auth, the API key's header value or query parameter
    /// value. They are the source's secrets, so they must not be kept or shown. Signature
    /// schemes change nothing: a signature is not a secret.
    pub fn mask(&self, headers: &mut [Header], query: &mut String) {
        let header_name = match &self.scheme {
            Scheme::Basic(_) => Some(basic::HEADER),
            Scheme::ApiKey(scheme) => scheme.header.as_deref(),
            _ => None,
        };
        if let Some(name) = header_name {
            for (_, value) in headers
                .iter_mut()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                *value = "***".into();
            }
        }
        if let Scheme::ApiKey(ApiKeyScheme {
            query: Some(name), ..
        }) = &self.scheme
        {
            *query = api_key::mask_query(query, name);
        }
    }
}

/// What the verifier sees of a request: borrowed, so ingest needs no copy.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// As received; names lower-case (see [`Header`]).
    pub headers: &'a [Header],
    /// The raw bytes received: signatures cover exact bytes, never re-serialised JSON.
    pub body: &'a [u8],
    /// The full URL the sender called = `public_url` + path + query as received, for Twilio
    /// and `{url}` in a configured template; `None` without a `public_url`.
    pub url: Option<&'a str>,
    /// The query string as received (no `?`), where an API key may travel.
    pub query: &'a str,
    /// The `content-type` value; Twilio signs form parameters but not JSON bodies.
    pub content_type: Option<&'a str>,
}

pub use crate::model::header;

/// Builds a header list for unit tests; names are kept as given.
#[cfg(test)]
fn test_headers(pairs: &[(&str, &str)]) -> Vec<Header> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Signature;

    #[test]
    fn every_provider_but_generic_has_a_scheme() {
        for provider in Provider::ALL {
            let scheme = Scheme::for_provider(provider);
            assert_eq!(
                scheme.is_none(),
                provider == Provider::Generic,
                "{provider:?}"
            );
        }
    }

    #[test]
    fn a_verifier_debug_print_hides_its_secrets() {
        let verifier = Verifier {
            scheme: Scheme::Stripe,
            secrets: vec!["whsec_very_secret".into(), "old_secret".into()],
            tolerance_secs: 300,
        };
        let printed = format!("{verifier:?}");
        assert!(printed.contains("secrets: [2 hidden]"), "{printed}");
        assert!(!printed.contains("very_secret") && !printed.contains("old_secret"));
    }

    #[test]
    fn header_lookup_returns_the_first_value_of_a_lower_case_name() {
        let headers = vec![
            ("x-a".to_string(), "one".to_string()),
            ("x-a".to_string(), "two".to_string()),
        ];
        assert_eq!(header(&headers, "x-a"), Some("one"));
        assert_eq!(header(&headers, "X-A"), Some("one"));
        assert_eq!(header(&headers, "x-b"), None);
    }

    #[test]
    fn an_empty_secret_list_never_matches_and_never_panics() {
        let verifier = Verifier {
            scheme: Scheme::Github,
            secrets: Vec::new(),
            tolerance_secs: 300,
        };
        let headers = vec![(
            "x-hub-signature-256".to_string(),
            format!("sha256={}", "0".repeat(64)),
        )];
        let req = Request {
            headers: &headers,
            body: b"",
            url: None,
            content_type: None,
            query: "",
        };
        let outcome = verifier.verify(&req, 0);
        assert_eq!(outcome, Outcome::Invalid(Reason::WrongSecret));
        assert_eq!(outcome.signature(), Signature::Invalid);
    }

    #[test]
    fn only_standard_webhooks_secrets_must_be_base64() {
        assert!(Scheme::Stripe.check_secret("whsec_not base64!").is_ok());
        assert!(Scheme::Standard.check_secret("whsec_not base64!").is_err());
        assert!(
            Scheme::Standard
                .check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .is_ok()
        );
        assert!(Scheme::Github.check_secret("").is_err());
    }
}
