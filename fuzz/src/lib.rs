//! What each fuzz target does with its input, kept apart from libFuzzer so that
//! `tests/fuzz_regressions.rs` runs saved crash inputs through exactly the same code.
//!
//! Every function here takes arbitrary bytes and must return normally: a panic, a hang or a
//! memory blow-up is a finding. Bytes become text with `String::from_utf8_lossy`, so invalid
//! UTF-8 still reaches the parser as replacement characters (multi-byte text tests the span
//! arithmetic). The only deliberate panic is [`assert_agree`]: the compiled evaluator and the
//! reference evaluator must give the same decision, layer and reason.

use casepol::diagnostic::{render, Diagnostic, Sources};
use casepol::{Entities, Policy, Request};
use std::sync::OnceLock;

/// Separates the parts of an input that holds several texts (files, or policy / entities /
/// requests). A NUL byte never occurs in a policy or in JSON text, so seeds stay readable.
pub const SEPARATOR: u8 = 0;

/// The most policy files one `check` input is split into.
const MAX_FILES: usize = 4;
/// The most request lines one `end_to_end` input is decided for.
const MAX_REQUEST_LINES: usize = 16;
/// The most requests made up from the loaded entities (user × action × resource × module, and
/// user × permission) for each input: enough to compare the evaluators on every combination of a
/// small input, few enough to keep thousands of runs a second.
const MAX_GENERATED_REQUESTS: usize = 256;

/// `parse`: bytes → `casepol::internal::syntax::parse`. The AST and diagnostics are discarded; only
/// returning matters.
pub fn parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut sources = Sources::new();
    let file = sources.add("fuzz.casepol", text.as_ref());
    let (_ast, diags) = casepol::internal::syntax::parse(file, &text);
    // Syntax errors point into the text: their spans must render.
    render_all(&diags, &sources);
}

/// `check`: bytes, split at NUL into up to four files → `check_sources`, then every
/// diagnostic rendered as text, JSON, a GitHub annotation and SARIF.
pub fn check(data: &[u8]) {
    let sources = split_sources(data);
    let (_ir, diags) = casepol::internal::check_sources(&sources);
    render_all(&diags, &sources);
}

/// `entities`: the bytes are tried as an entities file for a fixed policy
/// (`tests/data/entities/policy.casepol`) and as a request against fixed entities
/// (`tests/data/entities/ok/every_feature.json`). Entities that load are decided on with both
/// evaluators; a request that parses is resolved and decided with both.
pub fn entities(data: &[u8]) {
    let (policy, fixed) = fixed_policy();
    let text = String::from_utf8_lossy(data);
    match policy.load_entities(&text) {
        Ok(loaded) => decide_generated(policy, &loaded),
        Err(errors) => {
            for e in &errors {
                std::hint::black_box(e.to_string());
                std::hint::black_box(serde_json::to_string(e).ok());
            }
        }
    }
    if let Ok(request) = serde_json::from_str::<Request>(&text) {
        if let Err(e) = policy.resolve(fixed, &request) {
            std::hint::black_box(e.to_string());
        }
        // Resolved or not, both evaluators decide (an unresolvable request is an error deny).
        decide(policy, fixed, &request);
    }
}

/// `end_to_end`: `policy NUL entities NUL requests` (requests one JSON object a line) → parse →
/// check → compile → load → decide with the VM and the reference evaluator, explain as text, and
/// the disassembly. The two evaluators must agree on every request given and on every request
/// made up from the entities. A policy part of `@name` stands for a shipped policy (`SHIPPED`).
pub fn end_to_end(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == SEPARATOR);
    let policy_text = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let entities_text = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let requests_text = String::from_utf8_lossy(parts.next().unwrap_or_default());

    let compiled;
    let policy = match shipped_policy(&policy_text) {
        Some(p) => p,
        None => match Policy::from_source("fuzz.casepol", &policy_text) {
            Ok(p) => {
                render_all(p.warnings(), p.compiled().sources());
                std::hint::black_box(p.compiled().to_string());
                compiled = p;
                &compiled
            }
            Err(e) => {
                std::hint::black_box(e.render());
                return;
            }
        },
    };
    let entities = match policy.load_entities(&entities_text) {
        Ok(e) => e,
        Err(errors) => {
            for e in &errors {
                std::hint::black_box(e.to_string());
            }
            return;
        }
    };
    for line in requests_text.lines().take(MAX_REQUEST_LINES) {
        if let Ok(request) = serde_json::from_str::<Request>(line) {
            decide(policy, &entities, &request);
        }
    }
    decide_generated(policy, &entities);
}

/// The shipped policies an `end_to_end` input can name instead of giving a policy text, as
/// `@name` (the whole policy part): the fuzzer then spends its time on entities and requests
/// for a rich, valid policy rather than on getting a policy past the checker.
const SHIPPED: [(&str, &str); 7] = [
    (
        "@combined",
        include_str!("../../policies/combined/policy.casepol"),
    ),
    ("@efob", include_str!("../../policies/efob/policy.casepol")),
    (
        "@tensorcase",
        include_str!("../../policies/tensorcase/policy.casepol"),
    ),
    ("@torq", include_str!("../../policies/torq/policy.casepol")),
    (
        "@workzone",
        include_str!("../../policies/workzone/policy.casepol"),
    ),
    (
        "@entities",
        include_str!("../../tests/data/entities/policy.casepol"),
    ),
    ("@cli", include_str!("../../tests/data/cli/policy.casepol")),
];

/// The shipped policy `text` names (`@efob`, …), compiled once.
fn shipped_policy(text: &str) -> Option<&'static Policy> {
    static COMPILED: OnceLock<Vec<Policy>> = OnceLock::new();
    let i = SHIPPED.iter().position(|(name, _)| *name == text.trim())?;
    let all = COMPILED.get_or_init(|| {
        SHIPPED
            .iter()
            .map(|(name, source)| {
                Policy::from_source(&name[1..], source)
                    .unwrap_or_else(|e| panic!("shipped policy {name} must check:\n{e}"))
            })
            .collect()
    });
    all.get(i)
}

/// Decides one request with both evaluators, checks they agree and that the indexed scan
/// `explain` uses records the same trace as the reference scanning every rule, and renders the
/// explanation (with its verified hints, which decide again).
fn decide(policy: &Policy, entities: &Entities, request: &Request) {
    use casepol::internal::reference;
    let vm = policy.is_allowed(entities, request);
    let trace = policy.explain(entities, request);
    let literal = reference::evaluate(policy.compiled(), entities, request);
    let indexed = reference::evaluate_with(
        policy.compiled(),
        entities,
        request,
        reference::Scan::Indexed,
    );
    assert!(
        indexed == literal,
        "the indexed trace differs from the literal one on {request:?}"
    );
    assert_eq!(
        trace.decision, literal.decision,
        "explain decided otherwise on {request:?}"
    );
    assert_agree(request, vm, literal.decision);
    std::hint::black_box(policy.explain_text(&trace));
    std::hint::black_box(serde_json::to_string(&trace).ok());
}

/// Panics (a fuzzing finding) when the two evaluators decide differently.
pub fn assert_agree(request: &Request, vm: casepol::Decision, reference: casepol::Decision) {
    assert!(
        vm == reference,
        "the evaluators disagree on {request:?}: vm {vm:?}, reference {reference:?}"
    );
}

/// Every user × permission and user × action × resource × module (no module first) from the
/// policy and the entities, in that order, up to [`MAX_GENERATED_REQUESTS`].
fn generated_requests(policy: &Policy, entities: &Entities) -> Vec<Request> {
    let ir = policy.compiled().ir();
    let modules: Vec<Option<&str>> = std::iter::once(None)
        .chain(ir.modules.iter().map(|m| Some(m.name.as_str())))
        .collect();
    let mut out = Vec::new();
    for u in entities.user_ids() {
        for p in &ir.permissions {
            out.push(Request::new(u, &p.name, None));
            if out.len() >= MAX_GENERATED_REQUESTS {
                return out;
            }
        }
        for r in entities.resource_ids() {
            for a in &ir.actions {
                for m in &modules {
                    let mut req = Request::new(u, &a.name, Some(r));
                    req.module = m.map(str::to_string);
                    out.push(req);
                    if out.len() >= MAX_GENERATED_REQUESTS {
                        return out;
                    }
                }
            }
        }
    }
    out
}

fn decide_generated(policy: &Policy, entities: &Entities) {
    for request in generated_requests(policy, entities) {
        decide(policy, entities, &request);
    }
}

/// The input split at NUL into policy files named `fuzz0.casepol`, `fuzz1.casepol`, …
pub fn split_sources(data: &[u8]) -> Sources {
    let mut sources = Sources::new();
    for (i, part) in data.splitn(MAX_FILES, |&b| b == SEPARATOR).enumerate() {
        sources.add(
            format!("fuzz{i}.casepol"),
            String::from_utf8_lossy(part).into_owned(),
        );
    }
    sources
}

/// Renders every diagnostic in every form the CLI offers, so no span can make a renderer panic.
fn render_all(diags: &[Diagnostic], sources: &Sources) {
    for d in diags {
        std::hint::black_box(render::human(d, sources, false));
        std::hint::black_box(render::human(d, sources, true));
        std::hint::black_box(serde_json::to_string(&render::json(d, sources)).ok());
        std::hint::black_box(render::github(d, sources));
    }
    if !diags.is_empty() {
        std::hint::black_box(render::sarif(&[(sources, diags)]));
    }
}

/// The policy and entities the `entities` target runs against, built once.
fn fixed_policy() -> &'static (Policy, Entities) {
    static FIXED: OnceLock<(Policy, Entities)> = OnceLock::new();
    FIXED.get_or_init(|| {
        let policy = Policy::from_source(
            "tests/data/entities/policy.casepol",
            include_str!("../../tests/data/entities/policy.casepol"),
        )
        .unwrap_or_else(|e| panic!("the fixed policy must check:\n{e}"));
        let entities = policy
            .load_entities(include_str!(
                "../../tests/data/entities/ok/every_feature.json"
            ))
            .unwrap_or_else(|e| panic!("the fixed entities must load: {e:?}"));
        (policy, entities)
    })
}

pub mod scale;
pub use scale::scale;
