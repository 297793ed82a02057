//! The seeded proptest runs of the cross-checks: a ChaCha generator seeded from a number, so a
//! run draws the same cases on every machine, and no failure files written.
#![allow(dead_code)]

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// A runner for `cases` cases, its generator seeded with `seed` (its little-endian bytes, then
/// zeros); `max_shrink_iters` bounds the shrinking of a failure (`None`: proptest's default).
pub fn runner(cases: u32, seed: u64, max_shrink_iters: Option<u32>) -> TestRunner {
    let mut config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if let Some(n) = max_shrink_iters {
        config.max_shrink_iters = n;
    }
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    )
}

/// Runs `test` on the cases of `strategy` with [`runner`], counting into one `T`: the counts,
/// or the runner's report of the (shrunk) failing case.
pub fn run<S: Strategy, T: Default>(
    cases: u32,
    seed: u64,
    max_shrink_iters: Option<u32>,
    strategy: &S,
    test: impl Fn(S::Value, &mut T) -> Result<(), TestCaseError>,
) -> Result<T, String> {
    let counts = std::cell::RefCell::new(T::default());
    runner(cases, seed, max_shrink_iters)
        .run(strategy, |v| test(v, &mut counts.borrow_mut()))
        .map_err(|e| format!("{e}"))?;
    Ok(counts.into_inner())
}

/// A number from the environment (a count of cases, a seed), if it is set and parses.
pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}
