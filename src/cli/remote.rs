//! The client side of the commands that talk to a running hookwatch (`tail`, `healthcheck`)
//! rather than to the database: the `--server` URL, the token, and what an answer means.
//!
//! A failure is either worth retrying (the server is restarting, the network dropped) or
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

/// Why a request to the server did not give an answer to use.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Worth trying again: the server is unreachable, restarting or overloaded.
    #[error("{0}")]
    Retry(String),
    /// Trying again cannot help: the token is wrong or missing, or this is not hookwatch.
    #[error("{0}")]
    Fatal(String),
    /// The thing asked for does not exist (an event pruned since it was announced).
    #[error("not found")]
    NotFound,
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

    /// Sends `request` and reads a successful answer as JSON. A body cut short is worth
    /// retrying; a whole body that is not JSON means this is not hookwatch.
    pub async fn json(&self, request: RequestBuilder) -> Result<serde_json::Value, Failure> {
        let bytes =
            self.send(request).await?.bytes().await.map_err(|e| {
                Failure::Retry(format!("reading from {}: {}", self.base, cause(&e)))
            })?;
        serde_json::from_slice(&bytes).map_err(|_| {
            Failure::Fatal(format!(
                "{} did not answer with JSON: is it hookwatch?",
                self.base
            ))
        })
    }

    /// Sends `request` and sorts the answer: a success, or which kind of failure.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, Failure> {
        let response = request
            .send()
            .await
            .map_err(|e| Failure::Retry(format!("cannot reach {}: {}", self.base, cause(&e))))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        Err(match status {
            StatusCode::UNAUTHORIZED if self.token.is_some() => Failure::Fatal(format!(
                "{} refused the token (401): check --token or HOOKWATCH_TOKEN",
                self.base
            )),
            StatusCode::UNAUTHORIZED => Failure::Fatal(format!(
                "{} needs a token (401): pass --token or set HOOKWATCH_TOKEN",
                self.base
            )),
            StatusCode::NOT_FOUND => Failure::NotFound,
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                Failure::Retry(format!("{} answered {s}", self.base))
            }
            s => Failure::Fatal(format!(
                "{} answered {s}: {}",
                self.base,
                error_text(response).await
            )),
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
pub fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    if let Some(e) = error.downcast_ref::<reqwest::Error>()
        && e.is_timeout()
    {
        return "timed out".to_string();
    }
    let mut inner = error;
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
