//! The client side of the commands that talk to a running hookwatch (`tail`, `healthcheck`,
//! `replay`, `forwards`) rather than to the database: the `--server` URL, the token, and what an answer means.
//!
//! A [`Failure`] is either temporary (the server is restarting, the network dropped) or
//! final (a wrong token, a URL that is not hookwatch): a follower like `tail` waits out the
//! first kind and stops on the second.

use reqwest::{RequestBuilder, Response, StatusCode, Url};

/// Where the commands look for a server when `--server` is not given.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// A clap value parser for URL flags: an absolute `http://` or `https://` URL. clap names
/// the flag in its message and exits 2 when this fails.
pub fn http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{text}` is not an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` has no host"));
    }
    Ok(url)
}

/// A running hookwatch: its base URL (possibly behind a path prefix) and the token.
#[derive(Debug, Clone)]
pub struct Server {
    base: Url,
    token: Option<String>,
}

/// Why a request to the server gave no answer to use. [`Failure::is_temporary`] tells the
/// kinds worth waiting out from the ones trying again cannot help.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No answer: refused, reset, timed out, or cut short.
    #[error("cannot reach {url}: {}", cause(error))]
    Unreachable { url: Url, error: reqwest::Error },
    /// The server is restarting or overloaded (5xx, 429).
    #[error("{url} answered {status}")]
    Unavailable { url: Url, status: StatusCode },
    #[error("{0} needs a token (401): pass --token or set HOOKWATCH_TOKEN")]
    TokenMissing(Url),
    #[error("{0} refused the token (401): check --token or HOOKWATCH_TOKEN")]
    TokenRefused(Url),
    /// Any other 4xx, with the answer's `error` text.
    #[error("{url} answered {status}: {message}")]
    Refused {
        url: Url,
        status: StatusCode,
        message: String,
    },
    /// A whole answer that is not hookwatch's JSON.
    #[error("{0} did not answer with hookwatch's JSON: is it hookwatch?")]
    NotHookwatch(Url),
    /// The thing asked for does not exist (an event pruned since it was announced).
    #[error("{0} was not found (404)")]
    NotFound(Url),
}

impl Failure {
    /// Whether the same request may succeed later without the user changing anything.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            Failure::Unreachable { .. } | Failure::Unavailable { .. }
        )
    }
}

impl Server {
    pub fn new(mut base: Url, token: Option<String>) -> Server {
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        Server {
            base,
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// The server's base URL, for messages.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of `path` (no leading slash) under the base.
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{}", self.base.path(), path.trim_start_matches('/'));
        url.set_path(&joined);
        url
    }

    /// A GET of `path` with the `query` pairs, carrying the token when there is one.
    pub fn get(
        &self,
        client: &reqwest::Client,
        path: &str,
        query: &[(&str, &str)],
    ) -> RequestBuilder {
        let mut url = self.url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = client.get(url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A POST of `path` with an optional JSON body, carrying the token when there is one.
    pub fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> RequestBuilder {
        let mut request = client.post(self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `request` and reads a successful answer as JSON.
    pub async fn json(&self, request: RequestBuilder) -> Result<serde_json::Value, Failure> {
        let response = self.send(request).await?;
        let url = response.url().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| Failure::Unreachable {
                url: url.clone(),
                error,
            })?;
        serde_json::from_slice(&bytes).map_err(|_| Failure::NotHookwatch(url))
    }

    /// Sends `request` and sorts the answer: a success, or which kind of failure.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, Failure> {
        let response = request.send().await.map_err(|error| Failure::Unreachable {
            url: error.url().cloned().unwrap_or_else(|| self.base.clone()),
            error,
        })?;
        let (status, url) = (response.status(), response.url().clone());
        if status.is_success() {
            return Ok(response);
        }
        Err(match status {
            StatusCode::UNAUTHORIZED if self.token.is_some() => {
                Failure::TokenRefused(self.base.clone())
            }
            StatusCode::UNAUTHORIZED => Failure::TokenMissing(self.base.clone()),
            StatusCode::NOT_FOUND => Failure::NotFound(url),
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                Failure::Unavailable { url, status }
            }
            status => Failure::Refused {
                message: error_text(response).await,
                url,
                status,
            },
        })
    }
}

/// The `error` of a JSON error answer, or a short excerpt of whatever came.
async fn error_text(response: Response) -> String {
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// The innermost cause of an error ("Connection refused (os error 111)"), which says more
/// than reqwest's outer "error sending request".
pub fn cause(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_string();
    }
    let mut inner: &dyn std::error::Error = error;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_urls_are_accepted() {
        assert!(http_url("http://127.0.0.1:8080").is_ok());
        assert!(http_url("https://hooks.example.com/prefix").is_ok());
        for bad in ["127.0.0.1:8080", "ftp://x", "localhost", "", "http://"] {
            assert!(http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_are_joined_under_the_base_path() {
        let server = Server::new(http_url("http://h:1/hw?x=1").unwrap(), None);
        assert_eq!(
            server.url("api/stream").as_str(),
            "http://h:1/hw/api/stream"
        );
        let server = Server::new(http_url("http://h:1").unwrap(), None);
        assert_eq!(server.url("/healthz").as_str(), "http://h:1/healthz");
    }
}
