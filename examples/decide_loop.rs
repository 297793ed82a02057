//! Decides the same requests many times, for counting instructions per decision under
//! `valgrind --tool=callgrind` (docs/performance.md): deterministic where wall time is not.
//! `cargo build --profile profiling --example decide_loop`, then
//! `valgrind --tool=callgrind target/profiling/examples/decide_loop N [efob|gen]` decides each
//! request N times (docs/performance.md §1, §10).

use casepol::{Policy, Request};
use casepol_gen::{Population, Probe, Sizes, SEED};
use std::hint::black_box;

const EFOB: &str = include_str!("../policies/efob/policy.casepol");
const EFOB_ENTITIES: &str = include_str!("../policies/efob/entities.json");

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let which = std::env::args().nth(2).unwrap_or_default();
    let mut sets = Vec::new();
    if which.is_empty() || which == "efob" {
        let policy = Policy::from_source("efob.casepol", EFOB).expect("policy checks");
        let entities = policy.load_entities(EFOB_ENTITIES).expect("entities load");
        let reqs = [
            Request::new("hanna", "edit", Some("case-review")).via("Cases"),
            Request::new("hugo", "access", Some("case-review")).via("Cases"),
            Request::new("emma", "access", Some("case-review")).via("MyMatters"),
        ];
        let resolved: Vec<_> = reqs
            .iter()
            .map(|r| policy.resolve(&entities, r).expect("request resolves"))
            .collect();
        sets.push((policy, entities, resolved));
    }
    if which.is_empty() || which == "gen" {
        let generated = casepol_gen::Policy::generate(1_000, SEED).expect("a multiple of 20");
        let policy =
            Policy::from_source("generated.casepol", &generated.to_casepol()).expect("checks");
        let population = Population::generate(&generated, Sizes::DECIDE, SEED);
        let entities = policy
            .load_entities(&population.to_json(&generated))
            .expect("entities load");
        let resolved: Vec<_> = Probe::ALL
            .iter()
            .map(|p| {
                let r = p.request();
                let req = Request::new(&r.principal, r.action, Some(&r.resource));
                policy.resolve(&entities, &req).expect("request resolves")
            })
            .collect();
        sets.push((policy, entities, resolved));
    }
    let mut allowed = 0u64;
    for (policy, entities, resolved) in &sets {
        for r in resolved {
            for _ in 0..n {
                allowed += policy.decide(black_box(entities), black_box(r)).allowed as u64;
            }
        }
    }
    println!("{allowed}");
}
