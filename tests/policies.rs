//! Every worked example in `policies/`: its test files (`*.test.json`) pass with the library's
//! test runner, they exercise every rule of the policy, and the compiled evaluator and the
//! reference evaluator agree on every request the example's entities allow.

use casepol::diagnostic::{render, Sources};
use casepol::internal::testing::{self, Coverage, EntitiesSource, TestFile};
use casepol::{Entities, Policy, Request};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn sorted(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

/// A policy: one `.casepol` file, or every one in a directory, as the CLI reads it.
fn load_policy(path: &Path) -> Policy {
    let mut sources = Sources::new();
    let files = if path.is_dir() {
        sorted(path)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "casepol"))
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    for f in files {
        sources.add(rel(&f), std::fs::read_to_string(&f).unwrap());
    }
    let policy =
        Policy::from_sources(sources).unwrap_or_else(|e| panic!("{}:\n{}", rel(path), e.render()));
    assert!(
        policy.warnings().is_empty(),
        "{} has warnings: {:?}",
        rel(path),
        policy.warnings()
    );
    policy
}

/// An example: its policy and each of its test files with the entities it names.
struct Example {
    dir: PathBuf,
    policy: Policy,
    files: Vec<(Sources, TestFile, Entities)>,
}

fn examples() -> Vec<Example> {
    let mut out = Vec::new();
    for dir in sorted(&root().join("policies")) {
        if !dir.is_dir() {
            continue;
        }
        let policy = load_policy(&dir);
        let mut files = Vec::new();
        for path in sorted(&dir) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(testing::TEST_FILE_SUFFIX) {
                continue;
            }
            let mut sources = Sources::new();
            let id = sources.add(rel(&path), std::fs::read_to_string(&path).unwrap());
            let tests = testing::parse(&sources, id).unwrap_or_else(|diags| {
                panic!(
                    "{}",
                    diags
                        .iter()
                        .map(|d| render::human(d, &sources, false))
                        .collect::<String>()
                )
            });
            assert!(
                tests.policy.is_none(),
                "{}: the examples' tests use the policy of their directory",
                rel(&path)
            );
            let text = match &tests.entities {
                EntitiesSource::Path(p) => std::fs::read_to_string(dir.join(p)).unwrap(),
                EntitiesSource::Inline(text) => text.clone(),
            };
            let entities = policy
                .load_entities(&text)
                .unwrap_or_else(|e| panic!("{}: {e:?}", rel(&path)));
            files.push((sources, tests, entities));
        }
        assert!(
            !files.is_empty(),
            "{} has no test file (`*.test.json`)",
            rel(&dir)
        );
        out.push(Example { dir, policy, files });
    }
    assert!(out.len() >= 5, "only {} examples found", out.len());
    out
}

/// Every case passes, on both evaluators (the runner fails a case where they disagree), and
/// the tests of each example together exercise every rule, table cell, transition, module grant
/// and access-mode line of its policy.
#[test]
fn every_policy_example_passes_its_tests_with_full_coverage() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for ex in examples() {
        let mut coverage = Coverage::new(&ex.policy);
        for (sources, tests, entities) in &ex.files {
            let run = testing::run(&ex.policy, entities, tests);
            for d in &run.diagnostics {
                failures.push(render::human(d, sources, false));
            }
            for r in &run.results {
                cases += 1;
                if !r.passed() {
                    let case = &tests.cases[r.index];
                    let problems: Vec<String> = r.mismatches.iter().map(|m| m.message()).collect();
                    failures.push(format!(
                        "{}: {}: {}\n{}",
                        sources.name(tests.file),
                        case.name,
                        problems.join("; "),
                        ex.policy.explain_text(&r.trace)
                    ));
                }
            }
            coverage.record_run(&run);
        }
        for item in coverage.uncovered() {
            failures.push(format!(
                "{}: no test exercises {} `{}` at {}:{}",
                rel(&ex.dir),
                item.kind,
                item.source,
                item.file,
                item.line
            ));
        }
    }
    assert!(cases >= 100, "only {cases} cases ran");
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every user × resource × action × module (and every user × permission) of every entity set
/// the examples' tests use: the compiled evaluator and the reference evaluator give the same
/// decision, layer and reason, and `explain` (which scans only the indexed rules) gives the
/// same trace as the reference evaluator scanning every rule.
#[test]
fn vm_agrees_with_reference_on_every_example_request() {
    let mut total = 0;
    let mut disagreements = Vec::new();
    for ex in examples() {
        let ir = ex.policy.compiled().ir();
        let modules: Vec<Option<String>> = std::iter::once(None)
            .chain(ir.modules.iter().map(|m| Some(m.name.clone())))
            .collect();
        for (sources, tests, entities) in &ex.files {
            // Every context the file's cases are asked in (none, when they give none).
            let mut contexts: Vec<Option<serde_json::Map<String, serde_json::Value>>> = vec![None];
            for case in &tests.cases {
                if !contexts.contains(&case.request.context) {
                    contexts.push(case.request.context.clone());
                }
            }
            let mut requests = Vec::new();
            for u in entities.user_ids() {
                for p in &ir.permissions {
                    requests.push(Request::new(u, &p.name, None));
                }
                for r in entities.resource_ids() {
                    for a in &ir.actions {
                        for m in &modules {
                            for c in &contexts {
                                let mut req = Request::new(u, &a.name, Some(r));
                                req.module = m.clone();
                                req.context = c.clone();
                                requests.push(req);
                            }
                        }
                    }
                }
            }
            for req in &requests {
                total += 1;
                let vm = ex.policy.is_allowed(entities, req);
                let literal =
                    casepol::internal::reference::evaluate(ex.policy.compiled(), entities, req);
                let reference = literal.decision;
                if vm != reference {
                    disagreements.push(format!(
                        "{}: {req:?}: vm {vm:?}, reference {reference:?}",
                        sources.name(tests.file)
                    ));
                }
                let indexed = casepol::internal::reference::evaluate_with(
                    ex.policy.compiled(),
                    entities,
                    req,
                    casepol::internal::reference::Scan::Indexed,
                );
                if indexed != literal {
                    disagreements.push(format!(
                        "{}: {req:?}: the indexed trace differs from the literal one",
                        sources.name(tests.file)
                    ));
                }
            }
        }
    }
    assert!(total > 1000, "only {total} requests generated");
    assert!(
        disagreements.is_empty(),
        "{} of {total} disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
