//! Loading entities from JSON: one million cases and a hundred thousand users (casepol-gen,
//! [`Sizes::LOAD`], for the policy of 1,000 rules). Criterion times it; memory is measured by
//! `cargo run --release --example entity_memory` (bench/run.sh), since criterion cannot.

use casepol::Policy;
use casepol_gen::{Population, Sizes, SEED};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let generated = casepol_gen::Policy::generate(1_000, SEED).expect("a multiple of 20");
    let policy =
        Policy::from_source("generated.casepol", &generated.to_casepol()).expect("policy checks");
    let json = Population::generate(&generated, Sizes::LOAD, SEED).to_json(&generated);
    let loaded = policy.load_entities(&json).expect("entities load");
    assert_eq!(loaded.users().len(), Sizes::LOAD.users);
    drop(loaded);
    let mut group = c.benchmark_group("entities");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    group.bench_function("load_1m_cases_100k_users", |b| {
        b.iter(|| policy.load_entities(black_box(&json)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
