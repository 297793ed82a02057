//! The answer to one request, for applications: the decision, the rules that determined it with
//! where they are written, and the error when the request could not be decided
//! ([`Policy::authorize`](crate::Policy::authorize)).

use crate::compile::CompiledPolicy;
use crate::decision::{Decision, Determining, Layer, Reason};
use crate::ir::{RuleOrigin, RuleScope};
use crate::resolve::RequestError;
use serde::Serialize;

/// The answer to one request.
///
/// A request that could not be resolved (an unknown user, action, resource or module, or
/// entities loaded for another policy) is denied with [`Reason::Error`] and carries the
/// [`RequestError`]; it is never allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Response {
    /// Allowed or denied, by which layer, and why.
    pub decision: Decision,
    /// The rules that determined the decision, as defined under "Determining rules" in
    /// docs/semantics.md: for an allow, the allow rules that matched (and the module-grant
    /// lines when the module layer applied); for an explicit deny, the deny rules; for an
    /// access-mode deny, the mode line of the case's value; otherwise none. In source order.
    pub determining: Vec<DeterminingRule>,
    /// Why the request could not be decided, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RequestError>,
}

impl Response {
    /// Whether the request is allowed.
    pub fn allowed(&self) -> bool {
        self.decision.allowed
    }

    /// The layer that decided.
    pub fn layer(&self) -> Layer {
        self.decision.layer
    }

    /// Why the layer decided as it did.
    pub fn reason(&self) -> Reason {
        self.decision.reason
    }

    /// The answer to a request that could not be decided.
    pub(crate) fn error(error: RequestError) -> Response {
        Response {
            decision: Decision::ERROR,
            determining: Vec::new(),
            error: Some(error),
        }
    }

    /// The answer for `decision`, with its determining rules located in `policy`'s sources.
    pub(crate) fn new(
        policy: &CompiledPolicy,
        decision: Decision,
        determining: &[Determining],
    ) -> Response {
        let mut located: Vec<_> = determining
            .iter()
            .filter_map(|&d| Some((d.span(policy)?, d)))
            .collect();
        located.sort_by_key(|(span, _)| (span.file, span.start));
        Response {
            decision,
            determining: located
                .into_iter()
                .filter_map(|(_, d)| DeterminingRule::new(policy, d))
                .collect(),
            error: None,
        }
    }
}

/// A rule that determined a decision, located in the policy's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeterminingRule {
    /// What the rule is.
    pub kind: RuleKind,
    /// The name of the policy file it is written in, as the policy was loaded.
    pub file: String,
    /// Its line, from 1.
    pub line: usize,
    /// Its column in characters, from 1.
    pub column: usize,
    /// Its text, with runs of whitespace made one space; for an access-mode line, the line.
    pub source: String,
    /// For a table-cell entry, the cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<TableCell>,
}

/// What kind of statement a [`DeterminingRule`] is. More kinds may come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RuleKind {
    /// An `allow` or `deny` statement.
    Rule,
    /// An entry of a state × role table.
    TableCell,
    /// A `transition` of a case type.
    Transition,
    /// A line of a case type's `modules` block.
    ModuleGrant,
    /// A line of the case kind's `access mode` block.
    AccessMode,
}

impl RuleKind {
    /// The words `explain` and `casepol test` use: `rule`, `table cell`, `transition`,
    /// `module grant`, `access mode`.
    pub fn title(self) -> &'static str {
        match self {
            RuleKind::Rule => "rule",
            RuleKind::TableCell => "table cell",
            RuleKind::Transition => "transition",
            RuleKind::ModuleGrant => "module grant",
            RuleKind::AccessMode => "access mode",
        }
    }
}

/// A cell of a case type's table: the row's state and the column's role or relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TableCell {
    /// The case type whose table it is.
    pub casetype: String,
    /// The row.
    pub state: String,
    /// The column: a role or a relation.
    pub subject: String,
}

impl std::fmt::Display for TableCell {
    /// `Review × HR`: the state, then the column, as `casepol test` names a cell.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} × {}", self.state, self.subject)
    }
}

impl DeterminingRule {
    fn new(policy: &CompiledPolicy, d: Determining) -> Option<DeterminingRule> {
        let p = policy.ir();
        let span = d.span(policy)?;
        let src = policy.sources();
        let (kind, cell) = match d {
            Determining::Rule(r) => {
                let rule = p.rules.get(r.idx())?;
                match (rule.origin, rule.scope) {
                    (RuleOrigin::Statement, _) => (RuleKind::Rule, None),
                    (RuleOrigin::Transition { .. }, _) => (RuleKind::Transition, None),
                    (RuleOrigin::TableCell { state, subject }, RuleScope::CaseType(ct)) => {
                        let ct = p.casetypes.get(ct.idx())?;
                        let cell = TableCell {
                            casetype: ct.name.clone(),
                            state: ct.states.get(state.idx())?.name.clone(),
                            subject: p.subject_name(subject).to_string(),
                        };
                        (RuleKind::TableCell, Some(cell))
                    }
                    (RuleOrigin::TableCell { .. }, _) => (RuleKind::TableCell, None),
                }
            }
            Determining::ModuleGrant { .. } => (RuleKind::ModuleGrant, None),
            Determining::ModeLine { .. } => (RuleKind::AccessMode, None),
        };
        let text = match kind {
            RuleKind::AccessMode => src.lines_of(span),
            _ => src.snippet(span),
        };
        let (line, column) = src.line_col(span);
        Some(DeterminingRule {
            kind,
            file: src.name(span.file).to_string(),
            line,
            column,
            source: text.split_whitespace().collect::<Vec<_>>().join(" "),
            cell,
        })
    }
}

impl std::fmt::Display for DeterminingRule {
    /// `table cell `Review × HR` `+edit` (policy.casepol:12:9)` or
    /// `rule `deny owner: approve;` (policy.casepol:30:5)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cell {
            Some(c) => write!(f, "table cell `{c}` `{}`", self.source)?,
            None => write!(f, "{} `{}`", self.kind.title(), self.source)?,
        }
        write!(f, " ({}:{}:{})", self.file, self.line, self.column)
    }
}
