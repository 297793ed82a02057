//! The lints as first written: a literal reading of docs/lints.md that lists every situation
//! and compares rules pair by pair (quadratic, and worse). `src/lint.rs` must say exactly what
//! this says; `tests/lints.rs` compares the two on generated policies. Only two things were
//! added here, to match documented bounds of the fast version: CP0204 marks at most
//! `MAX_MARKED_DENIES` denies (and says so), and a long list of names in a message is
//! shortened after ten.
#![allow(dead_code)]

use casepol::diagnostic::{Code, Diagnostic, Span};
use casepol::internal::ir::*;
use casepol::internal::lint::MAX_MARKED_DENIES;

/// CP0209 fires when more than `ADMIN_SHARE.0 / ADMIN_SHARE.1` of the groups that grant roles
/// are admin-like: more than half.
pub const ADMIN_SHARE: (usize, usize) = (1, 2);

/// CP0209 needs at least this many groups that grant roles: with one or two, one administrator
/// group is already half of them.
pub const ADMIN_SHARE_MIN_GROUPS: usize = 3;

/// Runs every lint over a checked policy. The result is sorted by position.
pub fn lint(p: &Policy) -> Vec<Diagnostic> {
    let cx = Cx::new(p);
    let mut out = Vec::new();
    let always_denied = cx.allow_always_denied(&mut out);
    cx.shadowed_rules(&always_denied, &mut out);
    cx.shadowed_module_grants(&mut out);
    cx.unused(&mut out);
    cx.dead_ends(&mut out);
    cx.missing_rows(&mut out);
    cx.over_broad(&mut out);
    cx.ineffective_scopes(&mut out);
    grants_not_data_roles(p, &mut out);
    out.sort_by_key(|d| (d.span().file, d.span().start, d.code));
    out
}

/// A set of situations (or of anything indexed densely), as bits.
#[derive(Clone, PartialEq, Eq)]
struct Set(Vec<u64>);

impl Set {
    fn new(len: usize) -> Set {
        Set(vec![0; len.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
    fn is_subset(&self, o: &Set) -> bool {
        self.0.iter().zip(&o.0).all(|(a, b)| a & !b == 0)
    }
    fn intersects(&self, o: &Set) -> bool {
        self.0.iter().zip(&o.0).any(|(a, b)| a & b != 0)
    }
    fn union_with(&mut self, o: &Set) {
        self.0.iter_mut().zip(&o.0).for_each(|(a, b)| *a |= b);
    }
}

/// Where a resource can be when a rule is evaluated: its kind, and its anchor's case type and
/// state if it has an anchor.
#[derive(Clone, Copy)]
struct Situation {
    kind: KindId,
    anchor: Option<(CaseTypeId, StateId)>,
}

struct Cx<'a> {
    p: &'a Policy,
    situations: Vec<Situation>,
    /// The situations each rule applies in, by rule index.
    regions: Vec<Set>,
    /// Per case type, per state: reachable from the initial state.
    reachable: Vec<Vec<bool>>,
    /// By rule index: whether the rule takes part in the data layer in some situation.
    live: Vec<bool>,
    /// The live rules, by effect, by the action they name, and by where they apply, in rule
    /// order: see [`Index`].
    allows: Index,
    denies: Index,
}

/// Rules grouped so that comparing rules pairwise stays fast in large policies. A rule of a
/// case type applies only where a resource's anchor has that case type, so it can cover, or be
/// covered by, only a rule of the same case type or one that is not limited to a case type
/// (top level or kind). Within those, a rule that covers another names its actions. The lists
/// hold rule indices in increasing order, so searches visit rules in the order of the plain
/// pairwise loop and find the same rule first.
#[derive(Default)]
struct Index {
    /// `[action]`: the rules that name the action and are not limited to a case type.
    unscoped: Vec<Vec<usize>>,
    /// `(case type, action)`: the rules of that case type that name the action.
    scoped: std::collections::HashMap<(CaseTypeId, ActionId), Vec<usize>>,
    /// `[action]`: every rule that names the action.
    all: Vec<Vec<usize>>,
}

impl Index {
    fn new(p: &Policy, rules: impl Iterator<Item = usize>) -> Index {
        let mut ix = Index {
            unscoped: vec![Vec::new(); p.actions.len()],
            scoped: Default::default(),
            all: vec![Vec::new(); p.actions.len()],
        };
        for i in rules {
            let r = &p.rules[i];
            let mut actions = r.actions.clone();
            actions.sort();
            actions.dedup();
            for a in actions {
                ix.all[a.idx()].push(i);
                match r.scope {
                    RuleScope::CaseType(t) => ix.scoped.entry((t, a)).or_default().push(i),
                    RuleScope::Global | RuleScope::Kind(_) => ix.unscoped[a.idx()].push(i),
                }
            }
        }
        ix
    }

    /// In increasing order, every rule of the index that names `a` and may share a situation
    /// with a rule of scope `scope`: all of them, unless `scope` is a case type.
    fn candidates(&self, scope: RuleScope, a: ActionId) -> Vec<usize> {
        let RuleScope::CaseType(t) = scope else {
            return self.all[a.idx()].clone();
        };
        let (xs, ys) = (
            &self.unscoped[a.idx()],
            self.scoped.get(&(t, a)).map_or(&[][..], Vec::as_slice),
        );
        let mut out = Vec::with_capacity(xs.len() + ys.len());
        let (mut i, mut j) = (0, 0);
        while i < xs.len() || j < ys.len() {
            if j == ys.len() || (i < xs.len() && xs[i] < ys[j]) {
                out.push(xs[i]);
                i += 1;
            } else {
                out.push(ys[j]);
                j += 1;
            }
        }
        out
    }
}

/// Does a rule that names `b` name every subject of `a`? `everyone` in `b` names them all.
fn names_all(a: &[Subject], b: &[Subject]) -> bool {
    b.contains(&Subject::Everyone) || is_subset(a, b)
}

fn is_subset<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.iter().all(|x| b.contains(x))
}

/// Source order: by file, then position.
fn before(a: Span, b: Span) -> bool {
    (a.file, a.start) < (b.file, b.start)
}

fn what(r: &RuleDef) -> &'static str {
    match r.origin {
        RuleOrigin::Statement => "rule",
        RuleOrigin::TableCell { .. } => "table entry",
        RuleOrigin::Transition { .. } => "transition",
    }
}

fn verb(e: Effect) -> &'static str {
    match e {
        Effect::Allow => "allows",
        Effect::Deny => "denies",
    }
}

fn backticked<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{}`", s.as_ref())).collect();
    match quoted.as_slice() {
        [] => "nothing".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {}", init.join(", "), last),
    }
}

impl<'a> Cx<'a> {
    fn new(p: &'a Policy) -> Cx<'a> {
        let mut situations = Vec::new();
        for k in 0..p.kinds.len() {
            let kind = KindId(k as u32);
            if has_anchor(p, kind) {
                for (t, ct) in p.casetypes.iter().enumerate() {
                    for s in 0..ct.states.len() {
                        situations.push(Situation {
                            kind,
                            anchor: Some((CaseTypeId(t as u32), StateId(s as u32))),
                        });
                    }
                }
            } else {
                situations.push(Situation { kind, anchor: None });
            }
        }
        // A rule of a kind or case type can only apply in that kind's or case type's
        // situations: look only at those.
        let mut of_kind = vec![Vec::new(); p.kinds.len()];
        let mut of_casetype = vec![Vec::new(); p.casetypes.len()];
        for (i, x) in situations.iter().enumerate() {
            of_kind[x.kind.idx()].push(i);
            if let Some((t, _)) = x.anchor {
                of_casetype[t.idx()].push(i);
            }
        }
        let all: Vec<usize> = (0..situations.len()).collect();
        let regions: Vec<Set> = p
            .rules
            .iter()
            .map(|r| {
                let mut set = Set::new(situations.len());
                let candidates = match r.scope {
                    RuleScope::Global => &all,
                    RuleScope::Kind(k) => &of_kind[k.idx()],
                    RuleScope::CaseType(t) => &of_casetype[t.idx()],
                };
                for &i in candidates {
                    if applies(r, &situations[i]) {
                        set.insert(i);
                    }
                }
                set
            })
            .collect();
        let reachable = p.casetypes.iter().map(reachable).collect();
        let live: Vec<bool> = p
            .rules
            .iter()
            .zip(&regions)
            .map(|(r, region)| {
                !r.subjects.is_empty() && !r.actions.is_empty() && !region.is_empty()
            })
            .collect();
        let of = |e: Effect| {
            let rules = (0..p.rules.len()).filter(|&i| p.rules[i].effect == e && live[i]);
            Index::new(p, rules)
        };
        let (allows, denies) = (of(Effect::Allow), of(Effect::Deny));
        Cx {
            p,
            situations,
            regions,
            reachable,
            live,
            allows,
            denies,
        }
    }

    /// The live rules of effect `e` that may cover rule `i`, in rule order: those that name
    /// its first action and may share its situations (see [`Index`]).
    fn may_cover(&self, e: Effect, i: usize) -> Vec<usize> {
        let r = &self.p.rules[i];
        let Some(&a) = r.actions.first() else {
            return Vec::new();
        };
        match e {
            Effect::Allow => self.allows.candidates(r.scope, a),
            Effect::Deny => self.denies.candidates(r.scope, a),
        }
    }

    /// Rules that take part in the data layer in some situation.
    fn live(&self, i: usize) -> bool {
        self.live[i]
    }

    /// Whether rule `j` has the same effect as rule `i` and matches every request it matches:
    /// a rule with a condition may not match at all, so it covers nothing.
    fn covers(&self, j: usize, i: usize) -> bool {
        let (a, b) = (&self.p.rules[j], &self.p.rules[i]);
        a.effect == b.effect
            && a.when.is_empty()
            && names_all(&b.subjects, &a.subjects)
            && is_subset(&b.actions, &a.actions)
            && self.regions[i].is_subset(&self.regions[j])
    }

    /// CP0204: an allow (statement, table entry or transition) that, for each subject, action
    /// and situation it covers, some deny also covers. Actions that a deny in the same table cell
    /// names are left out: CP0202 has reported them. Returns the rules it reported.
    fn allow_always_denied(&self, out: &mut Vec<Diagnostic>) -> Vec<bool> {
        let p = self.p;
        let mut reported = vec![false; p.rules.len()];
        for (i, r) in p.rules.iter().enumerate() {
            if r.effect != Effect::Allow || !self.live(i) {
                continue;
            }
            // The live denies that name action `a` and may apply where this rule does (a deny
            // of another case type shares no situation with it), in rule order.
            let denies = |a: ActionId| self.denies.candidates(r.scope, a);
            let cell = self.cell_of(r);
            let actions: Vec<ActionId> = r
                .actions
                .iter()
                .copied()
                .filter(|a| {
                    !cell.is_some_and(|c| {
                        denies(*a).iter().any(|&d| {
                            let dr = &p.rules[d];
                            within(dr.span, c) && dr.actions.contains(a)
                        })
                    })
                })
                .collect();
            if actions.is_empty() {
                continue;
            }
            let mut by: Vec<usize> = Vec::new();
            let all_denied = r.subjects.iter().all(|s| {
                actions.iter().all(|a| {
                    let mut union = Set::new(self.situations.len());
                    for d in denies(*a) {
                        let dr = &p.rules[d];
                        // A deny with a condition may not apply: it overrides nothing for sure.
                        if !dr.actions.contains(a) || !dr.when.is_empty() {
                            continue;
                        }
                        // A deny of `everyone` denies every subject; a deny of any subject
                        // overrides an allow of `everyone` for those who hold it.
                        if names_all(&[*s], &dr.subjects) {
                            union.union_with(&self.regions[d]);
                        }
                        let overrides = *s == Subject::Everyone || names_all(&[*s], &dr.subjects);
                        if overrides
                            && self.regions[d].intersects(&self.regions[i])
                            && !by.contains(&d)
                        {
                            by.push(d);
                        }
                    }
                    self.regions[i].is_subset(&union)
                })
            });
            if !all_denied {
                continue;
            }
            reported[i] = true;
            by.sort_by_key(|&d| (p.rules[d].span.file, p.rules[d].span.start));
            let more = by.len() > MAX_MARKED_DENIES;
            by.truncate(MAX_MARKED_DENIES);
            let act = r
                .actions
                .first()
                .map(|a| p.actions[a.idx()].name.as_str())
                .unwrap_or("");
            let (message, mut help) = match r.origin {
                RuleOrigin::Transition { .. } => (
                    format!(
                        "transition `{act}` never takes effect: a deny always overrides it for everyone it names after `by`"
                    ),
                    format!("deny wins over allow, so this transition lets no one perform `{act}`; remove the deny for them, or the transition"),
                ),
                _ => (
                    format!("this {} never takes effect: a deny always overrides it", what(r)),
                    "deny wins over allow, so this allow changes no decision; remove it, or narrow the deny (fewer subjects or actions, or `in` states)".to_string(),
                ),
            };
            if more {
                help.push_str(&format!(
                    " (the first {} of the denies that override it are marked)",
                    by.len()
                ));
            }
            let mut d = Diagnostic::new(Code::AllowAlwaysDenied, r.span, message)
                .with_label("always overridden");
            for &x in &by {
                d = d.with_secondary(
                    p.rules[x].span,
                    format!("this {} denies it", what(&p.rules[x])),
                );
            }
            out.push(d.with_help(help));
        }
        reported
    }

    /// The span of the table cell a table entry was written in.
    fn cell_of(&self, r: &RuleDef) -> Option<Span> {
        let (RuleOrigin::TableCell { .. }, RuleScope::CaseType(t)) = (r.origin, r.scope) else {
            return None;
        };
        self.p.casetypes[t.idx()]
            .tables
            .iter()
            .flat_map(|t| &t.rows)
            .flat_map(|row| &row.cells)
            .copied()
            .find(|c| within(r.span, *c))
    }

    /// CP0203 for data rules: a statement or table entry whose every subject, action and
    /// situation another rule of the same effect also covers. Transitions are never reported
    /// (they also define the workflow), but they may shadow others. Of two rules that cover
    /// exactly the same, the later one is reported.
    fn shadowed_rules(&self, always_denied: &[bool], out: &mut Vec<Diagnostic>) {
        let p = self.p;
        for (i, r) in p.rules.iter().enumerate() {
            if matches!(r.origin, RuleOrigin::Transition { .. })
                || always_denied[i]
                || !self.live(i)
            {
                continue;
            }
            let mut found: Option<(usize, bool)> = None;
            for j in self.may_cover(r.effect, i) {
                let o = &p.rules[j];
                if j == i || !self.live(j) || !self.covers(j, i) {
                    continue;
                }
                let equal = self.covers(i, j);
                let is_transition = matches!(o.origin, RuleOrigin::Transition { .. });
                if equal && !is_transition && !before(o.span, r.span) {
                    continue;
                }
                if found.is_none_or(|(f, _)| before(o.span, p.rules[f].span)) {
                    found = Some((j, equal));
                }
            }
            let Some((j, equal)) = found else { continue };
            let o = &p.rules[j];
            let v = verb(r.effect);
            let help = if let RuleOrigin::Transition { .. } = o.origin {
                "remove it: the transition already allows its subjects this action in its source states".to_string()
            } else if equal {
                format!(
                    "it {v} exactly what the other {} {v}; remove one of the two",
                    what(o)
                )
            } else {
                format!(
                    "remove it: the other {} matches every request this one matches; if that one is broader than intended, narrow it instead",
                    what(o)
                )
            };
            out.push(
                Diagnostic::new(
                    Code::ShadowedRule,
                    r.span,
                    format!(
                        "this {} never decides: a {} already {v} everything it {v}",
                        what(r),
                        what(o)
                    ),
                )
                .with_label("shadowed")
                .with_secondary(o.span, format!("this {} already {v} all of it", what(o)))
                .with_help(help),
            );
        }
    }

    /// CP0203 for the module layer: a grant line of a case type whose subjects and actions a
    /// line for the same module of the same case type already grants.
    fn shadowed_module_grants(&self, out: &mut Vec<Diagnostic>) {
        for ct in &self.p.casetypes {
            let lines = &ct.module_grants;
            for (i, g) in lines.iter().enumerate() {
                if g.subjects.is_empty() || g.actions.is_empty() {
                    continue;
                }
                let by = lines.iter().enumerate().find(|(j, o)| {
                    if *j == i
                        || o.module != g.module
                        || !names_all(&g.subjects, &o.subjects)
                        || !is_subset(&g.actions, &o.actions)
                    {
                        return false;
                    }
                    let equal =
                        names_all(&o.subjects, &g.subjects) && is_subset(&o.actions, &g.actions);
                    !equal || before(o.span, g.span)
                });
                let Some((_, o)) = by else { continue };
                let module = &self.p.modules[g.module.idx()].name;
                out.push(
                    Diagnostic::new(
                        Code::ShadowedRule,
                        g.span,
                        format!(
                            "this module grant never decides: another line for module `{module}` already grants everything it grants"
                        ),
                    )
                    .with_label("shadowed")
                    .with_secondary(o.span, "this line already grants all of it")
                    .with_help(format!(
                        "remove it: for case type `{}`, the other line lets the same subjects use the same actions through `{module}`",
                        ct.name
                    )),
                );
            }
        }
    }

    /// CP0205: roles, actions and access groups that have no effect on any decision.
    ///
    /// States are not reported here: a state that nothing names is unreachable (CP0201) or,
    /// when it is the initial state, a dead end (CP0206).
    fn unused(&self, out: &mut Vec<Diagnostic>) {
        let p = self.p;
        let grants_lines = p.casetypes.iter().flat_map(|c| &c.module_grants);
        let mut role_named = vec![false; p.roles.len()];
        let mut action_used = vec![false; p.actions.len()];
        let subjects = p
            .rules
            .iter()
            .flat_map(|r| &r.subjects)
            .chain(grants_lines.clone().flat_map(|g| &g.subjects));
        for s in subjects {
            if let Subject::Role(r) = s {
                role_named[r.idx()] = true;
            }
        }
        let actions = p
            .rules
            .iter()
            .flat_map(|r| &r.actions)
            .chain(grants_lines.flat_map(|g| &g.actions))
            .chain(p.modules.iter().flat_map(|m| &m.actions));
        for a in actions {
            action_used[a.idx()] = true;
        }
        for (i, role) in p.roles.iter().enumerate() {
            if role_named[i] {
                continue;
            }
            let granted_by: Vec<&GroupDef> = p
                .groups
                .iter()
                .filter(|g| g.grants.contains(&RoleId(i as u32)))
                .collect();
            if granted_by.is_empty() {
                out.push(
                    Diagnostic::new(
                        Code::Unused,
                        role.span,
                        format!("role `{}` is declared but never used", role.name),
                    )
                    .with_label("no group grants it and no rule names it")
                    .with_help(format!(
                        "remove it, or grant it with a group (`grants {};`) and give it access in a rule or table",
                        role.name
                    )),
                );
            } else {
                let mut d = Diagnostic::new(
                    Code::Unused,
                    role.span,
                    format!("role `{}` is granted, but no rule names it", role.name),
                )
                .with_label("no rule, table, transition or module grant names this role");
                for g in granted_by {
                    d = d.with_secondary(g.span, format!("`{}` grants it", g.name));
                }
                out.push(d.with_help(format!(
                    "holding `{}` allows nothing; give it access in a rule or table, or remove it and its `grants`",
                    role.name
                )));
            }
        }
        for (i, a) in p.actions.iter().enumerate() {
            if !action_used[i] {
                out.push(
                    Diagnostic::new(
                        Code::Unused,
                        a.span,
                        format!("action `{}` is declared but never used", a.name),
                    )
                    .with_label("no rule, table, transition or module names it")
                    .with_help(format!(
                        "every request to `{}` is denied; allow it in a rule or table, or remove it",
                        a.name
                    )),
                );
            }
        }
        // A group's name is an access code, membership satisfies `require group;`, and a
        // relation may list a group: with any of these in play, even an empty group may matter.
        let codes_in_use = p.actions.iter().any(|a| a.read_code || a.write_code);
        if codes_in_use || p.require_group || !p.relations.is_empty() {
            return;
        }
        for (i, g) in p.groups.iter().enumerate() {
            let has_children = p.groups.iter().any(|c| c.parent == Some(GroupId(i as u32)));
            if g.grants.is_empty() && g.permits.is_empty() && g.parent.is_none() && !has_children {
                out.push(
                    Diagnostic::new(
                        Code::Unused,
                        g.span,
                        format!("access group `{}` has no effect", g.name),
                    )
                    .with_label("grants no role, permits nothing, and has no parent or sub-groups")
                    .with_help(format!(
                        "membership in `{}` changes no decision; give it roles with `grants` or permissions with `permits`, or remove it",
                        g.name
                    )),
                );
            }
        }
    }

    /// CP0206: a reachable state that is not final and that no transition leaves. (An
    /// unreachable one is CP0201 already.)
    fn dead_ends(&self, out: &mut Vec<Diagnostic>) {
        // A case type without a workflow has one state, which nothing needs to leave.
        for (t, ct) in self
            .p
            .casetypes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.workflow)
        {
            for (i, s) in ct.states.iter().enumerate() {
                let sid = StateId(i as u32);
                if !self.reachable[t][i]
                    || ct.finals.contains(&sid)
                    || ct.transitions.iter().any(|tr| tr.from.contains(&sid))
                {
                    continue;
                }
                out.push(
                    Diagnostic::new(
                        Code::DeadEndState,
                        s.span,
                        format!(
                            "state `{}` of case type `{}` has no way out and is not final",
                            s.name, ct.name
                        ),
                    )
                    .with_label("no transition leaves this state")
                    .with_help(format!(
                        "if the workflow ends here, mark it `final {};`; otherwise add a transition out of it, e.g. `transition act: {} -> Next by Role;`",
                        s.name, s.name
                    )),
                );
            }
        }
    }

    /// CP0207: a table with no row for a reachable state of its case type.
    fn missing_rows(&self, out: &mut Vec<Diagnostic>) {
        for (t, ct) in self.p.casetypes.iter().enumerate() {
            for table in &ct.tables {
                let missing: Vec<&str> = ct
                    .states
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        self.reachable[t][*i] && !table.rows.iter().any(|r| r.state.idx() == *i)
                    })
                    .map(|(_, s)| s.name.as_str())
                    .collect();
                let Some(first) = missing.first() else {
                    continue;
                };
                let (noun, list) = (
                    if missing.len() == 1 {
                        "state"
                    } else {
                        "states"
                    },
                    listed(&missing),
                );
                let example = format!("{first}{}", " | .".repeat(table.columns));
                out.push(
                    Diagnostic::new(
                        Code::MissingTableRow,
                        table.span,
                        format!("this table of case type `{}` has no row for {noun} {list}", ct.name),
                    )
                    .with_label(format!("no row for {list}"))
                    .with_help(format!(
                        "add a row for each, with `.` in a cell that grants nothing, e.g. `{example}`, so the table says what holds in every state"
                    )),
                );
            }
        }
    }

    /// The roles a member of `g` holds everywhere: those of `g` and its ancestors that have
    /// `scope all`; and the permissions they permit.
    fn held_everywhere(&self, g: GroupId) -> (Vec<RoleId>, Vec<PermissionId>) {
        let (mut roles, mut permits) = (Vec::new(), Vec::new());
        let mut cur = Some(g);
        let mut steps = 0;
        while let (Some(c), true) = (cur, steps <= self.p.groups.len()) {
            let def = &self.p.groups[c.idx()];
            if def.scope == ScopeDef::All {
                roles.extend(def.grants.iter().copied());
            }
            permits.extend(def.permits.iter().copied());
            cur = def.parent;
            steps += 1;
        }
        roles.sort();
        roles.dedup();
        (roles, permits)
    }

    /// A group is admin-like when its members, through it alone, may perform every action on
    /// every resource in every state: see docs/lints.md, CP0208.
    fn admin_like(&self, g: GroupId) -> bool {
        let p = self.p;
        let (roles, permits) = self.held_everywhere(g);
        if roles.is_empty() || self.situations.is_empty() || p.actions.is_empty() {
            return false;
        }
        let names_role = |subjects: &[Subject]| {
            subjects
                .iter()
                .any(|s| matches!(s, Subject::Role(r) if roles.contains(r)))
        };
        let n = self.situations.len();
        let mut allowed = vec![Set::new(n); p.actions.len()];
        let mut denied = vec![Set::new(n); p.actions.len()];
        for (i, r) in p.rules.iter().enumerate() {
            // A deny of `everyone` denies the roles too; an allow of it is no role's.
            let everyone = r.effect == Effect::Deny && r.subjects.contains(&Subject::Everyone);
            if !everyone && !names_role(&r.subjects) {
                continue;
            }
            // An allow with a condition may not apply; a deny with one still may.
            if r.effect == Effect::Allow && !r.when.is_empty() {
                continue;
            }
            let target = match r.effect {
                Effect::Allow => &mut allowed,
                Effect::Deny => &mut denied,
            };
            for a in &r.actions {
                target[a.idx()].union_with(&self.regions[i]);
            }
        }
        let mut everywhere = Set::new(n);
        (0..n).for_each(|i| everywhere.insert(i));
        let data = p.actions.iter().enumerate().all(|(a, def)| {
            def.requires.is_none_or(|q| permits.contains(&q))
                && everywhere.is_subset(&allowed[a])
                && denied[a].is_empty()
        });
        // The module layer: whatever a case type lets anyone do through a module, these roles
        // may do through that module too.
        let modules = p.casetypes.iter().all(|ct| {
            ct.module_grants.iter().all(|line| {
                line.actions.iter().all(|a| {
                    ct.module_grants.iter().any(|o| {
                        o.module == line.module && o.actions.contains(a) && names_role(&o.subjects)
                    })
                })
            })
        });
        data && modules
    }

    /// CP0208 and CP0209.
    fn over_broad(&self, out: &mut Vec<Diagnostic>) {
        let p = self.p;
        let admin: Vec<bool> = (0..p.groups.len())
            .map(|g| self.admin_like(GroupId(g as u32)))
            .collect();
        let denied_roles: Vec<RoleId> = p
            .rules
            .iter()
            .filter(|r| r.effect == Effect::Deny)
            .flat_map(|r| &r.subjects)
            .flat_map(|s| match s {
                Subject::Role(r) => vec![*r],
                Subject::Relation(_) => vec![],
                // A deny of `everyone` denies every role.
                Subject::Everyone => (0..p.roles.len() as u32).map(RoleId).collect(),
            })
            .collect();
        for (g, def) in p.groups.iter().enumerate() {
            // Report where full access starts, not every group that inherits it.
            if !admin[g] || def.parent.is_some_and(|x| admin[x.idx()]) {
                continue;
            }
            let (roles, _) = self.held_everywhere(GroupId(g as u32));
            let mut swallowed: Vec<(&GroupDef, Vec<&str>)> = Vec::new();
            for sub in p
                .groups
                .iter()
                .filter(|s| self.descends(s, GroupId(g as u32)))
            {
                let names: Vec<&str> = sub
                    .grants
                    .iter()
                    .filter(|r| !roles.contains(r) && !denied_roles.contains(r))
                    .map(|r| p.roles[r.idx()].name.as_str())
                    .collect();
                if !names.is_empty() {
                    swallowed.push((sub, names));
                }
            }
            if swallowed.is_empty() {
                continue;
            }
            let subs: Vec<&str> = swallowed.iter().map(|(s, _)| s.name.as_str()).collect();
            let mut d = Diagnostic::new(
                Code::OverBroadGrant,
                def.span,
                format!(
                    "access group `{}` gives full access to every resource, and its sub-groups inherit it",
                    def.name
                ),
            )
            .with_label("every action on every resource, in every state");
            for (sub, names) in &swallowed {
                d = d.with_secondary(
                    sub.span,
                    format!(
                        "`{}` is inside `{}`: its members already have full access, so granting {} adds nothing",
                        sub.name,
                        def.name,
                        listed(names)
                    ),
                );
            }
            out.push(d.with_help(format!(
                "least privilege: allow `{}`'s roles only the actions they need, or take {} out of `{}`; keep full access to an administrator group without sub-groups that grant roles",
                def.name,
                listed(&subs),
                def.name
            )));
        }
        let granting: Vec<usize> = (0..p.groups.len())
            .filter(|&g| !p.groups[g].grants.is_empty())
            .collect();
        let admins: Vec<usize> = granting.iter().copied().filter(|&g| admin[g]).collect();
        let (num, den) = ADMIN_SHARE;
        if granting.len() < ADMIN_SHARE_MIN_GROUPS || admins.len() * den <= granting.len() * num {
            return;
        }
        let first = &p.groups[admins[0]];
        let mut d = Diagnostic::new(
            Code::TooManyAdmins,
            first.span,
            format!(
                "{} of the {} access groups that grant roles are admin-like",
                admins.len(),
                granting.len()
            ),
        )
        .with_label("full access to every resource");
        for &g in &admins[1..] {
            d = d.with_secondary(p.groups[g].span, "full access as well");
        }
        out.push(d.with_help(
            "least privilege: keep full access to one administrator group, and give the other groups only the actions they need (more than half of the groups being admin-like usually means `*` or a broad action group is allowed to a role that many groups grant)",
        ));
    }

    /// How many steps up from `g` the group `ancestor` is (1 for the parent), if it is one.
    fn distance(&self, g: &GroupDef, ancestor: GroupId) -> Option<usize> {
        let mut cur = g.parent;
        let mut steps = 1;
        while let (Some(c), true) = (cur, steps <= self.p.groups.len() + 1) {
            if c == ancestor {
                return Some(steps);
            }
            cur = self.p.groups[c.idx()].parent;
            steps += 1;
        }
        None
    }

    /// CP0210, as docs/lints.md says it: a group with a scope grants a role that one of its
    /// ancestors grants with scope all. Every pair (group, other group) and every role is
    /// compared; for each role the nearest such ancestor is named.
    fn ineffective_scopes(&self, out: &mut Vec<Diagnostic>) {
        let p = self.p;
        for def in &p.groups {
            if def.scope == ScopeDef::All {
                continue;
            }
            // For each role of the group, the nearest ancestor that grants it with scope all.
            let mut nearest: Vec<(RoleId, usize, usize)> = Vec::new();
            for &r in &def.grants {
                let mut best: Option<(usize, usize)> = None;
                for (a, anc) in p.groups.iter().enumerate() {
                    let Some(dist) = self.distance(def, GroupId(a as u32)) else {
                        continue;
                    };
                    if anc.scope == ScopeDef::All
                        && anc.grants.contains(&r)
                        && best.is_none_or(|(d, _)| dist < d)
                    {
                        best = Some((dist, a));
                    }
                }
                if let Some((dist, a)) = best {
                    nearest.push((r, dist, a));
                }
            }
            if nearest.is_empty() {
                continue;
            }
            let names: Vec<&str> = nearest
                .iter()
                .map(|(r, _, _)| p.roles[r.idx()].name.as_str())
                .collect();
            let mut ancestors: Vec<(usize, usize)> =
                nearest.iter().map(|&(_, d, a)| (d, a)).collect();
            ancestors.sort();
            ancestors.dedup();
            let anc_names: Vec<&str> = ancestors
                .iter()
                .map(|&(_, a)| p.groups[a].name.as_str())
                .collect();
            let them = |n: usize| if n == 1 { "it" } else { "them" };
            let mut d = Diagnostic::new(
                Code::IneffectiveScope,
                def.span,
                format!(
                    "the scope of access group `{}` does not narrow {} {}: its members hold {} everywhere through {}",
                    def.name,
                    if names.len() == 1 { "role" } else { "roles" },
                    listed(&names),
                    them(names.len()),
                    listed(&anc_names)
                ),
            )
            .with_label(format!(
                "its scope changes no decision for {}",
                listed(&names)
            ));
            for &(_, a) in &ancestors {
                let granted: Vec<&str> = nearest
                    .iter()
                    .filter(|&&(_, _, x)| x == a)
                    .map(|(r, _, _)| p.roles[r.idx()].name.as_str())
                    .collect();
                d = d.with_secondary(
                    p.groups[a].span,
                    format!(
                        "`{}` grants {} with scope all, and every member of `{}` is a member of `{}`",
                        p.groups[a].name,
                        listed(&granted),
                        def.name,
                        p.groups[a].name
                    ),
                );
            }
            out.push(d.with_help(format!(
                "if {} should hold only where `{}`'s scope admits, give {} a scope or grant {} in a sub-group of {} instead; otherwise remove {} from the `grants` of `{}`",
                listed(&names),
                def.name,
                listed(&anc_names),
                them(names.len()),
                them(anc_names.len()),
                listed(&names),
                def.name
            )));
        }
    }

    /// Whether `g` is a sub-group of `ancestor`, directly or further down.
    fn descends(&self, g: &GroupDef, ancestor: GroupId) -> bool {
        let mut cur = g.parent;
        let mut steps = 0;
        while let (Some(c), true) = (cur, steps <= self.p.groups.len()) {
            if c == ancestor {
                return true;
            }
            cur = self.p.groups[c.idx()].parent;
            steps += 1;
        }
        false
    }
}

/// Whether resources of `kind` always have an anchor case: the case kind, and kinds whose chain
/// of parents reaches it (entity data must give such a resource its parent).
fn has_anchor(p: &Policy, kind: KindId) -> bool {
    let mut cur = Some(kind);
    let mut steps = 0;
    while let (Some(k), true) = (cur, steps <= p.kinds.len()) {
        if Some(k) == p.case_kind {
            return true;
        }
        cur = p.kinds[k.idx()].parent;
        steps += 1;
    }
    false
}

/// Whether a rule applies in a situation (docs/semantics.md, step 2.5).
fn applies(r: &RuleDef, x: &Situation) -> bool {
    match r.scope {
        RuleScope::Global => true,
        RuleScope::Kind(k) => x.kind == k,
        RuleScope::CaseType(t) => {
            matches!(x.anchor, Some((at, s)) if at == t && (r.states.is_empty() || r.states.contains(&s)))
        }
    }
}

fn within(inner: Span, outer: Span) -> bool {
    inner.file == outer.file && inner.start >= outer.start && inner.end <= outer.end
}

/// The states a chain of transitions reaches from the initial state.
fn reachable(ct: &CaseTypeDef) -> Vec<bool> {
    let mut reached = vec![false; ct.states.len()];
    if ct.states.is_empty() {
        return reached;
    }
    let mut stack = vec![ct.initial];
    while let Some(s) = stack.pop() {
        if s.idx() >= reached.len() || std::mem::replace(&mut reached[s.idx()], true) {
            continue;
        }
        for t in &ct.transitions {
            if t.from.contains(&s) && !reached[t.to.idx()] {
                stack.push(t.to);
            }
        }
    }
    reached
}

/// CP0211, read literally: every role of every module-grant line, looked for in the module's
/// data roles.
fn grants_not_data_roles(p: &Policy, out: &mut Vec<Diagnostic>) {
    for ct in &p.casetypes {
        for g in &ct.module_grants {
            let m = &p.modules[g.module.idx()];
            let Some(data) = &m.data_roles else { continue };
            let mut left: Vec<&str> = Vec::new();
            for s in &g.subjects {
                if let Subject::Role(r) = s {
                    if !data.contains(r) {
                        left.push(&p.roles[r.idx()].name);
                    }
                }
            }
            if left.is_empty() {
                continue;
            }
            let roles: Vec<&str> = data
                .iter()
                .map(|r| p.roles[r.idx()].name.as_str())
                .collect();
            out.push(
                Diagnostic::new(
                    Code::GrantNotDataRole,
                    g.span,
                    format!(
                        "module `{}` grants actions on `{}` cases to {}, but its data layer does not read {}",
                        m.name,
                        ct.name,
                        listed(&left),
                        if left.len() == 1 { "that role" } else { "those roles" }
                    ),
                )
                .with_label(format!("`{}` is not a data role of `{}`", left[0], m.name))
                .with_secondary(m.span, format!("`{}` declares its data roles here", m.name))
                .with_help(format!(
                    "through `{}` the data layer reads only {}: add {} to the module's data roles (`data roles {}, {};`), or take {} off this line",
                    m.name,
                    listed(&roles),
                    listed(&left),
                    roles.join(", "),
                    left.join(", "),
                    if left.len() == 1 { "it" } else { "them" }
                )),
            );
        }
    }
}

fn listed(items: &[&str]) -> String {
    if items.len() <= 10 {
        return backticked(items);
    }
    let quoted: Vec<String> = items[..10].iter().map(|s| format!("`{s}`")).collect();
    format!("{} and {} more", quoted.join(", "), items.len() - 10)
}
