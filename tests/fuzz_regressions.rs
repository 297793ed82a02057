//! Every input the fuzzers found a crash, hang or blow-up with, run again through the same code
//! as its fuzz target, so a fixed bug stays fixed.
//!
//! `tests/data/fuzz_regressions/<target>/<name>` holds one minimised input; `<target>` is the
//! fuzz target that found it (`parse`, `check`, `entities`, `end_to_end`) and the file runs
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

const TARGETS: [(&str, Target); 4] = [
    ("parse", harness::parse),
    ("check", harness::check),
    ("entities", harness::entities),
    ("end_to_end", harness::end_to_end),
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
            let (_, diags) = casepol::check_sources(&sources);
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
