//! Cross-site request forgery: a state-changing request that rides on the dashboard's session
//! cookie must come from one of hookwatch's own pages.
//!
//! The cookie is `SameSite=Strict`, but a site is a scheme and a domain without the port: a
//! page on another port of the same host (`127.0.0.1:9000` beside hookwatch on
//! `127.0.0.1:8080`) is the same site, and its forms carry the cookie. What tells the pages
//! apart is the `Origin` header (or, when a browser sends none, the `Referer`), which a page
//! cannot set. So:
//!
//! - a request with `Authorization: Bearer` needs nothing: a page cannot add that header to a
//!   cross-origin request without a CORS preflight, which hookwatch never grants;
//! - an `Origin` (else a `Referer`) that is sent must be hookwatch's own, cookie or not (a
//!   cross-origin login would sign the browser in to someone else's session);
//! - a request with the session cookie must send one of them.
//!
//! Own origin: `public_url`'s when it is set, else `http://` + the request's `Host`.
//!
//! Pure: header values in, a verdict out. Entry points: [`Origin`], [`judge`].

use url::Url;

/// An origin as browsers write it in the `Origin` header: `scheme://host[:port]`, lowercase,
/// the scheme's default port left out. Only `http` and `https` origins exist here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// The origin of an absolute `http` or `https` URL (also a bare origin, or a `Referer`).
    /// `None` for anything else, `null` included.
    pub fn of_url(text: &str) -> Option<Origin> {
        let url = Url::parse(text.trim()).ok()?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return None;
        }
        Some(Origin(url.origin().ascii_serialization()))
    }

    /// The origin a request reached over plain HTTP with this `Host` header.
    pub fn of_host(host: &str) -> Option<Origin> {
        let host = host.trim();
        if host.is_empty() || host.contains(['/', '?', '#', '@', '\\']) {
            return None;
        }
        Origin::of_url(&format!("http://{host}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a state-changing request presents, as the headers say.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sent<'a> {
    /// An `Authorization: Bearer` header is present (whether it is right is checked later).
    pub bearer: bool,
    /// The dashboard's session cookie is present.
    pub session: bool,
    pub origin: Option<&'a str>,
    pub referer: Option<&'a str>,
}

/// Why a request was refused (`403`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this request comes from a page of another origin")]
    OtherOrigin,
    #[error("a request with the dashboard's session cookie must send an Origin or Referer header")]
    NoOrigin,
}

/// Whether a state-changing request may pass, given hookwatch's own origin (`None` when it
/// cannot be known: no `public_url` and no usable `Host`, so nothing matches it).
pub fn judge(own: Option<&Origin>, sent: Sent<'_>) -> Result<(), Refusal> {
    if sent.bearer {
        return Ok(());
    }
    let Some(claimed) = sent.origin.or(sent.referer) else {
        return match sent.session {
            true => Err(Refusal::NoOrigin),
            false => Ok(()),
        };
    };
    match (own, Origin::of_url(claimed)) {
        (Some(own), Some(claimed)) if *own == claimed => Ok(()),
        _ => Err(Refusal::OtherOrigin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> Origin {
        Origin::of_host("127.0.0.1:8080").unwrap()
    }

    fn cookie<'a>(origin: Option<&'a str>, referer: Option<&'a str>) -> Sent<'a> {
        Sent {
            session: true,
            origin,
            referer,
            ..Sent::default()
        }
    }

    #[test]
    fn a_cookie_request_from_the_same_origin_passes() {
        let own = own();
        assert_eq!(
            judge(Some(&own), cookie(Some("http://127.0.0.1:8080"), None)),
            Ok(())
        );
        let upper = cookie(Some("HTTP://127.0.0.1:8080"), None);
        assert_eq!(
            judge(Some(&own), upper),
            Ok(()),
            "schemes and hosts in any case"
        );
    }

    #[test]
    fn another_port_another_scheme_or_another_host_is_refused() {
        let own = own();
        for origin in [
            "http://127.0.0.1:9000",
            "https://127.0.0.1:8080",
            "http://localhost:8080",
            "http://127.0.0.1:8080.evil.example",
            "http://127.0.0.1",
        ] {
            let sent = cookie(Some(origin), None);
            assert_eq!(
                judge(Some(&own), sent),
                Err(Refusal::OtherOrigin),
                "{origin}"
            );
        }
    }

    #[test]
    fn a_null_or_malformed_origin_is_refused() {
        let own = own();
        for origin in ["null", "", "127.0.0.1:8080", "file:///etc", "data:,x"] {
            let sent = cookie(Some(origin), None);
            assert_eq!(
                judge(Some(&own), sent),
                Err(Refusal::OtherOrigin),
                "{origin}"
            );
        }
    }

    #[test]
    fn without_an_origin_the_referer_decides() {
        let own = own();
        let same = cookie(None, Some("http://127.0.0.1:8080/?source=stripe"));
        assert_eq!(judge(Some(&own), same), Ok(()));
        let other = cookie(None, Some("http://127.0.0.1:9000/attack.html"));
        assert_eq!(judge(Some(&own), other), Err(Refusal::OtherOrigin));
        let both = cookie(
            Some("http://127.0.0.1:9000"),
            Some("http://127.0.0.1:8080/"),
        );
        assert_eq!(
            judge(Some(&own), both),
            Err(Refusal::OtherOrigin),
            "Origin wins"
        );
    }

    #[test]
    fn a_cookie_request_with_neither_header_is_refused() {
        assert_eq!(
            judge(Some(&own()), cookie(None, None)),
            Err(Refusal::NoOrigin)
        );
    }

    #[test]
    fn bearer_requests_need_no_origin_and_requests_without_credentials_only_a_right_one() {
        let own = own();
        let bearer = Sent {
            bearer: true,
            session: true,
            origin: Some("http://127.0.0.1:9000"),
            referer: None,
        };
        assert_eq!(judge(Some(&own), bearer), Ok(()));
        assert_eq!(judge(Some(&own), Sent::default()), Ok(()), "a login form");
        let cross_login = Sent {
            origin: Some("http://127.0.0.1:9000"),
            ..Sent::default()
        };
        assert_eq!(judge(Some(&own), cross_login), Err(Refusal::OtherOrigin));
    }

    #[test]
    fn without_a_known_own_origin_nothing_matches() {
        let sent = cookie(Some("http://127.0.0.1:8080"), None);
        assert_eq!(judge(None, sent), Err(Refusal::OtherOrigin));
    }

    #[test]
    fn public_url_and_host_give_origins_as_browsers_write_them() {
        let public = Origin::of_url("https://Hooks.Example.com:443/base/path?q=1").unwrap();
        assert_eq!(public.as_str(), "https://hooks.example.com");
        assert_eq!(own().as_str(), "http://127.0.0.1:8080");
        assert_eq!(
            Origin::of_host("example.com:80").unwrap().as_str(),
            "http://example.com"
        );
        assert_eq!(
            Origin::of_host("[::1]:8080").unwrap().as_str(),
            "http://[::1]:8080"
        );
        for host in ["", "evil.example/path", "a@b", "x:notaport"] {
            assert_eq!(Origin::of_host(host), None, "{host}");
        }
        assert_eq!(Origin::of_url("ftp://example.com"), None);
    }
}
