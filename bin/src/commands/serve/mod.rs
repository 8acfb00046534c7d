//! `topsellers serve`: the read API (SPEC section 6) over HTTP/1.1.
//!
//! Glue only: settings are checked into [`ServeOptions`], the read path
//! (local cache → Redis → the store, single flight) is
//! `topsellers_serve`, and this module runs axum on tokio until
//! SIGTERM or SIGINT, then stops accepting, lets in-flight requests finish
//! (for at most `--drain-timeout`) and exits 0.

mod metrics;
pub(crate) mod options;
mod request;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::http::HeaderValue;
use axum::serve::ListenerExt;
use topsellers_serve::ReadPath;
use topsellers_store::cache;

use crate::cli::ServeArgs;
use metrics::HttpMetrics;
pub use options::ServeOptions;
use routes::App;

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only SIGINT stops serve");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Serves until a signal, then drains.
async fn serve(opts: &ServeOptions) -> Result<()> {
    let store = opts.store.for_reads(opts.store_timeout).await?;
    let reads = ReadPath::over(store, &opts.reads)?;
    let cache_control = HeaderValue::from_str(&format!("public, max-age={}", opts.max_age_s))
        .context("cannot build the Cache-Control header")?;
    let app = Arc::new(App {
        reads,
        http: HttpMetrics::default(),
        default_variant: opts.default_variant.clone(),
        max_limit: opts.max_limit,
        cache_control,
        request_timeout: opts.request_timeout,
        max_in_flight: opts.max_in_flight,
    });
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // Small answers on kept-alive connections: no Nagle delay.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tracing::info!(listen = %local, store = %opts.store.target(), redis = %cache::redacted(&opts.reads.redis_url), "serving the read API");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, routes::router(app)).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("signal received: no new connections; finishing in-flight requests");
        let _ = stop_tx.send(true);
    });
    let drain = opts.drain;
    let deadline = async move {
        let mut rx = stop_rx;
        if rx.wait_for(|stopped| *stopped).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        served = server => served.context("the HTTP server failed")?,
        () = deadline => tracing::warn!(drain_s = drain.as_secs_f64(), "in-flight requests still running after the drain timeout; exiting"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// `topsellers serve`.
pub fn run(a: &ServeArgs) -> Result<()> {
    let opts = ServeOptions::from_args(a)?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = opts.threads {
        rt.worker_threads(n);
    }
    let rt = rt
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let result = rt.block_on(serve(&opts));
    // Background Redis writes still queued must not hold the exit.
    rt.shutdown_timeout(Duration::from_millis(500));
    result
}
