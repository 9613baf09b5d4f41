//! One accepted TCP connection as hyper sees it, watched so that even the answers hyper gives
//! on its own are JSON `{"error": …}` like every other answer.
//!
//! hyper answers a request it cannot parse (a `<` in the target, conflicting Content-Length
//! values, too many headers) with a bare status and an empty body, written before any handler
//! runs, and it has no setting to change that; after a header timeout it closes without a
//! word. Parsing each request head ourselves first would be a second HTTP parser to keep in
//! step with hyper's; counting is enough. So hyper gets a [`WatchedStream`]: one handle of a shared socket that counts requests
//! handed to the router (`dispatched`) and responses hyper has finished and flushed
//! (`settled`). When the two are equal no answer of ours is owed, so what hyper writes then
//! can only be its own error answer; it is held back (hyper closes the connection right
//! after it). Once hyper returns its error, `refusal::finish` writes the JSON answer in its
//! place on the task's own handle of the socket.
//!
//! A response whose body ends before the request's body was read can leave hyper's own answer
//! to a following malformed request unflushed behind it; that one then goes out bare, as
//! nothing of a real response may ever be held back.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// What the connection task and hyper's handle of the socket know about each other.
#[derive(Debug, Default)]
pub struct Watch {
    dispatched: AtomicU64,
    /// Response bodies hyper has finished with (dropped).
    ended: AtomicU64,
    /// `ended` as of the last flush: every byte of those responses is on the wire.
    settled: AtomicU64,
    /// Bytes arrived since the last request was dispatched: a request head has begun.
    head_begun: AtomicBool,
    /// The status of hyper's own answer, held back; 0 while none.
    held: AtomicU16,
}

impl Watch {
    /// A request goes to the router: an answer is owed.
    pub fn dispatched(&self) {
        self.dispatched.fetch_add(1, Relaxed);
        self.head_begun.store(false, Relaxed);
    }

    /// The status of hyper's own answer, if one was held back.
    pub fn held(&self) -> Option<StatusCode> {
        StatusCode::from_u16(self.held.load(Relaxed)).ok()
    }

    /// Whether part of a request head had arrived (so a timeout cut a request, not silence).
    pub fn head_begun(&self) -> bool {
        self.head_begun.load(Relaxed)
    }

    /// Whether hyper, writing `bytes` now, is giving its own answer (which is then held).
    fn holds(&self, bytes: &[u8]) -> bool {
        if self.held.load(Relaxed) != 0 {
            return true;
        }
        if self.dispatched.load(Relaxed) != self.settled.load(Relaxed) {
            return false;
        }
        match error_status(bytes) {
            Some(status) => {
                self.held.store(status, Relaxed);
                true
            }
            None => false,
        }
    }
}

/// The status of an error response's status line (`HTTP/1.1 400 …`), if `bytes` start one.
fn error_status(bytes: &[u8]) -> Option<u16> {
    let rest = bytes.strip_prefix(b"HTTP/1.")?.get(2..)?;
    let digits = std::str::from_utf8(rest.get(..3)?).ok()?;
    let status = digits.parse::<u16>().ok()?;
    (400..600).contains(&status).then_some(status)
}

/// hyper's handle of the socket; see the module doc.
pub struct WatchedStream {
    stream: Arc<TcpStream>,
    watch: Arc<Watch>,
}

impl WatchedStream {
    pub fn new(stream: Arc<TcpStream>, watch: Arc<Watch>) -> WatchedStream {
        WatchedStream { stream, watch }
    }
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            match self.stream.try_read_buf(buf) {
                Ok(0) => return Poll::Ready(Ok(())),
                Ok(_) => {
                    self.watch.head_begun.store(true, Relaxed);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.watch.holds(buf) {
            return Poll::Ready(Ok(buf.len()));
        }
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                written => return Poll::Ready(written),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        if self.watch.holds(first) {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                written => return Poll::Ready(written),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// hyper flushes only after writing out all it buffered, so every response it had
    /// finished is on the wire now.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let ended = self.watch.ended.load(Relaxed);
        self.watch.settled.store(ended, Relaxed);
        Poll::Ready(Ok(()))
    }

    /// The connection task shuts the socket down once hyper is done with it.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// A response body that tells the watch when hyper is done with it.
pub struct Counted<B> {
    inner: B,
    watch: Arc<Watch>,
}

impl<B> Counted<B> {
    pub fn new(inner: B, watch: Arc<Watch>) -> Counted<B> {
        Counted { inner, watch }
    }
}

impl<B> Drop for Counted<B> {
    fn drop(&mut self) {
        self.watch.ended.fetch_add(1, Relaxed);
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Counted<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_error_status_line_is_recognised() {
        assert_eq!(error_status(b"HTTP/1.1 400 Bad Request\r\n"), Some(400));
        assert_eq!(error_status(b"HTTP/1.1 431 Request Header"), Some(431));
        assert_eq!(error_status(b"HTTP/1.0 414 "), Some(414));
        assert_eq!(error_status(b"HTTP/1.1 200 OK\r\n"), None);
        assert_eq!(error_status(b"HTTP/1.1 100 Continue\r\n"), None);
        assert_eq!(error_status(b"{\"error\":\"HTTP/1.1 400\"}"), None);
        assert_eq!(error_status(b"HTTP/1.1 4"), None);
        assert_eq!(error_status(b""), None);
    }

    #[test]
    fn nothing_is_held_while_an_answer_is_owed() {
        let watch = Watch::default();
        watch.dispatched();
        assert!(!watch.holds(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
        watch.ended.fetch_add(1, Relaxed);
        assert!(
            !watch.holds(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            "not flushed yet"
        );
        watch.settled.store(1, Relaxed);
        assert!(watch.holds(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
        assert_eq!(watch.held.load(Relaxed), 400);
        assert!(watch.holds(b"anything after it"));
    }
}
