//! `casepol diff`: every pair of policies under `tests/data/diff/` in every output format
//! (snapshots, with the exit code), and the cross-check against brute force: on generated
//! policies, a mutation of each, and a generated world, every user × resource × action whose
//! decision differs between the two versions is covered by a change that `diff` reports.
//!
//! The long run is the ignored test `cross_check_long_run` (docs/testing.md).

mod common;
use common::*;

// Only part of the generator is used here.
#[allow(dead_code)]
#[path = "differential/gen.rs"]
mod gen;

use casepol::internal::diff;
use casepol::internal::reference::Detail;
use casepol::internal::verify::{self, Verdict};
use casepol::{Entities, Policy, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::RefCell;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every pair directory of tests/data/diff, sorted: each holds `old.casepol` and
/// `new.casepol`.
fn pairs() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("tests/data/diff"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn every_pair_in_every_format() {
    let pairs = pairs();
    assert!(pairs.len() >= 5, "the pairs are missing: {pairs:?}");
    let version = format!("\"{}\"", env!("CARGO_PKG_VERSION"));
    for pair in &pairs {
        let old = format!("tests/data/diff/{pair}/old.casepol");
        let new = format!("tests/data/diff/{pair}/new.casepol");
        for format in ["human", "json", "sarif", "github"] {
            let run = casepol(&["diff", &old, &new, "--format", format]);
            insta::assert_snapshot!(
                format!("diff_{pair}_{format}"),
                run.transcript().replace(&version, "\"[version]\"")
            );
        }
        let sarif = casepol(&["diff", &old, &new, "--format", "sarif"]);
        assert_valid_sarif(&sarif.json());
        let grant = casepol(&["diff", &old, &new, "--fail-on", "grant"]);
        insta::assert_snapshot!(format!("diff_{pair}_fail_on_grant"), grant.transcript());
    }
}

/// `log` is valid SARIF 2.1.0 by the bundled OASIS schema (as tests/ci_output.rs checks).
fn assert_valid_sarif(log: &serde_json::Value) {
    let text = std::fs::read_to_string(root().join("tests/data/sarif/sarif-schema-2.1.0.json"))
        .expect("the bundled SARIF schema is readable");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let url = "file:///casepol/tests/data/sarif/sarif-schema-2.1.0.json";
    compiler
        .add_resource(url, schema)
        .expect("the schema loads");
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(url, &mut schemas)
        .expect("the schema compiles");
    if let Err(e) = schemas.validate(log, index) {
        panic!("SARIF does not match the schema: {e:#}\n{log:#}");
    }
}

/// The eFOB example against itself: nothing differs, exit 0; against the copy with one cell
/// changed, exactly that cell.
#[test]
fn efob_one_cell() {
    let same = casepol(&["diff", "policies/efob", "policies/efob"]);
    assert_eq!(same.code, OK, "{}", same.transcript());
    assert_eq!(same.stdout, "no decision differs\n");
    let run = casepol(&[
        "diff",
        "tests/data/diff/efob-cell/old.casepol",
        "tests/data/diff/efob-cell/new.casepol",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, FAIL);
    let json = run.json();
    let changes = json["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{json:#}");
    assert_eq!(changes[0]["holding"], serde_json::json!(["Manager"]));
    assert_eq!(changes[0]["action"], "access");
    assert_eq!(changes[0]["states"], serde_json::json!(["Review"]));
    assert_eq!(changes[0]["at"][0]["what"], "table cell Review × Manager");
    assert_eq!(changes[0]["at"][0]["line"], 72);
}

/// With the eFOB entities, the one cell is one user who gains one action on one case; entities
/// that the new version cannot load are an error.
#[test]
fn efob_one_cell_with_entities() {
    let old = "tests/data/diff/efob-cell/old.casepol";
    let new = "tests/data/diff/efob-cell/new.casepol";
    let entities = "policies/efob/entities.json";
    for format in ["human", "json"] {
        let run = casepol(&["diff", old, new, "--entities", entities, "--format", format]);
        insta::assert_snapshot!(
            format!("diff_efob-cell_entities_{format}"),
            run.transcript()
        );
    }
    let run = casepol(&[
        "diff",
        old,
        "tests/data/diff/efob-state-renamed/new.casepol",
        "--entities",
        entities,
    ]);
    assert_eq!(run.code, ERROR, "{}", run.transcript());
    assert!(run.stderr.contains("Review"), "{}", run.stderr);
}

#[test]
fn invalid_input_exits_2() {
    let run = casepol(&[
        "diff",
        "tests/data/cli/errors.casepol",
        "tests/data/diff/efob-cell/new.casepol",
    ]);
    assert_eq!(run.code, ERROR, "{}", run.transcript());
    let run = casepol(&["diff", "no/such/file.casepol", "policies/efob"]);
    assert_eq!(run.code, ERROR, "{}", run.transcript());
}

/// A revocation does not fail `--fail-on grant`; a grant does.
#[test]
fn fail_on_grant_only_when_access_widens() {
    let d = "tests/data/diff/deny-overrides-pair";
    let revoke = casepol(&[
        "diff",
        &format!("{d}/old.casepol"),
        &format!("{d}/new.casepol"),
        "--fail-on",
        "grant",
    ]);
    assert_eq!(revoke.code, OK, "{}", revoke.transcript());
    let widen = casepol(&[
        "diff",
        &format!("{d}/new.casepol"),
        &format!("{d}/old.casepol"),
        "--fail-on",
        "grant",
    ]);
    assert_eq!(widen.code, FAIL, "{}", widen.transcript());
}

// ---- the cross-check ------------------------------------------------------------------------

/// A change to a generated policy's text: which kind, and which occurrence (modulo).
#[derive(Debug, Clone)]
enum Mutation {
    /// `allow` ↔ `deny` of one rule statement.
    FlipRule(u8),
    /// `+` ↔ `-` of one table-cell entry.
    FlipCell(u8),
    /// Remove one rule statement.
    RemoveRule(u8),
    /// Add `allow`/`deny` SUBJECT: ACTION at the top level or in a case type.
    AddRule {
        deny: bool,
        subject: u8,
        action: u8,
        casetype: u8,
    },
    /// Replace the subjects of one rule by one other subject.
    Subjects { rule: u8, subject: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<u8>().prop_map(Mutation::FlipRule),
        any::<u8>().prop_map(Mutation::FlipCell),
        any::<u8>().prop_map(Mutation::RemoveRule),
        (any::<bool>(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(
            |(deny, subject, action, casetype)| Mutation::AddRule {
                deny,
                subject,
                action,
                casetype
            }
        ),
        (any::<u8>(), any::<u8>()).prop_map(|(rule, subject)| Mutation::Subjects { rule, subject }),
    ]
}

/// Byte ranges of the rule statements `allow …;` / `deny …;` of a policy text (not table
/// cells, transitions or grant lines), with the range of their subjects.
fn rules(text: &str) -> Vec<(usize, usize, usize, usize)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    for word in ["allow ", "deny "] {
        let mut from = 0;
        while let Some(i) = text[from..].find(word) {
            let at = from + i;
            from = at + word.len();
            let before = if at == 0 { b' ' } else { bytes[at - 1] };
            if !(before == b' ' || before == b'\n' || before == b'{' || before == b';') {
                continue;
            }
            let Some(end) = text[at..].find(';').map(|e| at + e + 1) else {
                continue;
            };
            let Some(colon) = text[at..end].find(':').map(|c| at + c) else {
                continue;
            };
            out.push((at, end, at + word.len(), colon));
        }
    }
    out.sort_unstable();
    out
}

/// The names of the subjects a policy declares: roles and relations.
fn subject_names(policy: &Policy) -> Vec<String> {
    let ir = policy.compiled().ir();
    ir.roles
        .iter()
        .map(|r| r.name.clone())
        .chain(ir.relations.iter().map(|r| r.name.clone()))
        .collect()
}

/// The mutated text, or `None` when the mutation does not apply to this policy.
fn mutate(text: &str, policy: &Policy, m: &Mutation) -> Option<String> {
    let ir = policy.compiled().ir();
    let pick = |n: usize, i: u8| (n > 0).then(|| i as usize % n);
    match *m {
        Mutation::FlipRule(i) => {
            let r = rules(text);
            let (at, ..) = r[pick(r.len(), i)?];
            let flipped = match text[at..].starts_with("allow") {
                true => format!("deny{}", &text[at + 5..]),
                false => format!("allow{}", &text[at + 4..]),
            };
            Some(format!("{}{flipped}", &text[..at]))
        }
        Mutation::FlipCell(i) => {
            // Entries `+a` / `-a` inside `table { … }` blocks.
            let mut entries = Vec::new();
            let mut from = 0;
            while let Some(t) = text[from..].find("table {") {
                let start = from + t;
                let end = text[start..]
                    .find("\n  }")
                    .map_or(text.len(), |e| start + e);
                for (j, c) in text[start..end].char_indices() {
                    if (c == '+' || c == '-')
                        && text[start + j + 1..].starts_with(|c: char| c.is_alphanumeric())
                    {
                        entries.push(start + j);
                    }
                }
                from = end;
            }
            let at = entries[pick(entries.len(), i)?];
            let sign = if &text[at..at + 1] == "+" { "-" } else { "+" };
            Some(format!("{}{sign}{}", &text[..at], &text[at + 1..]))
        }
        Mutation::RemoveRule(i) => {
            let r = rules(text);
            let (at, end, ..) = r[pick(r.len(), i)?];
            Some(format!("{}{}", &text[..at], &text[end..]))
        }
        Mutation::AddRule {
            deny,
            subject,
            action,
            casetype,
        } => {
            let subjects = subject_names(policy);
            let s = &subjects[pick(subjects.len(), subject)?];
            let a = &ir.actions[pick(ir.actions.len(), action)?].name;
            let rule = format!("{} {s}: {a};", if deny { "deny" } else { "allow" });
            // Relations only inside a case type (or the case kind); roles anywhere.
            let is_relation = ir.relations.iter().any(|r| &r.name == s);
            match pick(ir.casetypes.len() + 1, casetype)? {
                0 if !is_relation => Some(format!("{text}\n{rule}\n")),
                0 => None,
                t => {
                    let head = format!("casetype {} {{", ir.casetypes[t - 1].name);
                    let at = text.find(&head)? + head.len();
                    Some(format!("{}\n  {rule}{}", &text[..at], &text[at..]))
                }
            }
        }
        Mutation::Subjects { rule, subject } => {
            let r = rules(text);
            let (_, _, from, colon) = r[pick(r.len(), rule)?];
            let subjects = subject_names(policy);
            let s = &subjects[pick(subjects.len(), subject)?];
            Some(format!("{}{s}{}", &text[..from], &text[colon..]))
        }
    }
}

/// The effective subjects of the principal in a trace, without `everyone`.
fn effective(trace: &casepol::internal::reference::Trace) -> Vec<String> {
    for l in &trace.layers {
        if let Detail::Groups { subjects, .. } = &l.detail {
            return subjects
                .iter()
                .filter(|s| *s != "everyone")
                .cloned()
                .collect();
        }
    }
    Vec::new()
}

#[derive(Default, Debug)]
struct Stats {
    pairs: u64,
    skipped: u64,
    reported: u64,
    requests: u64,
    differing: u64,
    /// Pairs where brute force found a difference.
    pairs_differing: u64,
    /// Pairs where diff reported nothing at all.
    pairs_identical: u64,
    /// Requests decided alike whose user holds exactly a reported set at its place.
    exact: u64,
    /// Pairs whose world has a request only the new version allows, and pairs that
    /// `no_wider_than` refutes (each counterexample checked).
    wider_by_world: u64,
    wider_refuted: u64,
}

/// The requests of a world: every user × resource × action, through no module and each
/// module, to no target and each state of the resource's case type.
fn requests(policy: &Policy, entities: &Entities, g: &gen::Generated) -> Vec<Request> {
    let ir = policy.compiled().ir();
    let mut out = Vec::new();
    let mut i = 0;
    for u in entities.user_ids() {
        for r in entities.resource_ids() {
            let anchor = entities
                .resource(r)
                .and_then(|res| res.anchor)
                .map(|a| entities.resources()[a as usize].casetype as usize);
            let mut targets: Vec<Option<String>> = vec![None];
            if let Some(t) = anchor {
                targets.extend(ir.casetypes[t].states.iter().map(|s| Some(s.name.clone())));
            }
            for a in &ir.actions {
                let mut vias: Vec<Option<String>> = vec![None];
                vias.extend(ir.modules.iter().map(|m| Some(m.name.clone())));
                for via in &vias {
                    for target in &targets {
                        let mut req = Request::new(u, &a.name, Some(r));
                        req.module = via.clone();
                        req.target = target.clone();
                        out.push(g.ask(req, i));
                        i += 1;
                    }
                }
            }
        }
    }
    out
}

/// Whether change `c` is at the place of a request on a resource of `kind` in `place`.
fn report_place_matches(
    c: &diff::Change,
    kind: &str,
    place: Option<(&str, &str)>,
    req: &Request,
) -> bool {
    c.action == req.action
        && c.kinds.iter().any(|k| k == kind)
        && c.case_type.as_deref() == place.map(|p| p.0)
        && place.is_none_or(|p| c.states.iter().any(|s| s == p.1))
        && (c.any_module || c.module == req.module)
        && c.target == req.target
}

/// Decides every request of the world with both versions and checks each difference is
/// covered by the report.
fn cross_check(
    g: &gen::Generated,
    m: &Mutation,
    stats: &mut Stats,
    planted: Plant,
) -> Result<(), TestCaseError> {
    if g.over_limit.is_some() {
        stats.skipped += 1;
        return Ok(());
    }
    // A policy split over two files is one text here: declarations may come in any order.
    let name = "policy.casepol";
    let text: String = g
        .files
        .iter()
        .map(|(_, t)| t.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let text = &text;
    let Ok(old) = Policy::from_source(name, text) else {
        stats.skipped += 1;
        return Ok(());
    };
    let Some(mutated) = mutate(text, &old, m) else {
        stats.skipped += 1;
        return Ok(());
    };
    let Ok(new) = Policy::from_source(name, &mutated) else {
        stats.skipped += 1;
        return Ok(());
    };
    let (Ok(eo), Ok(en)) = (
        old.load_entities(&g.entities),
        new.load_entities(&g.entities),
    ) else {
        stats.skipped += 1;
        return Ok(());
    };
    stats.pairs += 1;
    let mut report = diff::diff(old.compiled(), new.compiled());
    match planted {
        Plant::None => {}
        // The report forgets every change that revokes.
        Plant::DropRevocations => report.changes.retain(|c| c.is_grant()),
        // The report gets the direction of every change wrong.
        Plant::FlipDirections => {
            for c in &mut report.changes {
                std::mem::swap(&mut c.from, &mut c.to);
            }
        }
    }
    if report.is_empty() {
        stats.pairs_identical += 1;
    }
    stats.reported += report.changes.len() as u64;
    // `no_wider_than` (docs/policy-tests.md §8) on the same pair: never proven when the world
    // has a request the new version allows and the old denies; its counterexample is one.
    let wider = verify::verify_no_wider(&new, &old);
    if let Verdict::Refuted(cx) = &wider {
        stats.wider_refuted += 1;
        let req: Request = serde_json::from_value(cx.request.clone()).unwrap();
        let n = new.load_entities(&cx.entities.to_string()).unwrap();
        prop_assert!(
            new.is_allowed(&n, &req).allowed,
            "no_wider_than's counterexample is denied by the new version: {}",
            cx.request
        );
        if let Ok(o) = old.load_entities(&cx.entities.to_string()) {
            prop_assert!(
                !old.is_allowed(&o, &req).allowed,
                "no_wider_than's counterexample is allowed by the old version: {}",
                cx.request
            );
        }
    }
    let ir = old.compiled().ir();
    let mut any = false;
    let mut widened = false;
    for req in requests(&old, &eo, g) {
        stats.requests += 1;
        let a = old.is_allowed(&eo, &req);
        let b = new.is_allowed(&en, &req);
        if b.allowed && !a.allowed && !widened {
            widened = true;
            stats.wider_by_world += 1;
            prop_assert!(
                !matches!(wider, Verdict::Proven { .. }),
                "verify proves the new version no wider than the old, but {} is allowed only by the new\n--- old\n{text}\n--- new\n{mutated}",
                serde_json::to_string(&req).unwrap()
            );
        }
        if a.allowed == b.allowed {
            // The other direction, where it can be checked: a user whose subjects are exactly
            // a reported set, at the change's place, for whom the version the change says
            // allows does allow, must be decided differently by the other version.
            let res = eo
                .resource(req.resource.as_deref().unwrap_or_default())
                .unwrap();
            let kind = &ir.kinds[res.kind.0 as usize].name;
            let place = res.anchor.map(|p| {
                let c = &eo.resources()[p as usize];
                let ct = &ir.casetypes[c.casetype as usize];
                (ct.name.clone(), ct.states[c.state as usize].name.clone())
            });
            let here: Vec<&diff::Change> = report
                .changes
                .iter()
                .filter(|c| {
                    c.when.is_empty()
                        && c.action == req.action
                        && c.kinds.contains(kind)
                        && c.case_type == place.as_ref().map(|p| p.0.clone())
                        && place.as_ref().is_none_or(|p| c.states.contains(&p.1))
                        && (c.any_module || c.module == req.module)
                        && c.target == req.target
                })
                .collect();
            if here.is_empty() {
                continue;
            }
            let subjects = effective(&old.explain(&eo, &req));
            for c in here {
                let mut holding = c.holding.clone();
                holding.sort();
                if holding == subjects {
                    stats.exact += 1;
                    let allows = if c.is_grant() { b.allowed } else { a.allowed };
                    prop_assert!(
                        !allows,
                        "diff reports a change for a user holding exactly {holding:?}, who is \
                         decided alike: {} for {}\nmutation {m:?}\n--- new\n{mutated}\n--- report\n{}",
                        a.allowed,
                        serde_json::to_string(&req).unwrap(),
                        report.text()
                    );
                }
            }
            continue;
        }
        any = true;
        stats.differing += 1;
        let mut subjects = effective(&old.explain(&eo, &req));
        subjects.extend(effective(&new.explain(&en, &req)));
        subjects.sort();
        subjects.dedup();
        let res = eo
            .resource(req.resource.as_deref().unwrap_or_default())
            .unwrap();
        let kind = &ir.kinds[res.kind.0 as usize].name;
        let place = res.anchor.map(|p| {
            let c = &eo.resources()[p as usize];
            let ct = &ir.casetypes[c.casetype as usize];
            (ct.name.as_str(), ct.states[c.state as usize].name.as_str())
        });
        let covered = report.covers(
            kind,
            place,
            &req.action,
            req.module.as_deref(),
            req.target.as_deref(),
            &subjects,
        );
        prop_assert!(
            covered,
            "a difference that diff does not report: {} → {} for {:?} holding {subjects:?}\n\
             mutation {m:?}\n--- new\n{mutated}\n--- report\n{}",
            a.allowed,
            b.allowed,
            serde_json::to_string(&req).unwrap(),
            report.text()
        );
        // A change for exactly these subjects at this place says which way it goes.
        for c in &report.changes {
            let mut holding = c.holding.clone();
            holding.sort();
            if holding == subjects
                && c.when.is_empty()
                && report_place_matches(c, kind, place, &req)
            {
                stats.exact += 1;
                prop_assert_eq!(
                    c.is_grant(),
                    b.allowed,
                    "diff reports the change for a user holding exactly {:?} the wrong way: {} → {} for {}\n--- report\n{}",
                    holding,
                    a.allowed,
                    b.allowed,
                    serde_json::to_string(&req).unwrap(),
                    report.text()
                );
            }
        }
    }
    if any {
        stats.pairs_differing += 1;
    }
    Ok(())
}

/// A bug planted in the report, to show that the cross-check finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plant {
    None,
    DropRevocations,
    FlipDirections,
}

fn run(cases: u32, seed: u64, planted: Plant) -> Result<Stats, String> {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: if planted == Plant::None { 1024 } else { 0 },
        ..Config::default()
    };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let stats = RefCell::new(Stats::default());
    let result = runner.run(&(gen::case(), mutation()), |(g, m)| {
        cross_check(&g, &m, &mut stats.borrow_mut(), planted)
    });
    match result {
        Ok(()) => Ok(stats.into_inner()),
        Err(e) => Err(format!("{e}")),
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn every_brute_force_difference_is_reported() {
    let cases = env_u64("CASEPOL_DIFF_CASES").unwrap_or(300) as u32;
    let seed = env_u64("CASEPOL_DIFF_SEED").unwrap_or(19);
    let stats = run(cases, seed, Plant::None).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{stats:?}");
    // The run reached what it checks: pairs that differ, differences, and pairs without one.
    assert!(stats.pairs >= cases as u64 / 2, "{stats:?}");
    assert!(
        stats.pairs_differing > 0 && stats.differing > 0,
        "{stats:?}"
    );
    assert!(stats.pairs_identical > 0, "{stats:?}");
    assert!(stats.exact > 0, "{stats:?}");
    assert!(
        stats.wider_by_world > 0 && stats.wider_refuted > 0,
        "{stats:?}"
    );
}

/// The check fails when the report forgets the revocations, and when it gets the direction
/// of its changes wrong.
#[test]
fn the_cross_check_catches_a_planted_bug() {
    let err = run(300, 19, Plant::DropRevocations).expect_err("the planted bug is found");
    assert!(
        err.contains("a difference that diff does not report"),
        "{err}"
    );
    let err = run(300, 19, Plant::FlipDirections).expect_err("the planted bug is found");
    assert!(err.contains("the wrong way"), "{err}");
}

#[test]
#[ignore]
fn cross_check_long_run() {
    let cases = env_u64("CASEPOL_DIFF_CASES").unwrap_or(12_500) as u32;
    let seed = env_u64("CASEPOL_DIFF_SEED").unwrap_or(1919);
    let start = std::time::Instant::now();
    let stats = run(cases, seed, Plant::None).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{stats:?} in {:?}", start.elapsed());
}
