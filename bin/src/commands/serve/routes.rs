//! The HTTP routes of `serve` (SPEC section 6), the guard every request
//! passes first (size limits, metrics), and the limits of the API route (a
//! request timeout and a bound on requests in flight).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use topsellers_serve::{Cached, ReadPath};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::error::Overloaded;
use tower::timeout::error::Elapsed;
use tower::{BoxError, ServiceBuilder};

use super::body::TimedBody;
use super::experiment::Experiment;
use super::explain::explain;
use super::listener::ConnMetrics;
use super::metrics::{route_of, HttpMetrics};
use super::options::ExplainSource;
use super::request::{check_category, check_user, parse_query};
use super::ui;

/// Longest request target (path and query), bytes: past it, 414.
pub const MAX_URI: usize = 2048;
/// Most header bytes (names and values): past it, 431.
pub const MAX_HEADERS: usize = 8 * 1024;

/// What the routes share.
pub struct App {
    /// The read path.
    pub reads: Arc<ReadPath>,
    /// Requests and latencies.
    pub http: HttpMetrics,
    /// Variant of requests that name none.
    pub default_variant: String,
    /// Largest `limit`.
    pub max_limit: usize,
    /// The `Cache-Control` of answers.
    pub cache_control: HeaderValue,
    /// Longest a top-sellers request may take.
    pub request_timeout: Duration,
    /// Longest a request body may take after its head.
    pub body_timeout: Duration,
    /// The connections' counters (`/metrics`).
    pub conns: Arc<ConnMetrics>,
    /// Top-sellers requests served at once.
    pub max_in_flight: usize,
    /// The A/B experiment, if any.
    pub experiment: Option<Arc<Experiment>>,
    /// What the comparison page shows beside the live results.
    pub page: ui::PageFiles,
    /// The lake and variants of `/v1/explain`, when configured.
    pub explain: Option<ExplainSource>,
}

/// The router of `serve`.
pub fn router(app: Arc<App>) -> Router {
    // On the API route only, so that probes and metrics still answer when
    // it is saturated. Past the limit a request is refused at once (load
    // shedding) rather than queued: a queue would only add to its latency.
    let timeout = app.request_timeout;
    let limits = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(move |e: BoxError| async move {
            refused(&e, timeout)
        }))
        .load_shed()
        .layer(GlobalConcurrencyLimitLayer::new(app.max_in_flight))
        .timeout(timeout);
    Router::new()
        .route("/v1/top-sellers/{category}", get(top_sellers).layer(limits))
        .route("/v1/explain/{category}/{item}", get(explain))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/ui", get(ui::page))
        .route("/ui/page.js", get(ui::script))
        .route("/v1/catalog", get(ui::catalog))
        .route("/v1/backtest/report", get(ui::backtest_report))
        .route("/v1/backtest/chart", get(ui::backtest_chart))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such route; try GET /v1/top-sellers/{category}".into(),
            )
        })
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// A JSON error body `{"error": message}` that nothing caches.
pub(super) fn error(status: StatusCode, message: String) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (
        status,
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// The answer to a request the limits stopped: 503, saying which limit. A
/// request that timed out leaves its DynamoDB read running: the read still
/// fills the caches for the next request.
fn refused(e: &BoxError, timeout: Duration) -> Response {
    let message = if e.is::<Overloaded>() {
        "too many requests in flight; try again shortly".to_string()
    } else if e.is::<Elapsed>() {
        format!(
            "the request took longer than {} ms; try again shortly",
            timeout.as_millis()
        )
    } else {
        format!("the request failed: {e}")
    };
    error(StatusCode::SERVICE_UNAVAILABLE, message)
}

/// Refuses oversized requests before routing, and counts every request.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_of(req.uri().path());
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    let response = if target > MAX_URI {
        error(
            StatusCode::URI_TOO_LONG,
            format!("the request target is {target} bytes; at most {MAX_URI}"),
        )
    } else if header_bytes > MAX_HEADERS {
        error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the headers are {header_bytes} bytes; at most {MAX_HEADERS}"),
        )
    } else {
        let limit = app.body_timeout;
        next.run(req.map(|body| Body::new(TimedBody::new(body, limit))))
            .await
    };
    app.http
        .record(route, response.status().as_u16(), started.elapsed());
    response
}

/// The strong ETag of a body: generation, variant and item count, so that
/// each run, variant and `limit` that changes the body has its own; an
/// answer of an experiment's arm (whose body names the experiment) adds
/// `@experiment`.
fn etag(generation: i64, variant: &str, items: usize, experiment: Option<&str>) -> String {
    match experiment {
        Some(name) => format!("\"{generation}-{variant}-{items}@{name}\""),
        None => format!("\"{generation}-{variant}-{items}\""),
    }
}

/// The user id of a request: `?user=` or `X-User-Id` (both given must be
/// the same).
fn user_of(query: Option<String>, headers: &HeaderMap) -> Result<Option<String>, String> {
    let header = match headers.get(X_USER_ID) {
        Some(v) => {
            let text = v
                .to_str()
                .map_err(|_| "X-User-Id is not printable ASCII".to_string())?;
            check_user(text)?;
            Some(text.to_string())
        }
        None => None,
    };
    match (query, header) {
        (Some(q), Some(h)) if q != h => Err(format!(
            "?user= and X-User-Id name different users ({:?}, {:?})",
            q, h
        )),
        (q, h) => Ok(q.or(h)),
    }
}

/// The header of a user id.
const X_USER_ID: &str = "x-user-id";

/// `body` (a JSON object) with `"experiment"` and `"arm"` added last.
fn with_arm(body: &[u8], experiment: &str, arm: &str) -> Body {
    let Some(open) = body.strip_suffix(b"}") else {
        return Body::from(body.to_vec());
    };
    let fields = format!(
        ",\"experiment\":{},\"arm\":{}}}",
        serde_json::Value::from(experiment),
        serde_json::Value::from(arm)
    );
    let mut out = Vec::with_capacity(body.len() + fields.len());
    out.extend_from_slice(open);
    out.extend_from_slice(fields.as_bytes());
    Body::from(out)
}

/// Whether `If-None-Match` lists `tag` (or `*`); weak tags compare by value.
fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// `GET /v1/top-sellers/{category}?variant=&limit=`.
async fn top_sellers(
    State(app): State<Arc<App>>,
    category: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(category)) = category else {
        return error(
            StatusCode::BAD_REQUEST,
            "the category is not UTF-8 once percent-decoded".into(),
        );
    };
    let checked = check_category(&category)
        .and_then(|()| parse_query(query.as_deref(), &app.default_variant, app.max_limit));
    // The header is read only while an experiment runs: a site that sends
    // X-User-Id for other reasons is not refused over it.
    let (q, user) = match checked.and_then(|mut q| {
        let user = match &app.experiment {
            Some(_) => user_of(q.user.take(), &headers)?,
            None => None,
        };
        Ok((user, q))
    }) {
        Ok((user, q)) => (q, user),
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    // An explicit variant wins and is no exposure; no user, no assignment.
    let assigned = match (&app.experiment, user, q.explicit) {
        (Some(e), Some(user), false) => Some((e, e.assign(&user))),
        _ => None,
    };
    let variant = assigned.map_or(q.variant.as_str(), |(e, i)| e.arms[i].variant.as_str());
    let entry = match app.reads.lookup(variant, &category).await {
        Ok(Cached::Found(entry)) => entry,
        Ok(Cached::Missing) => {
            return error(
                StatusCode::NOT_FOUND,
                format!(
                    "no top sellers are published for category {category:?} in variant {variant:?}"
                ),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot answer: no cache holds the key and DynamoDB cannot be read");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the top sellers cannot be read right now (cache and database unavailable)".into(),
            );
        }
    };
    let items = q
        .limit
        .map_or(entry.items.len(), |k| k.min(entry.items.len()));
    let tag = etag(
        entry.generation,
        variant,
        items,
        assigned.map(|(e, _)| e.name.as_str()),
    );
    let tag_value = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"0\""));
    let cache = [
        (ETAG, tag_value),
        (CACHE_CONTROL, app.cache_control.clone()),
    ];
    let not_modified = none_match(&headers, &tag);
    let mut response = if not_modified {
        (StatusCode::NOT_MODIFIED, cache).into_response()
    } else {
        let json = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        let body = entry.body_with(q.limit);
        let body = match assigned {
            Some((e, i)) => with_arm(&body, &e.name, &e.arms[i].variant),
            None => Body::from(body),
        };
        (StatusCode::OK, json, cache, body).into_response()
    };
    if let Some(e) = &app.experiment {
        // The answer depends on the header: shared caches must key on it.
        response
            .headers_mut()
            .insert(VARY, HeaderValue::from_static("X-User-Id"));
        if let Some((_, i)) = assigned {
            e.expose(i);
            response
                .headers_mut()
                .insert(X_EXPERIMENT, e.arms[i].header.clone());
        }
    }
    response
}

/// The header naming the experiment and arm of an answer: `name=arm`.
const X_EXPERIMENT: &str = "x-experiment";

/// `GET /healthz`: the process is up.
async fn healthz() -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        "{\"status\":\"ok\"}",
    )
        .into_response()
}

/// `GET /readyz`: 200 when Redis and the store both answer, 503 naming the
/// one that does not. The store's entry is named by its kind (`dynamodb`,
/// `mysql`) and says which server reads use (`using`: a MySQL store with a
/// standby names the standby while the primary is down).
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let r = app.reads.readiness().await;
    let redis = match &r.redis {
        Ok(()) => serde_json::json!({ "ok": true }),
        Err(e) => serde_json::json!({ "ok": false, "error": e }),
    };
    let store = match &r.store {
        Ok(using) => serde_json::json!({ "ok": true, "using": using }),
        Err(e) => serde_json::json!({ "ok": false, "error": e }),
    };
    let ready = r.redis.is_ok() && r.store.is_ok();
    let mut body = serde_json::json!({ "ready": ready, "redis": redis });
    body[r.store_kind] = store;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body.to_string(),
    )
        .into_response()
}

/// `GET /metrics`: Prometheus text.
async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        {
            let mut text = app.http.render(&app.reads.metrics);
            if let Some(e) = &app.experiment {
                e.render(&mut text);
            }
            app.conns.render(&mut text);
            text
        },
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arm_is_added_to_the_body() {
        let body = br#"{"category":"toys","items":[]}"#;
        let with = with_arm(body, "decay", "fast");
        let bytes = futures_bytes(with);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["experiment"], "decay");
        assert_eq!(v["arm"], "fast");
        assert_eq!(v["category"], "toys");
    }

    /// The bytes of a body built from a slice (no I/O: it is one chunk).
    fn futures_bytes(body: Body) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(axum::body::to_bytes(body, usize::MAX))
            .unwrap()
            .to_vec()
    }

    #[test]
    fn users_from_the_query_or_the_header() {
        let mut h = HeaderMap::new();
        assert_eq!(user_of(Some("a".into()), &h), Ok(Some("a".into())));
        h.insert(X_USER_ID, HeaderValue::from_static("b"));
        assert_eq!(user_of(None, &h), Ok(Some("b".into())));
        assert_eq!(user_of(Some("b".into()), &h), Ok(Some("b".into())));
        assert!(user_of(Some("a".into()), &h)
            .unwrap_err()
            .contains("different users"));
        h.insert(X_USER_ID, HeaderValue::from_static("a b"));
        assert!(user_of(None, &h).unwrap_err().contains("holds ' '"));
    }

    #[test]
    fn etags_and_if_none_match() {
        let tag = etag(1_760_486_400_000, "default", 100, None);
        assert_eq!(tag, "\"1760486400000-default-100\"");
        assert_ne!(tag, etag(1_760_486_400_000, "default", 10, None));
        assert_ne!(tag, etag(1_760_486_400_000, "fast", 100, None));
        assert_eq!(
            etag(1_760_486_400_000, "fast", 100, Some("decay")),
            "\"1760486400000-fast-100@decay\""
        );
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            m
        };
        assert!(none_match(&h(&tag), &tag));
        assert!(none_match(&h(&format!("\"x\", W/{tag}")), &tag));
        assert!(none_match(&h("*"), &tag));
        assert!(!none_match(&h("\"1760486400000-default-10\""), &tag));
        assert!(!none_match(&HeaderMap::new(), &tag));
    }
}
