//! `casepol diff` of two generated 10,000-rule policies (casepol-gen, as benches/decide.rs uses)
//! that differ in one table cell: the first `+edit` entry of the first table becomes `-edit`.
//! docs/performance.md, section "casepol diff", records the median.

use casepol::internal::diff;
use casepol::Policy;
use casepol_gen::SEED;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn one_cell(c: &mut Criterion) {
    for rules in [1_000, 10_000] {
        let generated = casepol_gen::Policy::generate(rules, SEED).expect("a multiple of 20");
        let old_text = generated.to_casepol();
        let table = old_text
            .find("table {")
            .expect("the generated policy has tables");
        let cell = table + old_text[table..].find("+edit").expect("a `+edit` cell");
        let new_text = format!("{}-{}", &old_text[..cell], &old_text[cell + 1..]);
        let old = Policy::from_source("old.casepol", &old_text).expect("policy checks");
        let new = Policy::from_source("new.casepol", &new_text).expect("policy checks");
        let report = diff::diff(old.compiled(), new.compiled());
        assert_eq!(report.changes.len(), 1, "{}", report.text());
        assert!(report.names.is_empty() && report.data.is_empty());
        c.bench_function(&format!("diff_{rules}_one_cell"), |b| {
            b.iter(|| diff::diff(black_box(old.compiled()), black_box(new.compiled())))
        });
    }
}

criterion_group!(benches, one_cell);
criterion_main!(benches);
