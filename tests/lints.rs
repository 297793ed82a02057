//! Lints, data-driven: every `tests/data/lint/*.casepol` fixture says on an `// expect:` line
//! which warning codes it must produce (or `nothing`), and its diagnostics are snapshotted as a
//! person sees them. Every lint code is shown by some fixture, and no lint fires on the shipped
//! policies under `policies/`.

use casepol::diagnostic::{render, Code, Diagnostic, Sources};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The path relative to the repository root, with `/` separators, for stable snapshots.
fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn read_sorted(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

/// Checks and lints one fixture file; it must check without errors.
fn diagnostics(path: &Path) -> (Sources, Vec<Diagnostic>) {
    let mut sources = Sources::new();
    sources.add(rel(path), std::fs::read_to_string(path).unwrap());
    let (ir, diags) = casepol::check_sources(&sources);
    assert!(
        ir.is_some(),
        "{} must check without errors:\n{}",
        rel(path),
        diags
            .iter()
            .map(|d| render::human(d, &sources, false))
            .collect::<String>()
    );
    (sources, diags)
}

/// The codes a fixture's `// expect:` line names; `nothing` is the empty set.
fn expected(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("// expect:"))
        .unwrap_or_else(|| panic!("{} has no `// expect:` line", rel(path)));
    let line = line.trim();
    if line == "nothing" {
        return BTreeSet::new();
    }
    line.split(',')
        .map(|c| {
            let code = Code::parse(c).unwrap_or_else(|| panic!("{}: unknown code {c}", rel(path)));
            code.as_str().to_string()
        })
        .collect()
}

fn fixture_files() -> Vec<PathBuf> {
    let files = read_sorted(&root().join("tests/data/lint"), "casepol");
    assert!(!files.is_empty(), "no lint fixtures found");
    files
}

#[test]
fn fixtures() {
    insta::glob!("data/lint/*.casepol", |path| {
        let (sources, diags) = diagnostics(path);
        let got: BTreeSet<String> = diags.iter().map(|d| d.code.as_str().to_string()).collect();
        assert_eq!(got, expected(path), "{}", rel(path));
        let human: String = diags
            .iter()
            .map(|d| render::human(d, &sources, false))
            .collect();
        let (_, _, text) = sources.iter().next().unwrap();
        insta::assert_snapshot!(format!("{text}\n==== diagnostics ====\n{human}"));
    });
}

#[test]
fn fixture_names_match_what_they_show() {
    for path in fixture_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let want = expected(&path);
        if let Some(rest) = name.strip_prefix("cp") {
            let code = format!("CP{}", &rest[..4]);
            assert!(want.contains(&code), "{name} must show {code}");
        } else {
            assert!(name.starts_with("ok_"), "{name}: name it cpNNNN_… or ok_…");
        }
    }
}

#[test]
fn every_lint_code_fires_on_some_fixture() {
    let mut fired: BTreeSet<Code> = BTreeSet::new();
    for path in fixture_files() {
        fired.extend(diagnostics(&path).1.iter().map(|d| d.code));
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| c.is_lint() && !fired.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "no fixture in tests/data/lint shows {missing:?}"
    );
}

#[test]
fn no_lint_fires_on_shipped_policies() {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root().join("policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert!(!dirs.is_empty());
    for dir in dirs {
        let mut sources = Sources::new();
        for f in read_sorted(&dir, "casepol") {
            sources.add(rel(&f), std::fs::read_to_string(&f).unwrap());
        }
        let (ir, diags) = casepol::check_sources(&sources);
        assert!(ir.is_some(), "{} must check", rel(&dir));
        let lints: String = diags
            .iter()
            .filter(|d| d.code.is_lint())
            .map(|d| render::human(d, &sources, false))
            .collect();
        assert!(lints.is_empty(), "{}:\n{lints}", rel(&dir));
    }
}

#[test]
fn examples_in_the_lint_docs_show_their_lint() {
    let text = std::fs::read_to_string(root().join("docs/lints.md")).unwrap();
    let (mut section, mut block, mut checked) = (None::<String>, None::<(usize, String)>, 0);
    for (i, line) in text.lines().enumerate() {
        if let Some(h) = line.strip_prefix("## CP") {
            section = Some(format!("CP{}", &h[..4]));
        }
        match &mut block {
            None if line.starts_with("```casepol") => block = Some((i + 1, String::new())),
            Some((start, body)) if line.starts_with("```") => {
                if !body.starts_with("// fragment") {
                    let code = section
                        .clone()
                        .expect("an example under a `## CPnnnn` heading");
                    let mut sources = Sources::new();
                    sources.add(format!("docs/lints.md:{start}"), body.as_str());
                    let (ir, diags) = casepol::check_sources(&sources);
                    assert!(ir.is_some(), "docs/lints.md:{start} must check");
                    assert!(
                        diags.iter().any(|d| d.code.as_str() == code),
                        "docs/lints.md:{start} should show {code}"
                    );
                    checked += 1;
                }
                block = None;
            }
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    assert!(checked >= 8, "only {checked} examples checked");
}

// ---- the lints' claims, checked against the evaluator ---------------------------------------

use casepol::ir::{Policy as Ir, Type};
use serde_json::{json, Value};

/// A small world for a policy: a user per group, per relation and one holding everything; a
/// case per (case type, state), one resource of every other kind under each resource of its
/// parent kind (or one, for a kind with no parent).
fn world(p: &Ir) -> Value {
    let mut users = vec![
        json!({"id": "u_all", "groups": p.groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>()}),
    ];
    users.extend(
        p.groups
            .iter()
            .enumerate()
            .map(|(i, g)| json!({"id": format!("u_g{i}"), "groups": [g.name]})),
    );
    users.extend((0..p.relations.len()).map(|i| json!({"id": format!("u_r{i}")})));
    let value = |ty: Type| match ty {
        Type::Str => json!("x"),
        Type::Bool => json!(false),
        Type::Int => json!(0),
        Type::SetStr => json!([]),
        Type::RefUser => json!("u_all"),
        Type::Enum(e) => json!(p.enums[e.idx()].variants[0]),
        Type::Ref(_) => panic!("the lint fixtures use no `ref Kind` attributes"),
    };
    for u in users.iter_mut() {
        let attrs: serde_json::Map<String, Value> = p
            .user_attrs
            .iter()
            .map(|a| (a.name.clone(), value(a.ty)))
            .collect();
        u["attrs"] = Value::Object(attrs);
    }
    let depth = |k: usize| {
        let (mut d, mut cur) = (0, p.kinds[k].parent);
        while let Some(c) = cur {
            d += 1;
            cur = p.kinds[c.idx()].parent;
        }
        d
    };
    let mut kinds: Vec<usize> = (0..p.kinds.len()).collect();
    kinds.sort_by_key(|&k| depth(k));
    // (id, kind) of every resource made so far.
    let mut made: Vec<(String, usize)> = Vec::new();
    let mut resources = Vec::new();
    for k in kinds {
        let kind = &p.kinds[k];
        let attrs: serde_json::Map<String, Value> = kind
            .attrs
            .iter()
            .map(|a| (a.name.clone(), value(a.ty)))
            .collect();
        let mut new = Vec::new();
        if kind.is_case {
            for ct in &p.casetypes {
                for s in &ct.states {
                    let id = format!("{}_{}_{}", kind.name, ct.name, s.name);
                    let relations: serde_json::Map<String, Value> = p
                        .relations
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (r.name.clone(), json!([format!("u_r{i}"), "u_all"])))
                        .collect();
                    resources.push(json!({"id": id, "kind": kind.name, "type": ct.name,
                        "state": s.name, "attrs": attrs, "relations": relations}));
                    new.push(id);
                }
            }
        } else if let Some(parent) = kind.parent {
            for (pid, _) in made.iter().filter(|(_, pk)| *pk == parent.idx()) {
                let id = format!("{}_in_{pid}", kind.name);
                resources.push(json!({"id": id, "kind": kind.name, "parent": pid, "attrs": attrs}));
                new.push(id);
            }
        } else {
            let id = kind.name.clone();
            resources.push(json!({"id": id, "kind": kind.name, "attrs": attrs}));
            new.push(id);
        }
        made.extend(new.into_iter().map(|id| (id, k)));
    }
    json!({"users": users, "resources": resources})
}

/// Every decision over the world: each user, action, resource, and module (or none).
fn decisions(ir: Ir, sources: &Sources, world: &Value) -> Vec<(String, casepol::Decision)> {
    let compiled = casepol::compile::compile(ir, sources.clone());
    let entities = casepol::Entities::from_json(&compiled, &world.to_string())
        .unwrap_or_else(|e| panic!("generated entities do not load: {e:?}"));
    let p = compiled.ir();
    let mut modules: Vec<Option<&str>> = vec![None];
    modules.extend(p.modules.iter().map(|m| Some(m.name.as_str())));
    let mut out = Vec::new();
    for u in world["users"].as_array().unwrap() {
        for r in world["resources"].as_array().unwrap() {
            for a in &p.actions {
                for m in &modules {
                    let mut req =
                        casepol::Request::new(u["id"].as_str().unwrap(), &a.name, r["id"].as_str());
                    req.module = m.map(str::to_string);
                    let resolved = casepol::request::resolve(&compiled, &entities, &req)
                        .unwrap_or_else(|e| panic!("{req:?}: {e:?}"));
                    let d = casepol::vm::decide(&compiled, &entities, &resolved);
                    out.push((format!("{req:?}"), d));
                }
            }
        }
    }
    out
}

/// The rule (data rule, or module grant line) a diagnostic's primary span points at, removed.
fn without(ir: &Ir, span: casepol::diagnostic::Span) -> Option<Ir> {
    let mut edited = ir.clone();
    if let Some(i) = ir.rules.iter().position(|r| r.span == span) {
        edited.rules.remove(i);
        return Some(edited);
    }
    for ct in edited.casetypes.iter_mut() {
        if let Some(i) = ct.module_grants.iter().position(|g| g.span == span) {
            ct.module_grants.remove(i);
            return Some(edited);
        }
    }
    None
}

#[test]
fn removing_a_shadowed_or_always_denied_rule_changes_no_decision() {
    let (mut removed, mut changed_when_not_reported) = (0, 0);
    for path in fixture_files() {
        let (sources, diags) = diagnostics(&path);
        let ir = casepol::check_sources(&sources).0.unwrap();
        let world = world(&ir);
        let before = decisions(ir.clone(), &sources, &world);
        let reported: Vec<_> = diags
            .iter()
            .filter(|d| matches!(d.code, Code::ShadowedRule | Code::AllowAlwaysDenied))
            .map(|d| d.span())
            .collect();
        for span in &reported {
            let edited = without(&ir, *span)
                .unwrap_or_else(|| panic!("{}: no rule at {span:?}", rel(&path)));
            let after = decisions(edited, &sources, &world);
            for (b, a) in before.iter().zip(&after) {
                assert_eq!(
                    b,
                    a,
                    "{}: removing the rule at {span:?} changed",
                    rel(&path)
                );
            }
            removed += 1;
        }
        // The world is rich enough to notice a rule that does matter.
        for r in ir.rules.iter().filter(|r| !reported.contains(&r.span)) {
            let after = decisions(without(&ir, r.span).unwrap(), &sources, &world);
            if before != after {
                changed_when_not_reported += 1;
            }
        }
    }
    assert!(removed >= 8, "only {removed} reported rules were tried");
    assert!(
        changed_when_not_reported > 20,
        "{changed_when_not_reported}"
    );
}
