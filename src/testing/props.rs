//! Running the properties of a test file: each resolved against the policy (`CP0403` for a
//! name it does not declare) and proved or refuted by [`crate::verify`].

use super::TestFile;
use crate::api::Policy;
use crate::diagnostic::{Diagnostic, Span};
use crate::verify::{self, ClaimKind, Verdict};

/// What became of one property.
#[derive(Debug, Clone)]
pub struct PropertyResult {
    pub name: String,
    /// The property object in the test file.
    pub span: Span,
    pub description: Option<String>,
    pub claim: ClaimKind,
    pub verdict: Verdict,
}

impl PropertyResult {
    pub fn proven(&self) -> bool {
        matches!(self.verdict, Verdict::Proven { .. })
    }
}

/// Proves every property of `tests` on `policy`. A property that names something the policy
/// does not declare does not run; its diagnostics are returned.
pub fn prove(policy: &Policy, tests: &TestFile) -> (Vec<PropertyResult>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for spec in &tests.properties {
        match verify::resolve(policy.compiled().ir(), spec) {
            Err(d) => diags.extend(d),
            Ok(prop) => out.push(PropertyResult {
                name: spec.name.clone(),
                span: spec.span,
                description: spec.description.clone(),
                claim: spec.claim,
                verdict: verify::verify(policy, &prop),
            }),
        }
    }
    (out, diags)
}
