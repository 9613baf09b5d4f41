//! Signing, the sender's side of every scheme: the headers (or query parameter) a request needs
//! to pass [`Verifier::verify`], for `hookwatch trigger`'s sample deliveries.
//!
//! Pure like the rest of `verify`: the caller passes the time, the body, the URL the receiver
//! will check and the headers already on the request. Each scheme's test signs and verifies the
//! same request, so the two sides cannot drift apart.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::hmac::{Encoding, HmacScheme};
use super::mac::{self, Algorithm};
use super::{Request, Scheme, standard, twilio};
use crate::model::Header;

/// What to add to a request so that it verifies.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Signed {
    pub headers: Vec<Header>,
    /// An API key sent as a query parameter: `(name, value)`, to append to the URL.
    pub query: Option<(String, String)>,
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the secret cannot be used with this scheme: {0}")]
    UnusableSecret(&'static str),
    #[error("the signed template needs header {0}, which the request does not carry")]
    MissingHeader(String),
}

/// Signs `req` with `secret` under `scheme` at `now` (Unix seconds). `req.url` is the URL the
/// receiver rebuilds (Twilio, `{url}`).
pub fn sign(
    scheme: &Scheme,
    secret: &str,
    req: &Request<'_>,
    now: i64,
) -> Result<Signed, SignError> {
    let key = secret.as_bytes();
    let t = now.to_string();
    let hex = |alg, parts: &[&[u8]]| hex::encode(mac::tag(alg, key, parts).unwrap_or_default());
    let b64 = |alg, parts: &[&[u8]]| STANDARD.encode(mac::tag(alg, key, parts).unwrap_or_default());
    let header = |name: &str, value: String| (name.to_string(), value);
    let headers = match scheme {
        Scheme::Stripe => {
            let v1 = hex(Algorithm::Sha256, &[t.as_bytes(), b".", req.body]);
            vec![header("stripe-signature", format!("t={t},v1={v1}"))]
        }
        Scheme::Github => {
            let sig = hex(Algorithm::Sha256, &[req.body]);
            vec![header("x-hub-signature-256", format!("sha256={sig}"))]
        }
        Scheme::Slack => {
            let sig = hex(Algorithm::Sha256, &[b"v0:", t.as_bytes(), b":", req.body]);
            vec![
                header("x-slack-request-timestamp", t.clone()),
                header("x-slack-signature", format!("v0={sig}")),
            ]
        }
        Scheme::Shopify => vec![header(
            "x-shopify-hmac-sha256",
            b64(Algorithm::Sha256, &[req.body]),
        )],
        Scheme::Standard => {
            let key = standard::key(secret).ok_or(SignError::UnusableSecret("not base64"))?;
            let id = super::header(req.headers, "webhook-id").unwrap_or("");
            let parts: &[&[u8]] = &[id.as_bytes(), b".", t.as_bytes(), b".", req.body];
            let sig = STANDARD.encode(mac::tag(Algorithm::Sha256, &key, parts).unwrap_or_default());
            vec![
                header("webhook-timestamp", t.clone()),
                header("webhook-signature", format!("v1,{sig}")),
            ]
        }
        Scheme::Twilio => {
            let params = twilio::sorted_params(req.body);
            let url = req.url.unwrap_or("");
            let sig = b64(Algorithm::Sha1, &[url.as_bytes(), params.as_bytes()]);
            vec![header("x-twilio-signature", sig)]
        }
        Scheme::Hmac(scheme) => sign_hmac(scheme, key, req, &t)?,
        Scheme::Basic(basic) => {
            let credentials = STANDARD.encode(format!("{}:{secret}", basic.user));
            vec![header("authorization", format!("Basic {credentials}"))]
        }
        Scheme::ApiKey(api) => match (&api.header, &api.query) {
            (Some(name), _) => vec![header(name, secret.to_string())],
            (None, Some(name)) => {
                return Ok(Signed {
                    headers: Vec::new(),
                    query: Some((name.clone(), secret.to_string())),
                });
            }
            (None, None) => Vec::new(),
        },
    };
    Ok(Signed {
        headers,
        query: None,
    })
}

fn sign_hmac(
    scheme: &HmacScheme,
    key: &[u8],
    req: &Request<'_>,
    t: &str,
) -> Result<Vec<Header>, SignError> {
    let message = scheme
        .signed
        .render(req, t)
        .map_err(|name| SignError::MissingHeader(name.to_string()))?;
    let tag = mac::tag(scheme.algorithm, key, &message).unwrap_or_default();
    let encoded = match scheme.encoding {
        Encoding::Hex => hex::encode(tag),
        Encoding::Base64 => STANDARD.encode(tag),
    };
    let prefix = scheme.prefix.as_deref().unwrap_or("");
    let mut headers = vec![(scheme.header.clone(), format!("{prefix}{encoded}"))];
    if let Some(name) = &scheme.timestamp_header {
        headers.push((name.clone(), t.to_string()));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{ApiKeyScheme, BasicScheme, Outcome, Template, Verifier};

    const NOW: i64 = 1_767_225_600;
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn every_scheme() -> Vec<Scheme> {
        let hmac = HmacScheme {
            header: "x-signature".into(),
            algorithm: Algorithm::Sha512,
            encoding: Encoding::Hex,
            prefix: Some("sha512=".into()),
            timestamp_header: Some("x-timestamp".into()),
            signed: Template::parse("{timestamp}.{header:webhook-id}.{url}.{body}").unwrap(),
        };
        vec![
            Scheme::Stripe,
            Scheme::Github,
            Scheme::Slack,
            Scheme::Shopify,
            Scheme::Standard,
            Scheme::Twilio,
            Scheme::Hmac(Box::new(hmac)),
            Scheme::Basic(BasicScheme { user: "u".into() }),
            Scheme::ApiKey(ApiKeyScheme {
                header: Some("x-api-key".into()),
                query: None,
            }),
            Scheme::ApiKey(ApiKeyScheme {
                header: None,
                query: Some("key".into()),
            }),
        ]
    }

    #[test]
    fn a_request_signed_under_every_scheme_verifies_under_it() {
        let body = b"MessageSid=SM1&MessageStatus=delivered";
        let url = "https://hooks.example/webhook/x?a=1";
        for scheme in every_scheme() {
            let base = vec![("webhook-id".to_string(), "msg_1".to_string())];
            let unsigned = Request {
                headers: &base,
                body,
                url: Some(url),
                content_type: Some("application/x-www-form-urlencoded"),
                query: "a=1",
            };
            let signed = sign(&scheme, SECRET, &unsigned, NOW).unwrap();
            let headers = [base.clone(), signed.headers].concat();
            let query = match &signed.query {
                Some((name, value)) => format!("a=1&{name}={value}"),
                None => "a=1".into(),
            };
            let req = Request {
                headers: &headers,
                query: &query,
                ..unsigned
            };
            let verifier = Verifier {
                scheme: scheme.clone(),
                secrets: vec![SECRET.into()],
                tolerance_secs: 300,
            };
            assert_eq!(verifier.verify(&req, NOW + 1), Outcome::Valid, "{scheme:?}");
            let other = Verifier {
                secrets: vec!["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".into()],
                ..verifier
            };
            assert_ne!(other.verify(&req, NOW + 1), Outcome::Valid, "{scheme:?}");
        }
    }
}
