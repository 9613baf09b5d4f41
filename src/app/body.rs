//! A request body that gives up when its sender stalls, so a client trickling a body a byte a
//! second cannot hold a connection (and a handler) for ever.
//!
//! "Stalled" means no progress for the body idle timeout, where progress is at least
//! [`PROGRESS_BYTES`] or the end of the body: a trickle below that counts as silence. The
//! timer runs only while the reader waits, so a handler that is slow to read is never cut.
//! The error is [`BodyStalled`]; the handler that was reading answers `408`.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::BoxError;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::http::BodyStalled;

/// Bytes a body must bring within one idle timeout to count as moving.
pub const PROGRESS_BYTES: usize = 1024;

/// `inner` with the stall timer; see the module doc.
pub struct Paced<B> {
    inner: B,
    timeout: Duration,
    /// Armed when the reader first waits after progress; it then runs until the next progress.
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    /// Bytes since the last progress.
    trickled: usize,
}

impl<B> Paced<B> {
    pub fn new(inner: B, timeout: Duration) -> Paced<B> {
        Paced {
            inner,
            timeout,
            timer: None,
            armed: false,
            trickled: 0,
        }
    }

    /// Starts the timer unless it already runs; `Ready` once it has run out.
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = Instant::now() + self.timeout;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.armed {
            timer.as_mut().reset(deadline);
            self.armed = true;
        }
        timer.as_mut().poll(cx)
    }
}

impl<B> Body for Paced<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(Ok(frame)) = &frame {
                    this.trickled += frame.data_ref().map_or(0, Bytes::len);
                }
                if frame.is_none() || this.trickled >= PROGRESS_BYTES {
                    this.trickled = 0;
                    this.armed = false;
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                ready!(this.poll_stall(cx));
                let secs = this.timeout.as_secs();
                Poll::Ready(Some(Err(Box::new(BodyStalled { secs }))))
            }
        }
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
    use futures_util::StreamExt;
    use http_body_util::{BodyExt, StreamBody};

    /// A body fed by the test, one chunk at a time.
    fn fed() -> (
        tokio::sync::mpsc::Sender<Bytes>,
        impl Body<Data = Bytes, Error = std::convert::Infallible> + Unpin,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx)
            .map(|chunk| Ok::<_, std::convert::Infallible>(Frame::data(chunk)));
        (tx, StreamBody::new(stream))
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_is_cut_after_the_timeout() {
        let (tx, inner) = fed();
        let mut body = Paced::new(inner, Duration::from_secs(30));
        let feeder = tokio::spawn(async move {
            loop {
                if tx.send(Bytes::from_static(b"x")).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let started = Instant::now();
        let error = loop {
            match body.frame().await {
                Some(Ok(_)) => continue,
                Some(Err(error)) => break error,
                None => panic!("the body ended"),
            }
        };
        assert!(error.is::<BodyStalled>(), "{error}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(30) && waited < Duration::from_secs(32),
            "{waited:?}"
        );
        feeder.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_that_keeps_moving_is_read_whole() {
        let (tx, inner) = fed();
        let body = Paced::new(inner, Duration::from_secs(30));
        tokio::spawn(async move {
            for _ in 0..10 {
                tx.send(Bytes::from(vec![b'x'; PROGRESS_BYTES]))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_secs(20)).await;
            }
        });
        let bytes = body.collect().await.expect("whole body").to_bytes();
        assert_eq!(bytes.len(), 10 * PROGRESS_BYTES);
    }
}
