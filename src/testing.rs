//! Policy tests: test files next to a policy, run against it, with rule coverage.
//!
//! A test file (`*.test.json`, format in docs/policy-tests.md) names a policy and its entities
//! and lists requests with the decision each must get, optionally with the deciding layer,
//! reason, rule or table cell. [`parse`] reads one into a [`TestFile`] and reports every
//! mistake in it as a diagnostic; [`run`] decides each case with both evaluators and compares;
//! [`Coverage`] records which rules, table cells, transitions, module grants and access-mode
//! lines some test exercised. Reading files is the caller's business.
//!
//! This file holds what the steps share: the model of a test file and the names of layers,
//! reasons and errors as JSON writes them. The steps are `parse.rs` (over `json.rs`, which
//! keeps every value's position), `items.rs` (the policy's rules, cells, transitions, module
//! grants and mode lines, and the expectations that name them, found with `find.rs`), `run.rs`
//! and `coverage.rs`.

mod coverage;
mod find;
mod items;
mod json;
mod parse;
mod props;
mod run;

pub use coverage::{percent, Coverage};
pub use items::Item;
pub use parse::parse;
pub use props::{prove, PropertyResult};
pub use run::{deciding_rules, run, CaseResult, FileRun, Mismatch};

use crate::decision::{Layer, Reason};
use crate::diagnostic::{FileId, Span};
use crate::request::Request;
use crate::resolve::RequestErrorKind;
use serde::Serialize;

/// The suffix that marks a file as a policy test file when a directory is searched.
pub const TEST_FILE_SUFFIX: &str = ".test.json";

/// One parsed test file.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub file: FileId,
    pub description: Option<String>,
    /// The policy as written (a `.casepol` file or a directory), relative to the test file's
    /// directory; `None` means the directory that holds the test file.
    pub policy: Option<String>,
    /// Where the policy is named: the `policy` value, or the file's opening `{` by default.
    pub policy_span: Span,
    pub entities: EntitiesSource,
    /// The `entities` value.
    pub entities_span: Span,
    pub cases: Vec<TestCase>,
    /// The properties the policy must satisfy (docs/policy-tests.md §8); empty when none.
    pub properties: Vec<crate::verify::PropertySpec>,
}

/// Where a test file's entities come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntitiesSource {
    /// A path relative to the test file's directory.
    Path(String),
    /// An entities object written in the test file; the text is the object's source.
    Inline(String),
}

/// One test case: a request and what its decision must be.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    /// The whole case object in the test file.
    pub span: Span,
    pub description: Option<String>,
    pub requirement: Option<String>,
    pub request: Request,
    pub expect: Expected,
}

/// The decision a case expects. Only `outcome` is required; every other part that is given
/// must hold too.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub outcome: Outcome,
    pub layer: Option<Layer>,
    pub reason: Option<Reason>,
    /// For `expect: "error"`: which error.
    pub error: Option<RequestErrorKind>,
    /// Fragments of rule source text; each must name one rule that decided.
    pub rules: Vec<Located>,
    /// Table cells as `State / Subject` or `CaseType / State / Subject`; an entry of each must
    /// have decided.
    pub cells: Vec<Located>,
}

/// A string from the test file and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Allow,
    Deny,
    /// The request cannot be resolved (unknown principal, action, resource or module).
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Error => "error",
        }
    }
}

// ---- names of errors, as written in JSON -------------------------------------------------------

/// The errors [`crate::resolve::resolve`] can return.
const ERROR_KINDS: [RequestErrorKind; 7] = [
    RequestErrorKind::UnknownPrincipal,
    RequestErrorKind::UnknownAction,
    RequestErrorKind::UnknownResource,
    RequestErrorKind::UnknownModule,
    RequestErrorKind::PermissionTakesNoResource,
    RequestErrorKind::UnknownTarget,
    RequestErrorKind::InvalidContext,
];

/// The name serde gives a unit variant (`RequestErrorKind::UnknownModule` is `unknown_module`);
/// layers and reasons have theirs in `decision` (`Layer::name`, `Reason::name`).
pub fn json_name<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Collapses every run of whitespace to one space, so rule text matches however it is laid out.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails to compile when a request error is added without listing it in `ERROR_KINDS`
    /// (`decision.rs` checks the layers and reasons the same way).
    #[test]
    fn every_error_kind_is_listed() {
        let kind = |k: RequestErrorKind| match k {
            RequestErrorKind::UnknownPrincipal
            | RequestErrorKind::UnknownAction
            | RequestErrorKind::UnknownResource
            | RequestErrorKind::UnknownModule
            | RequestErrorKind::PermissionTakesNoResource
            | RequestErrorKind::UnknownTarget
            | RequestErrorKind::InvalidContext => 7,
            // A test file cannot produce these: its requests are JSON objects, resolved
            // against entities loaded for its policy; the others come only from queries.
            RequestErrorKind::InvalidRequest
            | RequestErrorKind::MismatchedEntities
            | RequestErrorKind::NotAnAction
            | RequestErrorKind::UnknownKind
            | RequestErrorKind::MismatchedPolicy
            | RequestErrorKind::TooLarge => 0,
        };
        assert!(ERROR_KINDS.iter().all(|k| kind(*k) == ERROR_KINDS.len()));
    }

    #[test]
    fn whitespace_does_not_matter_in_rule_text() {
        assert_eq!(squash("deny  Manager:\n   edit;"), "deny Manager: edit;");
    }
}
