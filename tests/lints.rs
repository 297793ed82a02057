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
    let (ir, diags) = casepol::internal::check_sources(&sources);
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
        let (ir, diags) = casepol::internal::check_sources(&sources);
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
                    let (ir, diags) = casepol::internal::check_sources(&sources);
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

use casepol::internal::ir::{Policy as Ir, Type};
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
        Type::DateTime => json!("2026-01-01T00:00:00Z"),
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
                    let mut case = json!({"id": id, "kind": kind.name, "type": ct.name,
                        "attrs": attrs, "relations": relations});
                    // A case of a type without workflow has no state to give.
                    if ct.workflow {
                        case["state"] = json!(s.name);
                    }
                    resources.push(case);
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
    let compiled = casepol::internal::compile::compile(ir, sources.clone());
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
                    let resolved = casepol::internal::resolve::resolve(&compiled, &entities, &req)
                        .unwrap_or_else(|e| panic!("{req:?}: {e:?}"));
                    let d = casepol::internal::vm::decide(&compiled, &entities, &resolved);
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
        let ir = casepol::internal::check_sources(&sources).0.unwrap();
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

// ---- the fast lints against a literal reading (issue 11, finding 6) ---------------------------

#[path = "lints/brute.rs"]
mod brute;

#[path = "differential/gen.rs"]
#[allow(dead_code)]
mod gen;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::collections::BTreeMap;

/// Checks `files` and, if they check, compares the lints with the literal reading; counts the
/// codes seen.
fn same_as_brute_force(
    files: &[(String, String)],
    seen: &mut BTreeMap<&'static str, usize>,
) -> Result<(), TestCaseError> {
    let mut sources = Sources::new();
    for (name, text) in files {
        sources.add(name.clone(), text.clone());
    }
    let (ir, _) = casepol::internal::check_sources(&sources);
    let Some(ir) = ir else {
        return Ok(());
    };
    let fast = casepol::internal::lint::lint(&ir);
    let slow = brute::lint(&ir);
    for d in &slow {
        *seen.entry(d.code.as_str()).or_default() += 1;
    }
    if fast != slow {
        let show = |ds: &[Diagnostic]| {
            ds.iter()
                .map(|d| render::human(d, &sources, false))
                .collect::<String>()
        };
        return Err(TestCaseError::fail(format!(
            "the lints differ from the literal reading\n--- fast:\n{}--- literal:\n{}",
            show(&fast),
            show(&slow)
        )));
    }
    Ok(())
}

fn run_cases<S: Strategy>(
    strategy: S,
    cases: u32,
    seed: u64,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    if let Err(e) = runner.run(&strategy, check) {
        panic!("seed {seed}: {e}");
    }
}

/// The policies of the differential tests: every feature of the language, small.
#[test]
fn lints_match_the_literal_reading_on_generated_policies() {
    let seen = std::cell::RefCell::new(BTreeMap::new());
    run_cases(gen::case(), 1500, 11, |g| {
        same_as_brute_force(&g.files, &mut seen.borrow_mut())
    });
    let seen = seen.into_inner();
    for code in ["CP0203", "CP0204", "CP0205", "CP0206", "CP0207"] {
        assert!(
            seen.get(code).copied().unwrap_or(0) >= 20,
            "{code} too rare: {seen:?}"
        );
    }
}

/// Policies made to overlap: few subjects and actions, many rules in every place (top level,
/// kinds with and without an anchor, case types and their states, tables, module grants), and
/// groups that may have full access. Small worlds make the corner cases common: one kind, one
/// case type, no kind with an anchor.
fn dense_policy() -> impl Strategy<Value = String> {
    // (deny, place: top / kind / case type, subjects, actions, `in` states, which kind or type)
    let rule = (
        any::<bool>(),
        0u8..3,
        1u8..8,
        1u8..16,
        prop::collection::vec(0u8..4, 0..=2),
        0u8..8,
    );
    (
        (
            any::<bool>(),
            prop::collection::vec((0u8..4, 0u8..3), 0..=3),
        ),
        prop::collection::vec((1u8..=3, prop::collection::vec(0u8..4, 0..=3)), 1..=2),
        prop::collection::vec(rule, 0..=14),
        prop::collection::vec((0u8..4, 1u8..8, 1u8..16), 0..=4),
        prop::collection::vec((0u8..8, 0u8..4, any::<bool>()), 1..=4),
        0u8..3,
    )
        .prop_map(
            |((has_case, kind_spec), cts, rules, grants, groups, admin)| {
                const ROLES: [&str; 3] = ["R0", "R1", "R2"];
                const ACTIONS: [&str; 4] = ["a0", "a1", "a2", "a3"];
                // The names a mask picks (at least the first).
                let pick = |mask: u8, names: &[&str]| -> String {
                    let v: Vec<&str> = names
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << i) != 0)
                        .map(|(_, n)| *n)
                        .collect();
                    if v.is_empty() {
                        names[0].to_string()
                    } else {
                        v.join(", ")
                    }
                };
                let acts = |mask: u8, names: &[&str]| {
                    if mask == 15 {
                        "*".to_string()
                    } else {
                        pick(mask, names)
                    }
                };
                // Kinds: the case kind first if any, then resources under it, under each other,
                // or under nothing (parent 0: none, 1: the case kind, 2: the kind before).
                let mut kinds: Vec<(String, Option<String>)> = Vec::new();
                if has_case {
                    kinds.push(("Case".into(), None));
                }
                for (i, &(_, parent)) in kind_spec.iter().enumerate() {
                    let parent = match parent {
                        1 if has_case => Some("Case".to_string()),
                        2 if !kinds.is_empty() => Some(kinds[kinds.len() - 1].0.clone()),
                        _ => None,
                    };
                    kinds.push((format!("K{i}"), parent));
                }
                let mut top = String::new();
                let mut kind_rules = vec![String::new(); kinds.len()];
                let mut ct_rules = vec![String::new(); cts.len()];
                // With `admin` 1, `R0` may do everything; with 2, `R0` may do everything in the case
                // types and `R1` in every kind (so only the two together have full access). Then
                // denies name only `R2`, and groups that grant them are admin-like (CP0208, CP0209)
                // unless a module grant or a scope stands in the way.
                match admin {
                    1 => top.push_str("allow R0: *;\n"),
                    2 => {
                        kind_rules
                            .iter_mut()
                            .for_each(|k| k.push_str(" allow R1: *;"));
                        ct_rules
                            .iter_mut()
                            .for_each(|c| c.push_str("\n  allow R0: *;"));
                    }
                    _ => {}
                }
                let admin = admin > 0;
                for (deny, place, subj, a, states, which) in &rules {
                    let effect = if *deny { "deny" } else { "allow" };
                    let subj = if admin && *deny { 4 } else { *subj };
                    let head = format!("{effect} {}: {}", pick(subj, &ROLES), acts(*a, &ACTIONS));
                    match place {
                        0 => top.push_str(&format!("{head};\n")),
                        1 if !kinds.is_empty() => {
                            kind_rules[*which as usize % kinds.len()].push_str(&format!(" {head};"))
                        }
                        _ => {
                            let t = *which as usize % cts.len();
                            let n = cts[t].0;
                            let st: Vec<String> =
                                states.iter().map(|x| format!("S{}", x % n)).collect();
                            let st = if st.is_empty() {
                                String::new()
                            } else {
                                format!(" in {}", st.join(", "))
                            };
                            ct_rules[t].push_str(&format!("\n  {head}{st};"));
                        }
                    }
                }
                let mut s = String::from(
                    "role R0, R1, R2;\naction a0, a1, a2, a3;\nmodule M { actions a0, a1, a2; }\n",
                );
                for (g, &(roles, parent, scoped)) in groups.iter().enumerate() {
                    let parent = if g > 0 && parent % 2 == 1 {
                        format!(" in G{}", parent as usize % g)
                    } else {
                        String::new()
                    };
                    let grants = if roles == 0 {
                        String::new()
                    } else {
                        format!(" grants {};", pick(roles, &ROLES))
                    };
                    let scope = if scoped && has_case {
                        " scope assigned via rel;"
                    } else {
                        ""
                    };
                    s.push_str(&format!("group G{g}{parent} {{{grants}{scope} }}\n"));
                }
                for (k, (name, parent)) in kinds.iter().enumerate() {
                    let body = &kind_rules[k];
                    match (name.as_str(), parent) {
                        ("Case", _) => {
                            s.push_str(&format!("case Case {{ relation rel;{body} }}\n"))
                        }
                        (_, Some(p)) => {
                            s.push_str(&format!("resource {name} under {p} {{{body} }}\n"))
                        }
                        (_, None) => s.push_str(&format!("resource {name} {{{body} }}\n")),
                    }
                }
                s.push_str(&top);
                for (t, (n, cells)) in cts.iter().enumerate() {
                    let states: Vec<String> = (0..*n).map(|i| format!("S{i}")).collect();
                    s.push_str(&format!(
                        "casetype T{t} {{\n  states {};\n  initial S0;\n  final S{};",
                        states.join(", "),
                        n - 1
                    ));
                    for i in 1..*n {
                        s.push_str(&format!(
                            "\n  transition a3: S{} -> S{i} by R{};",
                            i - 1,
                            i % 3
                        ));
                    }
                    let mut lines: Vec<String> = grants
                        .iter()
                        .filter(|g| g.0 as usize % cts.len() == t)
                        .map(|(_, subj, a)| {
                            format!(
                                "\n    {}: {};",
                                pick(*subj, &ROLES),
                                acts(*a & 7, &ACTIONS[..3])
                            )
                        })
                        .collect();
                    if admin && !lines.is_empty() && t % 2 == 0 {
                        lines.push("\n    R0: *;".to_string());
                        lines.push("\n    R1: *;".to_string());
                    }
                    if !lines.is_empty() {
                        s.push_str(&format!("\n  module M {{{}\n  }}", lines.concat()));
                    }
                    s.push_str(&ct_rules[t]);
                    if !cells.is_empty() {
                        s.push_str("\n  table {\n       | R0 | R1");
                        let cell = |x: u8| match x % 4 {
                            0 => ".",
                            1 => "+a0",
                            2 => "-a0 +a1",
                            _ => "+*",
                        };
                        for (i, c) in cells.iter().enumerate().take(*n as usize) {
                            s.push_str(&format!("\n    S{i} | {} | {}", cell(*c), cell(3 - *c)));
                        }
                        s.push_str("\n  }");
                    }
                    s.push_str("\n}\n");
                }
                s
            },
        )
}

#[test]
fn lints_match_the_literal_reading_on_dense_policies() {
    let seen = std::cell::RefCell::new(BTreeMap::new());
    let checked = std::cell::Cell::new(0);
    run_cases(dense_policy(), 1500, 12, |text| {
        let files = vec![("dense.casepol".to_string(), text)];
        let mut sources = Sources::new();
        sources.add("dense.casepol", files[0].1.clone());
        if casepol::internal::check_sources(&sources).0.is_some() {
            checked.set(checked.get() + 1);
        }
        same_as_brute_force(&files, &mut seen.borrow_mut())
    });
    let seen = seen.into_inner();
    assert!(
        checked.get() >= 1000,
        "only {} generated policies check",
        checked.get()
    );
    for code in [
        "CP0203", "CP0204", "CP0205", "CP0207", "CP0208", "CP0209", "CP0210",
    ] {
        assert!(
            seen.get(code).copied().unwrap_or(0) >= 20,
            "{code} too rare: {seen:?}"
        );
    }
}

// ---- cost: the worst cases at the limits just run (issue 11, finding 6) -----------------------

/// Checks and lints `text`, which must check; returns how many diagnostics of each code.
fn lint_counts(text: &str) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for d in &lint_all(text) {
        *counts.entry(d.code.as_str()).or_default() += 1;
    }
    counts
}

/// Every warning of the checker and the lints, before `check_sources` keeps the first 500 of
/// each code: these tests count them all.
fn lint_all(text: &str) -> Vec<Diagnostic> {
    let mut sources = Sources::new();
    sources.add("big.casepol", text);
    let (ir, diags) = casepol::internal::check_sources(&sources);
    let Some(ir) = ir else {
        panic!(
            "{}",
            diags
                .first()
                .map(|d| render::human(d, &sources, false))
                .unwrap_or_default()
        )
    };
    let linted = casepol::internal::lint::lint(&ir);
    let mut all: Vec<Diagnostic> = diags
        .into_iter()
        .filter(|d| !linted.iter().any(|l| l.code == d.code))
        .collect();
    all.extend(linted);
    all
}

/// The issue's case at the action limit: every rule allows `*` of 256 actions, thousands of
/// times over, and as many denies override as many allows. Each lint once compared every pair
/// of rules and, for each, every pair of actions (minutes for 1,000 rules); now a repeated rule
/// costs one step.
#[test]
fn many_identical_rules_over_every_action_lint_in_linear_time() {
    let n = 2_000;
    let actions: Vec<String> = (0..casepol::limits::MAX_ACTIONS)
        .map(|i| format!("a{i}"))
        .collect();
    let mut text = format!(
        "role R, S;\naction {};\ngroup G {{ grants R; }}\ngroup H {{ grants S; }}\nresource Note {{ }}\n",
        actions.join(", ")
    );
    for _ in 0..n {
        text.push_str("allow R: *;\n");
    }
    for _ in 0..n {
        text.push_str("allow S: a0;\ndeny S: a0;\n");
    }
    let diags = lint_all(&text);
    let count = |code: &str| diags.iter().filter(|d| d.code.as_str() == code).count();
    // Every repeat of `allow R: *;` is shadowed by the first; every `allow S: a0;` is always
    // denied (and so not also reported as shadowed); each repeated deny is shadowed.
    assert_eq!(count("CP0203"), 2 * n - 2);
    assert_eq!(count("CP0204"), n);
    // Each allow is overridden by 2,000 denies: the first 8 are marked, and the help says so.
    let first = diags
        .iter()
        .find(|d| d.code == Code::AllowAlwaysDenied)
        .unwrap();
    assert_eq!(
        first.labels.len(),
        1 + casepol::internal::lint::MAX_MARKED_DENIES
    );
    assert!(first
        .help
        .as_deref()
        .unwrap_or("")
        .ends_with("(the first 8 of the denies that override it are marked)"));
}

/// Many kinds under the case kind times many states: the situations number 25,000,000, which the
/// lints once listed, and held as a bit set per rule (3 MB for each of the 10,000 rules). Regions
/// are now in closed form.
#[test]
fn many_kinds_times_many_states_lint_in_linear_time() {
    let (kinds, states) = (5_000, 5_000);
    let mut text = String::from("role R, S;\naction view;\ngroup G { grants R; }\ncase Case { }\n");
    for k in 0..kinds {
        text.push_str(&format!("resource K{k} under Case {{ allow S: view; }}\n"));
    }
    let names: Vec<String> = (0..states).map(|s| format!("S{s}")).collect();
    text.push_str(&format!(
        "casetype T {{\n  states {};\n  initial S0;\n  final S{};\n",
        names.join(", "),
        states - 1
    ));
    for s in 1..states {
        text.push_str(&format!("  transition view: S{} -> S{s} by R;\n", s - 1));
    }
    text.push_str("  allow R: view in S1, S2;\n  deny S: view;\n}\nallow R: view;\n");
    let counts = lint_counts(&text);
    // The case type's `allow R: view in …` is shadowed by the top-level rule, and the top-level
    // rule by nothing; every kind's `allow S` is overridden by the case type's deny.
    assert_eq!(counts.get("CP0204"), Some(&kinds), "{counts:?}");
    assert_eq!(counts.get("CP0203"), Some(&1), "{counts:?}");
}

/// docs/lints.md names each code by the title `explain-code`, SARIF and docs/errors.md give it:
/// in its heading and in the table (CP0203 had two titles once).
#[test]
fn lint_doc_titles_are_the_codes_titles() {
    use casepol::diagnostic::Code;
    let text = std::fs::read_to_string(root().join("docs/lints.md")).unwrap();
    let mut seen = 0;
    for line in text.lines() {
        let (id, title) = if let Some(h) = line.strip_prefix("## ") {
            match h.split_once(": ") {
                Some(pair) if h.starts_with("CP") => pair,
                _ => continue,
            }
        } else if let Some(row) = line.strip_prefix("| [CP") {
            let cells: Vec<&str> = row.split(" | ").collect();
            (&row[..4], cells[1])
        } else {
            continue;
        };
        let id = if id.starts_with("CP") {
            id.to_string()
        } else {
            format!("CP{id}")
        };
        let code = Code::parse(&id).unwrap_or_else(|| panic!("unknown code {id}"));
        assert_eq!(title, code.title(), "docs/lints.md: {line}");
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} titles read");
}
