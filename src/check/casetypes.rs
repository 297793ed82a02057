//! Case types: their states, initial and final states, transitions, module grants, rules and
//! permission tables, and the modules whose grants they hold.

use super::names::{ids, Sort};
use super::Checker;
use crate::ast::{self, ActionRef, Effect, Ident, Item};
use crate::bits::Bits;
use crate::diagnostic::words;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::ir::*;
use std::collections::{HashMap, HashSet, VecDeque};

impl Checker {
    /// The modules: the actions each offers and the relations that make a case one's record.
    pub(super) fn modules(&mut self, items: &[&Item], action_groups: &[Bits], p: &mut Policy) {
        for item in items {
            if let Item::Module(m) = item {
                if self.modules.get(&m.name.name) != Some(p.modules.len() as u32) {
                    continue;
                }
                let mut actions = Bits::EMPTY;
                for a in &m.actions {
                    if let Some(id) = self.actions.get(&a.name) {
                        actions.set(id as usize);
                    } else if let Some(g) = self.action_groups.get(&a.name) {
                        actions = actions.union(action_groups[g as usize]);
                    } else {
                        self.unresolved(a, &[Sort::Action, Sort::ActionGroup], &[]);
                    }
                }
                let actions = ids(actions);
                let records = m
                    .records
                    .iter()
                    .filter_map(|r| {
                        let rel = self.lookup(r, Sort::Relation).map(RelationId)?;
                        self.case_relation(rel, r.span, "a module's `records`", p)
                            .then_some(rel)
                    })
                    .collect();
                let data_roles = (!m.data_roles.is_empty()).then(|| self.data_roles(m));
                p.modules.push(ModuleDef {
                    name: m.name.name.clone(),
                    span: m.name.span,
                    actions,
                    records,
                    data_roles,
                });
            }
        }
    }

    /// The roles of a module's `data roles` lines, each once, in the order written. A relation
    /// is CP0105 with its own help: relations always count in the data layer.
    fn data_roles(&mut self, m: &ast::ModuleDecl) -> Vec<RoleId> {
        let mut roles: Vec<RoleId> = Vec::new();
        let mut seen = Bits::EMPTY;
        for r in &m.data_roles {
            if self.relations.get(&r.name).is_some() && self.roles.get(&r.name).is_none() {
                self.error(
                    Diagnostic::new(
                        Code::WrongSort,
                        r.span,
                        format!("`{}` is a relation, but `data roles` lists roles", r.name),
                    )
                    .with_label("expected a role")
                    .with_help(format!(
                        "relations held on the case always count in the data layer, through every module; remove `{}` from the module's data roles",
                        r.name
                    )),
                );
                continue;
            }
            if let Some(id) = self.lookup(r, Sort::Role) {
                if !seen.get(id as usize) {
                    seen.set(id as usize);
                    roles.push(RoleId(id));
                }
            }
        }
        roles
    }

    /// The case types, in declaration order.
    pub(super) fn casetypes(&mut self, items: &[&Item], action_groups: &[Bits], p: &mut Policy) {
        for item in items {
            if let Item::CaseType(c) = item {
                if self.casetypes.get(&c.name.name) != Some(p.casetypes.len() as u32) {
                    continue;
                }
                self.casetype(c, action_groups, p);
            }
        }
    }

    pub(super) fn state(
        &mut self,
        s: &Ident,
        states: &States,
        ct: Option<CaseTypeId>,
        p: &Policy,
    ) -> Option<StateId> {
        if let Some(&i) = states.index.get(&s.name) {
            return Some(StateId(i));
        }
        if !self.reporting() {
            self.error(Diagnostic::new(Code::Undefined, s.span, String::new()));
            return None;
        }
        let states = &states.named;
        let ct_name = ct
            .and_then(|c| p.casetypes.get(c.idx()))
            .map(|c| c.name.as_str())
            .unwrap_or("");
        let help = self
            .did_you_mean(&s.name, states.iter().map(|x| x.name.as_str()))
            .unwrap_or_else(|| match states.is_empty() {
                true => "declare the states first: `states Start, Review;`".into(),
                false => format!(
                    "the states are {}",
                    words::list(states.iter().map(|x| x.name.as_str()))
                ),
            });
        let msg = if ct_name.is_empty() {
            format!("unknown state `{}`", s.name)
        } else {
            format!("case type `{ct_name}` has no state `{}`", s.name)
        };
        self.error(
            Diagnostic::new(Code::Undefined, s.span, msg)
                .with_label("not a declared state")
                .with_help(help),
        );
        None
    }

    fn casetype(&mut self, c: &ast::CaseTypeDecl, groups: &[Bits], p: &mut Policy) {
        let ct = CaseTypeId(p.casetypes.len() as u32);
        let mut states = States::default();
        for s in &c.states {
            if let Some(&prev) = states.index.get(&s.name) {
                let prev_span = states.named[prev as usize].span;
                self.error(
                    Diagnostic::new(
                        Code::Duplicate,
                        s.span,
                        format!("state `{}` is declared twice", s.name),
                    )
                    .with_secondary(prev_span, "first declared here")
                    .with_help("remove the repeated state"),
                );
                continue;
            }
            states
                .index
                .insert(s.name.clone(), states.named.len() as u32);
            states.named.push(Named {
                name: s.name.clone(),
                span: s.span,
            });
        }
        p.casetypes.push(CaseTypeDef {
            name: c.name.name.clone(),
            span: c.name.span,
            states: states.named.clone(),
            initial: StateId(0),
            finals: Vec::new(),
            transitions: Vec::new(),
            module_grants: Vec::new(),
            uses_modules: !c.module_grants.is_empty(),
            tables: Vec::new(),
            reachable: Vec::new(),
            workflow: true,
        });
        // Without `states`, a case type has no workflow: its cases have one state, which has no
        // name, and nothing may move them. What only a workflow can have is an error.
        let workflow = !c.states.is_empty();
        let needs_states = !c.initials.is_empty()
            || !c.finals.is_empty()
            || !c.transitions.is_empty()
            || !c.tables.is_empty();
        if states.named.is_empty() && (workflow || needs_states) {
            self.error(
                Diagnostic::new(
                    Code::StateMachine,
                    c.name.span,
                    format!("case type `{}` declares no states", c.name.name),
                )
                .with_help("list its workflow states: `states Start, Review, Closed;` (a case type without a workflow omits `states`, and then also `initial`, `final`, `transition` and `table`)"),
            );
        }
        if !workflow {
            let def = &mut p.casetypes[ct.idx()];
            def.workflow = false;
            def.states = vec![Named {
                name: String::new(),
                span: c.name.span,
            }];
        }
        for extra in c.initials.iter().skip(1) {
            self.error(
                Diagnostic::new(
                    Code::StateMachine,
                    extra.span,
                    format!(
                        "case type `{}` has more than one initial state",
                        c.name.name
                    ),
                )
                .with_secondary(c.initials[0].span, "the first `initial` is here")
                .with_help("a case starts in exactly one state; keep one `initial` line"),
            );
        }
        let initial = match c.initials.first() {
            Some(i) => self.state(i, &states, Some(ct), p),
            None => {
                if let Some(first) = states.named.first() {
                    self.error(
                        Diagnostic::new(
                            Code::StateMachine,
                            c.name.span,
                            format!("case type `{}` has no initial state", c.name.name),
                        )
                        .with_help(format!("add `initial {};`", first.name)),
                    );
                }
                None
            }
        };
        let finals: Vec<StateId> = c
            .finals
            .iter()
            .filter_map(|f| self.state(f, &states, Some(ct), p))
            .collect();
        let final_names: HashSet<&str> = c.finals.iter().map(|f| f.name.as_str()).collect();
        let mut transitions = Vec::new();
        let errors_before = self.errors;
        for (ti, t) in c.transitions.iter().enumerate() {
            let action = self.lookup(&t.action, Sort::Action).map(ActionId);
            let from: Vec<StateId> = t
                .from
                .iter()
                .filter_map(|f| self.state(f, &states, Some(ct), p))
                .collect();
            let to = self.state(&t.to, &states, Some(ct), p);
            let by: Vec<Subject> = self.subjects_in(&t.by, RuleScope::CaseType(ct), p);
            for f in &t.from {
                if final_names.contains(f.name.as_str()) {
                    self.error(
                        Diagnostic::new(
                            Code::StateMachine,
                            f.span,
                            format!(
                                "transition `{}` leaves final state `{}`",
                                t.action.name, f.name
                            ),
                        )
                        .with_label("a final state has no way out")
                        .with_help(format!(
                            "remove `{}` from the transition, or from the `final` list",
                            f.name
                        )),
                    );
                }
            }
            if let (Some(action), Some(to)) = (action, to) {
                transitions.push(TransitionDef {
                    action,
                    from: from.clone(),
                    to,
                    by: by.clone(),
                    span: t.span,
                });
                self.push_rule(
                    p,
                    RuleDef {
                        effect: crate::ir::Effect::Allow,
                        subjects: by,
                        actions: vec![action],
                        states: from,
                        scope: RuleScope::CaseType(ct),
                        origin: RuleOrigin::Transition { index: ti as u32 },
                        when: Vec::new(),
                        span: t.span,
                    },
                );
            }
        }
        // A transition that failed to resolve would make reachability guesswork.
        let transitions_ok = self.errors == errors_before;
        let mut module_grants = Vec::new();
        for g in &c.module_grants {
            let Some(m) = self.lookup(&g.module, Sort::Module).map(ModuleId) else {
                continue;
            };
            let offered = Bits::from_indices(p.modules[m.idx()].actions.iter().map(|a| a.idx()));
            for line in &g.lines {
                let subjects: Vec<Subject> =
                    self.subjects_in(&line.subjects, RuleScope::CaseType(ct), p);
                let actions = self.action_set(&line.actions, groups, Some(offered));
                let outside = Bits::from_indices(actions.iter().filter(|&a| !offered.get(a)));
                if !outside.is_empty() {
                    self.not_in_module(line, outside, m, p);
                }
                let actions = ids(actions);
                if self.count_entries(actions.len().max(1), line.span) {
                    module_grants.push(ModuleGrantDef {
                        module: m,
                        subjects,
                        actions,
                        span: line.span,
                    });
                }
            }
        }
        for r in &c.rules {
            self.rule(r, RuleScope::CaseType(ct), Some((ct, &states)), groups, p);
        }
        for t in &c.tables {
            self.table(t, ct, &states, groups, p);
        }
        let def = &mut p.casetypes[ct.idx()];
        def.initial = initial.unwrap_or(StateId(0));
        def.finals = finals;
        def.transitions = transitions;
        def.module_grants = module_grants;
        def.reachable = reachable(def);
        if let (Some(_), true) = (initial, transitions_ok) {
            self.unreachable(&p.casetypes[ct.idx()]);
        }
        if transitions_ok {
            self.edge_warnings(c, &states, &p.casetypes[ct.idx()], p);
        }
    }

    /// CP0212, two transitions that leave one state by one action for different states, and
    /// CP0213, an allow (a rule statement of the case type or a `+` table entry) that names an
    /// action of its transitions, by name, in a state that no transition by it leaves. Both are
    /// warnings: a request that names a target state is decided by the transitions alone, and
    /// one that names none reads the allow as before.
    fn edge_warnings(
        &mut self,
        c: &ast::CaseTypeDecl,
        states: &States,
        def: &CaseTypeDef,
        p: &Policy,
    ) {
        // (action, source state) -> the first transition's target and span.
        let mut leaves: HashMap<(u32, u32), (u32, Span)> = HashMap::new();
        for t in &def.transitions {
            let mut other: Option<(u32, Span)> = None;
            for f in &t.from {
                match leaves.get(&(t.action.0, f.0)) {
                    Some(&(to, span)) if to != t.to.0 => {
                        other.get_or_insert((f.0, span));
                    }
                    Some(_) => {}
                    None => {
                        leaves.insert((t.action.0, f.0), (t.to.0, t.span));
                    }
                }
            }
            if let Some((f, span)) = other {
                let (first_to, _) = leaves[&(t.action.0, f)];
                let action = &p.actions[t.action.idx()].name;
                let name = |s: u32| def.states[s as usize].name.as_str();
                self.diags.push(
                    Diagnostic::new(
                        Code::AmbiguousTransition,
                        t.span,
                        format!(
                            "`{action}` moves a case in state `{}` to `{}` here and to `{}` in another transition",
                            name(f),
                            name(t.to.0),
                            name(first_to)
                        ),
                    )
                    .with_label(format!("a second target for `{action}` from `{}`", name(f)))
                    .with_secondary(span, "the first transition is here")
                    .with_help(format!(
                        "a request that names no target state cannot say which move it asks for; give each move its own action, e.g. `transition {action}_to_{}: {} -> {} by {};`, or always ask with a target state",
                        name(t.to.0),
                        name(f),
                        name(t.to.0),
                        t.by.iter().map(|s| p.subject_name(*s)).collect::<Vec<_>>().join(", ")
                    )),
                );
            }
        }
        if def.transitions.is_empty() {
            return;
        }
        // An allow of a transition action where it has no way out.
        let moving = Bits::from_indices(def.transitions.iter().map(|t| t.action.idx()));
        let outside =
            |this: &Self, a: &crate::ast::Ident, in_states: &mut dyn Iterator<Item = u32>| {
                let action = this.actions.get(&a.name)?;
                if !moving.get(action as usize) {
                    return None;
                }
                let stray: Vec<&str> = in_states
                    .filter(|s| !leaves.contains_key(&(action, *s)))
                    .map(|s| def.states[s as usize].name.as_str())
                    .collect();
                (!stray.is_empty()).then_some((action, stray))
            };
        let mut found: Vec<(Span, u32, Vec<&str>, String)> = Vec::new();
        for r in c.rules.iter().filter(|r| r.effect == Effect::Allow) {
            let named: Vec<u32> = r
                .states
                .iter()
                .filter_map(|s| states.index.get(&s.name).copied())
                .collect();
            for a in &r.actions {
                let ActionRef::Name(a) = a else { continue };
                let mut in_states: Box<dyn Iterator<Item = u32>> = if r.states.is_empty() {
                    Box::new(0..def.states.len() as u32)
                } else {
                    Box::new(named.iter().copied())
                };
                if let Some((action, stray)) = outside(self, a, &mut in_states) {
                    let who = r
                        .subjects
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    found.push((a.span, action, stray, who));
                }
            }
        }
        for table in &c.tables {
            for row in &table.rows {
                let Some(&s) = states.index.get(&row.state.name) else {
                    continue;
                };
                for (cell, col) in row.cells.iter().zip(&table.columns) {
                    for e in cell.entries.iter().filter(|e| e.effect == Effect::Allow) {
                        let ActionRef::Name(a) = &e.action else {
                            continue;
                        };
                        if let Some((action, stray)) = outside(self, a, &mut std::iter::once(s)) {
                            found.push((e.span, action, stray, col.name.clone()));
                        }
                    }
                }
            }
        }
        for (span, action, stray, who) in found {
            let name = &p.actions[action as usize].name;
            // A target the action already leads to, other than the state it would leave, when
            // that state may have a way out (not final).
            let leaves_final = def
                .finals
                .iter()
                .any(|f| def.states[f.idx()].name == stray[0]);
            let edge = def
                .transitions
                .iter()
                .filter(|t| t.action.0 == action)
                .map(|t| def.states[t.to.idx()].name.as_str())
                .find(|to| *to != stray[0] && !leaves_final);
            let sources: Vec<&str> = def
                .states
                .iter()
                .enumerate()
                .filter(|(s, _)| leaves.contains_key(&(action, *s as u32)))
                .map(|(_, s)| s.name.as_str())
                .collect();
            let help = match edge {
                Some(edge) => format!(
                    "a request that names a target state is decided by the declared transitions only, so this allow moves no case; declare the move, e.g. `transition {name}: {} -> {edge} by {who};`, or allow another action here",
                    stray[0]
                ),
                None => format!(
                    "a request that names a target state is decided by the declared transitions only, and `{name}` leaves only {}; remove `{name}` here, or allow another action",
                    words::list(&sources)
                ),
            };
            self.diags.push(
                Diagnostic::new(
                    Code::GrantOutsideTransitions,
                    span,
                    format!(
                        "`{name}` is an action of the transitions of `{}`, but this allows it in {} {}, which no `{name}` transition leaves",
                        def.name,
                        if stray.len() == 1 { "state" } else { "states" },
                        words::list(&stray)
                    ),
                )
                .with_label("allowed outside its transitions")
                .with_help(help),
            );
        }
    }

    /// CP0108 for the actions of a module grant line that its module does not offer: one error
    /// per action, at the name that brings it in (or at the line, for an action group).
    #[cold]
    fn not_in_module(&mut self, line: &ast::ModuleLine, outside: Bits, m: ModuleId, p: &Policy) {
        let named: HashMap<&str, Span> = line
            .actions
            .iter()
            .rev()
            .filter_map(|x| match x {
                ActionRef::Name(i) => Some((i.name.as_str(), i.span)),
                ActionRef::Star(_) => None,
            })
            .collect();
        let module = &p.modules[m.idx()];
        for a in outside.iter() {
            let name = &p.actions[a].name;
            let span = named.get(name.as_str()).copied().unwrap_or(line.span);
            if !self.reporting() {
                self.error(Diagnostic::new(Code::NotInModule, span, String::new()));
                continue;
            }
            self.error(
                Diagnostic::new(
                    Code::NotInModule,
                    span,
                    format!("action `{name}` is not in module `{}`", module.name),
                )
                .with_label(format!("`{}` does not offer this action", module.name))
                .with_secondary(module.span, "the module's actions are declared here")
                .with_help(format!(
                    "add it to the module's `actions` list, or grant it through a module that has it; `{}` offers {}",
                    module.name,
                    words::list(module.actions.iter().map(|x| p.actions[x.idx()].name.as_str()))
                )),
            );
        }
    }

    fn table(
        &mut self,
        t: &ast::Table,
        ct: CaseTypeId,
        states: &States,
        groups: &[Bits],
        p: &mut Policy,
    ) {
        let columns: Vec<Option<Subject>> = t
            .columns
            .iter()
            .map(|c| {
                let subject = self.subject(c)?;
                match subject {
                    Subject::Relation(r) => self
                        .relation_in_rule(r, c.span, RuleScope::CaseType(ct), p)
                        .then_some(subject),
                    _ => Some(subject),
                }
            })
            .collect();
        let mut def = TableDef {
            span: Span {
                end: t.span.start.saturating_add(5).min(t.span.end),
                ..t.span
            },
            columns: columns.len(),
            rows: Vec::new(),
        };
        let mut seen_rows: HashMap<&str, Span> = HashMap::new();
        for row in &t.rows {
            if let Some(prev) = seen_rows.insert(&row.state.name, row.state.span) {
                self.error(
                    Diagnostic::new(
                        Code::Duplicate,
                        row.state.span,
                        format!("state `{}` has two rows in this table", row.state.name),
                    )
                    .with_secondary(prev, "first row here")
                    .with_help("merge the two rows"),
                );
            }
            let state = self.state(&row.state, states, Some(ct), p);
            if let Some(state) = state {
                def.rows.push(TableRowDef {
                    state,
                    span: row.state.span,
                    cells: row.cells.iter().map(|c| c.span).collect(),
                });
            }
            if row.cells.len() != columns.len() {
                let span = row.cells.last().map(|c| c.span).unwrap_or(row.state.span);
                self.error(
                    Diagnostic::new(
                        Code::TableShape,
                        span,
                        format!(
                            "row `{}` has {} cell{}, but the table has {} column{}",
                            row.state.name,
                            row.cells.len(),
                            if row.cells.len() == 1 { "" } else { "s" },
                            columns.len(),
                            if columns.len() == 1 { "" } else { "s" }
                        ),
                    )
                    .with_secondary(
                        t.columns.first().map(|c| c.span).unwrap_or(t.span),
                        "the columns are declared here",
                    )
                    .with_help("give every row one cell per column; write `.` for an empty cell"),
                );
            }
            for (cell, col) in row.cells.iter().zip(&columns) {
                // What the cell allows and denies so far, and, per action and effect, the entry
                // that set it last (stamped with the cell, so the table is not cleared between
                // cells): each entry costs its own actions, never the whole cell.
                self.cell_stamp += 1;
                let mut set = [Bits::EMPTY; 2];
                for e in &cell.entries {
                    let ids_set = self.action_set(std::slice::from_ref(&e.action), groups, None);
                    let (mine, other) = match e.effect {
                        Effect::Allow => (0, 1),
                        Effect::Deny => (1, 0),
                    };
                    let clash = ids_set.intersect(set[other]);
                    if !clash.is_empty() {
                        self.same_cell(e.span, clash, other, p);
                    }
                    set[mine] = set[mine].union(ids_set);
                    for a in ids_set.iter() {
                        self.cell_last[a][mine] = (self.cell_stamp, e.span);
                    }
                    let ids = ids(ids_set);
                    if let (Some(subject), Some(state)) = (col, state) {
                        if !ids.is_empty() {
                            self.push_rule(
                                p,
                                RuleDef {
                                    effect: super::rules::effect(e.effect),
                                    subjects: vec![*subject],
                                    actions: ids,
                                    states: vec![state],
                                    scope: RuleScope::CaseType(ct),
                                    origin: RuleOrigin::TableCell {
                                        state,
                                        subject: *subject,
                                    },
                                    when: Vec::new(),
                                    span: e.span,
                                },
                            );
                        }
                    }
                }
            }
        }
        p.casetypes[ct.idx()].tables.push(def);
    }

    /// CP0202 for a table entry that allows (or denies) the actions `clash`, which an earlier
    /// entry of the same cell denies (or allows): one warning per action, each pointing at the
    /// entry that set the other effect (`other`) last.
    #[cold]
    fn same_cell(&mut self, span: Span, clash: Bits, other: usize, p: &Policy) {
        for a in clash.iter() {
            let mut d = Diagnostic::new(
                Code::AllowDenySameCell,
                span,
                format!("this cell both allows and denies `{}`", p.actions[a].name),
            );
            let (stamp, os) = self.cell_last[a][other];
            if stamp == self.cell_stamp {
                d = d.with_secondary(os, "the other setting is here");
            }
            self.diags.push(
                d.with_help("deny always wins, so the allow has no effect; remove one of the two"),
            );
        }
    }

    /// CP0201 for each state of a case type that no chain of transitions reaches.
    fn unreachable(&mut self, def: &CaseTypeDef) {
        let init = def.initial;
        for (i, s) in def.states.iter().enumerate() {
            if !def.reachable[i] {
                self.diags.push(
                    Diagnostic::new(
                        Code::UnreachableState,
                        s.span,
                        format!(
                            "state `{}` of case type `{}` cannot be reached from `{}`",
                            s.name,
                            def.name,
                            def.states[init.idx()].name
                        ),
                    )
                    .with_label("no transition leads here")
                    .with_help(format!(
                        "add a transition into it, e.g. `transition act: {} -> {} by Role;`",
                        def.states[init.idx()].name,
                        s.name
                    )),
                );
            }
        }
    }
}

/// The states of one case type, and each one's index by name.
#[derive(Default)]
pub(super) struct States {
    named: Vec<Named>,
    index: HashMap<String, u32>,
}

/// Per state of a case type, whether a chain of transitions leads to it from the initial state:
/// the states each state leads to are listed once, so the search is linear.
fn reachable(def: &CaseTypeDef) -> Vec<bool> {
    let mut reached = vec![false; def.states.len()];
    if def.states.is_empty() {
        return reached;
    }
    let mut next: Vec<Vec<StateId>> = vec![Vec::new(); def.states.len()];
    for t in &def.transitions {
        for f in &t.from {
            next[f.idx()].push(t.to);
        }
    }
    let mut queue = VecDeque::from([def.initial]);
    while let Some(s) = queue.pop_front() {
        if std::mem::replace(&mut reached[s.idx()], true) {
            continue;
        }
        for &to in &next[s.idx()] {
            if !reached[to.idx()] {
                queue.push_back(to);
            }
        }
    }
    reached
}
