//! The items of a policy that tests name and coverage counts (rules, table cells, transitions,
//! module grants, access-mode lines), and the expected `rule` and `cell` of a test case
//! resolved to them.

use super::{squash, Located};
use crate::diagnostic::{words, Code, Diagnostic, Span};
use crate::ir::{RuleOrigin, RuleScope};
use crate::reference::RuleRef;
use crate::Policy;
use serde::Serialize;

/// Something in a policy that a test can exercise.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `rule`, `table cell`, `transition`, `module grant` or `access mode`, as in explanations.
    pub kind: &'static str,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The item's text with whitespace collapsed; for an access-mode line, the whole line.
    pub source: String,
    /// For a table cell: `CaseType / State / Subject`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    #[serde(skip)]
    pub span: Span,
    /// For a table cell: case type, state and subject names.
    #[serde(skip)]
    cell_names: Option<[String; 3]>,
}

impl Item {
    /// The item for people: `table cell `Request / Draft / Clerk` `+edit` (file:line:column)`
    /// or `rule `deny owner: approve;` (file:line:column)`.
    pub fn describe(&self) -> String {
        match &self.cell {
            Some(c) => format!(
                "table cell `{c}` `{}` ({}:{}:{})",
                self.source, self.file, self.line, self.column
            ),
            None => format!(
                "{} `{}` ({}:{}:{})",
                self.kind, self.source, self.file, self.line, self.column
            ),
        }
    }

    /// A rule the trace names, as the matching item of `items`.
    pub(super) fn of(items: &[Item], r: &RuleRef) -> Item {
        items
            .iter()
            .find(|i| i.span == r.span)
            .cloned()
            .unwrap_or_else(|| Item {
                kind: r.kind,
                file: r.file.clone(),
                line: r.line,
                column: r.column,
                source: squash(&r.source),
                cell: None,
                span: r.span,
                cell_names: None,
            })
    }
}

/// Every item of a policy that coverage counts and expectations can name.
pub(super) fn items(policy: &Policy) -> Vec<Item> {
    let compiled = policy.compiled();
    let p = compiled.ir();
    let src = compiled.sources();
    let mut out: Vec<Item> = Vec::new();
    let mut push = |kind: &'static str, span: Span, source: String, cell: Option<[String; 3]>| {
        if out.iter().any(|i| i.span == span) {
            return;
        }
        let (line, column) = src.line_col(span);
        out.push(Item {
            kind,
            file: src.name(span.file).to_string(),
            line,
            column,
            source,
            cell: cell.as_ref().map(|c| c.join(" / ")),
            span,
            cell_names: cell,
        });
    };
    if let Some(mode) = p.case_kind.and_then(|k| p.kinds[k.idx()].mode.as_ref()) {
        for &span in &mode.arm_spans {
            push("access mode", span, squash(src.lines_of(span)), None);
        }
    }
    for ct in &p.casetypes {
        for g in &ct.module_grants {
            push("module grant", g.span, squash(src.snippet(g.span)), None);
        }
    }
    for rule in &p.rules {
        let text = squash(src.snippet(rule.span));
        match rule.origin {
            RuleOrigin::Statement => push("rule", rule.span, text, None),
            RuleOrigin::Transition { .. } => push("transition", rule.span, text, None),
            RuleOrigin::TableCell { state, subject } => {
                let RuleScope::CaseType(ct) = rule.scope else {
                    continue;
                };
                let ct = &p.casetypes[ct.idx()];
                let names = [
                    ct.name.clone(),
                    ct.states[state.idx()].name.clone(),
                    p.subject_name(subject).to_string(),
                ];
                push("table cell", rule.span, text, Some(names));
            }
        }
    }
    out.sort_by_key(|i| (i.span.file, i.span.start));
    out
}

/// What an expectation resolved to: the spans of the policy items that satisfy it.
pub(super) struct Resolved {
    /// The item the fragment names, for messages.
    pub(super) shown: String,
    pub(super) spans: Vec<Span>,
}

pub(super) fn resolve_rule(items: &[Item], r: &Located) -> Result<Resolved, Diagnostic> {
    let want = squash(&r.text);
    let decides = |i: &&Item| matches!(i.kind, "rule" | "transition" | "access mode");
    let hits: Vec<&Item> = items
        .iter()
        .filter(decides)
        .filter(|i| i.source.contains(&want))
        .collect();
    match hits.as_slice() {
        [one] => Ok(Resolved {
            shown: one.describe(),
            spans: vec![one.span],
        }),
        [] => {
            let grant = items
                .iter()
                .find(|i| i.kind == "module grant" && i.source.contains(&want));
            let cell = items
                .iter()
                .find(|i| i.kind == "table cell" && i.source == want);
            let help = if let Some(g) = grant {
                format!("this is module grant `{}` ({}:{}), which only lets a request through the module layer; name the rule or table cell that allows instead", g.source, g.file, g.line)
            } else if let Some(c) = cell {
                format!(
                    "`{}` is a table-cell entry; name the cell with `cell`, e.g. `\"cell\": \"{}\"`",
                    want,
                    c.cell_names.as_ref().map(|n| format!("{} / {}", n[1], n[2])).unwrap_or_default()
                )
            } else {
                "`rule` is matched against the text of the policy's rule statements, transitions and access-mode lines (whitespace does not matter); copy part of one, e.g. `deny Manager: edit`".into()
            };
            Err(Diagnostic::new(
                Code::InvalidTest,
                r.span,
                format!("no rule of the policy contains `{want}`"),
            )
            .with_label("matches no rule")
            .with_help(help))
        }
        many => Err(Diagnostic::new(
            Code::InvalidTest,
            r.span,
            format!("`{want}` matches {} rules of the policy", many.len()),
        )
        .with_label("ambiguous")
        .with_help(format!(
            "quote more of the rule so that it names one: {}",
            words::join(
                many.iter()
                    .map(|i| format!("`{}` ({}:{})", i.source, i.file, i.line)),
                "or",
                words::LISTED
            )
        ))),
    }
}

pub(super) fn resolve_cell(items: &[Item], c: &Located) -> Result<Resolved, Diagnostic> {
    let parts: Vec<&str> = c.text.split('/').map(str::trim).collect();
    let cells: Vec<&Item> = items.iter().filter(|i| i.kind == "table cell").collect();
    let err = |message: String, help: String| {
        Err(Diagnostic::new(Code::InvalidTest, c.span, message)
            .with_label("no such cell")
            .with_help(help))
    };
    let (casetype, state, subject) = match parts.as_slice() {
        [s, r] if !s.is_empty() && !r.is_empty() => (None, *s, *r),
        [t, s, r] if !t.is_empty() && !s.is_empty() && !r.is_empty() => (Some(*t), *s, *r),
        _ => {
            return err(
                format!("`{}` is not a table cell", c.text),
                "write a cell as `State / Subject`, e.g. `Review / HR`, or `CaseType / State / Subject`".into(),
            )
        }
    };
    if cells.is_empty() {
        return err(
            format!(
                "the policy has no table with entries, so it has no cell `{}`",
                c.text
            ),
            "use `rule` to name a rule statement".into(),
        );
    }
    let names = |i: &Item| i.cell_names.clone().unwrap_or_default();
    let pick = |k: usize, value: &str, label: &str| -> Result<(), Diagnostic> {
        if cells.iter().any(|i| names(i)[k] == value) {
            return Ok(());
        }
        let mut all: Vec<String> = cells.iter().map(|i| names(i)[k].clone()).collect();
        all.sort();
        all.dedup();
        let help =
            words::did_you_mean(value, all.iter().map(String::as_str)).unwrap_or_else(|| {
                format!(
                    "the tables' {label}s with entries are {}",
                    words::list(&all)
                )
            });
        Err(Diagnostic::new(
            Code::InvalidTest,
            c.span,
            format!("no table has a {label} `{value}` with entries"),
        )
        .with_label("no such cell")
        .with_help(help))
    };
    if let Some(t) = casetype {
        pick(0, t, "case type")?;
    }
    pick(1, state, "row")?;
    pick(2, subject, "column")?;
    let hits: Vec<&&Item> = cells
        .iter()
        .filter(|i| {
            let n = names(i);
            casetype.is_none_or(|t| n[0] == t) && n[1] == state && n[2] == subject
        })
        .collect();
    let mut types: Vec<String> = hits.iter().map(|i| names(i)[0].clone()).collect();
    types.dedup();
    if hits.is_empty() {
        return err(
            format!("cell `{}` is empty: it allows and denies nothing", c.text),
            "an empty cell never decides; expect the rule that does".into(),
        );
    }
    if types.len() > 1 {
        return Err(Diagnostic::new(
            Code::InvalidTest,
            c.span,
            format!("cell `{}` is in the tables of several case types", c.text),
        )
        .with_label("ambiguous")
        .with_help(format!(
            "name the case type first: {}",
            words::either(types.iter().map(|t| format!("{t} / {state} / {subject}")))
        )));
    }
    Ok(Resolved {
        shown: format!("table cell `{state} / {subject}`"),
        spans: hits.iter().map(|i| i.span).collect(),
    })
}
