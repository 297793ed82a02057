//! Running the properties of a test file: each resolved against the policy (`CP0403` for a
//! name it does not declare) and proved or refuted by [`crate::verify`].

use super::TestFile;
use crate::api::Policy;
use crate::diagnostic::{Code, Diagnostic, Span};
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
/// does not declare does not run; its diagnostics are returned. `load` reads the policy a
/// `no_wider_than` property names (a path relative to the test file), or says why it cannot.
pub fn prove(
    policy: &Policy,
    tests: &TestFile,
    load: &mut dyn FnMut(&str) -> Result<Policy, String>,
) -> (Vec<PropertyResult>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for spec in &tests.properties {
        if let (ClaimKind::NoWiderThan, Some(path)) = (spec.claim, &spec.wider_than) {
            match load(&path.text) {
                Err(msg) => diags.push(
                    Diagnostic::new(
                        Code::InvalidProperty,
                        path.span,
                        format!(
                            "cannot use the policy that property `{}` compares with: {msg}",
                            spec.name
                        ),
                    )
                    .with_label("the other version")
                    .with_help("`no_wider_than` is a `.casepol` file or a directory of them, relative to this test file, that checks without errors"),
                ),
                Ok(old) => out.push(PropertyResult {
                    name: spec.name.clone(),
                    span: spec.span,
                    description: spec.description.clone(),
                    claim: spec.claim,
                    verdict: verify::verify_no_wider(policy, &old),
                }),
            }
            continue;
        }
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
