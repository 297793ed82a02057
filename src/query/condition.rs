//! The condition a `list` or `filter` question is asked with (`--where`): text in the policy's
//! own rule-condition language (docs/language.md §18.1), parsed by the grammar's
//! `where_condition`, checked by the checker's code for a rule's `when` (`check::condition`),
//! and ANDed with the access question. `list` tests it on each resource with the VM's terms
//! (`vm::query_condition_holds`); the residual turns it into a condition on the resource, which
//! the SQL filter carries with bound parameters. docs/queries.md describes it.

use crate::api::PolicyError;
use crate::compile::{CTerm, CompiledPolicy, Src};
use crate::entities::Entities;
use crate::ir::{self, KindId, Operand, TermTest, Value};
use crate::request::ResolvedContext;
use crate::resolve::{self, Asker, RequestError, RequestErrorKind};

/// A condition on the resources of a question, checked against one policy: with
/// [`Query::with_condition`](super::Query::with_condition), `list` returns, and `filter`
/// selects, only the resources the principal may act on *and* on which it holds.
///
/// Checked for a kind (`resource.a` reads an attribute of that kind), it holds only on
/// resources of that kind. A term that reads the case of a resource in no case fails, with or
/// without `not`.
#[derive(Debug, Clone)]
pub struct Condition {
    text: String,
    kind: Option<KindId>,
    terms: Vec<ir::Term>,
    /// The stamp of the compiled policy that checked it.
    policy: u64,
}

/// Why a condition could not be used: its text does not parse or check (diagnostics against
/// the text as a source of its own, beside the policy's files), or it names a kind the policy
/// does not declare.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConditionError {
    /// The condition does not parse or check: every diagnostic, and the sources (the policy's
    /// files and the condition's text) to render them against.
    Invalid(PolicyError),
    /// The kind is unknown.
    Request(RequestError),
}

impl std::fmt::Display for ConditionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConditionError::Invalid(e) => e.fmt(f),
            ConditionError::Request(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ConditionError {}

impl Condition {
    /// Parses and checks `text` (named `name` in diagnostics, as `--where` is on the command
    /// line) as a condition on resources of `kind` (any kind when `None`) of `policy`.
    pub fn new(
        policy: &crate::Policy,
        name: &str,
        text: &str,
        kind: Option<&str>,
    ) -> Result<Condition, ConditionError> {
        let compiled = policy.compiled();
        let kind = kind
            .map(|k| resolve::kind(compiled, k))
            .transpose()
            .map_err(ConditionError::Request)?;
        let mut sources = compiled.sources().clone();
        let file = sources.add(name.to_string(), text.to_string());
        let invalid = |diagnostics, sources| {
            ConditionError::Invalid(PolicyError {
                diagnostics,
                sources,
            })
        };
        let (terms, diags) = crate::syntax::parse_condition(file, text);
        if !diags.is_empty() {
            return Err(invalid(diags, sources));
        }
        let terms = crate::check::condition(compiled.ir(), &terms, kind)
            .map_err(|d| invalid(d, sources))?;
        Ok(Condition {
            text: text.to_string(),
            kind,
            terms,
            policy: compiled.stamp(),
        })
    }

    /// The condition that holds on every resource of `kind` and no other: `filter --kind`
    /// without `--where`.
    pub fn of_kind(policy: &crate::Policy, kind: &str) -> Result<Condition, ConditionError> {
        let compiled = policy.compiled();
        let kind = resolve::kind(compiled, kind).map_err(ConditionError::Request)?;
        Ok(Condition {
            text: String::new(),
            kind: Some(kind),
            terms: Vec::new(),
            policy: compiled.stamp(),
        })
    }

    /// The condition's text, as it was given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The condition for `entities`, whose strings are symbols there, and for the question's
    /// `context` (`given`), resolved with the same numbering: a string neither holds gets a
    /// number no stored value has.
    pub(crate) fn resolve(
        &self,
        policy: &CompiledPolicy,
        entities: &Entities,
        given: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<(Where, ResolvedContext), RequestError> {
        if self.policy != policy.stamp() {
            return Err(RequestError::new(
                RequestErrorKind::MismatchedPolicy,
                "the condition was checked against another policy".into(),
                Some("make the condition with the policy the question is asked of; after a reload, make it again".into()),
            ));
        }
        fn text(o: &Operand) -> Option<&str> {
            match o {
                Operand::Literal(Value::Str(s)) => Some(s),
                _ => None,
            }
        }
        let mut strings: Vec<&str> = Vec::new();
        for t in &self.terms {
            match &t.test {
                TermTest::Holds(_) => {}
                TermTest::Compare(a, _, b) | TermTest::Contains(a, b) => {
                    strings.extend(text(a));
                    strings.extend(text(b));
                }
                TermTest::OneOf(a, values) => {
                    strings.extend(text(a));
                    for v in values {
                        if let Value::Str(s) = v {
                            strings.push(s);
                        }
                    }
                }
                TermTest::True(a) => strings.extend(text(a)),
            }
        }
        let (context, syms) =
            resolve::context_and(policy, entities, given, Asker::Query, &strings)?;
        let by_text: std::collections::HashMap<&str, u32> =
            strings.iter().copied().zip(syms).collect();
        let mut intern = |s: &str| by_text.get(s).copied().unwrap_or(u32::MAX);
        let mut one_of = Vec::new();
        let terms = self
            .terms
            .iter()
            .map(|t| crate::compile::cterm(policy.ir(), t, &mut one_of, &mut intern))
            .collect();
        Ok((
            Where {
                kind: self.kind,
                terms,
                one_of,
            },
            context,
        ))
    }
}

/// A [`Condition`] compiled for one entity set and context: what `list` and the residual test.
#[derive(Debug, Clone)]
pub(crate) struct Where {
    pub(crate) kind: Option<KindId>,
    pub(crate) terms: Vec<CTerm>,
    pub(crate) one_of: Vec<Src>,
}

impl Where {
    /// Whether it holds on resource `r` for `principal`.
    pub(crate) fn holds(
        &self,
        policy: &CompiledPolicy,
        entities: &Entities,
        principal: u32,
        r: u32,
        context: &ResolvedContext,
    ) -> bool {
        if self
            .kind
            .is_some_and(|k| entities.resources[r as usize].kind != k)
        {
            return false;
        }
        let on = crate::vm::On::new(entities, principal, r, context);
        crate::vm::query_condition_holds(policy, &self.terms, &self.one_of, &on)
    }
}
