//! Every worked example in `policies/`: its expected decisions hold, and the compiled evaluator
//! and the reference evaluator agree on each of them.

use casepol::{Policy, Request};
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
struct Case {
    name: String,
    request: Request,
    decision: String,
    #[serde(default)]
    #[allow(dead_code)]
    seed: String,
    #[serde(default)]
    #[allow(dead_code)]
    why: String,
}

fn run(dir: &Path) -> Vec<String> {
    let mut sources = casepol::diagnostic::Sources::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "casepol"))
        .collect();
    files.sort();
    for f in &files {
        sources.add(f.display().to_string(), std::fs::read_to_string(f).unwrap());
    }
    let policy = Policy::from_sources(sources)
        .unwrap_or_else(|e| panic!("{}:\n{}", dir.display(), e.render()));
    assert!(
        policy.warnings().is_empty(),
        "{} has warnings: {:?}",
        dir.display(),
        policy.warnings()
    );
    let entities = policy
        .load_entities(&std::fs::read_to_string(dir.join("entities.json")).unwrap())
        .unwrap_or_else(|e| panic!("{}: {:?}", dir.display(), e));
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expect.json")).unwrap()).unwrap();
    assert!(!cases.is_empty(), "{} has no expectations", dir.display());
    let mut failures = Vec::new();
    for c in &cases {
        let vm = policy.is_allowed(&entities, &c.request);
        let trace = policy.explain(&entities, &c.request);
        let got = if vm.allowed { "allow" } else { "deny" };
        if got != c.decision {
            failures.push(format!(
                "{}/{}: expected {}, got {got}\n{}",
                dir.display(),
                c.name,
                c.decision,
                policy.explain_text(&trace)
            ));
        }
        if trace.decision != vm {
            failures.push(format!(
                "{}/{}: vm says {vm:?}, reference says {:?}",
                dir.display(),
                c.name,
                trace.decision
            ));
        }
    }
    failures
}

#[test]
fn every_policy_example_decides_as_expected() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    let mut seen = 0;
    for d in &dirs {
        if d.join("expect.json").exists() {
            seen += 1;
            failures.extend(run(d));
        }
    }
    assert!(seen >= 1, "no policies with expectations found");
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every user × resource × action × module (and every user × permission) in every example:
/// the compiled evaluator and the reference evaluator give the same decision, layer and reason.
#[test]
fn vm_agrees_with_reference_on_every_example_request() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut total = 0;
    let mut disagreements = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("entities.json").exists() {
            continue;
        }
        let mut sources = casepol::diagnostic::Sources::new();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|x| x == "casepol") {
                sources.add(
                    f.display().to_string(),
                    std::fs::read_to_string(&f).unwrap(),
                );
            }
        }
        let policy = Policy::from_sources(sources).unwrap();
        let entities = policy
            .load_entities(&std::fs::read_to_string(dir.join("entities.json")).unwrap())
            .unwrap();
        let ir = policy.compiled().ir();
        let modules: Vec<Option<String>> = std::iter::once(None)
            .chain(ir.modules.iter().map(|m| Some(m.name.clone())))
            .collect();
        let mut requests = Vec::new();
        for u in entities.users() {
            for p in &ir.permissions {
                requests.push(Request::new(&u.id, &p.name, None));
            }
            for r in entities.resources() {
                for a in &ir.actions {
                    for m in &modules {
                        let mut req = Request::new(&u.id, &a.name, Some(&r.id));
                        req.module = m.clone();
                        requests.push(req);
                    }
                }
            }
        }
        for req in &requests {
            total += 1;
            let vm = policy.is_allowed(&entities, req);
            let reference = policy.explain(&entities, req).decision;
            if vm != reference {
                disagreements.push(format!(
                    "{}: {req:?}: vm {vm:?}, reference {reference:?}",
                    dir.display()
                ));
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
