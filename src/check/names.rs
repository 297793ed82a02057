//! Declaring and resolving names: the namespaces of a policy (roles, relations, actions,
//! action groups, permissions, access groups, enums, kinds, case types, modules), the first
//! pass that declares them, and the lookups that report an unknown or misused name.

use super::Checker;
use crate::ast::{ActionRef, Ident, Item};
use crate::bits::Bits;
use crate::diagnostic::words;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::ir::*;
use crate::limits::{MAX_ACTIONS, MAX_PERMISSIONS, MAX_SUBJECTS};
use std::collections::HashMap;

/// A namespace of declared names.
#[derive(Default)]
pub(super) struct Names {
    pub(super) map: HashMap<String, (u32, Span)>,
    pub(super) order: Vec<String>,
}

impl Names {
    pub(super) fn get(&self, name: &str) -> Option<u32> {
        self.map.get(name).map(|e| e.0)
    }
    pub(super) fn candidates(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }
}

/// The sorts of the names that share the one global namespace; the language server names them
/// with the same words (`casepol::internal::check::Sort`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sort {
    Role,
    Relation,
    Action,
    ActionGroup,
    Permission,
    Group,
    Enum,
    Kind,
    CaseType,
    Module,
}

impl Sort {
    /// The word with its indefinite article: "an action", "a role".
    pub(super) fn article(self) -> String {
        words::a(self.word())
    }

    /// The word a person reads.
    pub fn word(self) -> &'static str {
        match self {
            Sort::Role => "role",
            Sort::Relation => "relation",
            Sort::Action => "action",
            Sort::ActionGroup => "action group",
            Sort::Permission => "permission",
            Sort::Group => "access group",
            Sort::Enum => "enum",
            Sort::Kind => "resource kind",
            Sort::CaseType => "case type",
            Sort::Module => "module",
        }
    }
}

impl Checker {
    /// Records a declaration, reporting a clash with any earlier one of any sort.
    fn add(&mut self, sort: Sort, id: &Ident) -> u32 {
        if let Some((prev_sort, prev_span)) = self.sorts.get(&id.name).copied() {
            let msg = if prev_sort == sort {
                format!("{} `{}` is declared twice", sort.word(), id.name)
            } else {
                format!(
                    "`{}` is declared as {} and as {}",
                    id.name,
                    prev_sort.article(),
                    sort.article()
                )
            };
            self.error(
                Diagnostic::new(Code::Duplicate, id.span, msg)
                    .with_label("declared again here")
                    .with_secondary(prev_span, "first declared here")
                    .with_help("rename one of them, or remove the repeated declaration"),
            );
        } else {
            self.sorts.insert(id.name.clone(), (sort, id.span));
        }
        let names = self.names_mut(sort);
        let next = names.order.len() as u32;
        if names.map.contains_key(&id.name) {
            // Keep the first; later uses resolve to it.
            return names.map[&id.name].0;
        }
        names.map.insert(id.name.clone(), (next, id.span));
        names.order.push(id.name.clone());
        next
    }

    fn names_mut(&mut self, sort: Sort) -> &mut Names {
        match sort {
            Sort::Role => &mut self.roles,
            Sort::Relation => &mut self.relations,
            Sort::Action => &mut self.actions,
            Sort::ActionGroup => &mut self.action_groups,
            Sort::Permission => &mut self.permissions,
            Sort::Group => &mut self.groups,
            Sort::Enum => &mut self.enums,
            Sort::Kind => &mut self.kinds,
            Sort::CaseType => &mut self.casetypes,
            Sort::Module => &mut self.modules,
        }
    }

    fn names(&self, sort: Sort) -> &Names {
        match sort {
            Sort::Role => &self.roles,
            Sort::Relation => &self.relations,
            Sort::Action => &self.actions,
            Sort::ActionGroup => &self.action_groups,
            Sort::Permission => &self.permissions,
            Sort::Group => &self.groups,
            Sort::Enum => &self.enums,
            Sort::Kind => &self.kinds,
            Sort::CaseType => &self.casetypes,
            Sort::Module => &self.modules,
        }
    }

    /// Reports a name that is not of any of the `wanted` sorts, with the best help available.
    #[cold]
    pub(super) fn unresolved(&mut self, id: &Ident, wanted: &[Sort], extra: &[&str]) {
        if !self.reporting() {
            // Only counted: its help would cost a search through every name.
            self.error(Diagnostic::new(Code::Undefined, id.span, String::new()));
            return;
        }
        let want = wanted
            .iter()
            .map(|s| s.word())
            .collect::<Vec<_>>()
            .join(" or ");
        let want_a = wanted
            .iter()
            .map(|s| s.article())
            .collect::<Vec<_>>()
            .join(" or ");
        if let Some((sort, span)) = self.sorts.get(&id.name).copied() {
            self.error(
                Diagnostic::new(
                    Code::WrongSort,
                    id.span,
                    format!(
                        "`{}` is {}, but {} is expected here",
                        id.name,
                        sort.article(),
                        want_a
                    ),
                )
                .with_label(format!("expected {want_a}"))
                .with_secondary(
                    span,
                    format!("`{}` is declared as {} here", id.name, sort.article()),
                )
                .with_help(self.wrong_sort_help(&id.name, sort, wanted)),
            );
            return;
        }
        let candidates = wanted
            .iter()
            .flat_map(|s| self.names(*s).candidates())
            .chain(extra.iter().copied());
        let help = self
            .did_you_mean(&id.name, candidates)
            .unwrap_or_else(|| format!("declare it, e.g. `{}`", example_decl(wanted[0], &id.name)));
        self.error(
            Diagnostic::new(
                Code::Undefined,
                id.span,
                format!("unknown {} `{}`", want, id.name),
            )
            .with_label(format!("no {want} with this name is declared"))
            .with_help(help),
        );
    }

    fn wrong_sort_help(&self, name: &str, found: Sort, wanted: &[Sort]) -> String {
        match (found, wanted.first()) {
            (Sort::Group, Some(Sort::Role)) => {
                "rules name roles; give the group the role with `grants`, and name the role here".into()
            }
            (Sort::Action, Some(Sort::Permission)) => {
                "only account permissions, declared with `permission`, can be permitted by a group or required by an action".into()
            }
            (Sort::Permission, Some(Sort::Action)) => {
                format!("account permissions are granted with `permits` in a group; to tie an action to one, declare it as in `action approve requires {name};`")
            }
            (Sort::Relation, Some(Sort::Role)) => "relations are held on a case, not granted; name a role here".into(),
            (Sort::ActionGroup, Some(Sort::Action)) => {
                let members = self.group_members.get(name).map(words::list).unwrap_or_default();
                format!("`{name}` stands for several actions ({members}); name a single action here")
            }
            (_, Some(Sort::Relation)) => {
                let rels: Vec<String> = self.relations.order.clone();
                if rels.is_empty() {
                    "declare relations in a kind: `case Case { relation assignee; }`".into()
                } else {
                    format!("the declared relations are {}", words::list(&rels))
                }
            }
            _ => format!("use {} here", wanted.iter().map(|s| s.article()).collect::<Vec<_>>().join(" or ")),
        }
    }

    pub(super) fn lookup(&mut self, id: &Ident, sort: Sort) -> Option<u32> {
        let r = self.names(sort).get(&id.name);
        if r.is_none() {
            self.unresolved(id, &[sort], &[]);
        }
        r
    }

    pub(super) fn subject(&mut self, id: &Ident) -> Option<Subject> {
        if id.name == EVERYONE {
            // Only the grammar makes this name: `everyone` is a keyword, never declared.
            self.everyone = true;
            return Some(Subject::Everyone);
        }
        if let Some(r) = self.roles.get(&id.name) {
            return Some(Subject::Role(RoleId(r)));
        }
        if let Some(r) = self.relations.get(&id.name) {
            return Some(Subject::Relation(RelationId(r)));
        }
        self.unresolved(id, &[Sort::Role, Sort::Relation], &[]);
        None
    }

    /// Expands action references (`*`, action groups) into the set of actions they name, at one
    /// step per reference: `*` and a group are merged as whole sets. `*` stands for `within` if
    /// given, every action otherwise.
    pub(super) fn action_set(
        &mut self,
        refs: &[ActionRef],
        groups: &[Bits],
        within: Option<Bits>,
    ) -> Bits {
        let mut out = Bits::EMPTY;
        for r in refs {
            match r {
                ActionRef::Star(_) => out = out.union(within.unwrap_or(self.all_actions)),
                ActionRef::Name(id) => {
                    if let Some(a) = self.actions.get(&id.name) {
                        out.set(a as usize);
                    } else if let Some(g) = self.action_groups.get(&id.name) {
                        out = out.union(groups[g as usize]);
                    } else {
                        self.unresolved(id, &[Sort::Action, Sort::ActionGroup], &[]);
                    }
                }
            }
        }
        out
    }

    /// [`Checker::action_set`] as action ids, in increasing order.
    pub(super) fn action_refs(
        &mut self,
        refs: &[ActionRef],
        groups: &[Bits],
        within: Option<Bits>,
    ) -> Vec<ActionId> {
        ids(self.action_set(refs, groups, within))
    }

    /// Pass one: every top-level name, so that pass two may refer forwards. Returns false when
    /// a count is over its limit: ids past it would not fit the compiled sets, so nothing that
    /// follows may run.
    pub(super) fn declare(&mut self, items: &[&Item]) -> bool {
        for item in items {
            match item {
                Item::Roles(names) => names.iter().for_each(|n| {
                    self.add(Sort::Role, n);
                }),
                Item::Actions { names, .. } => names.iter().for_each(|n| {
                    self.add(Sort::Action, n);
                }),
                Item::ActionGroup { name, .. } => {
                    self.add(Sort::ActionGroup, name);
                }
                Item::Permissions(names) => names.iter().for_each(|n| {
                    self.add(Sort::Permission, n);
                }),
                Item::Module(m) => {
                    self.add(Sort::Module, &m.name);
                }
                Item::Group(g) => {
                    self.add(Sort::Group, &g.name);
                }
                Item::Enum { name, .. } => {
                    self.reserved(name, &["string", "bool", "int", "set"]);
                    self.add(Sort::Enum, name);
                }
                Item::Kind(k) => {
                    self.reserved(&k.name, &["User", "string", "bool", "int", "set"]);
                    self.add(Sort::Kind, &k.name);
                    // INVARIANT: the case kind's relations come first (ids 0, 1, …), so a
                    // case's list of relations is indexed by relation id; the relations of
                    // each resource kind follow, declared below.
                    if k.is_case {
                        for r in &k.relations {
                            self.add(Sort::Relation, r);
                        }
                    }
                }
                Item::CaseType(c) => {
                    self.add(Sort::CaseType, &c.name);
                }
                Item::User { .. }
                | Item::Context { .. }
                | Item::Codes(_)
                | Item::Rule(_)
                | Item::RequireGroup(_) => {}
            }
        }
        for item in items {
            if let Item::Kind(k) = item {
                if !k.is_case {
                    for r in &k.relations {
                        self.add(Sort::Relation, r);
                    }
                }
            }
        }
        let mut ok = true;
        // `everyone` takes a subject bit of its own when the policy names it.
        let everyone = names_everyone(items);
        let subjects = self.roles.order.len() + self.relations.order.len() + everyone as usize;
        if subjects > MAX_SUBJECTS {
            ok = false;
            let span = self
                .roles
                .order
                .first()
                .map(|n| self.roles.map[n].1)
                .unwrap_or_default();
            self.error(
                Diagnostic::new(
                    Code::Limit,
                    span,
                    match everyone {
                        false => format!("the policy declares {subjects} roles and relations, more than the limit of {MAX_SUBJECTS}"),
                        true => format!("the policy declares {} roles and relations and names `everyone`: {subjects} subjects, more than the limit of {MAX_SUBJECTS}", subjects - 1),
                    },
                )
                .with_help("merge roles that always appear together, or split the policy"),
            );
        }
        for (sort, limit, help) in [
            (
                Sort::Action,
                MAX_ACTIONS,
                "action sets are compiled to 256-bit sets; merge actions that are always allowed together (an action group names several), or split the policy",
            ),
            (
                Sort::Permission,
                MAX_PERMISSIONS,
                "permission sets are compiled to 256-bit sets; merge permissions that are always permitted together, or split the policy",
            ),
        ] {
            let names = self.names(sort);
            let n = names.order.len();
            if n > limit {
                ok = false;
                let span = names.map[&names.order[limit]].1;
                self.error(
                    Diagnostic::new(
                        Code::Limit,
                        span,
                        format!(
                            "the policy declares {n} {}s, more than the limit of {limit}",
                            sort.word()
                        ),
                    )
                    .with_label(format!("{} number {} is declared here", sort.word(), limit + 1))
                    .with_help(help),
                );
            }
        }
        ok
    }

    /// Type names that are built in cannot be declared again.
    fn reserved(&mut self, id: &Ident, names: &[&str]) {
        if names.contains(&id.name.as_str()) {
            let what = if id.name == "User" {
                "the type of users (`ref User`)"
            } else {
                "a built-in type"
            };
            self.error(
                Diagnostic::new(
                    Code::Duplicate,
                    id.span,
                    format!("`{}` is {what} and cannot be declared again", id.name),
                )
                .with_help("choose another name"),
            );
        }
    }

    /// The actions each action group stands for, by group id: everything else may use them.
    pub(super) fn action_groups(&mut self, items: &[&Item]) -> Vec<Bits> {
        let mut action_groups: Vec<Bits> = vec![Bits::EMPTY; self.action_groups.order.len()];
        for item in items {
            if let Item::ActionGroup { name, members } = item {
                let idx = self.action_groups.get(&name.name).unwrap_or(0) as usize;
                self.group_members.insert(
                    name.name.clone(),
                    members.iter().map(|m| m.name.clone()).collect(),
                );
                let mut ids = Bits::EMPTY;
                for m in members {
                    match self.actions.get(&m.name) {
                        Some(a) => ids.set(a as usize),
                        None => self.unresolved(m, &[Sort::Action], &[]),
                    }
                }
                action_groups[idx] = ids;
            }
        }
        action_groups
    }
}

pub(super) fn named(n: &Names) -> Vec<Named> {
    n.order
        .iter()
        .map(|x| Named {
            name: x.clone(),
            span: n.map[x].1,
        })
        .collect()
}

/// The members of a set of actions, in increasing order.
pub(super) fn ids(set: Bits) -> Vec<ActionId> {
    set.iter().map(|a| ActionId(a as u32)).collect()
}

fn example_decl(sort: Sort, name: &str) -> String {
    match sort {
        Sort::Role => format!("role {name};"),
        Sort::Relation => format!("relation {name};"),
        Sort::Action | Sort::ActionGroup => format!("action {name};"),
        Sort::Permission => format!("permission {name};"),
        Sort::Group => format!("group {name} {{ grants SomeRole; }}"),
        Sort::Enum => format!("enum {name} {{ a, b }}"),
        Sort::Kind => format!("resource {name} {{ }}"),
        Sort::CaseType => format!("casetype {name} {{ states Start; initial Start; }}"),
        Sort::Module => format!("module {name} {{ actions access; }}"),
    }
}

/// Does some subject position of the policy (a rule, a table column, a transition's `by`, a
/// module-grant line) name `everyone`? Read before names are resolved, for the subject count.
fn names_everyone(items: &[&Item]) -> bool {
    let rules = |r: &[crate::ast::Rule]| r.iter().flat_map(|r| &r.subjects).any(is_everyone);
    items.iter().any(|item| match item {
        Item::Rule(r) => r.subjects.iter().any(is_everyone),
        Item::Kind(k) => rules(&k.rules),
        Item::CaseType(c) => {
            rules(&c.rules)
                || c.tables.iter().flat_map(|t| &t.columns).any(is_everyone)
                || c.transitions.iter().flat_map(|t| &t.by).any(is_everyone)
                || c.module_grants
                    .iter()
                    .flat_map(|g| &g.lines)
                    .flat_map(|l| &l.subjects)
                    .any(is_everyone)
        }
        _ => false,
    })
}

fn is_everyone(id: &Ident) -> bool {
    id.name == EVERYONE
}
