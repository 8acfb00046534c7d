//! The accumulator's hot loop: filter, intern, weigh, scatter, for 1 and 4
//! variants and the default window ladder.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use topsellers_benches::{purchases, AS_OF_NS, DAY_NS};
use topsellers_engine::{Batch, CategoryAccumulator, IntInterner, ScoringPlan, Variant};

fn plan(variants: usize) -> ScoringPlan {
    let v = (0..variants)
        .map(|i| {
            Variant::from_half_life(format!("v{i}"), (1 + 3 * i) as f64 * 86_400.0).expect("valid")
        })
        .collect();
    ScoringPlan::new(AS_OF_NS, v, 30 * DAY_NS, 365 * DAY_NS, None, 100).expect("valid plan")
}

fn bench(c: &mut Criterion) {
    let n = 1 << 20;
    let (ids, ts) = purchases(n, 100_000, 2);
    let mut g = c.benchmark_group("aggregate");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    for variants in [1, 4] {
        let plan = plan(variants);
        g.bench_function(BenchmarkId::new("int_ids_variants", variants), |b| {
            b.iter(|| {
                let mut acc = CategoryAccumulator::<IntInterner>::new(&plan);
                for (i, t) in ids.chunks(65_536).zip(ts.chunks(65_536)) {
                    acc.add(&plan, &Batch::new(i, t, 1_000_000));
                }
                acc.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
