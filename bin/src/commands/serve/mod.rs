//! `topsellers serve`: the read API (SPEC section 6) over HTTP/1.1.
//!
//! Glue only: settings are checked into [`ServeOptions`], the read path
//! (local cache → Redis → the store, single flight) is
//! `topsellers_serve`, and this module runs axum's router on hyper's
//! connections ([`listener`]: timeouts and limits against hostile clients)
//! until SIGTERM or SIGINT, then stops accepting, lets in-flight requests
//! finish (for at most `--drain-timeout`) and exits 0.

mod body;
mod experiment;
mod explain;
mod idle;
mod listener;
mod metrics;
pub(crate) mod options;
mod request;
mod routes;
mod ui;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::http::HeaderValue;
use topsellers_serve::ReadPath;
use topsellers_store::cache;

use super::store::StoreChoice;
use super::UsageError;
use crate::cli::ServeArgs;
use listener::ConnMetrics;
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

/// Refuses an experiment whose arms are not all published variants (a
/// usage error). When the store cannot be read at start, serve starts
/// anyway (it starts with its services down) and says so: an arm that is
/// not published then answers 404 until it is.
async fn check_arms(reads: &ReadPath, opts: &ServeOptions) -> Result<()> {
    let Some(e) = &opts.experiment else {
        return Ok(());
    };
    let arms: Vec<String> = e.arms.iter().map(|a| a.variant.clone()).collect();
    match reads.manifests(&arms).await {
        Ok(manifests) => {
            let missing: Vec<&str> = arms
                .iter()
                .filter(|a| !manifests.iter().any(|m| &m.variant == *a))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                let store = match &opts.store {
                    StoreChoice::Dynamo { table } => format!("the table {table}"),
                    other => other.target(),
                };
                return Err(UsageError(format!(
                    "experiment {:?}: arm(s) {} are not published variants: {store} has no manifest for them (publish them first, or fix the arms)",
                    e.name,
                    missing.join(", "),
                ))
                .into());
            }
            tracing::info!(experiment = %e.name, arms = %arms.join(","), "A/B experiment: every arm is published");
        }
        Err(error) => tracing::warn!(
            experiment = %e.name,
            error = %error,
            "cannot check that the experiment's arms are published; serving anyway"
        ),
    }
    Ok(())
}

/// Serves until a signal, then drains.
async fn serve(opts: &ServeOptions) -> Result<()> {
    let store = opts.store.for_reads(opts.store_timeout).await?;
    let reads = ReadPath::over(store, &opts.reads)?;
    check_arms(&reads, opts).await?;
    let cache_control = HeaderValue::from_str(&format!("public, max-age={}", opts.max_age_s))
        .context("cannot build the Cache-Control header")?;
    let conns = Arc::new(ConnMetrics::default());
    let app = Arc::new(App {
        reads,
        http: HttpMetrics::default(),
        default_variant: opts.default_variant.clone(),
        max_limit: opts.max_limit,
        cache_control,
        request_timeout: opts.request_timeout,
        body_timeout: opts.body_timeout,
        conns: conns.clone(),
        max_in_flight: opts.max_in_flight,
        experiment: opts.experiment.clone(),
        page: ui::PageFiles {
            backtest_report: opts.backtest_report.clone(),
            backtest_chart: opts.backtest_chart.clone(),
        },
        explain: opts.explain.clone(),
    });
    let listener =
        listener::bind(opts.listen).with_context(|| format!("cannot listen on {}", opts.listen))?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    tracing::info!(listen = %local, store = %opts.store.target(), redis = %cache::redacted(&opts.reads.redis_url), "serving the read API");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("signal received: no new connections; finishing in-flight requests");
        let _ = stop_tx.send(true);
    });
    let server = listener::serve(
        listener,
        routes::router(app),
        opts.conns,
        conns,
        stop_rx.clone(),
    );
    let drain = opts.drain;
    let deadline = async move {
        let mut rx = stop_rx;
        if rx.wait_for(|stopped| *stopped).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        () = server => {}
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
