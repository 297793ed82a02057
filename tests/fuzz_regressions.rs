//! Every input the fuzzers found a crash, hang or blow-up with, run again through the same code
//! as its fuzz target, so a fixed bug stays fixed.
//!
//! `tests/data/fuzz_regressions/<target>/<name>` holds one minimised input; `<target>` is the
//! fuzz target that found it (`parse`, `check`, `entities`, `end_to_end`, `scale`) and the file runs
//! through `fuzz/src/lib.rs`, the very function that target calls. docs/fuzzing.md lists each
//! finding and its fix. Policy inputs also have their diagnostics snapshotted, so the message
//! a person would see for them is read and kept.

#[path = "../fuzz/src/lib.rs"]
mod harness;

use casepol::diagnostic::{render, Sources};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a fuzz target does with one input.
type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 5] = [
    ("parse", harness::parse),
    ("check", harness::check),
    ("entities", harness::entities),
    ("end_to_end", harness::end_to_end),
    ("scale", harness::scale),
];

/// The fuzzers ran with `-timeout=10`; a saved input must finish well inside that here too,
/// even in a debug build.
const TIME_LIMIT: Duration = Duration::from_secs(10);

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz_regressions")
}

fn inputs(target: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir().join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn every_saved_input_runs_through_its_target_without_a_panic() {
    let mut ran = 0;
    let mut failures = Vec::new();
    for (target, run) in TARGETS {
        for path in inputs(target) {
            let data = std::fs::read(&path).unwrap();
            let start = Instant::now();
            let outcome = std::panic::catch_unwind(|| run(&data));
            let took = start.elapsed();
            let name = path.strip_prefix(dir()).unwrap().display().to_string();
            match outcome {
                Err(_) => failures.push(format!("{name}: panicked (message above)")),
                Ok(()) if took > TIME_LIMIT => failures.push(format!("{name}: took {took:?}")),
                Ok(()) => {}
            }
            ran += 1;
        }
    }
    assert!(ran > 0, "no saved inputs under {}", dir().display());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The diagnostics for a saved policy input, as a person sees them. A `parse` input is one file;
/// a `check` input is split at NUL into several, as its target does.
#[test]
fn saved_policy_inputs_get_readable_diagnostics() {
    for target in ["parse", "check"] {
        for path in inputs(target) {
            let data = std::fs::read(&path).unwrap();
            let sources = if target == "parse" {
                let mut one = Sources::new();
                one.add("fuzz.casepol", String::from_utf8_lossy(&data).into_owned());
                one
            } else {
                harness::split_sources(&data)
            };
            let (_, diags) = casepol::internal::check_sources(&sources);
            let rendered: String = diags
                .iter()
                .map(|d| render::human(d, &sources, false))
                .collect();
            let name = format!("{target}__{}", path.file_name().unwrap().to_string_lossy());
            insta::with_settings!({ input_file => &path, omit_expression => true }, {
                insta::assert_snapshot!(name, format!("input: {:?}\n\n{rendered}", String::from_utf8_lossy(&data)));
            });
        }
    }
}

/// The `scale` generator is worth fuzzing only if what it writes is mostly valid: a recipe of
/// small counts must give a policy that checks and entities that load, and its requests must
/// reach every kind of decision. Without this, a slip in the generator would make every input
/// stop at the checker and the target would test nothing past it.
#[test]
fn the_scale_generator_writes_valid_worlds() {
    let mut checked = 0;
    let mut loaded = 0;
    let mut allowed = 0;
    let mut denied = 0;
    for seed in 0u32..64 {
        // Small-count recipes: every "class" byte below 128 keeps its count under 8.
        let data: Vec<u8> = (0..64u32)
            .map(|i| (seed.wrapping_mul(2654435761).rotate_left(i) % 128) as u8)
            .collect();
        let world = harness::scale::generate(&data);
        let policy = match casepol::Policy::from_source("scale.casepol", &world.policy) {
            Ok(p) => p,
            Err(e) => panic!(
                "seed {seed}: the generated policy does not check:\n{}\n{}",
                world.policy,
                e.render()
            ),
        };
        checked += 1;
        let entities = policy.load_entities(&world.entities).unwrap_or_else(|e| {
            panic!(
                "seed {seed}: the entities do not load: {e:?}\n{}",
                world.entities
            )
        });
        loaded += 1;
        for r in &world.requests {
            match policy.is_allowed(&entities, r).allowed {
                true => allowed += 1,
                false => denied += 1,
            }
        }
        harness::scale(&data);
    }
    assert_eq!((checked, loaded), (64, 64));
    assert!(
        allowed > 0 && denied > 0,
        "allowed {allowed}, denied {denied}"
    );
}
