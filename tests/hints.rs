//! `explain`'s hints say what is true: on every shipped example and on generated worlds, for
//! every denied request, each counterfactual `explain` reports is applied to the entities file
//! itself (the user listed in the group or unit, given the term, named under the relation of
//! the case), the file is loaded again, and the request decided again with `Policy::is_allowed`:
//! a hint that says "would be allowed" must then allow, and one that says the change passes a
//! layer and is then denied must be denied by the layer and for the reason it names. Every hint
//! worded "would be allowed" or "would pass" is one of those counterfactuals, so no unverified
//! claim is shown.

#[path = "differential/gen.rs"]
#[allow(dead_code)]
mod gen;

use casepol::diagnostic::Sources;
use casepol::explain::{Change, Trace};
use casepol::{Entities, Policy, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;
use std::cell::Cell;
use std::path::{Path, PathBuf};

thread_local! {
    /// Counterfactuals applied on this test's thread that hold a relation of the resource's own
    /// kind on the resource itself (not on the case), so that the generated run shows it reached
    /// them.
    static ON_THE_RESOURCE: Cell<usize> = const { Cell::new(0) };
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every user × resource × action, without a module and through each, and every user ×
/// permission.
fn requests(policy: &Policy, entities: &Entities) -> Vec<Request> {
    let ir = policy.compiled().ir();
    let mut out = Vec::new();
    for u in entities.user_ids() {
        for r in entities.resource_ids() {
            for a in &ir.actions {
                out.push(Request::new(u, &a.name, Some(r)));
                for m in &ir.modules {
                    out.push(Request::new(u, &a.name, Some(r)).via(&m.name));
                }
            }
        }
        for p in &ir.permissions {
            out.push(Request::new(u, &p.name, None));
        }
    }
    out
}

/// `list[key]`, as an array, with `item` added.
fn push_to(object: &mut Value, key: &str, item: &str) -> Result<(), String> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| format!("not an object where `{key}` goes"))?;
    let list = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    list.as_array_mut()
        .ok_or_else(|| format!("`{key}` is not an array"))?
        .push(Value::String(item.to_string()));
    Ok(())
}

/// The last entry of `section` with this id (the one a repeated id means).
fn find<'a>(doc: &'a mut Value, section: &str, id: &str) -> Result<&'a mut Value, String> {
    doc[section]
        .as_array_mut()
        .and_then(|a| a.iter_mut().rfind(|e| e["id"] == id))
        .ok_or_else(|| format!("no {section} entry `{id}`"))
}

/// The entities file with `changes` made to `user`.
fn applied(entities: &str, user: &str, changes: &[Change]) -> Result<String, String> {
    let mut doc: Value = serde_json::from_str(entities).map_err(|e| e.to_string())?;
    for change in changes {
        match change {
            Change::JoinGroup { group, .. } => {
                let u = find(&mut doc, "users", user)?;
                push_to(u, "groups", group)?;
            }
            Change::JoinUnit { unit, .. } => {
                let u = find(&mut doc, "users", user)?;
                push_to(u, "units", unit)?;
            }
            Change::HoldTerm { term, .. } => {
                let u = find(&mut doc, "users", user)?;
                push_to(u, "terms", term)?;
            }
            Change::HoldRelation { relation, case, .. } => {
                let c = find(&mut doc, "resources", case)?;
                let map = c
                    .as_object_mut()
                    .ok_or("a resource that is not an object")?;
                let rels = map
                    .entry("relations".to_string())
                    .or_insert_with(|| Value::Object(Default::default()));
                push_to(rels, relation, user)?;
            }
        }
    }
    serde_json::to_string(&doc).map_err(|e| e.to_string())
}

/// Checks every hint of `trace` (a denied request): see the file's comment. Returns how many
/// counterfactuals it applied.
fn check_trace(
    policy: &Policy,
    entities_json: &str,
    req: &Request,
    trace: &Trace,
) -> Result<usize, String> {
    let mut applied_count = 0;
    let say = |what: String| {
        format!(
            "{what}\nrequest: {}\nexplain:\n{}",
            serde_json::to_string(req).unwrap_or_default(),
            policy.explain_text(trace)
        )
    };
    for layer in &trace.layers {
        for h in &layer.hints {
            let claims = h.starts_with("would be allowed") || h.starts_with("would pass");
            if claims && !layer.counterfactuals.iter().any(|c| &c.hint == h) {
                return Err(say(format!("a hint claims without a counterfactual: {h}")));
            }
        }
        for c in &layer.counterfactuals {
            let json = applied(entities_json, &req.principal, &c.changes)
                .map_err(|e| say(format!("cannot apply `{}`: {e}", c.hint)))?;
            let changed = policy.load_entities(&json).map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
                say(format!(
                    "the entities with `{}` applied do not load:\n{}",
                    c.hint,
                    lines.join("\n")
                ))
            })?;
            let d = policy.is_allowed(&changed, req);
            applied_count += 1;
            let on_resource = c.changes.iter().any(|x| {
                matches!(x, Change::HoldRelation { case, .. }
                    if trace.case.is_some() && Some(case) == req.resource.as_ref())
            });
            if on_resource {
                ON_THE_RESOURCE.with(|n| n.set(n.get() + 1));
            }
            match (&c.then_denied, c.allowed) {
                (None, true) if d.allowed => {}
                (Some(t), false) if !d.allowed && d.layer == t.layer && d.reason == t.reason => {}
                _ => {
                    return Err(say(format!(
                        "the hint `{}` is false: applied, the request is {d:?}",
                        c.hint
                    )))
                }
            }
        }
    }
    Ok(applied_count)
}

/// Every denied request of one world; the number of counterfactuals applied.
fn check_world(
    policy: &Policy,
    entities_json: &str,
    ask: impl Fn(Request, usize) -> Request,
) -> Result<usize, String> {
    let entities = policy
        .load_entities(entities_json)
        .map_err(|e| format!("the entities do not load: {e:?}"))?;
    let mut n = 0;
    for (i, req) in requests(policy, &entities).into_iter().enumerate() {
        // In the world's context, when its policy declares one.
        let req = ask(req, i);
        let trace = policy.explain(&entities, &req);
        if !trace.decision.allowed && trace.error.is_none() {
            n += check_trace(policy, entities_json, &req, &trace)?;
        }
    }
    Ok(n)
}

fn load_dir(dir: &Path) -> Policy {
    let mut sources = Sources::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("a policy directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "casepol"))
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("a policy file");
        sources.add(f.to_string_lossy().into_owned(), text);
    }
    match Policy::from_sources(sources) {
        Ok(p) => p,
        Err(e) => panic!("{}: {}", dir.display(), e.render()),
    }
}

#[test]
fn every_hint_on_the_shipped_examples_holds_when_applied() {
    let mut applied = 0;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("policies"))
        .expect("policies/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.join("entities.json").exists())
        .collect();
    dirs.sort();
    for dir in &dirs {
        let policy = load_dir(dir);
        let json = std::fs::read_to_string(dir.join("entities.json")).expect("entities");
        match check_world(&policy, &json, |r, _| r) {
            Ok(n) => applied += n,
            Err(e) => panic!("{}: {e}", dir.display()),
        }
    }
    eprintln!("{applied} counterfactuals applied on the examples");
    // The examples give hints of every kind: this test is not vacuous.
    assert!(applied > 100, "only {applied} counterfactuals applied");
}

#[test]
fn every_hint_on_generated_worlds_holds_when_applied() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 160,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let applied = std::cell::Cell::new(0usize);
    let result = runner.run(&gen::case(), |g| {
        let mut sources = Sources::new();
        for (name, text) in &g.files {
            sources.add(name.clone(), text.clone());
        }
        let policy = Policy::from_sources(sources).map_err(|e| {
            TestCaseError::fail(format!(
                "the generated policy does not check: {}",
                e.render()
            ))
        })?;
        let n =
            check_world(&policy, &g.entities, |r, i| g.ask(r, i)).map_err(TestCaseError::fail)?;
        applied.set(applied.get() + n);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "{} counterfactuals applied on generated worlds",
        applied.get()
    );
    assert!(applied.get() > 100, "only {} applied", applied.get());
    let on_resource = ON_THE_RESOURCE.with(Cell::get);
    eprintln!("{on_resource} of them hold a relation of a resource kind on the resource");
    assert!(
        on_resource > 0,
        "no hint held a relation of a resource kind"
    );
}

/// The case of the issue: an employee denied `access` through the Cases module. Joining
/// `SystemAdmins` passes the module layer but meets the `-access` for Administrator in the
/// table, and `explain` says so instead of promising an allow.
#[test]
fn a_hint_that_would_not_allow_says_what_then_denies() {
    let dir = root().join("policies/efob");
    let policy = load_dir(&dir);
    let json = std::fs::read_to_string(dir.join("entities.json")).expect("entities");
    let entities = policy.load_entities(&json).expect("loads");
    let req = Request::new("emma", "access", Some("case-start")).via("Cases");
    let trace = policy.explain(&entities, &req);
    let hints = &trace.layers.last().expect("layers").hints;
    assert!(
        hints.iter().any(|h| h.starts_with(
            "would pass the module layer if `emma` were in group `SystemAdmins` (role `Administrator`), then be denied by the table cell `-access`"
        )),
        "{hints:?}"
    );
    assert!(!hints
        .iter()
        .any(|h| h.starts_with("would be allowed") && h.contains("SystemAdmins")));
}
