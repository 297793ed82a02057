//! The items of a policy that tests name and coverage counts (rules, table cells, transitions,
//! module grants, access-mode lines), and the expected `rule` and `cell` of a test case
//! resolved to them.

use super::{find, squash, Located};
use crate::diagnostic::{words, Code, Diagnostic, Span};
use crate::ir::{RuleOrigin, RuleScope};
use crate::reference::RuleRef;
use crate::Policy;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

#[cfg(test)]
use super::find::tests::TEXT_TESTS;

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
}

/// Every item of a policy that coverage counts and expectations can name.
pub(super) fn items(policy: &Policy) -> Vec<Item> {
    let compiled = policy.compiled();
    let p = compiled.ir();
    let src = compiled.sources();
    let mut out: Vec<Item> = Vec::new();
    let mut kept = HashSet::new();
    let mut push = |kind: &'static str, span: Span, source: String, cell: Option<[String; 3]>| {
        #[cfg(test)]
        crate::reference::tests::count(&TEXT_TESTS);
        if !kept.insert(span) {
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

/// The items of a policy and what finds them, built once for a run of a test file: an item by
/// its place, the items whose text contains a `rule` expectation (all the expectations of the
/// file at once, see `find.rs`), and table cells by their names.
pub(super) struct Catalog {
    pub(super) items: Vec<Item>,
    by_span: HashMap<Span, usize>,
    cells: Cells,
}

impl Catalog {
    pub(super) fn new(policy: &Policy) -> Catalog {
        let items = items(policy);
        let by_span = items.iter().enumerate().map(|(i, x)| (x.span, i)).collect();
        let cells = Cells::new(&items);
        Catalog {
            items,
            by_span,
            cells,
        }
    }

    /// A rule the trace names, as the matching item.
    pub(super) fn item_of(&self, r: &RuleRef) -> Item {
        #[cfg(test)]
        crate::reference::tests::count(&TEXT_TESTS);
        match self.by_span.get(&r.span) {
            Some(&i) => self.items[i].clone(),
            None => Item {
                kind: r.kind,
                file: r.file.clone(),
                line: r.line,
                column: r.column,
                source: squash(&r.source),
                cell: None,
                span: r.span,
                cell_names: None,
            },
        }
    }

    /// Each `rule` expectation resolved to the one rule, transition or access-mode line whose
    /// text contains it (whitespace collapsed), or the error that says why there is none.
    /// Every expectation is looked up in one index of the items' texts, so the cost grows with
    /// the expectations and the policy's text, not with their product.
    pub(super) fn resolve_rules<'a>(
        &self,
        rules: impl Iterator<Item = &'a Located>,
    ) -> Vec<Result<Resolved, Diagnostic>> {
        let rules: Vec<(&Located, String)> = rules.map(|r| (r, squash(&r.text))).collect();
        let mut distinct: HashMap<&str, usize> = HashMap::new();
        let mut wants: Vec<&str> = Vec::new();
        for (_, want) in &rules {
            distinct.entry(want).or_insert_with(|| {
                wants.push(want);
                wants.len() - 1
            });
        }
        let of_kind = |kinds: &[&str]| -> Vec<usize> {
            (0..self.items.len())
                .filter(|&i| kinds.contains(&self.items[i].kind))
                .collect()
        };
        let decides = of_kind(&["rule", "transition", "access mode"]);
        let texts = |at: &[usize]| -> Vec<&str> {
            at.iter().map(|&i| self.items[i].source.as_str()).collect()
        };
        let hits = find::containing(&texts(&decides), &wants, words::LISTED);
        // For the help of an expectation that names no rule: the first module grant that
        // contains it, and the first table cell whose text it is.
        let missing: Vec<usize> = (0..wants.len()).filter(|&w| hits[w].count == 0).collect();
        let grants = of_kind(&["module grant"]);
        let missing_texts: Vec<&str> = missing.iter().map(|&w| wants[w]).collect();
        let mut grant_of: HashMap<usize, usize> = HashMap::new();
        for (&w, h) in missing
            .iter()
            .zip(find::containing(&texts(&grants), &missing_texts, 1))
        {
            if let Some(&g) = h.first.first() {
                grant_of.insert(w, grants[g]);
            }
        }
        rules
            .iter()
            .map(|(r, want)| {
                let w = distinct[want.as_str()];
                let found = &hits[w];
                match found.count {
                    1 => {
                        let one = &self.items[decides[found.first[0]]];
                        Ok(Resolved {
                            shown: one.describe(),
                            spans: vec![one.span],
                        })
                    }
                    0 => Err(self.names_no_rule(r, want, grant_of.get(&w).copied())),
                    many => Err(Diagnostic::new(
                        Code::InvalidTest,
                        r.span,
                        format!("`{want}` matches {many} rules of the policy"),
                    )
                    .with_label("ambiguous")
                    .with_help(format!(
                        "quote more of the rule so that it names one: {}",
                        // `join` reads only the phrases it shows, the first ones.
                        words::join(
                            (0..many).map(|k| match found.first.get(k) {
                                Some(&i) => {
                                    let i = &self.items[decides[i]];
                                    format!("`{}` ({}:{})", i.source, i.file, i.line)
                                }
                                None => String::new(),
                            }),
                            "or",
                            words::LISTED
                        )
                    ))),
                }
            })
            .collect()
    }

    /// The error for a `rule` expectation that no rule contains, with help that names the module
    /// grant or table cell it quotes, if it quotes one.
    fn names_no_rule(&self, r: &Located, want: &str, grant: Option<usize>) -> Diagnostic {
        let cell = self.cells.by_source.get(want).map(|&i| &self.items[i]);
        let help = if let Some(g) = grant.map(|g| &self.items[g]) {
            format!("this is module grant `{}` ({}:{}), which only lets a request through the module layer; name the rule or table cell that allows instead", g.source, g.file, g.line)
        } else if let Some(c) = cell {
            format!(
                "`{}` is a table-cell entry; name the cell with `cell`, e.g. `\"cell\": \"{}\"`",
                want,
                c.cell_names
                    .as_ref()
                    .map(|n| format!("{} / {}", n[1], n[2]))
                    .unwrap_or_default()
            )
        } else {
            "`rule` is matched against the text of the policy's rule statements, transitions and access-mode lines (whitespace does not matter); copy part of one, e.g. `deny Manager: edit`".into()
        };
        Diagnostic::new(
            Code::InvalidTest,
            r.span,
            format!("no rule of the policy contains `{want}`"),
        )
        .with_label("matches no rule")
        .with_help(help)
    }
}

/// The table cells of a policy, found by their names.
struct Cells {
    /// Each cell entry's position among the items, in their order.
    all: Vec<usize>,
    /// The entries of each (state, subject), in the items' order.
    by_place: HashMap<(String, String), Vec<usize>>,
    /// The case types, states (rows) and subjects (columns) that have entries.
    names: [HashSet<String>; 3],
    /// The first entry with each text.
    by_source: HashMap<String, usize>,
}

impl Cells {
    fn new(items: &[Item]) -> Cells {
        let mut cells = Cells {
            all: Vec::new(),
            by_place: HashMap::new(),
            names: Default::default(),
            by_source: HashMap::new(),
        };
        for (i, item) in items.iter().enumerate() {
            let Some(n) = item
                .cell_names
                .as_ref()
                .filter(|_| item.kind == "table cell")
            else {
                continue;
            };
            cells.all.push(i);
            cells
                .by_place
                .entry((n[1].clone(), n[2].clone()))
                .or_default()
                .push(i);
            for (k, name) in n.iter().enumerate() {
                if !cells.names[k].contains(name) {
                    cells.names[k].insert(name.clone());
                }
            }
            cells.by_source.entry(item.source.clone()).or_insert(i);
        }
        cells
    }
}

impl Catalog {
    /// A `cell` expectation resolved to the entries of the cell it names, or the error that says
    /// why there are none. Each name is looked up, not compared with every cell.
    pub(super) fn resolve_cell(&self, c: &Located) -> Result<Resolved, Diagnostic> {
        let parts: Vec<&str> = c.text.split('/').map(str::trim).collect();
        let cells = &self.cells;
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
        if cells.all.is_empty() {
            return err(
                format!(
                    "the policy has no table with entries, so it has no cell `{}`",
                    c.text
                ),
                "use `rule` to name a rule statement".into(),
            );
        }
        let names = |i: usize| self.items[i].cell_names.clone().unwrap_or_default();
        let pick = |k: usize, value: &str, label: &str| -> Result<(), Diagnostic> {
            if cells.names[k].contains(value) {
                return Ok(());
            }
            let mut all: Vec<String> = cells.names[k].iter().cloned().collect();
            all.sort();
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
        let hits: Vec<usize> = cells
            .by_place
            .get(&(state.to_string(), subject.to_string()))
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| casetype.is_none_or(|t| names(i)[0] == t))
            .collect();
        let mut types: Vec<String> = hits.iter().map(|&i| names(i)[0].clone()).collect();
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
            spans: hits.iter().map(|&i| self.items[i].span).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{find, Item, Resolved};
    use crate::diagnostic::{words, Code, Diagnostic, Span};
    use crate::reference::tests::{read, reset};
    use crate::testing::find::tests::TEXT_TESTS;
    use crate::testing::squash;
    use crate::testing::Located;

    // The expectations resolved as they were before the catalog: by a scan of every item.
    fn literal_rule(items: &[Item], r: &Located) -> Result<Resolved, Diagnostic> {
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

    fn literal_cell(items: &[Item], c: &Located) -> Result<Resolved, Diagnostic> {
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

    /// The catalog resolves `rule` and `cell` expectations as the scans of every item did,
    /// message for message: one rule, none (with the help that names a module grant or a
    /// table-cell entry), many (more than the ten a message lists), the empty fragment, cells
    /// of one or of two case types, an empty cell, unknown names and malformed cells. The rule
    /// expectations are resolved all at once (more than `find.rs` scans, so with the index)
    /// and one at a time (scanned).
    #[test]
    fn the_catalog_resolves_as_a_scan_of_every_item() {
        let mut text = String::from(
            "role Clerk, Manager, Auditor;
action view, edit, approve;
module Desk { actions view, edit, approve; }
group Clerks { grants Clerk; }
enum Seal { open, sealed }
case File {
  attr seal: Seal;
  relation owner;
  mode seal {
    open: everyone;
    sealed: owner;
  }
}
casetype Request {
  states Draft, Review, Done;
  initial Draft;
  final Done;
  transition approve: Review -> Done by Manager;
  module Desk {
    Clerk, Manager: view, edit;
  }
  allow Auditor: view;
  deny owner: approve;
  table {
           | Clerk       | Manager
    Draft  | +view +edit | +view
    Review | +view -edit | .
    Done   | +view       | +view
  }
}
casetype Complaint {
  states Draft, Review;
  initial Draft;
  table {
           | Clerk
    Draft  | +edit
    Review | +view +approve
  }
}
",
        );
        for k in 0..12 {
            text.push_str(&format!("resource N{k} {{ allow Manager: view; }}\n"));
        }
        let policy = Policy::from_source("p.casepol", &text).unwrap_or_else(|e| panic!("{e}"));
        let catalog = super::Catalog::new(&policy);
        let items = &catalog.items;
        let at = |text: &str| Located {
            text: text.to_string(),
            span: Span::default(),
        };
        let rules: Vec<Located> = [
            "",
            "allow",
            "Manager: view",
            "allow  Manager:\tview;",
            "allow Auditor",
            "deny owner",
            "+view",
            "Clerk, Manager: view, edit;",
            "open: everyone;",
            "sealed: owner",
            "nothing like it",
            "approve: Review -> Done",
            "+view +edit",
            "+approve",
            "view",
            "Review -> Done by Manager",
            "owner",
            "Auditor: view;",
        ]
        .iter()
        .map(|t| at(t))
        .collect();
        // Enough more that all at once are found with the index, not scanned.
        let padded: Vec<Located> = rules
            .iter()
            .cloned()
            .chain((0..find::SCAN_FRAGMENTS).map(|i| at(&format!("nowhere {i}"))))
            .collect();
        let literal: Vec<_> = padded.iter().map(|r| literal_rule(items, r)).collect();
        let show = |r: &Result<Resolved, Diagnostic>| match r {
            Ok(r) => format!("{} {:?}", r.shown, r.spans),
            Err(d) => format!("{d:?}"),
        };
        let all = catalog.resolve_rules(padded.iter());
        assert_eq!(all.len(), padded.len());
        for ((r, want), got) in padded.iter().zip(&literal).zip(&all) {
            assert_eq!(show(got), show(want), "{:?}", r.text);
        }
        for (r, want) in rules.iter().zip(&literal) {
            let alone = catalog.resolve_rules(std::iter::once(r));
            assert_eq!(show(&alone[0]), show(want), "{:?} alone", r.text);
        }
        let outcomes: Vec<String> = literal.iter().map(show).collect();
        for part in [
            "matches 12 rules",
            "or 2 more",
            "is a table-cell entry",
            "this is module grant",
            "no rule of the policy contains",
        ] {
            assert!(
                outcomes.iter().any(|o| o.contains(part)),
                "no case says {part:?}"
            );
        }
        for cell in [
            "Draft / Clerk",
            "Request / Draft / Clerk",
            "Complaint / Draft / Clerk",
            "Review / Manager",
            "Review / Clerk",
            "Done / Manager",
            "Draft / Nobody",
            "Nowhere / Clerk",
            "Other / Draft / Clerk",
            "Draft",
            "a / b / c / d",
            " / Clerk",
            "Request / Review / Manager",
            "Complaint / Done / Clerk",
        ] {
            assert_eq!(
                show(&catalog.resolve_cell(&at(cell))),
                show(&literal_cell(items, &at(cell))),
                "{cell}"
            );
        }
        let several = show(&literal_cell(items, &at("Draft / Clerk")));
        assert!(several.contains("several case types"), "{several}");
        let empty = show(&literal_cell(items, &at("Review / Manager")));
        assert!(empty.contains("is empty"), "{empty}");
        let _ = (
            words::LISTED,
            Code::InvalidTest,
            squash(""),
            std::mem::size_of::<Item>(),
        );
    }
    use crate::testing::{parse, run};
    use crate::Policy;

    /// A policy of 2,000 rules, one for each state of a case type, and 1,000 cases that each
    /// expect the rule of their state by its text (more than `find.rs` scans). Each expectation is looked up, not tested
    /// against every rule, and each item is found by its place: the work grows with the
    /// expectations and the log of the policy's text. It used to test each expectation against
    /// the text of every rule, find each deciding rule by a scan of the items, and keep the
    /// items free of repeats by a scan of those kept (4,499,500 steps here).
    #[test]
    fn rule_expectations_are_looked_up_not_scanned() {
        let (states, cases) = (2_000, 1_000);
        let mut text = String::from(
            "role R; action view; group G { grants R; } case Case { } casetype T {\n  states ",
        );
        text.push_str(
            &(0..states)
                .map(|s| format!("S{s}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        text.push_str(";\n  initial S0;\n");
        for s in 0..states {
            text.push_str(&format!("  allow R: view in S{s};\n"));
        }
        text.push_str("}\n");
        let policy = Policy::from_source("p.casepol", &text).unwrap_or_else(|e| panic!("{e}"));
        let resources: Vec<String> = (0..cases)
            .map(|i| format!(r#"{{"id": "c{i}", "kind": "Case", "type": "T", "state": "S{i}"}}"#))
            .collect();
        let entities = format!(
            r#"{{"users": [{{"id": "ann", "groups": ["G"]}}], "resources": [{}]}}"#,
            resources.join(", ")
        );
        let tests: Vec<String> = (0..cases)
            .map(|i| {
                format!(
                    r#"{{"name": "t{i}", "request": {{"principal": "ann", "action": "view", "resource": "c{i}"}}, "expect": "allow", "rule": "view in S{i};"}}"#
                )
            })
            .collect();
        let mut sources = crate::diagnostic::Sources::new();
        let file = sources.add(
            "p.test.json",
            format!(
                r#"{{"entities": {entities}, "tests": [{}]}}"#,
                tests.join(",\n")
            ),
        );
        let tests = parse(&sources, file).unwrap_or_else(|d| panic!("{d:?}"));
        let entities = policy
            .load_entities(&entities)
            .unwrap_or_else(|e| panic!("{e:?}"));
        reset(&TEXT_TESTS);
        let done = run(&policy, &entities, &tests);
        assert_eq!(
            (done.passed(), done.failed()),
            (cases, 0),
            "{:?}",
            done.diagnostics
        );
        let steps = read(&TEXT_TESTS);
        // The rules' text is about 48,000 bytes (fewer than 2^16 suffixes), so each of the two
        // binary searches of an expectation (where its matches start and end) takes at most 17
        // probes; each item is kept once and each deciding rule found by its place.
        let bound = cases * 2 * 17 + states + cases;
        assert!(
            steps <= bound,
            "{steps} steps for {cases} expectations and {states} rules, more than {bound}"
        );
    }
}
