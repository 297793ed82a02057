//! `casepol verify`: one property proved over the whole domain of a generated 10,000-rule
//! policy (casepol-gen, as benches/decide.rs uses): "only HR and Manager may list", which every
//! case type's `allow HR, Manager: list;` makes true and no table cell breaks.
//! docs/performance.md, section "casepol verify", records the median.

use casepol::diagnostic::Span;
use casepol::internal::verify::{self, ClaimKind, PropertySpec, Verdict, Word};
use casepol::Policy;
use casepol_gen::SEED;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn word(text: &str) -> Word {
    Word {
        text: text.into(),
        span: Span::default(),
    }
}

fn one_property(c: &mut Criterion) {
    for rules in [1_000, 10_000] {
        let generated = casepol_gen::Policy::generate(rules, SEED).expect("a multiple of 20");
        let policy =
            Policy::from_source("policy.casepol", &generated.to_casepol()).expect("policy checks");
        let spec = PropertySpec {
            name: "only-hr-and-manager-list".into(),
            span: Span::default(),
            description: None,
            claim: ClaimKind::Only,
            subjects: vec![word("HR"), word("Manager")],
            actions: vec![word("list")],
            places: Vec::new(),
            kinds: Vec::new(),
            modules: Vec::new(),
            modes: Vec::new(),
            wider_than: None,
        };
        let prop = verify::resolve(policy.compiled().ir(), &spec).expect("the property resolves");
        let verdict = verify::verify(&policy, &prop);
        assert!(
            matches!(verdict, Verdict::Proven { points } if points >= rules / 20 * 4),
            "{verdict:?}"
        );
        c.bench_function(&format!("verify_{rules}_one_property"), |b| {
            b.iter(|| verify::verify(black_box(&policy), black_box(&prop)))
        });
    }
}

criterion_group!(benches, one_property);
criterion_main!(benches);
