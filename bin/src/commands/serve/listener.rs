//! The accept loop and the connections of `serve`: hyper's HTTP/1.1
//! connections (keep-alive, pipelining) under limits that hostile clients
//! cannot wear down.
//!
//! # Design
//!
//! - **Slow heads.** hyper's header read timeout closes a connection that
//!   has not sent a complete request head within `--header-timeout`. hyper
//!   starts that clock when the connection opens and again each time it
//!   waits for the next request, so the same setting is the keep-alive idle
//!   timeout: a kept-alive connection idle for longer is closed.
//! - **Stalled clients.** A connection that moves no byte either way for
//!   `--idle-timeout` is closed ([`super::idle`]): a client that stops
//!   reading its answers no longer holds its slot.
//! - **Slow bodies.** No route reads a body: hyper answers after the head
//!   and closes the connection if body bytes are left unread. A route that
//!   reads one gets at most `--body-timeout` ([`super::body`]).
//! - **Many connections.** At most `--max-connections` are open at once
//!   (a semaphore): past it the loop stops accepting and the kernel's
//!   backlog holds newcomers until a connection closes.
//! - **No file descriptors left** (`EMFILE`, `ENFILE`): the loop backs off
//!   (10 ms, doubling to 1 s) instead of spinning on a listener that stays
//!   readable, keeps serving the connections it has, and accepts again once
//!   descriptors are free. It logs once when a burst starts and once when
//!   it ends, and counts every failed accept in `/metrics`.
//! - **Garbage.** A request hyper cannot parse gets a 400 (431 for an
//!   oversized head) and its connection is closed; each connection is its
//!   own task, so nothing else notices.
//! - **Shutdown.** On the stop signal the loop stops accepting, each
//!   connection finishes the request it is serving and closes; [`serve`]
//!   returns when every connection has.

use std::fmt::Write;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::Service;

use super::idle::{Activity, Tracked};

/// Largest read buffer of one connection: a request head past it gets 431.
/// Bounds a connection's memory (the guard refuses heads past 2 KiB of
/// target and 8 KiB of headers anyway).
pub const MAX_BUF: usize = 32 * 1024;

/// The connection limits of `serve`.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Longest wait for a complete request head (and the keep-alive idle
    /// timeout).
    pub header_timeout: Duration,
    /// Longest a connection may move no byte either way.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

/// Why connections closed, as labelled in `/metrics`.
const REASONS: [&str; 5] = [
    "done",
    "header_timeout",
    "bad_request",
    "error",
    "idle_timeout",
];

/// How a connection ended.
enum Closed {
    /// hyper ended it: the client closed, or an error.
    Served(Result<(), hyper::Error>),
    /// No byte moved for the idle timeout.
    Idle,
}

/// Counters of the connections, for `/metrics`.
#[derive(Default)]
pub struct ConnMetrics {
    accepted: AtomicU64,
    open: AtomicU64,
    closed: [AtomicU64; REASONS.len()],
    /// Accepts that failed for want of file descriptors.
    out_of_fds: AtomicU64,
    /// Other failed accepts (a connection reset before it was accepted).
    accept_errors: AtomicU64,
    /// Times the loop waited because `max_connections` were open.
    at_limit: AtomicU64,
}

impl ConnMetrics {
    /// Appends the connection counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let v = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP topsellers_serve_connections_open HTTP connections open now.\n# TYPE topsellers_serve_connections_open gauge\ntopsellers_serve_connections_open {}", v(&self.open));
        let _ = writeln!(out, "# HELP topsellers_serve_connections_accepted_total HTTP connections accepted.\n# TYPE topsellers_serve_connections_accepted_total counter\ntopsellers_serve_connections_accepted_total {}", v(&self.accepted));
        out.push_str("# HELP topsellers_serve_connections_closed_total HTTP connections closed, by reason.\n# TYPE topsellers_serve_connections_closed_total counter\n");
        for (reason, n) in REASONS.iter().zip(&self.closed) {
            let _ = writeln!(
                out,
                "topsellers_serve_connections_closed_total{{reason=\"{reason}\"}} {}",
                v(n)
            );
        }
        let _ = writeln!(out, "# HELP topsellers_serve_accept_errors_total Failed accepts: out of file descriptors (EMFILE, ENFILE) or other.\n# TYPE topsellers_serve_accept_errors_total counter\ntopsellers_serve_accept_errors_total{{kind=\"out_of_fds\"}} {}\ntopsellers_serve_accept_errors_total{{kind=\"other\"}} {}", v(&self.out_of_fds), v(&self.accept_errors));
        let _ = writeln!(out, "# HELP topsellers_serve_connection_limit_waits_total Times accepting paused because --max-connections were open.\n# TYPE topsellers_serve_connection_limit_waits_total counter\ntopsellers_serve_connection_limit_waits_total {}", v(&self.at_limit));
    }

    fn closed(&self, how: &Closed) {
        let reason = match how {
            Closed::Served(Ok(())) => 0,
            Closed::Served(Err(e)) if e.is_timeout() => 1,
            Closed::Served(Err(e)) if e.is_parse() || e.is_parse_too_large() => 2,
            Closed::Served(Err(_)) => 3,
            Closed::Idle => 4,
        };
        self.closed[reason].fetch_add(1, Ordering::Relaxed);
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Connections the kernel holds for the accept loop (capped by
/// `net.core.somaxconn`): a burst past `--max-connections` or the file
/// limit waits there rather than being refused.
const BACKLOG: u32 = 1024;

/// A listener on `addr` with a backlog of [`BACKLOG`].
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Whether an accept failed for want of descriptors or kernel memory:
/// the listener stays readable, so retrying at once would spin.
fn out_of_fds(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Accepts connections on `listener` and serves `router` on each until
/// `stop` turns true, then waits for every connection to close.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    metrics: Arc<ConnMetrics>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF)
        .keep_alive(true);
    let mut backoff = Backoff::default();
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                metrics.at_limit.fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => {
                backoff.recovered();
                tcp
            }
            Err(e) if out_of_fds(&e) => {
                metrics.out_of_fds.fetch_add(1, Ordering::Relaxed);
                let pause = backoff.failed(&e);
                tokio::time::sleep(pause).await;
                continue;
            }
            Err(e) => {
                metrics.accept_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        // Small answers on kept-alive connections: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        metrics.accepted.fetch_add(1, Ordering::Relaxed);
        metrics.open.fetch_add(1, Ordering::Relaxed);
        let conn = connection(
            &http,
            tcp,
            router.clone(),
            limits.idle_timeout,
            stop.clone(),
        );
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let result = conn.await;
            metrics.closed(&result);
            drop(slot);
        });
    }
    drop(listener);
    // Every slot back: every connection closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// One connection, served until it closes or moves no byte for
/// `idle_timeout`; on `stop`, it finishes the request in progress and
/// closes.
fn connection(
    http: &http1::Builder,
    tcp: TcpStream,
    router: Router,
    idle_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> impl std::future::Future<Output = Closed> {
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let mut router = router.clone();
        async move { router.call(req).await }
    });
    let activity = Activity::new();
    let io = TokioIo::new(Tracked::new(tcp, activity.clone()));
    let conn = http.serve_connection(io, service);
    async move {
        tokio::pin!(conn);
        let mut stopping = false;
        loop {
            let idle = activity.idle_for();
            if idle >= idle_timeout {
                return Closed::Idle;
            }
            tokio::select! {
                result = conn.as_mut() => return Closed::Served(result),
                _ = stop.wait_for(|s| *s), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep(idle_timeout - idle) => {}
            }
        }
    }
}

/// The accept loop's pause after failed accepts, and the log of a burst.
#[derive(Default)]
struct Backoff {
    /// The current burst: its start, failures, next pause.
    burst: Option<(Instant, u64, Duration)>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MOST: Duration = Duration::from_secs(1);

    /// Counts a failure; the pause before the next accept.
    fn failed(&mut self, e: &io::Error) -> Duration {
        let (_, failures, pause) = self.burst.get_or_insert_with(|| {
            tracing::warn!(error = %e, "out of file descriptors: accepting paused; open connections are still served");
            (Instant::now(), 0, Self::FIRST)
        });
        *failures += 1;
        let now = *pause;
        *pause = (*pause * 2).min(Self::MOST);
        now
    }

    /// Ends the burst, if any.
    fn recovered(&mut self) {
        if let Some((started, failures, _)) = self.burst.take() {
            tracing::warn!(
                failed_accepts = failures,
                paused_ms = started.elapsed().as_millis() as u64,
                "accepting again: file descriptors are free"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_second_and_resets() {
        let mut b = Backoff::default();
        let e = io::Error::from_raw_os_error(libc::EMFILE);
        assert!(out_of_fds(&e));
        assert!(!out_of_fds(&io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
        let pauses: Vec<u128> = (0..9).map(|_| b.failed(&e).as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.recovered();
        assert!(b.burst.is_none());
        assert_eq!(b.failed(&e), Backoff::FIRST);
    }

    #[test]
    fn metrics_name_every_reason() {
        let m = ConnMetrics::default();
        m.open.store(3, Ordering::Relaxed);
        m.closed(&Closed::Served(Ok(())));
        m.closed(&Closed::Idle);
        let mut text = String::new();
        m.render(&mut text);
        for line in [
            "topsellers_serve_connections_open 1",
            "topsellers_serve_connections_closed_total{reason=\"idle_timeout\"} 1",
            "topsellers_serve_connections_closed_total{reason=\"done\"} 1",
            "topsellers_serve_connections_closed_total{reason=\"header_timeout\"} 0",
            "topsellers_serve_accept_errors_total{kind=\"out_of_fds\"} 0",
            "topsellers_serve_connection_limit_waits_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
