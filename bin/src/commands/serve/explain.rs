//! `GET /v1/explain/{category}/{item}?variant=NAME&…&as_of=T`: the same JSON
//! as `topsellers explain --json`, computed from the lake `serve` was given
//! (`--lake`), for the variants it knows (`--variants`) or those asked.
//!
//! The reference time is `as_of` when given, else the `as_of` of the
//! generation published for the first variant asked (so the explanation
//! matches the list the site shows), else now. N and `min_items` are
//! `--max-limit`, the published top N.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use topsellers_engine::{ScoringPlan, Variant};
use topsellers_experiments::ExperimentError;
use topsellers_lake::{parse_rfc3339, ColumnNames};
use topsellers_serve::Cached;

use super::routes::{error, App};
use crate::commands::now_ns;

const DAY_NS: i64 = 86_400_000_000_000;

/// The query: variants asked (none: every variant known) and `as_of`.
fn parse_query(query: Option<&str>) -> Result<(Vec<String>, Option<i64>), String> {
    let (mut variants, mut as_of) = (Vec::new(), None);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(&value.replace('+', " "))
            .decode_utf8()
            .map_err(|_| format!("query parameter {key:?} is not UTF-8 once percent-decoded"))?
            .into_owned();
        match key {
            "variant" => variants.push(value),
            "as_of" => as_of = Some(parse_rfc3339(&value).map_err(|e| format!("as_of: {e}"))?),
            _ => return Err("unknown query parameter (known: variant, as_of)".to_string()),
        }
    }
    Ok((variants, as_of))
}

/// `GET /v1/explain/{category}/{item}`.
pub async fn explain(
    State(app): State<Arc<App>>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(source) = app.explain.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no lake configured: start serve with --lake to explain ranks".into(),
        );
    };
    let Ok(Path((category, item))) = path else {
        return error(
            StatusCode::BAD_REQUEST,
            "the category or item is not UTF-8 once percent-decoded".into(),
        );
    };
    let (asked, as_of) = match parse_query(query.as_deref()) {
        Ok(q) => q,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let variants: Vec<Variant> = if asked.is_empty() {
        source.variants.clone()
    } else {
        let mut chosen = Vec::new();
        for name in &asked {
            match source.variants.iter().find(|v| &v.name == name) {
                Some(v) if !chosen.contains(v) => chosen.push(v.clone()),
                Some(_) => {}
                None => {
                    let known: Vec<&str> =
                        source.variants.iter().map(|v| v.name.as_str()).collect();
                    return error(
                        StatusCode::NOT_FOUND,
                        format!(
                            "no variant {name:?} is explained here (known: {})",
                            known.join(", ")
                        ),
                    );
                }
            }
        }
        chosen
    };
    let as_of_ns = match as_of {
        Some(t) => t,
        None => match app.reads.lookup(&variants[0].name, &category).await {
            Ok(Cached::Found(entry)) => entry.generation.saturating_mul(1_000_000),
            _ => now_ns(),
        },
    };
    let plan = match ScoringPlan::new(
        as_of_ns,
        variants,
        30 * DAY_NS,
        365 * DAY_NS,
        None,
        app.max_limit,
    ) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let lake = source.lake.clone();
    let work = tokio::task::spawn_blocking(move || {
        topsellers_experiments::explain(&lake, &ColumnNames::default(), &plan, &category, &item)
    })
    .await;
    match work {
        Ok(Ok(e)) => (
            StatusCode::OK,
            [
                (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            serde_json::to_string(&e).unwrap_or_default(),
        )
            .into_response(),
        Ok(Err(
            e @ (ExperimentError::UnknownCategory { .. }
            | ExperimentError::UnknownItem { .. }
            | ExperimentError::EmptyCategory { .. }),
        )) => error(StatusCode::NOT_FOUND, e.to_string()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot explain");
            error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the explanation failed: {e}"),
        ),
    }
}
