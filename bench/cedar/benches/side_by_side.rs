//! casepol and Cedar side by side, in one run: one decision (the four probes) and compiling the
//! policy (casepol: parse, check, lint and lower; Cedar: parse and validate against its schema)
//! at 20, 1,000 and 10,000 rules. `bench/run.sh` runs this and tabulates medians and ratios.

use casepol_cedar_bench::{cedar_compile, Scale, SCALES};
use casepol_gen::Probe;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let authorizer = cedar_policy::Authorizer::new();
    for rules in SCALES {
        let scale = Scale::new(rules).unwrap_or_else(|e| panic!("{rules} rules: {e}"));
        let mut group = c.benchmark_group(format!("vs_cedar_decide_{rules}"));
        if rules >= 1_000 {
            // Cedar takes milliseconds per decision here.
            group
                .sample_size(20)
                .measurement_time(Duration::from_secs(4));
        }
        for probe in Probe::ALL {
            let r = probe.request();
            let ours = scale.casepol_request(&r).unwrap();
            let theirs = scale.cedar_request(&r).unwrap();
            assert_eq!(
                scale.casepol_allows(&ours),
                scale.cedar_allows(&authorizer, &theirs),
                "{rules} rules, {probe:?}: the engines disagree"
            );
            group.bench_function(BenchmarkId::new("casepol", probe.name()), |b| {
                b.iter(|| {
                    scale
                        .casepol
                        .decide(black_box(&scale.casepol_entities), black_box(&ours))
                })
            });
            group.bench_function(BenchmarkId::new("cedar", probe.name()), |b| {
                b.iter(|| {
                    authorizer.is_authorized(
                        black_box(&theirs),
                        &scale.cedar_policies,
                        &scale.cedar_entities,
                    )
                })
            });
        }
        group.finish();
        let mut group = c.benchmark_group(format!("vs_cedar_compile_{rules}"));
        group.sample_size(10);
        group.bench_function("casepol", |b| {
            b.iter(|| {
                casepol::Policy::from_source("generated.casepol", black_box(&scale.casepol_source))
            })
        });
        group.bench_function("cedar", |b| {
            b.iter(|| cedar_compile(black_box(&scale.cedar_source)))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
