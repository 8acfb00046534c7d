//! The many-core model of a scan: what each work unit (a row group's pages
//! of one pass) took, and the wall time predicted at more threads than this
//! machine has. A scan cannot finish before its largest unit, nor before
//! the total work divided by the threads: the prediction is the larger of
//! the two, `max(largest, total / threads)`. Merging and ranking are left
//! out (they are a few percent of a scan), so it is a lower bound, and the
//! measured scan time at the thread count used shows how close it is.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Thread counts the model predicts for.
pub const MODEL_THREADS: [u32; 6] = [1, 2, 8, 32, 64, 192];

/// One unit's time, as recorded by the workers (one slot per unit: no lock,
/// no allocation while scanning).
#[derive(Debug, Default)]
pub(crate) struct UnitClock {
    ns: Vec<AtomicU64>,
}

impl UnitClock {
    /// Slots for `units` units.
    pub fn new(units: usize) -> Self {
        Self {
            ns: (0..units).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Records that unit `id` took `ns` nanoseconds.
    pub fn record(&self, id: usize, ns: u64) {
        if let Some(slot) = self.ns.get(id) {
            slot.store(ns, Ordering::Relaxed);
        }
    }

    /// The recorded times, in unit order (0 for a unit that did not run).
    pub fn into_ns(self) -> Vec<u64> {
        self.ns.into_iter().map(AtomicU64::into_inner).collect()
    }
}

/// The predicted scan time at one thread count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    /// Worker threads.
    pub threads: u32,
    /// Predicted seconds of the scan stage.
    pub seconds: f64,
}

/// Unit times and the model built on them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UnitTimes {
    /// Units that ran (a category's second pass runs only when needed).
    pub units: u64,
    /// Their summed time, seconds: the scan's work.
    pub total_s: f64,
    /// The largest unit, seconds.
    pub largest_s: f64,
    /// Which unit that was (`file, row group N`).
    pub largest: String,
    /// Median, 90th and 99th percentile unit time, seconds.
    pub p50_s: f64,
    /// 90th percentile.
    pub p90_s: f64,
    /// 99th percentile.
    pub p99_s: f64,
    /// `max(largest, total / threads)` at each of [`MODEL_THREADS`].
    pub model: Vec<Prediction>,
    /// Every unit's time in seconds, in the scan's unit order.
    pub unit_s: Vec<f64>,
}

impl UnitTimes {
    /// The model of the units that ran (`ns[i] > 0`); `name(i)` names unit `i`.
    pub fn from_ns(ns: &[u64], name: impl Fn(usize) -> String) -> Self {
        let ran: Vec<(usize, f64)> = ns
            .iter()
            .enumerate()
            .filter(|(_, &t)| t > 0)
            .map(|(i, &t)| (i, t as f64 / 1e9))
            .collect();
        let Some(&(largest_at, largest_s)) = ran.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
            return Self::default();
        };
        let total_s: f64 = ran.iter().map(|(_, s)| s).sum();
        let mut sorted: Vec<f64> = ran.iter().map(|(_, s)| *s).collect();
        sorted.sort_by(f64::total_cmp);
        let pct = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
        Self {
            units: ran.len() as u64,
            total_s,
            largest_s,
            largest: name(largest_at),
            p50_s: pct(0.5),
            p90_s: pct(0.9),
            p99_s: pct(0.99),
            model: MODEL_THREADS
                .iter()
                .map(|&threads| Prediction {
                    threads,
                    seconds: largest_s.max(total_s / f64::from(threads)),
                })
                .collect(),
            unit_s: ns.iter().map(|&t| t as f64 / 1e9).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_bounded_by_the_largest_unit_and_the_work() {
        // 100 units of 10 ms and one of 500 ms: 1.5 s of work.
        let mut ns = vec![10_000_000u64; 100];
        ns.push(500_000_000);
        ns.push(0); // a unit that did not run
        let t = UnitTimes::from_ns(&ns, |i| format!("unit {i}"));
        assert_eq!(t.units, 101);
        assert!((t.total_s - 1.5).abs() < 1e-9);
        assert_eq!(t.largest, "unit 100");
        let at = |threads| {
            t.model
                .iter()
                .find(|p| p.threads == threads)
                .map(|p| p.seconds)
        };
        assert_eq!(at(1), Some(t.total_s));
        assert!((at(2).unwrap() - 0.75).abs() < 1e-9);
        // From 3 threads on, the 500 ms unit is the wall.
        assert_eq!(at(8), Some(0.5));
        assert_eq!(at(192), Some(0.5));
        assert!(t.model.windows(2).all(|w| w[1].seconds <= w[0].seconds));
        assert_eq!(t.p50_s, 0.01);
        assert_eq!(t.unit_s.len(), 102);
    }

    #[test]
    fn no_unit_no_model() {
        assert_eq!(
            UnitTimes::from_ns(&[0, 0], |_| String::new()),
            UnitTimes::default()
        );
    }
}
