//! The idle timeout of a connection: when neither a byte arrives nor one
//! leaves for `--idle-timeout`, the connection is closed.
//!
//! hyper's header timeout covers a client that sends its head slowly, but
//! not one that stops reading its answers: hyper then waits, unable to
//! write, with no clock running, and the connection holds its slot and
//! buffers for ever. [`Tracked`] notes the time of every read or write
//! that moved bytes in an [`Activity`], which the connection's task checks.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// When bytes last moved on a connection, shared by its I/O and its task.
#[derive(Clone)]
pub struct Activity {
    base: Instant,
    /// Milliseconds from `base` to the last move.
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    /// Activity starting now.
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let now = self.base.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::Relaxed);
    }

    /// How long since bytes last moved.
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.base.elapsed().saturating_sub(last)
    }
}

/// An I/O stream whose reads and writes are noted in an [`Activity`].
pub struct Tracked<T> {
    inner: T,
    activity: Activity,
}

impl<T> Tracked<T> {
    /// `inner`, noting its moves in `activity`.
    pub fn new(inner: T, activity: Activity) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn reads_and_writes_that_move_bytes_are_noted() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let (a, mut b) = tokio::io::duplex(64);
            let activity = Activity::new();
            let mut tracked = Tracked::new(a, activity.clone());
            std::thread::sleep(Duration::from_millis(30));
            assert!(activity.idle_for() >= Duration::from_millis(30));
            tracked.write_all(b"ping").await.expect("write");
            assert!(activity.idle_for() < Duration::from_millis(30));
            std::thread::sleep(Duration::from_millis(30));
            b.write_all(b"pong").await.expect("write");
            let mut got = [0u8; 4];
            tracked.read_exact(&mut got).await.expect("read");
            assert_eq!(&got, b"pong");
            assert!(activity.idle_for() < Duration::from_millis(30));
        });
    }
}
