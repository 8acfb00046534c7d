//! Decoding and aggregating a generated lake end to end (mmap, Parquet
//! decode, aggregate, rank): the per-purchase cost of `compute` without
//! process start.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use topsellers_benches::{AS_OF_NS, DAY_NS};
use topsellers_engine::{ScoringPlan, Variant};
use topsellers_lake::gen::{generate, GenOptions};
use topsellers_lake::{scan_lake, ScanOptions};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let rows = 2_000_000;
    let opts = GenOptions {
        purchases: rows,
        categories: 20,
        days: 30,
        seed: 4,
        ..GenOptions::default()
    };
    generate(&lake, &opts, &|_| {}).expect("generate");
    let plan = ScoringPlan::new(
        AS_OF_NS,
        vec![Variant::from_half_life("default", 7.0 * 86_400.0).expect("valid")],
        30 * DAY_NS,
        365 * DAY_NS,
        None,
        100,
    )
    .expect("valid plan");
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(rows));
    g.sample_size(10);
    g.bench_function("scan_lake_2M", |b| {
        b.iter(|| {
            scan_lake(Path::new(&lake), &ScanOptions::default(), &plan, &|_| {})
                .expect("scan")
                .outcomes
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
