//! The request-body timeout: a body still arriving `--body-timeout` after
//! its request's head fails with an error instead of holding its task.
//!
//! No route of `serve` reads a body today (hyper then answers after the
//! head and closes the connection if body bytes are left); this keeps a
//! future route that does from being held by a client that trickles one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error of a body that took too long.
#[derive(Debug)]
pub struct BodyTimeout(pub Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body took longer than {} ms",
            self.0.as_millis()
        )
    }
}

impl std::error::Error for BodyTimeout {}

/// `inner`, failing once `limit` has passed since it was made.
pub struct TimedBody {
    inner: Body,
    deadline: Instant,
    limit: Duration,
    /// Made on the first poll: a body nobody reads costs no timer.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl TimedBody {
    /// `inner` with `limit` from now.
    pub fn new(inner: Body, limit: Duration) -> Self {
        Self {
            inner,
            deadline: Instant::now() + limit,
            limit,
            sleep: None,
        }
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimeout(this.limit))))),
            Poll::Pending => Poll::Pending,
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

    /// A body whose bytes never come.
    struct Trickle;

    impl HttpBody for Trickle {
        type Data = Bytes;
        type Error = axum::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn a_stalled_body_fails_after_the_limit() {
        runtime().block_on(async {
            let body = TimedBody::new(Body::new(Trickle), Duration::from_millis(50));
            let e = axum::body::to_bytes(Body::new(body), usize::MAX)
                .await
                .expect_err("times out");
            let text = e.to_string();
            assert!(
                text.contains("the request body took longer than 50 ms"),
                "{text}"
            );
        });
    }

    #[test]
    fn a_body_in_time_is_passed_on() {
        runtime().block_on(async {
            let body = TimedBody::new(Body::from("hello"), Duration::from_secs(3));
            let bytes = axum::body::to_bytes(Body::new(body), usize::MAX)
                .await
                .expect("read");
            assert_eq!(&bytes[..], b"hello");
        });
    }
}
