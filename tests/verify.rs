//! Properties (`casepol verify`, and `casepol test` running them): every test file under
//! `tests/data/verify/` in human and JSON output (snapshots, with the exit code); every
//! counterexample fed to `casepol explain`, which must allow it; the shipped examples' properties
//! all proven; and the cross-check against brute force: on generated policies, properties and
//! worlds, `verify` never proves a property that deciding every user × resource × action of the
//! world refutes, and each counterexample it prints is allowed.
//!
//! The long run is the ignored test `cross_check_long_run` (docs/testing.md).

mod common;
use common::*;

// Only part of the generator is used here.
#[allow(dead_code)]
#[path = "differential/gen.rs"]
mod gen;

use casepol::internal::reference::Detail;
use casepol::internal::verify::{self, ClaimKind, PropertySpec, Verdict, Word};
use casepol::{Entities, Policy, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::RefCell;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every test file of tests/data/verify, sorted.
fn files() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("tests/data/verify"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".test.json"))
        .collect();
    out.sort();
    out
}

#[test]
fn every_file_in_every_format() {
    let files = files();
    assert!(files.len() >= 4, "the test files are missing: {files:?}");
    for f in &files {
        let path = format!("tests/data/verify/{f}");
        let name = f.trim_end_matches(".test.json");
        for format in ["human", "json"] {
            let run = casepol(&["verify", &path, "--format", format]);
            insta::assert_snapshot!(format!("verify_{name}_{format}"), run.transcript());
        }
    }
    // `test` runs the properties too, with the same exit code.
    let run = casepol(&["test", "tests/data/verify/false-property.test.json"]);
    insta::assert_snapshot!("verify_false_property_by_test", run.transcript());
    let run = casepol(&[
        "test",
        "tests/data/verify/false-property.test.json",
        "--format",
        "github",
    ]);
    insta::assert_snapshot!("verify_false_property_github", run.transcript());
}

/// Each counterexample `verify` prints is allowed by `casepol explain`, given as printed.
#[test]
fn explain_allows_every_counterexample() {
    let dir = std::env::temp_dir().join(format!("casepol-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut confirmed = 0;
    for f in files() {
        let run = casepol(&[
            "verify",
            &format!("tests/data/verify/{f}"),
            "--format",
            "json",
        ]);
        let out = run.json();
        for p in out["properties"].as_array().unwrap() {
            if p["verdict"] != "refuted" {
                continue;
            }
            let entities = dir.join(format!("{confirmed}.json"));
            std::fs::write(&entities, p["entities"].to_string()).unwrap();
            let request = p["request"].to_string();
            let policy = p["policy"].as_str().unwrap();
            let explain = casepol(&[
                "explain",
                policy,
                "--entities",
                entities.to_str().unwrap(),
                "--request",
                &request,
            ]);
            assert_eq!(explain.code, OK, "{}", explain.transcript());
            assert!(explain.stdout.starts_with("ALLOW"), "{}", explain.stdout);
            confirmed += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        confirmed >= 2,
        "only {confirmed} counterexamples were checked"
    );
}

/// The shipped examples carry properties, and `casepol test` proves every one.
#[test]
fn shipped_examples_are_proven() {
    let run = casepol(&["test", "policies", "--format", "json"]);
    assert_eq!(run.code, OK, "{}", run.transcript());
    let out = run.json();
    let counts = &out["properties"];
    assert_eq!(counts["refuted"], 0, "{counts}");
    assert_eq!(counts["unproven"], 0, "{counts}");
    assert!(counts["proven"].as_u64().unwrap() >= 11, "{counts}");
    for example in ["efob", "workzone", "torq"] {
        let file = out["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file"] == format!("policies/{example}/policy.test.json"))
            .unwrap_or_else(|| panic!("no test file for {example}"));
        assert!(
            !file["properties"].as_array().unwrap().is_empty(),
            "{example} carries no property"
        );
    }
}

// ---- the cross-check ---------------------------------------------------------------------------

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
    /// Generated policy/property pairs checked.
    pairs: u64,
    skipped: u64,
    proven: u64,
    refuted: u64,
    unproven: u64,
    /// Requests decided by brute force.
    requests: u64,
    /// Pairs the brute force refutes (a request in the domain allowed to a user the claim
    /// excludes).
    brute_refuted: u64,
    /// Counterexamples decided and found allowed.
    confirmed: u64,
}

/// What a generated property chooses, as indices into the policy's names.
#[derive(Debug, Clone)]
struct Pick {
    never: bool,
    subjects: Vec<u16>,
    actions: Option<Vec<u16>>,
    place: Option<(u16, Option<u16>)>,
    module: Option<u16>,
}

fn pick() -> impl Strategy<Value = Pick> {
    (
        any::<bool>(),
        prop::collection::vec(any::<u16>(), 1..=3),
        prop::option::weighted(0.7, prop::collection::vec(any::<u16>(), 1..=2)),
        prop::option::weighted(0.4, (any::<u16>(), prop::option::of(any::<u16>()))),
        prop::option::weighted(0.2, any::<u16>()),
    )
        .prop_map(|(never, subjects, actions, place, module)| Pick {
            never,
            subjects,
            actions,
            place,
            module,
        })
}

fn word(text: &str) -> Word {
    Word {
        text: text.to_string(),
        span: casepol::diagnostic::Span::default(),
    }
}

/// The property `pick` names in `policy`, or `None` when the policy lacks what it needs.
fn property(policy: &Policy, pick: &Pick) -> Option<(PropertySpec, Domain)> {
    let ir = policy.compiled().ir();
    let mut names: Vec<&str> = ir.roles.iter().map(|r| r.name.as_str()).collect();
    names.extend(ir.relations.iter().map(|r| r.name.as_str()));
    if names.is_empty() || ir.actions.is_empty() {
        return None;
    }
    let subjects: Vec<String> = pick
        .subjects
        .iter()
        .map(|i| names[*i as usize % names.len()].to_string())
        .collect();
    let actions: Option<Vec<String>> = pick.actions.as_ref().map(|a| {
        a.iter()
            .map(|i| ir.actions[*i as usize % ir.actions.len()].name.clone())
            .collect()
    });
    let place = match pick.place {
        Some((t, s)) if !ir.casetypes.is_empty() => {
            let ct = &ir.casetypes[t as usize % ir.casetypes.len()];
            let state = s
                .filter(|_| ct.workflow)
                .map(|s| ct.states[s as usize % ct.states.len()].name.clone());
            Some((ct.name.clone(), state))
        }
        _ => None,
    };
    let module = match pick.module {
        Some(m) if !ir.modules.is_empty() => {
            Some(ir.modules[m as usize % ir.modules.len()].name.clone())
        }
        _ => None,
    };
    let spec = PropertySpec {
        name: "generated".into(),
        span: word("").span,
        description: None,
        claim: if pick.never {
            ClaimKind::Never
        } else {
            ClaimKind::Only
        },
        subjects: subjects.iter().map(|s| word(s)).collect(),
        actions: actions.iter().flatten().map(|a| word(a)).collect(),
        places: place
            .iter()
            .map(|(t, s)| match s {
                Some(s) => word(&format!("{t} / {s}")),
                None => word(t),
            })
            .collect(),
        kinds: Vec::new(),
        modules: module.iter().map(|m| word(m)).collect(),
        modes: Vec::new(),
        wider_than: None,
    };
    let domain = Domain {
        never: pick.never,
        subjects,
        actions,
        place,
        module,
    };
    Some((spec, domain))
}

/// The property's domain and claim, read back by the brute force.
struct Domain {
    never: bool,
    subjects: Vec<String>,
    actions: Option<Vec<String>>,
    place: Option<(String, Option<String>)>,
    module: Option<String>,
}

impl Domain {
    /// Whether `req` on a resource anchored in `place` (case type, state) is in the domain.
    fn contains(&self, req: &Request, place: Option<(&str, &str)>) -> bool {
        self.actions
            .as_ref()
            .is_none_or(|a| a.contains(&req.action))
            && self
                .module
                .as_ref()
                .is_none_or(|m| req.module.as_ref() == Some(m))
            && self.place.as_ref().is_none_or(|(t, s)| {
                place.is_some_and(|(pt, ps)| pt == t && s.as_ref().is_none_or(|s| s == ps))
            })
    }

    /// Whether a user holding `holding` may not be allowed, by the claim.
    fn excludes(&self, holding: &[String]) -> bool {
        let meets = holding.iter().any(|h| self.subjects.contains(h));
        if self.never {
            meets
        } else {
            !meets
        }
    }
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
            if let Some(t) = anchor.filter(|t| ir.casetypes[*t].workflow) {
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

/// The case type and state a resource is anchored in, by name.
fn place_of<'a>(policy: &'a Policy, entities: &Entities, r: &str) -> Option<(&'a str, &'a str)> {
    let ir = policy.compiled().ir();
    let res = entities.resource(r)?;
    let anchor = &entities.resources()[res.anchor? as usize];
    let ct = &ir.casetypes[anchor.casetype as usize];
    Some((
        ct.name.as_str(),
        ct.states[anchor.state as usize].name.as_str(),
    ))
}

/// A bug planted in the verdict, to show that the cross-check finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plant {
    None,
    /// Every refutation reads as proven.
    RefutedIsProven,
}

fn cross_check(
    g: &gen::Generated,
    pick: &Pick,
    stats: &mut Stats,
    planted: Plant,
) -> Result<(), TestCaseError> {
    if g.over_limit.is_some() {
        stats.skipped += 1;
        return Ok(());
    }
    let text: String = g
        .files
        .iter()
        .map(|(_, t)| t.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let Ok(policy) = Policy::from_source("policy.casepol", &text) else {
        stats.skipped += 1;
        return Ok(());
    };
    let Ok(entities) = policy.load_entities(&g.entities) else {
        stats.skipped += 1;
        return Ok(());
    };
    let Some((spec, domain)) = property(&policy, pick) else {
        stats.skipped += 1;
        return Ok(());
    };
    let prop = verify::resolve(policy.compiled().ir(), &spec).map_err(|d| {
        TestCaseError::fail(format!("a generated property does not resolve: {d:?}"))
    })?;
    let mut verdict = verify::verify(&policy, &prop);
    stats.pairs += 1;
    if matches!(verdict, Verdict::Refuted(_)) && planted == Plant::RefutedIsProven {
        verdict = Verdict::Proven { points: 0 };
    }
    match &verdict {
        Verdict::Proven { .. } => stats.proven += 1,
        Verdict::Unproven { .. } => stats.unproven += 1,
        Verdict::Refuted(cx) => {
            stats.refuted += 1;
            // The counterexample is allowed, in the domain, to a user the claim excludes.
            let e = policy
                .load_entities(&cx.entities.to_string())
                .map_err(|e| {
                    TestCaseError::fail(format!(
                        "the counterexample's entities do not load: {e:?}\n{}",
                        cx.entities
                    ))
                })?;
            let req: Request = serde_json::from_value(cx.request.clone()).unwrap();
            let trace = policy.explain(&e, &req);
            prop_assert!(
                policy.is_allowed(&e, &req).allowed && trace.decision.allowed,
                "a counterexample that is denied: {} on {}\n--- policy\n{text}",
                cx.request,
                cx.entities
            );
            let r = req.resource.as_deref().unwrap_or_default();
            prop_assert!(
                domain.contains(&req, place_of(&policy, &e, r)),
                "a counterexample outside the property's domain: {}",
                cx.request
            );
            prop_assert!(
                domain.excludes(&effective(&trace)),
                "a counterexample whose user the claim allows: {} holding {:?}",
                cx.request,
                effective(&trace)
            );
            stats.confirmed += 1;
        }
    }
    // Brute force: decide every request of the world.
    let mut refuting: Option<Request> = None;
    for req in requests(&policy, &entities, g) {
        stats.requests += 1;
        let r = req.resource.as_deref().unwrap_or_default();
        if !domain.contains(&req, place_of(&policy, &entities, r)) {
            continue;
        }
        if !policy.is_allowed(&entities, &req).allowed {
            continue;
        }
        let trace = policy.explain(&entities, &req);
        if domain.excludes(&effective(&trace)) {
            refuting = Some(req);
            break;
        }
    }
    if let Some(req) = refuting {
        stats.brute_refuted += 1;
        prop_assert!(
            !matches!(verdict, Verdict::Proven { .. }),
            "verify proves a property that the world refutes: {} is allowed\n--- property\n{:?}\n--- policy\n{text}\n--- entities\n{}",
            serde_json::to_string(&req).unwrap(),
            domain_text(&domain),
            g.entities
        );
    }
    Ok(())
}

fn domain_text(d: &Domain) -> String {
    format!(
        "{} {:?} actions {:?} in {:?} module {:?}",
        if d.never { "never" } else { "only" },
        d.subjects,
        d.actions,
        d.place,
        d.module
    )
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
    let result = runner.run(&(gen::case(), pick()), |(g, p)| {
        cross_check(&g, &p, &mut stats.borrow_mut(), planted)
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
fn verify_never_proves_what_brute_force_refutes() {
    let cases = env_u64("CASEPOL_VERIFY_CASES").unwrap_or(300) as u32;
    let seed = env_u64("CASEPOL_VERIFY_SEED").unwrap_or(19);
    let stats = run(cases, seed, Plant::None).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{stats:?}");
    // The run reached every verdict, and worlds that refute.
    assert!(stats.pairs >= cases as u64 / 2, "{stats:?}");
    assert!(stats.proven > 0 && stats.refuted > 0, "{stats:?}");
    assert!(stats.brute_refuted > 0 && stats.confirmed > 0, "{stats:?}");
}

/// The check fails when "refuted" is read as "proven".
#[test]
fn the_cross_check_catches_a_planted_bug() {
    let err = run(300, 19, Plant::RefutedIsProven).expect_err("the planted bug is found");
    assert!(
        err.contains("verify proves a property that the world refutes"),
        "{err}"
    );
}

#[test]
#[ignore]
fn cross_check_long_run() {
    let cases = env_u64("CASEPOL_VERIFY_CASES").unwrap_or(12_500) as u32;
    let seed = env_u64("CASEPOL_VERIFY_SEED").unwrap_or(1919);
    let start = std::time::Instant::now();
    let stats = run(cases, seed, Plant::None).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{stats:?} in {:?}", start.elapsed());
}
