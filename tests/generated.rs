//! The committed sample in `policies/generated/` is exactly what casepol-gen writes, so the
//! files the benchmarks generate are the ones CI checks and tests.

use casepol_gen::{Policy, Population, Sizes, SEED};

#[test]
fn the_committed_sample_is_the_generators_output() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/generated");
    let policy = Policy::generate(20, SEED).unwrap();
    let entities = Population::generate(&policy, Sizes::SAMPLE, SEED).to_json(&policy);
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap();
    assert!(
        read("policy.casepol") == policy.to_casepol() && read("entities.json") == entities,
        "policies/generated is stale: run `cargo run -p casepol-gen -- sample policies/generated`"
    );
}
