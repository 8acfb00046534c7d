//! Seeded data shared by the criterion benches (one bench file per kernel:
//! `decay`, `aggregate`, `topk`, `decode`). Run them with
//! `cargo bench -p topsellers-benches`.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

/// Nanoseconds in a day.
pub const DAY_NS: i64 = 86_400_000_000_000;
/// The benches' reference time (2026-10-15T00:00:00Z), in ns.
pub const AS_OF_NS: i64 = 1_792_022_400 * 1_000_000_000;

/// `n` purchases of one category: Zipf item ids over `items` items, times in
/// milliseconds spread over the 90 days before [`AS_OF_NS`].
pub fn purchases(n: usize, items: u64, seed: u64) -> (Vec<i64>, Vec<i64>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let zipf = Zipf::new(items as f64, 1.05).expect("valid Zipf parameters");
    let ids = (0..n)
        .map(|_| zipf.sample(&mut rng) as i64 * 7_919)
        .collect();
    let as_of_ms = AS_OF_NS / 1_000_000;
    let ts = (0..n)
        .map(|_| as_of_ms - rng.random_range(0..90 * 86_400_000))
        .collect();
    (ids, ts)
}
