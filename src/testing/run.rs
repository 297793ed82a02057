//! Running a test file: each case decided by both evaluators, compared with what it expects.

use super::items::{Catalog, Item, Resolved};
use super::{json_name, Expected, Outcome, TestFile};
use crate::decision::{Decision, Layer, Reason};
use crate::diagnostic::Diagnostic;
use crate::reference::{Detail, RuleRef, Trace};
use crate::resolve::RequestErrorKind;
use crate::{Entities, Policy};
use serde::Serialize;

/// The results of one test file.
#[derive(Debug, Clone)]
pub struct FileRun {
    pub results: Vec<CaseResult>,
    /// Expectations that name no rule or cell of the policy (`CP0402`); those cases did not run.
    pub diagnostics: Vec<Diagnostic>,
}

impl FileRun {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }
}

/// One case, decided.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's index in [`TestFile::cases`].
    pub index: usize,
    /// The compiled evaluator's decision.
    pub decision: Decision,
    /// The reference evaluator's record; `explain` renders it.
    pub trace: Trace,
    /// The rules that decided (see [`deciding_rules`]).
    pub deciding: Vec<Item>,
    /// How each expected rule or cell was shown, in order: rules, then cells.
    pub expected_rules: Vec<String>,
    pub mismatches: Vec<Mismatch>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// `allow`, `deny` or `error`.
    pub fn outcome(&self) -> Outcome {
        if self.trace.error.is_some() {
            Outcome::Error
        } else if self.decision.allowed {
            Outcome::Allow
        } else {
            Outcome::Deny
        }
    }
}

/// One way a case's decision differs from what it expects.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mismatch {
    Outcome {
        expected: Outcome,
        got: Outcome,
    },
    Layer {
        expected: Layer,
        got: Layer,
    },
    Reason {
        expected: Reason,
        got: Reason,
    },
    Error {
        expected: RequestErrorKind,
        got: Option<RequestErrorKind>,
    },
    /// An expected rule or cell did not decide; `expected` is how it was shown.
    Rule {
        expected: String,
    },
    /// The compiled and the reference evaluator disagree: a bug in casepol.
    Engines {
        vm: Decision,
        reference: Decision,
    },
}

impl Mismatch {
    /// One sentence saying what differs.
    pub fn message(&self) -> String {
        match self {
            Mismatch::Outcome { expected, got } => {
                format!("expected {}, got {}", expected.as_str(), got.as_str())
            }
            Mismatch::Layer { expected, got } => format!(
                "expected the {} layer to decide, but the {} layer did",
                expected.name(),
                got.name()
            ),
            Mismatch::Reason { expected, got } => format!(
                "expected reason {}, got {}",
                expected.name(),
                got.name()
            ),
            Mismatch::Error { expected, got } => match got {
                Some(g) => format!("expected error {}, got {}", json_name(*expected), json_name(*g)),
                None => format!("expected error {}, got a decision", json_name(*expected)),
            },
            Mismatch::Rule { expected } => format!("{expected} did not decide"),
            Mismatch::Engines { vm, reference } => format!(
                "the compiled evaluator decided {} ({}: {}) but the reference evaluator {} ({}: {}); this is a bug in casepol, please report it",
                if vm.allowed { "allow" } else { "deny" },
                vm.layer.name(),
                vm.reason.name(),
                if reference.allowed { "allow" } else { "deny" },
                reference.layer.name(),
                reference.reason.name()
            ),
        }
    }
}

/// The rules that decided a request, as the trace records them: for an allow, the data layer's
/// matching allow rules; for an explicit deny, its matching deny rules; for a deny by the
/// access mode, the access-mode line. Other decisions have no deciding rule.
pub fn deciding_rules(trace: &Trace) -> Vec<RuleRef> {
    if trace.error.is_some() {
        return Vec::new();
    }
    let d = trace.decision;
    let mut out = Vec::new();
    for layer in &trace.layers {
        match &layer.detail {
            Detail::Rules { allows, denies, .. } if layer.layer == Layer::Data => {
                if d.allowed {
                    out.extend(allows.iter().cloned());
                } else if d.reason == Reason::ExplicitlyDenied {
                    out.extend(denies.iter().cloned());
                }
            }
            Detail::Mode { rule, .. } if !d.allowed && d.layer == Layer::AccessMode => {
                out.push(rule.clone());
            }
            _ => {}
        }
    }
    out
}

/// Decides every case of a test file with both evaluators and compares with its expectations.
/// A case whose expected rule or cell names nothing in the policy is not run: it is reported
/// in [`FileRun::diagnostics`].
///
/// ```
/// use casepol::diagnostic::Sources;
/// use casepol::internal::testing::{self, Coverage, EntitiesSource};
/// use casepol::Policy;
///
/// let policy = Policy::from_source("p.casepol", "role R; action view; group G { grants R; } resource Note { allow R: view; }")
///     .map_err(|e| e.render())?;
/// let mut sources = Sources::new();
/// let file = sources.add("p.test.json", r#"{"entities": {"users": [{"id": "ann", "groups": ["G"]}], "resources": [{"id": "n1", "kind": "Note"}]},
///   "tests": [{"name": "ann-views", "request": {"principal": "ann", "action": "view", "resource": "n1"}, "expect": "allow", "rule": "allow R"}]}"#);
/// let tests = testing::parse(&sources, file).map_err(|d| format!("{d:?}"))?;
/// let EntitiesSource::Inline(json) = &tests.entities else {
///     return Err("expected inline entities".into());
/// };
/// let entities = policy.load_entities(json).map_err(|e| format!("{e:?}"))?;
/// let run = testing::run(&policy, &entities, &tests);
/// assert_eq!((run.passed(), run.failed()), (1, 0));
/// let mut coverage = Coverage::new(&policy);
/// coverage.record_run(&run);
/// assert_eq!((coverage.covered(), coverage.total()), (1, 1));
/// # Ok::<(), String>(())
/// ```
pub fn run(policy: &Policy, entities: &Entities, tests: &TestFile) -> FileRun {
    let catalog = Catalog::new(policy);
    // Every `rule` expectation of the file, resolved at once, in the order of the cases.
    let mut rules = catalog
        .resolve_rules(tests.cases.iter().flat_map(|c| c.expect.rules.iter()))
        .into_iter();
    let mut results = Vec::new();
    let mut diagnostics = Vec::new();
    for (index, case) in tests.cases.iter().enumerate() {
        let e = &case.expect;
        let mut wanted = Vec::new();
        let mut bad = false;
        let resolved = rules
            .by_ref()
            .take(e.rules.len())
            .chain(e.cells.iter().map(|c| catalog.resolve_cell(c)));
        for r in resolved {
            match r {
                Ok(r) => wanted.push(r),
                Err(d) => {
                    diagnostics.push(d);
                    bad = true;
                }
            }
        }
        if bad {
            continue;
        }
        let trace = policy.explain(entities, &case.request);
        let decision = match policy.resolve(entities, &case.request) {
            Ok(r) => policy.decide(entities, &r),
            Err(_) => Decision::ERROR,
        };
        let deciding = deciding_rules(&trace)
            .iter()
            .map(|r| catalog.item_of(r))
            .collect();
        let mut result = CaseResult {
            index,
            decision,
            expected_rules: wanted.iter().map(|w| w.shown.clone()).collect(),
            deciding,
            trace,
            mismatches: Vec::new(),
        };
        result.mismatches = compare(e, &result, &wanted);
        results.push(result);
    }
    FileRun {
        results,
        diagnostics,
    }
}

fn compare(e: &Expected, r: &CaseResult, wanted: &[Resolved]) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let reference = r.trace.decision;
    if r.decision != reference {
        out.push(Mismatch::Engines {
            vm: r.decision,
            reference,
        });
    }
    let got = r.outcome();
    if got != e.outcome {
        out.push(Mismatch::Outcome {
            expected: e.outcome,
            got,
        });
    }
    if let Some(kind) = e.error {
        let got = r.trace.error.as_ref().map(|x| x.kind);
        if got != Some(kind) {
            out.push(Mismatch::Error {
                expected: kind,
                got,
            });
        }
    }
    if got == Outcome::Error && e.outcome != Outcome::Error {
        // The layer and reason of an error say nothing more.
        return out;
    }
    if let Some(layer) = e.layer {
        if layer != reference.layer {
            out.push(Mismatch::Layer {
                expected: layer,
                got: reference.layer,
            });
        }
    }
    if let Some(reason) = e.reason {
        if reason != reference.reason {
            out.push(Mismatch::Reason {
                expected: reason,
                got: reference.reason,
            });
        }
    }
    for w in wanted {
        if !r.deciding.iter().any(|d| w.spans.contains(&d.span)) {
            out.push(Mismatch::Rule {
                expected: w.shown.clone(),
            });
        }
    }
    out
}
