//! The HTTP side of `/metrics`: requests by route and status and a latency
//! histogram per route, in atomics (no lock per request), printed with the
//! read path's counters in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use topsellers_serve::ReadMetrics;

/// The routes, as labelled.
pub const ROUTES: [&str; 7] = [
    "top_sellers",
    "healthz",
    "readyz",
    "metrics",
    "other",
    "explain",
    "ui",
];
/// The statuses counted by name; any other is counted as `other`.
const STATUSES: [u16; 11] = [200, 304, 400, 404, 405, 413, 414, 431, 500, 503, 0];
/// Histogram bucket bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// The route label of a request path.
pub fn route_of(path: &str) -> usize {
    match path {
        p if p.starts_with("/v1/top-sellers/") => 0,
        "/healthz" => 1,
        "/readyz" => 2,
        "/metrics" => 3,
        p if p.starts_with("/v1/explain/") => 5,
        "/v1/catalog" => 6,
        p if p.starts_with("/ui") || p.starts_with("/v1/backtest/") => 6,
        _ => 4,
    }
}

#[derive(Default)]
struct Histogram {
    /// Counts per bucket (not cumulative; summed when printed), then +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

/// Requests and latencies.
#[derive(Default)]
pub struct HttpMetrics {
    requests: [[AtomicU64; STATUSES.len()]; ROUTES.len()],
    latency: [Histogram; ROUTES.len()],
}

impl HttpMetrics {
    /// Counts one request of `route` answered with `status` after `took`.
    pub fn record(&self, route: usize, status: u16, took: Duration) {
        let s = STATUSES
            .iter()
            .position(|&x| x == status)
            .unwrap_or(STATUSES.len() - 1);
        self.requests[route][s].fetch_add(1, Ordering::Relaxed);
        let h = &self.latency[route];
        let secs = took.as_secs_f64();
        let b = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        h.buckets[b].fetch_add(1, Ordering::Relaxed);
        h.sum_ns
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self, reads: &ReadMetrics) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let v = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP topsellers_serve_requests_total HTTP requests by route and status.\n# TYPE topsellers_serve_requests_total counter\n");
        for (r, route) in ROUTES.iter().enumerate() {
            for (s, status) in STATUSES.iter().enumerate() {
                let n = v(&self.requests[r][s]);
                if n > 0 {
                    let status = if *status == 0 {
                        "other".to_string()
                    } else {
                        status.to_string()
                    };
                    let _ = writeln!(out, "topsellers_serve_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
                }
            }
        }
        out.push_str("# HELP topsellers_serve_request_duration_seconds Time from request to response head, by route.\n# TYPE topsellers_serve_request_duration_seconds histogram\n");
        for (r, route) in ROUTES.iter().enumerate() {
            let h = &self.latency[r];
            let mut cumulative = 0;
            for (b, le) in BUCKETS.iter().enumerate() {
                cumulative += v(&h.buckets[b]);
                let _ = writeln!(out, "topsellers_serve_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}");
            }
            cumulative += v(&h.buckets[BUCKETS.len()]);
            let _ = writeln!(out, "topsellers_serve_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {cumulative}");
            let _ = writeln!(
                out,
                "topsellers_serve_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                v(&h.sum_ns) as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "topsellers_serve_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}"
            );
        }
        for (name, help, value) in reads.counters() {
            if !help.is_empty() {
                let family = name.split('{').next().unwrap_or(name);
                let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} counter");
            }
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets_are_printed() {
        let m = HttpMetrics::default();
        m.record(0, 200, Duration::from_micros(300));
        m.record(0, 200, Duration::from_secs(3));
        m.record(0, 418, Duration::from_millis(2));
        m.record(route_of("/healthz"), 200, Duration::from_micros(1));
        let reads = ReadMetrics::default();
        ReadMetrics::inc(&reads.dynamo_reads);
        let text = m.render(&reads);
        for line in [
            "topsellers_serve_requests_total{route=\"top_sellers\",status=\"200\"} 2",
            "topsellers_serve_requests_total{route=\"top_sellers\",status=\"other\"} 1",
            "topsellers_serve_requests_total{route=\"healthz\",status=\"200\"} 1",
            "topsellers_serve_request_duration_seconds_bucket{route=\"top_sellers\",le=\"0.00025\"} 0",
            "topsellers_serve_request_duration_seconds_bucket{route=\"top_sellers\",le=\"0.0005\"} 1",
            "topsellers_serve_request_duration_seconds_bucket{route=\"top_sellers\",le=\"1\"} 2",
            "topsellers_serve_request_duration_seconds_bucket{route=\"top_sellers\",le=\"+Inf\"} 3",
            "topsellers_serve_request_duration_seconds_count{route=\"top_sellers\"} 3",
            "topsellers_serve_dynamodb_reads_total 1",
            "topsellers_serve_cache_hits_total{layer=\"redis\"} 0",
            "# TYPE topsellers_serve_cache_hits_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert_eq!(
            text.matches("# TYPE topsellers_serve_cache_hits_total")
                .count(),
            1
        );
    }
}
