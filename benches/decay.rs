//! The decay kernel against a plain libm loop.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use topsellers_engine::decay_weights;

fn bench(c: &mut Criterion) {
    let n = 2048;
    let mut rng = SmallRng::seed_from_u64(1);
    let ages: Vec<f64> = (0..n)
        .map(|_| rng.random_range(0.0..30.0 * 86_400.0))
        .collect();
    let quantity = vec![1.0; n];
    let mut out = vec![0.0; n];
    let lambda = std::f64::consts::LN_2 / (7.0 * 86_400.0);
    let mut g = c.benchmark_group("decay");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("kernel", n), |b| {
        b.iter(|| decay_weights(std::hint::black_box(lambda), &ages, &quantity, &mut out))
    });
    g.bench_function(BenchmarkId::new("libm", n), |b| {
        b.iter(|| {
            let l = std::hint::black_box(lambda);
            for ((o, a), q) in out.iter_mut().zip(&ages).zip(&quantity) {
                *o = q * (-l * a).exp();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
