//! Top-N selection from a large category.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use topsellers_engine::top_n;

fn bench(c: &mut Criterion) {
    let n = 1_000_000;
    let mut rng = SmallRng::seed_from_u64(3);
    let candidates: Vec<(f64, u32)> = (0..n).map(|i| (rng.random_range(0.0..1000.0), i)).collect();
    let mut g = c.benchmark_group("topk");
    g.throughput(Throughput::Elements(n as u64));
    for top in [100, 1000] {
        g.bench_function(BenchmarkId::new("select", top), |b| {
            b.iter_batched_ref(
                || candidates.clone(),
                |c| top_n(c, top, |a, b| a.cmp(&b)).len(),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
