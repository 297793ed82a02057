//! Decision, explanation and compile benchmarks on the shipped eFOB example.

use casepol::{Policy, Request};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

const EFOB: &str = include_str!("../policies/efob/policy.casepol");
const EFOB_ENTITIES: &str = include_str!("../policies/efob/entities.json");

fn bench(c: &mut Criterion) {
    let policy = Policy::from_source("efob.casepol", EFOB).expect("policy checks");
    let entities = policy.load_entities(EFOB_ENTITIES).expect("entities load");
    let cases = [
        (
            "allow",
            Request::new("hanna", "edit", Some("case-review")).via("Cases"),
        ),
        (
            "deny_by_table",
            Request::new("hugo", "access", Some("case-review")).via("Cases"),
        ),
        (
            "deny_not_permitted",
            Request::new("emma", "access", Some("case-review")).via("MyMatters"),
        ),
    ];
    let mut group = c.benchmark_group("decide");
    for (name, req) in &cases {
        let resolved = policy.resolve(&entities, req).expect("request resolves");
        group.bench_function(*name, |b| {
            b.iter(|| policy.decide(black_box(&entities), black_box(&resolved)))
        });
    }
    group.finish();
    c.bench_function("explain/deny_by_table", |b| {
        b.iter(|| policy.explain(black_box(&entities), black_box(&cases[1].1)))
    });
    c.bench_function("compile/efob", |b| {
        b.iter(|| Policy::from_source("efob.casepol", black_box(EFOB)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
