//! The variant comparison page (`GET /ui`) and the small JSON endpoints it
//! reads besides the read API: `GET /v1/catalog` (published variants and
//! categories) and the configured backtest report and chart.
//!
//! The page is one HTML file with its script and style, compiled into the
//! binary; it inserts every value from the data as text, never as HTML.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::routes::{error, App};

/// The page.
const PAGE: &str = include_str!("ui.html");
/// Its script, served apart so that the page's Content-Security-Policy
/// can refuse every inline script.
const SCRIPT: &str = include_str!("ui.js");

/// The files the page shows beside the live results.
#[derive(Debug, Clone, Default)]
pub struct PageFiles {
    /// The backtest report: backtest's JSON, or its CSV.
    pub backtest_report: Option<PathBuf>,
    /// The backtest chart (PNG).
    pub backtest_chart: Option<PathBuf>,
}

/// `GET /ui`.
pub async fn page() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // The page loads nothing from elsewhere and runs only its own
            // script: injected markup could not run even if it got in.
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'",
                ),
            ),
        ],
        PAGE,
    )
        .into_response()
}

/// `GET /ui/page.js`.
pub async fn script() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        SCRIPT,
    )
        .into_response()
}

/// `GET /v1/catalog`: the published variants (their manifests), every
/// category with the window of each variant there, the default variant,
/// the experiment, and whether a backtest report and chart are configured.
pub async fn catalog(State(app): State<Arc<App>>) -> Response {
    let catalog = match app.reads.catalog().await {
        Ok(c) => c,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot list the published variants: {e}"),
            )
        }
    };
    let experiment = app.experiment.as_ref().map(|e| {
        serde_json::json!({
            "name": e.name,
            "arms": e.arms.iter().map(|a| serde_json::json!({
                "variant": a.variant,
                "percent": f64::from(a.buckets) / 100.0,
            })).collect::<Vec<_>>(),
        })
    });
    let body = serde_json::json!({
        "default_variant": app.default_variant,
        "max_limit": app.max_limit,
        "experiment": experiment,
        "backtest": {
            "report": app.page.backtest_report.is_some(),
            "chart": app.page.backtest_chart.is_some(),
        },
        "variants": catalog.variants,
        "categories": catalog.categories,
    });
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The bytes of a configured file, or a 404 saying what is missing.
async fn configured(path: Option<&PathBuf>, flag: &str) -> Result<(Vec<u8>, PathBuf), Response> {
    let Some(path) = path else {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!("no {flag} is configured (serve --{flag})"),
        ));
    };
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok((bytes, path.clone())),
        Err(e) => Err(error(
            StatusCode::NOT_FOUND,
            format!("--{flag} {}: {e}", path.display()),
        )),
    }
}

/// `GET /v1/backtest/report`: the configured report as written (read at
/// each request, so the latest backtest shows): JSON, or CSV for a `.csv`.
pub async fn backtest_report(State(app): State<Arc<App>>) -> Response {
    let (bytes, path) = match configured(app.page.backtest_report.as_ref(), "backtest-report").await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let kind = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
    };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(kind)),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /v1/backtest/chart`: the configured PNG.
pub async fn backtest_chart(State(app): State<Arc<App>>) -> Response {
    match configured(app.page.backtest_chart.as_ref(), "backtest-chart").await {
        Ok((bytes, _)) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static("image/png")),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            bytes,
        )
            .into_response(),
        Err(response) => response,
    }
}
