//! One decision, its explanation, and compiling the policy: on the shipped eFOB example, and on
//! generated policies of 20, 1,000 and 10,000 rules (casepol-gen; policies/generated/README.md).
//! The side-by-side comparison with Cedar is `cargo bench -p casepol-cedar-bench`.

use casepol::{Policy, Request};
use casepol_gen::{Population, Probe, Sizes, SEED};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

const EFOB: &str = include_str!("../policies/efob/policy.casepol");
const EFOB_ENTITIES: &str = include_str!("../policies/efob/entities.json");
const GITHUB: &str = include_str!("../policies/github/policy.casepol");
const GITHUB_ENTITIES: &str = include_str!("../policies/github/entities.json");

/// Rule conditions, on the GitHub-like example: an allow through a rule whose condition has
/// three terms (the resource's attribute against the principal, the resource's flag, the
/// context), a deny where its first term fails, and an allow without a condition in the same
/// policy (which still tests the condition of a deny that names `everyone`).
fn conditions(c: &mut Criterion) {
    let policy = Policy::from_source("github.casepol", GITHUB).expect("policy checks");
    let entities = policy
        .load_entities(GITHUB_ENTITIES)
        .expect("entities load");
    let ask = |principal: &str| {
        Request::new(principal, "edit_issue", Some("issue-open"))
            .with_context("authenticated", true.into())
            .with_context("mfa", false.into())
    };
    let cases = [
        ("three_terms_allow", ask("ann"), true),
        ("three_terms_deny", ask("bob"), false),
        ("unconditional_allow", ask("tom"), true),
    ];
    let mut group = c.benchmark_group("decide_condition");
    for (name, req, allowed) in &cases {
        let resolved = policy.resolve(&entities, req).expect("request resolves");
        assert_eq!(policy.decide(&entities, &resolved).allowed, *allowed);
        group.bench_function(*name, |b| {
            b.iter(|| policy.decide(black_box(&entities), black_box(&resolved)))
        });
    }
    group.finish();
}

fn efob(c: &mut Criterion) {
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
    let mut group = c.benchmark_group("efob_decide");
    for (name, req) in &cases {
        let resolved = policy.resolve(&entities, req).expect("request resolves");
        group.bench_function(*name, |b| {
            b.iter(|| policy.decide(black_box(&entities), black_box(&resolved)))
        });
    }
    group.finish();
    c.bench_function("efob_explain/deny_by_table", |b| {
        b.iter(|| policy.explain(black_box(&entities), black_box(&cases[1].1)))
    });
    c.bench_function("efob_compile", |b| {
        b.iter(|| Policy::from_source("efob.casepol", black_box(EFOB)))
    });
}

fn generated(c: &mut Criterion) {
    for rules in [20, 1_000, 10_000] {
        let generated = casepol_gen::Policy::generate(rules, SEED).expect("a multiple of 20");
        let source = generated.to_casepol();
        let policy = Policy::from_source("generated.casepol", &source).expect("policy checks");
        let population = Population::generate(&generated, Sizes::DECIDE, SEED);
        let entities = policy
            .load_entities(&population.to_json(&generated))
            .expect("entities load");
        let mut group = c.benchmark_group(format!("decide_{rules}"));
        for probe in Probe::ALL {
            let r = probe.request();
            let req = Request::new(&r.principal, r.action, Some(&r.resource));
            let resolved = policy.resolve(&entities, &req).expect("request resolves");
            assert_eq!(
                policy.decide(&entities, &resolved).allowed,
                probe == Probe::Allow
            );
            group.bench_function(BenchmarkId::new("casepol", probe.name()), |b| {
                b.iter(|| policy.decide(black_box(&entities), black_box(&resolved)))
            });
            // Resolving the names too: what `Policy::is_allowed` costs.
            group.bench_function(
                BenchmarkId::new("casepol_with_resolve", probe.name()),
                |b| b.iter(|| policy.is_allowed(black_box(&entities), black_box(&req))),
            );
        }
        group.finish();
        let r = Probe::DenyByCode.request();
        let req = Request::new(&r.principal, r.action, Some(&r.resource));
        c.bench_function(&format!("explain_{rules}/deny_by_code"), |b| {
            b.iter(|| policy.explain(black_box(&entities), black_box(&req)))
        });
        let mut group = c.benchmark_group(format!("compile_{rules}"));
        group.sample_size(20);
        group.bench_function("casepol", |b| {
            b.iter(|| Policy::from_source("generated.casepol", black_box(&source)))
        });
        group.finish();
    }
}

criterion_group!(benches, efob, generated, conditions);
criterion_main!(benches);
