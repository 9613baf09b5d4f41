//! The answers hyper did not give, written once it is done with a connection: JSON for a
//! request it refused before routing (its own bare answer was held back by `conn`), `408` for
//! a head cut off by the header timeout, `505` for an HTTP/2 preface (which hyper drops
//! silently). Then the socket is closed gently, so the answer is not lost to a reset.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::conn::Watch;
use crate::http::ApiError;

/// How long a closed-off client may keep sending before the socket is closed under it: long
/// enough for it to read the answer, short enough not to hold a connection slot.
const LINGER: Duration = Duration::from_secs(2);

/// The answer hyper did not give on this connection, if one is owed, from how hyper ended it.
pub fn owed(
    watch: &Watch,
    outcome: &Result<(), hyper::Error>,
    header_timeout: Duration,
) -> Option<ApiError> {
    let error = outcome.as_ref().err()?;
    if let Some(status) = watch.held() {
        return Some(refusal(status, error));
    }

    if error.is_parse_version_h2() {
        return Some(ApiError::new(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "http2_not_supported",
            "HTTP/2 without TLS is not served: speak HTTP/1.1",
        ));
    }
    if error.is_timeout() && watch.head_begun() {
        let secs = header_timeout.as_secs();
        return Some(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "header_timeout",
            format!("the request line and headers did not arrive within {secs} s"),
        ));
    }
    None
}

/// Once hyper has dropped its handle: writes `answer`, if any, then closes the socket. A
/// server that is `draining` does not wait for the client to finish sending.
pub async fn close(stream: Arc<TcpStream>, answer: Option<ApiError>, draining: &CancellationToken) {
    let Ok(mut stream) = Arc::try_unwrap(stream) else {
        return;
    };
    let Some(answer) = answer else {
        let _ = stream.shutdown().await;
        return;
    };
    let written = tokio::time::timeout(LINGER, write(&mut stream, &answer)).await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    // Read off what the client still sends until it closes, so the close does not become a
    // reset that could destroy the answer before the client reads it.
    let mut sink = [0u8; 4096];
    let drain = async { while let Ok(1..) = stream.read(&mut sink).await {} };
    tokio::select! {
        _ = tokio::time::timeout(LINGER, drain) => {}
        () = draining.cancelled() => {}
    }
}

/// The JSON for hyper's own refusal with `status`, naming hyper's reason.
fn refusal(status: StatusCode, error: &hyper::Error) -> ApiError {
    match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiError::new(
            status,
            "headers_too_large",
            format!(
                "the request has more than {} headers or they are too large",
                super::server::MAX_HEADERS
            ),
        ),
        StatusCode::URI_TOO_LONG => ApiError::new(status, "uri_too_long", "the URL is too long"),
        _ => {
            let reason = error.to_string();
            let hint = if reason.contains("URI") {
                ": characters such as < > \" and spaces in the URL must be percent-encoded"
            } else if reason.contains("content-length") {
                ": Content-Length must be one number, not repeated with another value"
            } else {
                ""
            };
            ApiError::new(
                status,
                "malformed_request",
                format!("the request is not valid HTTP/1.1 ({reason}){hint}"),
            )
        }
    }
}

/// Writes `answer` as a whole HTTP/1.1 response and closes the write side.
async fn write(stream: &mut TcpStream, answer: &ApiError) -> std::io::Result<()> {
    let body = answer.body().to_string();
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        answer.status.as_u16(),
        answer.status.canonical_reason().unwrap_or(""),
        body.len()
    );
    stream.write_all((head + &body).as_bytes()).await?;
    stream.shutdown().await
}
