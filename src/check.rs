//! AST to checked IR: resolves every name, checks types and structure, and reports every mistake
//! it finds in one run.
//!
//! The checker keeps going after an error: each declaration is resolved on its own, so one
//! policy with three mistakes yields three diagnostics. It returns an IR only when no error was
//! found; warnings do not block it.

use crate::ast::{self, ActionRef, CondOp, Effect, Ident, Item, LiteralKind, Operand, TypeExpr};
use crate::bits::Bits;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::ir::*;
use crate::limits::{
    MAX_ACTIONS, MAX_ATTRS, MAX_CHECK_ERRORS, MAX_PERMISSIONS, MAX_RULE_ENTRIES, MAX_TABLE_SLOTS,
    SUGGESTION_BUDGET,
};
use std::cell::Cell;
use std::collections::{HashMap, HashSet, VecDeque};

/// The most roles plus relations a policy may declare: role sets are fixed 256-bit sets.
pub use crate::limits::MAX_SUBJECTS;

/// Checks parsed files (one policy may span several) and builds the IR.
///
/// Each step is linear in the policy, or n log n: names are looked up in hash maps, sets of
/// actions are 256-bit sets, and every count and product that sizes a later allocation (names
/// of each sort, attributes, table slots, rule entries) is checked against `src/limits.rs`
/// before that allocation is made.
pub fn check(files: &[ast::PolicyAst]) -> (Option<Policy>, Vec<Diagnostic>) {
    let mut cx = Checker::new();
    let items: Vec<&Item> = files.iter().flat_map(|f| f.items.iter()).collect();
    if let Some(d) = too_many_declarations(&items) {
        return (None, vec![d]);
    }
    // Over a count limit, ids would not fit the compiled sets: nothing further is checked.
    if !cx.declare(&items) {
        let mut diags = cx.diags;
        diags.sort_by_key(|d| (d.span().file, d.span().start, d.code));
        return (None, diags);
    }
    let policy = cx.resolve(&items);
    if cx.errors == 0 {
        cx.table_sizes(&policy);
    }
    if cx.errors > MAX_CHECK_ERRORS {
        let more = cx.errors - MAX_CHECK_ERRORS;
        cx.diags.push(
            Diagnostic::new(
                Code::Limit,
                cx.first_dropped,
                format!(
                    "too many errors: {} more after the first {} are not reported",
                    thousands(more),
                    thousands(MAX_CHECK_ERRORS)
                ),
            )
            .with_label("the first error not reported")
            .with_help("fix the errors reported, then check again"),
        );
    }
    let mut diags = cx.diags;
    diags.sort_by_key(|d| (d.span().file, d.span().start, d.code));
    let ok = !diags.iter().any(Diagnostic::is_error);
    (ok.then_some(policy), diags)
}

/// How many declarations a policy makes: top-level items, and the names, rules, attributes,
/// transitions, table cells and their entries inside them.
fn declarations(item: &Item) -> usize {
    1 + match item {
        Item::Roles(names) | Item::Permissions(names) => names.len(),
        Item::Actions { names, .. } => names.len(),
        Item::ActionGroup { members, .. } => members.len(),
        Item::Enum { variants, .. } => variants.len(),
        Item::Module(m) => m.actions.len() + m.records.len(),
        Item::Group(g) => g.grants.len() + g.permits.len() + g.scopes.len(),
        Item::User { attrs, .. } => attrs.len(),
        Item::Kind(k) => {
            k.attrs.len()
                + k.relations.len()
                + k.inherits.len()
                + k.rules.len()
                + k.modes.iter().map(|m| 1 + m.arms.len()).sum::<usize>()
        }
        Item::CaseType(c) => {
            c.states.len()
                + c.initials.len()
                + c.finals.len()
                + c.transitions.len()
                + c.rules.len()
                + c.module_grants
                    .iter()
                    .map(|g| 1 + g.lines.len())
                    .sum::<usize>()
                + c.tables
                    .iter()
                    .map(|t| {
                        // Each entry of a cell is a rule of its own.
                        1 + t
                            .rows
                            .iter()
                            .flat_map(|r| &r.cells)
                            .map(|c| 1 + c.entries.len())
                            .sum::<usize>()
                            + t.rows.len()
                    })
                    .sum::<usize>()
        }
        Item::Codes(classes) => classes.len(),
        Item::Rule(_) | Item::RequireGroup(_) => 0,
    }
}

/// The limit on declarations, checked before anything else so that a huge policy costs little.
fn too_many_declarations(items: &[&Item]) -> Option<Diagnostic> {
    let mut total = 0usize;
    for item in items {
        total += declarations(item);
        if total > crate::limits::MAX_DECLARATIONS {
            let span = item_span(item);
            return Some(
                Diagnostic::new(
                    Code::Limit,
                    span,
                    format!(
                        "the policy makes more than {} declarations; this one is over the limit",
                        crate::limits::MAX_DECLARATIONS
                    ),
                )
                .with_help("a policy this large is likely generated: generate fewer, broader rules (use action groups, tables and `*`)"),
            );
        }
    }
    None
}

/// Where an item starts, as well as the AST records it.
fn item_span(item: &Item) -> Span {
    match item {
        Item::Roles(names) | Item::Permissions(names) => names.first().map(|n| n.span),
        Item::Actions { names, .. } => names.first().map(|n| n.span),
        Item::ActionGroup { name, .. } | Item::Enum { name, .. } => Some(name.span),
        Item::Module(m) => Some(m.name.span),
        Item::Group(g) => Some(g.name.span),
        Item::User { span, .. } | Item::RequireGroup(span) => Some(*span),
        Item::Kind(k) => Some(k.name.span),
        Item::CaseType(c) => Some(c.name.span),
        Item::Codes(classes) => classes.first().map(|c| c.class.span),
        Item::Rule(r) => Some(r.span),
    }
    .unwrap_or_default()
}

/// A namespace of declared names.
#[derive(Default)]
struct Names {
    map: HashMap<String, (u32, Span)>,
    order: Vec<String>,
}

impl Names {
    fn get(&self, name: &str) -> Option<u32> {
        self.map.get(name).map(|e| e.0)
    }
    fn candidates(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sort {
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
    fn article(self) -> String {
        let w = self.word();
        let an = w.starts_with(|c: char| "aeiou".contains(c));
        format!("{} {w}", if an { "an" } else { "a" })
    }

    fn word(self) -> &'static str {
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

#[derive(Default)]
struct Checker {
    diags: Vec<Diagnostic>,
    /// Errors found so far, also those past [`MAX_CHECK_ERRORS`] that are not kept.
    errors: usize,
    /// Where the first error that was not kept is.
    first_dropped: Span,
    /// What is left of [`SUGGESTION_BUDGET`].
    suggestion_budget: Cell<usize>,
    /// Rule entries so far (see [`MAX_RULE_ENTRIES`]); past the limit, rules are no longer kept.
    rule_entries: usize,
    /// Every declared action, as a set (what `*` stands for).
    all_actions: Bits,
    /// Per enum: each variant's index by name.
    variant_index: Vec<HashMap<String, u32>>,
    /// Per action, for the table cell being checked: the entry that last allowed it and the one
    /// that last denied it, each with the stamp of its cell (see `table`).
    cell_last: Vec<[(u32, Span); 2]>,
    cell_stamp: u32,
    /// Each attribute of the case kind by name.
    case_attr_index: HashMap<String, u32>,
    /// Every declared name, for "is a … , not a …" help.
    sorts: HashMap<String, (Sort, Span)>,
    roles: Names,
    relations: Names,
    actions: Names,
    action_groups: Names,
    permissions: Names,
    groups: Names,
    enums: Names,
    kinds: Names,
    casetypes: Names,
    modules: Names,
    /// Each action group's members by name, for help text.
    group_members: HashMap<String, Vec<String>>,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            suggestion_budget: Cell::new(SUGGESTION_BUDGET),
            ..Checker::default()
        }
    }

    /// Reports a diagnostic. Errors past [`MAX_CHECK_ERRORS`] are only counted.
    fn error(&mut self, d: Diagnostic) {
        if d.is_error() {
            self.errors += 1;
            if self.errors > MAX_CHECK_ERRORS {
                if self.errors == MAX_CHECK_ERRORS + 1 {
                    self.first_dropped = d.span();
                }
                return;
            }
        }
        self.diags.push(d);
    }

    /// Whether a further error would be kept: help that is costly to compute is skipped when not.
    fn reporting(&self) -> bool {
        self.errors < MAX_CHECK_ERRORS
    }

    /// The candidate closest to `name`, if close enough to be a likely typo
    /// ([`crate::diagnostic::suggest_within`]), within what is left of [`SUGGESTION_BUDGET`]:
    /// every suggestion of one check shares it, so a policy of many unknown names against many
    /// declarations costs no more than the budget.
    fn suggest<'a>(
        &self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        let mut left = self.suggestion_budget.get();
        let found = crate::diagnostic::suggest_within(name, candidates, &mut left);
        self.suggestion_budget.set(left);
        found
    }

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
    fn unresolved(&mut self, id: &Ident, wanted: &[Sort], extra: &[&str]) {
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
        let help = match self.suggest(&id.name, candidates) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("declare it, e.g. `{}`", example_decl(wanted[0], &id.name)),
        };
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
                "account permissions are granted with `permits` in a group; use `action … requires …` to tie an action to one".into()
            }
            (Sort::Relation, Some(Sort::Role)) => "relations are held on a case, not granted; name a role here".into(),
            (Sort::ActionGroup, Some(Sort::Action)) => {
                let members = self.group_members.get(name).map(|m| backticked(m)).unwrap_or_default();
                format!("`{name}` stands for several actions ({members}); name a single action here")
            }
            (_, Some(Sort::Relation)) => {
                let rels: Vec<String> = self.relations.order.clone();
                if rels.is_empty() {
                    "declare relations in the `case` kind: `relation assignee;`".into()
                } else {
                    format!("the declared relations are {}", backticked(&rels))
                }
            }
            _ => format!("use {} here", wanted.iter().map(|s| s.article()).collect::<Vec<_>>().join(" or ")),
        }
    }

    fn lookup(&mut self, id: &Ident, sort: Sort) -> Option<u32> {
        let r = self.names(sort).get(&id.name);
        if r.is_none() {
            self.unresolved(id, &[sort], &[]);
        }
        r
    }

    fn subject(&mut self, id: &Ident) -> Option<Subject> {
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
    fn action_set(&mut self, refs: &[ActionRef], groups: &[Bits], within: Option<Bits>) -> Bits {
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
    fn action_refs(
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
    fn declare(&mut self, items: &[&Item]) -> bool {
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
                    for r in &k.relations {
                        self.add(Sort::Relation, r);
                    }
                }
                Item::CaseType(c) => {
                    self.add(Sort::CaseType, &c.name);
                }
                Item::User { .. } | Item::Codes(_) | Item::Rule(_) | Item::RequireGroup(_) => {}
            }
        }
        let mut ok = true;
        let subjects = self.roles.order.len() + self.relations.order.len();
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
                    format!("the policy declares {subjects} roles and relations, more than the limit of {MAX_SUBJECTS}"),
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

    fn resolve(&mut self, items: &[&Item]) -> Policy {
        let mut p = Policy {
            roles: named(&self.roles),
            relations: named(&self.relations),
            actions: self
                .actions
                .order
                .iter()
                .map(|n| ActionDef {
                    name: n.clone(),
                    span: self.actions.map[n].1,
                    requires: None,
                    read_code: false,
                    write_code: false,
                })
                .collect(),
            permissions: named(&self.permissions),
            modules: Vec::new(),
            groups: Vec::new(),
            enums: Vec::new(),
            user_attrs: Vec::new(),
            kinds: Vec::new(),
            case_kind: None,
            casetypes: Vec::new(),
            rules: Vec::new(),
            require_group: false,
        };

        // Action groups first: everything else may use them.
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

        self.all_actions = Bits::from_indices(0..self.actions.order.len());
        self.cell_last = vec![[(0, Span::default()); 2]; self.actions.order.len()];
        // Enums and kinds (types), in declaration order.
        self.variant_index = vec![HashMap::new(); self.enums.order.len()];
        p.enums = self
            .enums
            .order
            .iter()
            .map(|n| EnumDef {
                name: n.clone(),
                span: self.enums.map[n].1,
                variants: Vec::new(),
            })
            .collect();
        for item in items {
            if let Item::Enum { name, variants } = item {
                let idx = self.enums.get(&name.name).unwrap_or(0) as usize;
                let mut seen: HashMap<&str, Span> = HashMap::new();
                for v in variants {
                    if let Some(prev) = seen.insert(&v.name, v.span) {
                        self.error(
                            Diagnostic::new(
                                Code::Duplicate,
                                v.span,
                                format!("variant `{}` is listed twice", v.name),
                            )
                            .with_secondary(prev, "first listed here")
                            .with_help("remove the repeated variant"),
                        );
                    }
                }
                let mut names: Vec<String> = Vec::new();
                let mut index: HashMap<String, u32> = HashMap::new();
                for v in variants {
                    if !index.contains_key(&v.name) {
                        index.insert(v.name.clone(), names.len() as u32);
                        names.push(v.name.clone());
                    }
                }
                p.enums[idx].variants = names;
                self.variant_index[idx] = index;
            }
        }
        let kind_decls: Vec<&ast::KindDecl> = items
            .iter()
            .filter_map(|i| if let Item::Kind(k) = i { Some(k) } else { None })
            .collect();
        for k in &kind_decls {
            if self.kinds.get(&k.name.name) != Some(p.kinds.len() as u32) {
                continue; // A duplicate, already reported.
            }
            p.kinds.push(KindDef {
                name: k.name.name.clone(),
                span: k.name.span,
                is_case: k.is_case,
                parent: None,
                attrs: Vec::new(),
                inherit_read: false,
                inherit_write: false,
                mode: None,
            });
        }
        for k in &kind_decls {
            let Some(kid) = self.kinds.get(&k.name.name) else {
                continue;
            };
            let kid = KindId(kid);
            if p.kinds[kid.idx()].span != k.name.span {
                continue;
            }
            if k.is_case {
                if let Some(prev) = p.case_kind {
                    let prev_span = p.kinds[prev.idx()].span;
                    self.error(
                        Diagnostic::new(
                            Code::Duplicate,
                            k.name.span,
                            "a policy may declare only one `case` kind",
                        )
                        .with_secondary(prev_span, "the case kind is declared here")
                        .with_help("declare further kinds with `resource Name under Case { … }`"),
                    );
                } else {
                    p.case_kind = Some(kid);
                }
            }
            let parent = k
                .parent
                .as_ref()
                .and_then(|par| self.lookup(par, Sort::Kind))
                .map(KindId);
            p.kinds[kid.idx()].parent = parent;
            let attrs = self.attrs(&k.attrs, &format!("kind `{}`", k.name.name), &p);
            p.kinds[kid.idx()].attrs = attrs;
            for inh in &k.inherits {
                match inh.name.as_str() {
                    "read" => p.kinds[kid.idx()].inherit_read = true,
                    "write" => p.kinds[kid.idx()].inherit_write = true,
                    other => self.error(
                        Diagnostic::new(
                            Code::Undefined,
                            inh.span,
                            format!("unknown access-code class `{other}`"),
                        )
                        .with_help(
                            match crate::diagnostic::suggest(other, ["read", "write"]) {
                                Some(s) => format!("did you mean `{s}`?"),
                                None => "the classes are `read` and `write`".into(),
                            },
                        ),
                    ),
                }
            }
            if let (Some(first), None) = (k.inherits.first(), &k.parent) {
                let parent = p
                    .case_kind
                    .map(|c| p.kinds[c.idx()].name.clone())
                    .unwrap_or_else(|| "Parent".into());
                self.error(
                    Diagnostic::new(
                        Code::Misplaced,
                        first.span,
                        format!("kind `{}` inherits access codes but has no parent to inherit from", k.name.name),
                    )
                    .with_label("nothing to inherit from")
                    .with_help(format!("give it a parent, `resource {} under {parent} {{ … }}`, or remove `inherit`", k.name.name)),
                );
            }
        }
        self.kind_cycles(&p);
        // Access modes need the case kind's attributes and relations.
        for k in &kind_decls {
            let Some(kid) = self.kinds.get(&k.name.name).map(KindId) else {
                continue;
            };
            if p.kinds[kid.idx()].span != k.name.span {
                continue;
            }
            for (i, m) in k.modes.iter().enumerate() {
                if i > 0 {
                    self.error(
                        Diagnostic::new(
                            Code::Duplicate,
                            m.span,
                            "a case kind may have only one access `mode`",
                        )
                        .with_label("second `mode`")
                        .with_secondary(k.modes[0].span, "first `mode`")
                        .with_help("merge the two `mode` blocks"),
                    );
                    continue;
                }
                if let Some(def) = self.mode(m, &p.kinds[kid.idx()], &p) {
                    p.kinds[kid.idx()].mode = Some(def);
                }
            }
        }

        // Access-code classes of actions.
        let mut codes_seen: Option<Span> = None;
        for item in items {
            match item {
                Item::Actions {
                    names,
                    requires: Some(req),
                } => {
                    if let Some(perm) = self.lookup(req, Sort::Permission) {
                        for n in names {
                            if let Some(a) = self.actions.get(&n.name) {
                                p.actions[a as usize].requires = Some(PermissionId(perm));
                            }
                        }
                    }
                }
                Item::Codes(classes) => {
                    let span = classes.first().map(|c| c.class.span).unwrap_or_default();
                    if let Some(prev) = codes_seen {
                        self.error(
                            Diagnostic::new(
                                Code::Duplicate,
                                span,
                                "the policy has two `codes` blocks",
                            )
                            .with_secondary(prev, "the first is here")
                            .with_help("merge them into one"),
                        );
                    }
                    codes_seen = Some(span);
                    for c in classes {
                        let ids = self.action_refs(&c.actions, &action_groups, None);
                        let suggestion = self.suggest(&c.class.name, ["read", "write"]);
                        match c.class.name.as_str() {
                            "read" => ids.iter().for_each(|a| p.actions[a.idx()].read_code = true),
                            "write" => ids
                                .iter()
                                .for_each(|a| p.actions[a.idx()].write_code = true),
                            other => self.error(
                                Diagnostic::new(
                                    Code::Undefined,
                                    c.class.span,
                                    format!("unknown access-code class `{other}`"),
                                )
                                .with_help(match suggestion {
                                    Some(s) => format!("did you mean `{s}`?"),
                                    None => "the classes are `read` and `write`".into(),
                                }),
                            ),
                        }
                    }
                }
                Item::RequireGroup(_) => p.require_group = true,
                Item::User { .. } => {}
                _ => {}
            }
        }

        // All `user { }` blocks together declare the user attributes.
        let user_attrs: Vec<ast::AttrDecl> = items
            .iter()
            .filter_map(|i| {
                if let Item::User { attrs, .. } = i {
                    Some(attrs.clone())
                } else {
                    None
                }
            })
            .flatten()
            .collect();
        p.user_attrs = self.attrs(&user_attrs, "", &p);

        // Modules.
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
                    .filter_map(|r| self.lookup(r, Sort::Relation).map(RelationId))
                    .collect();
                p.modules.push(ModuleDef {
                    name: m.name.name.clone(),
                    span: m.name.span,
                    actions,
                    records,
                });
            }
        }

        // Access groups.
        self.case_attr_index = p
            .case_attrs()
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.clone(), i as u32))
            .collect();
        for item in items {
            if let Item::Group(g) = item {
                if self.groups.get(&g.name.name) != Some(p.groups.len() as u32) {
                    continue;
                }
                let def = self.group(g, &p);
                p.groups.push(def);
            }
        }
        self.group_cycles(&p);

        // Rules outside case types.
        for item in items {
            match item {
                Item::Rule(r) => self.rule(r, RuleScope::Global, None, &action_groups, &mut p),
                Item::Kind(k) => {
                    if let Some(kid) = self.kinds.get(&k.name.name) {
                        for r in &k.rules {
                            self.rule(
                                r,
                                RuleScope::Kind(KindId(kid)),
                                None,
                                &action_groups,
                                &mut p,
                            );
                        }
                    }
                }
                _ => {}
            }
        }

        // Case types.
        for item in items {
            if let Item::CaseType(c) = item {
                if self.casetypes.get(&c.name.name) != Some(p.casetypes.len() as u32) {
                    continue;
                }
                self.casetype(c, &action_groups, &mut p);
            }
        }
        p
    }

    /// The attributes of a kind (`owner` is `kind `Case``) or of users (`owner` is empty).
    fn attrs(&mut self, decls: &[ast::AttrDecl], owner: &str, p: &Policy) -> Vec<AttrDef> {
        let decls = match decls.get(MAX_ATTRS) {
            Some(over) => {
                let who = if owner.is_empty() {
                    "the `user` blocks declare".to_string()
                } else {
                    format!("{owner} declares")
                };
                self.error(
                    Diagnostic::new(
                        Code::Limit,
                        over.name.span,
                        format!(
                            "{who} {} attributes, more than the limit of {}",
                            thousands(decls.len()),
                            thousands(MAX_ATTRS)
                        ),
                    )
                    .with_label(format!("attribute number {} is declared here", MAX_ATTRS + 1))
                    .with_help("keep only the attributes that access rules test; other data belongs in the application, not in the policy"),
                );
                &decls[..MAX_ATTRS]
            }
            None => decls,
        };
        let mut out: Vec<AttrDef> = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for a in decls {
            if let Some(&prev_span) = seen.get(a.name.name.as_str()) {
                self.error(
                    Diagnostic::new(
                        Code::Duplicate,
                        a.name.span,
                        format!("attribute `{}` is declared twice", a.name.name),
                    )
                    .with_secondary(prev_span, "first declared here")
                    .with_help("remove one of the declarations"),
                );
                continue;
            }
            let Some(ty) = self.type_expr(&a.ty, p) else {
                continue;
            };
            seen.insert(&a.name.name, a.name.span);
            out.push(AttrDef {
                name: a.name.name.clone(),
                span: a.name.span,
                ty,
            });
        }
        out
    }

    fn type_expr(&mut self, t: &TypeExpr, _p: &Policy) -> Option<Type> {
        const BUILTIN: [&str; 3] = ["string", "bool", "int"];
        match t {
            TypeExpr::Named(id) => match id.name.as_str() {
                "string" => Some(Type::Str),
                "bool" => Some(Type::Bool),
                "int" => Some(Type::Int),
                "set" => {
                    self.error(
                        Diagnostic::new(Code::Undefined, id.span, "`set` needs an element type")
                            .with_help("write `set<string>`"),
                    );
                    None
                }
                name => {
                    if let Some(e) = self.enums.get(name) {
                        Some(Type::Enum(EnumId(e)))
                    } else if self.kinds.get(name).is_some() {
                        self.error(
                            Diagnostic::new(
                                Code::WrongSort,
                                id.span,
                                format!("`{name}` is a resource kind, not a value type"),
                            )
                            .with_help(format!("to refer to a `{name}`, write `ref {name}`")),
                        );
                        None
                    } else {
                        let cands = BUILTIN.iter().copied().chain(self.enums.candidates());
                        let help = match self.suggest(name, cands) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "the types are `string`, `bool`, `int`, `set<string>`, `ref Kind`, `ref User` and declared enums".into(),
                        };
                        self.error(
                            Diagnostic::new(
                                Code::Undefined,
                                id.span,
                                format!("unknown type `{name}`"),
                            )
                            .with_help(help),
                        );
                        None
                    }
                }
            },
            TypeExpr::Set(el) => {
                if el.name == "string" {
                    Some(Type::SetStr)
                } else {
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            el.span,
                            format!("sets of `{}` are not supported", el.name),
                        )
                        .with_help("only `set<string>` is supported"),
                    );
                    None
                }
            }
            TypeExpr::Ref(target) => {
                if target.name == "User" {
                    Some(Type::RefUser)
                } else {
                    let cands = ["User"];
                    if let Some(k) = self.kinds.get(&target.name) {
                        Some(Type::Ref(KindId(k)))
                    } else {
                        self.unresolved(target, &[Sort::Kind], &cands);
                        None
                    }
                }
            }
        }
    }

    fn mode(&mut self, m: &ast::ModeDecl, kind: &KindDef, p: &Policy) -> Option<ModeDef> {
        let Some(attr_idx) = kind.attrs.iter().position(|a| a.name == m.attr.name) else {
            let cands = kind.attrs.iter().map(|a| a.name.as_str());
            let help = match self.suggest(&m.attr.name, cands) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("declare it: `attr {}: AccessMode;` with `enum AccessMode {{ open, restricted }}`", m.attr.name),
            };
            self.error(
                Diagnostic::new(
                    Code::Undefined,
                    m.attr.span,
                    format!("kind `{}` has no attribute `{}`", kind.name, m.attr.name),
                )
                .with_help(help),
            );
            return None;
        };
        let attr = &kind.attrs[attr_idx];
        let Type::Enum(e) = attr.ty else {
            self.error(
                Diagnostic::new(
                    Code::TypeMismatch,
                    m.attr.span,
                    format!("the mode's attribute `{}` has type {}; an access mode needs an enum attribute", attr.name, type_name(attr.ty, p)),
                )
                .with_label("not an enum")
                .with_secondary(attr.span, "declared here")
                    .with_help("declare an enum of modes, e.g. `enum AccessMode { open, restricted }`"),
            );
            return None;
        };
        let def = &p.enums[e.idx()];
        let mut arms: Vec<Option<Option<Vec<RelationId>>>> = vec![None; def.variants.len()];
        let mut spans = vec![m.span; def.variants.len()];
        for arm in &m.arms {
            let Some(v) = self.variant_index[e.idx()]
                .get(&arm.variant.name)
                .map(|&v| v as usize)
            else {
                let help = match self
                    .suggest(&arm.variant.name, def.variants.iter().map(String::as_str))
                {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "the variants of `{}` are {}",
                        def.name,
                        backticked(&def.variants)
                    ),
                };
                self.error(
                    Diagnostic::new(
                        Code::Undefined,
                        arm.variant.span,
                        format!("`{}` is not a variant of `{}`", arm.variant.name, def.name),
                    )
                    .with_help(help),
                );
                continue;
            };
            let rels = arm.relations.as_ref().map(|rs| {
                rs.iter()
                    .filter_map(|r| self.lookup(r, Sort::Relation).map(RelationId))
                    .collect::<Vec<_>>()
            });
            if arms[v].is_some() {
                self.error(
                    Diagnostic::new(
                        Code::Duplicate,
                        arm.variant.span,
                        format!(
                            "variant `{}` has two lines in this access mode",
                            arm.variant.name
                        ),
                    )
                    .with_label("second line")
                    .with_secondary(spans[v], "first line")
                    .with_help("keep one line per variant"),
                );
            }
            arms[v] = Some(rels);
            spans[v] = arm.variant.span;
        }
        let missing: Vec<String> = def
            .variants
            .iter()
            .zip(&arms)
            .filter(|(_, a)| a.is_none())
            .map(|(v, _)| v.clone())
            .collect();
        if !missing.is_empty() {
            self.error(
                Diagnostic::new(
                    Code::ModeNotExhaustive,
                    m.span,
                    format!(
                        "access mode does not say who may access {} cases",
                        backticked(&missing)
                    ),
                )
                .with_label("every variant needs a line")
                .with_help(format!(
                    "add a line for each, e.g. `{}: everyone;` or `{}: assignee;`",
                    missing[0], missing[0]
                )),
            );
            return None;
        }
        Some(ModeDef {
            attr: AttrId(attr_idx as u32),
            span: m.span,
            arms: arms.into_iter().map(|a| a.unwrap_or(None)).collect(),
            arm_spans: spans,
        })
    }

    /// Reports cycles of kind parents, and chains deeper than the limit (once per policy).
    fn kind_cycles(&mut self, p: &Policy) {
        let mut reported: HashSet<usize> = HashSet::new();
        let mut too_deep = false;
        for (i, k) in p.kinds.iter().enumerate() {
            if reported.contains(&i) {
                continue;
            }
            let mut seen = vec![i];
            let mut cur = k.parent;
            while let Some(c) = cur {
                if c.idx() == i {
                    reported.extend(seen.iter().copied());
                    let path: Vec<String> = seen
                        .iter()
                        .map(|s| p.kinds[*s].name.clone())
                        .chain([k.name.clone()])
                        .collect();
                    self.error(
                        Diagnostic::new(Code::KindCycle, k.span, format!("resource kinds form a cycle: {}", path.join(" → ")))
                            .with_help("a kind's parent chain must end at a kind with no parent, usually the case kind"),
                    );
                    break;
                }
                if seen.contains(&c.idx()) {
                    break; // The cycle does not pass through `k`; it is reported from its own members.
                }
                seen.push(c.idx());
                if seen.len() > crate::limits::MAX_KIND_DEPTH {
                    if !too_deep {
                        too_deep = true;
                        self.error(
                            Diagnostic::new(
                                Code::Limit,
                                k.span,
                                format!(
                                    "the chain of parents of resource kind `{}` holds more than {} kinds",
                                    k.name,
                                    crate::limits::MAX_KIND_DEPTH
                                ),
                            )
                            .with_label("the chain of `under` parents starts here")
                            .with_help("shorten the chain of `under` kinds"),
                        );
                    }
                    break;
                }
                cur = p.kinds[c.idx()].parent;
            }
        }
    }

    fn group(&mut self, g: &ast::GroupDecl, p: &Policy) -> GroupDef {
        let parent = g
            .parent
            .as_ref()
            .and_then(|x| self.lookup(x, Sort::Group))
            .map(GroupId);
        let mut grants = Vec::new();
        for r in &g.grants {
            if let Some(id) = self.roles.get(&r.name) {
                grants.push(RoleId(id));
            } else if self.relations.get(&r.name).is_some() {
                self.error(
                    Diagnostic::new(Code::WrongSort, r.span, format!("`{}` is a relation, which a group cannot grant", r.name))
                        .with_help("relations are held on a case (assignee, collaborator, …); grant a role instead"),
                );
            } else {
                self.unresolved(r, &[Sort::Role], &[]);
            }
        }
        let permits = g
            .permits
            .iter()
            .filter_map(|x| self.lookup(x, Sort::Permission).map(PermissionId))
            .collect();
        let mut scope = ScopeDef::All;
        for (i, (s, span)) in g.scopes.iter().enumerate() {
            if i > 0 {
                self.error(
                    Diagnostic::new(
                        Code::Duplicate,
                        *span,
                        format!("group `{}` has more than one scope", g.name.name),
                    )
                    .with_label("second scope")
                    .with_secondary(g.scopes[0].1, "first scope")
                    .with_help("a group has one scope: `all`, `assigned via …` or `filter { … }`"),
                );
                continue;
            }
            scope = match s {
                ast::Scope::All => ScopeDef::All,
                ast::Scope::Assigned(rels) => ScopeDef::Assigned(
                    rels.iter()
                        .filter_map(|r| self.lookup(r, Sort::Relation).map(RelationId))
                        .collect(),
                ),
                ast::Scope::Filter(conds) => {
                    if p.case_kind.is_none() {
                        self.error(
                            Diagnostic::new(
                                Code::Misplaced,
                                *span,
                                "a filter scope needs a `case` kind whose attributes it tests",
                            )
                            .with_help("declare `case Case { attr …; }`"),
                        );
                        ScopeDef::Filter(Vec::new())
                    } else {
                        ScopeDef::Filter(
                            conds.iter().filter_map(|c| self.condition(c, p)).collect(),
                        )
                    }
                }
            };
        }
        GroupDef {
            name: g.name.name.clone(),
            span: g.name.span,
            parent,
            grants,
            permits,
            scope,
        }
    }

    fn condition(&mut self, c: &ast::Condition, p: &Policy) -> Option<Cond> {
        let attrs = p.case_attrs();
        let Some(ai) = self.case_attr_index.get(&c.attr.name).map(|&i| i as usize) else {
            let help = match self.suggest(&c.attr.name, attrs.iter().map(|a| a.name.as_str())) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "filters test attributes declared on the `case` kind".to_string(),
            };
            let kind = p
                .case_kind
                .map(|k| p.kinds[k.idx()].name.clone())
                .unwrap_or_default();
            self.error(
                Diagnostic::new(
                    Code::Undefined,
                    c.attr.span,
                    format!("case kind `{kind}` has no attribute `{}`", c.attr.name),
                )
                .with_help(help),
            );
            return None;
        };
        let attr = &attrs[ai];
        let ty = attr.ty;
        let (test, negate) = match &c.op {
            CondOp::Eq(Operand::Principal(s)) | CondOp::Ne(Operand::Principal(s)) => {
                if ty != Type::RefUser {
                    self.type_mismatch(
                        *s,
                        attr,
                        "`principal` (a user)",
                        "compare `principal` with an attribute of type `ref User`",
                        p,
                    );
                    return None;
                }
                (CondTest::IsPrincipal, matches!(c.op, CondOp::Ne(_)))
            }
            CondOp::Eq(Operand::Literal(l)) | CondOp::Ne(Operand::Literal(l)) => {
                let v = self.value(l, attr, p)?;
                (CondTest::OneOf(vec![v]), matches!(c.op, CondOp::Ne(_)))
            }
            CondOp::In(lits) => {
                let mut vs = Vec::new();
                for l in lits {
                    vs.push(self.value(l, attr, p)?);
                }
                (CondTest::OneOf(vs), false)
            }
            CondOp::Contains(l) => {
                if ty != Type::SetStr {
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            c.attr.span,
                            format!(
                                "`contains` needs a `set<string>` attribute, but `{}` has type {}",
                                attr.name,
                                type_name(ty, p)
                            ),
                        )
                        .with_label("not a set")
                        .with_secondary(attr.span, format!("`{}` is declared here", attr.name))
                        .with_help("compare single values with `==` or `in [...]`"),
                    );
                    return None;
                }
                let LiteralKind::Str(s) = &l.kind else {
                    self.type_mismatch(
                        l.span,
                        attr,
                        "a non-string value",
                        "sets hold strings: write the value in double quotes",
                        p,
                    );
                    return None;
                };
                (CondTest::Contains(s.clone()), false)
            }
        };
        Some(Cond {
            attr: AttrId(ai as u32),
            test,
            negate,
            span: c.span,
        })
    }

    fn value(&mut self, l: &ast::Literal, attr: &AttrDef, p: &Policy) -> Option<Value> {
        let v = match (&l.kind, attr.ty) {
            (LiteralKind::Str(s), Type::Str) => Value::Str(s.clone()),
            (LiteralKind::Int(i), Type::Int) => Value::Int(*i),
            (LiteralKind::Bool(b), Type::Bool) => Value::Bool(*b),
            (LiteralKind::Name(n), Type::Enum(e)) => {
                let def = &p.enums[e.idx()];
                match self.variant_index[e.idx()].get(n) {
                    Some(&i) => Value::Variant(i),
                    None => {
                        let help = match self.suggest(n, def.variants.iter().map(String::as_str)) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!(
                                "the variants of `{}` are {}",
                                def.name,
                                backticked(&def.variants)
                            ),
                        };
                        self.error(
                            Diagnostic::new(
                                Code::Undefined,
                                l.span,
                                format!("`{n}` is not a variant of `{}`", def.name),
                            )
                            .with_help(help),
                        );
                        return None;
                    }
                }
            }
            (LiteralKind::Name(n), Type::Str) => {
                self.type_mismatch(
                    l.span,
                    attr,
                    &format!("the name `{n}`"),
                    &format!("write the string in quotes: `\"{n}\"`"),
                    p,
                );
                return None;
            }
            (LiteralKind::BadInt(digits), _) => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        l.span,
                        format!("number `{digits}` does not fit in 64 bits"),
                    )
                    .with_help("numbers range from -9223372036854775808 to 9223372036854775807"),
                );
                return None;
            }
            (kind, _) => {
                let what = match kind {
                    LiteralKind::Str(_) => "a string",
                    LiteralKind::Int(_) | LiteralKind::BadInt(_) => "a number",
                    LiteralKind::Bool(_) => "a boolean",
                    LiteralKind::Name(_) => "an enum variant",
                };
                let help = match (attr.ty, kind) {
                    (Type::RefUser, _) => {
                        "a `ref User` attribute can only be compared with `principal`".to_string()
                    }
                    (Type::Ref(_), _) => format!(
                        "a {} attribute cannot be tested in a filter",
                        type_name(attr.ty, p)
                    ),
                    (Type::Enum(e), LiteralKind::Str(v))
                        if self.variant_index[e.idx()].contains_key(v) =>
                    {
                        format!(
                            "enum variants are written without quotes: `{} == {v}`",
                            attr.name
                        )
                    }
                    _ => format!(
                        "compare `{}` with a value of type {}",
                        attr.name,
                        type_name(attr.ty, p)
                    ),
                };
                self.type_mismatch(l.span, attr, what, &help, p);
                return None;
            }
        };
        Some(v)
    }

    #[cold]
    fn type_mismatch(&mut self, span: Span, attr: &AttrDef, found: &str, help: &str, p: &Policy) {
        self.error(
            Diagnostic::new(
                Code::TypeMismatch,
                span,
                format!(
                    "attribute `{}` has type {}, but is compared with {found}",
                    attr.name,
                    type_name(attr.ty, p)
                ),
            )
            .with_secondary(attr.span, format!("`{}` is declared here", attr.name))
            .with_help(help.to_string()),
        );
    }

    /// Reports cycles of group parents, and chains deeper than the limit (once per policy).
    fn group_cycles(&mut self, p: &Policy) {
        let mut reported: HashSet<usize> = HashSet::new();
        let mut too_deep = false;
        for (i, g) in p.groups.iter().enumerate() {
            let mut path = vec![i];
            let mut cur = g.parent;
            while let Some(c) = cur {
                if c.idx() == i {
                    if path.iter().all(|x| !reported.contains(x)) {
                        reported.extend(path.iter().copied());
                        let names: Vec<String> = path
                            .iter()
                            .map(|x| p.groups[*x].name.clone())
                            .chain([g.name.clone()])
                            .collect();
                        self.error(
                            Diagnostic::new(
                                Code::GroupCycle,
                                g.span,
                                format!("access groups nest in a cycle: {}", names.join(" in ")),
                            )
                            .with_label("this group is inside itself")
                            .with_help(
                                "remove one `in` clause so that the chain of parent groups ends",
                            ),
                        );
                    }
                    break;
                }
                if path.contains(&c.idx()) {
                    break;
                }
                path.push(c.idx());
                if path.len() > crate::limits::MAX_GROUP_DEPTH {
                    if !too_deep {
                        too_deep = true;
                        self.error(
                            Diagnostic::new(
                                Code::Limit,
                                g.span,
                                format!(
                                    "the chain of parents of access group `{}` holds more than {} groups",
                                    g.name,
                                    crate::limits::MAX_GROUP_DEPTH
                                ),
                            )
                            .with_label("the chain of `in` parents starts here")
                            .with_help("flatten the hierarchy: a group may be `in` a group higher up"),
                        );
                    }
                    break;
                }
                cur = p.groups[c.idx()].parent;
            }
        }
    }

    fn rule(
        &mut self,
        r: &ast::Rule,
        scope: RuleScope,
        ct: Option<(CaseTypeId, &States)>,
        groups: &[Bits],
        p: &mut Policy,
    ) {
        let subjects: Vec<Subject> = r.subjects.iter().filter_map(|s| self.subject(s)).collect();
        let actions = self.action_refs(&r.actions, groups, None);
        let mut states = Vec::new();
        if !r.states.is_empty() {
            match ct {
                Some((t, st)) => {
                    for s in &r.states {
                        if let Some(id) = self.state(s, st, Some(t), p) {
                            states.push(id);
                        }
                    }
                }
                None => self.error(
                    Diagnostic::new(
                        Code::Misplaced,
                        r.states[0].span,
                        "only rules inside a `casetype` can name states",
                    )
                    .with_help("move the rule into the case type whose states it names"),
                ),
            }
        }
        self.push_rule(
            p,
            RuleDef {
                effect: r.effect,
                subjects,
                actions,
                states,
                scope,
                origin: RuleOrigin::Statement,
                span: r.span,
            },
        );
    }

    /// Adds a rule to the policy, counting its entries against [`MAX_RULE_ENTRIES`]: its
    /// actions times the states it applies in. Past the limit, rules are reported once and no
    /// longer kept, so the limit also bounds what the checker holds.
    fn push_rule(&mut self, p: &mut Policy, rule: RuleDef) {
        let states = match rule.scope {
            RuleScope::CaseType(t) if rule.states.is_empty() => p.casetypes[t.idx()].states.len(),
            _ => rule.states.len(),
        };
        let entries = rule.actions.len().max(1).saturating_mul(states.max(1));
        if self.count_entries(entries, rule.span) {
            p.rules.push(rule);
        }
    }

    /// Counts `n` rule entries (see [`MAX_RULE_ENTRIES`]) for the rule or module grant line at
    /// `span`; false, and one error for the whole policy, once the total is over the limit.
    fn count_entries(&mut self, n: usize, span: Span) -> bool {
        let before = self.rule_entries;
        self.rule_entries = before.saturating_add(n);
        if self.rule_entries <= MAX_RULE_ENTRIES {
            return true;
        }
        if before <= MAX_RULE_ENTRIES {
            self.error(
                Diagnostic::new(
                    Code::Limit,
                    span,
                    format!(
                        "the rules and module grants expand to more than {} entries (each counts its actions times the states it applies in)",
                        thousands(MAX_RULE_ENTRIES)
                    ),
                )
                .with_label("the limit is passed here")
                .with_help("a rule with `*` or an action group and no `in` states covers every action in every state of its case type: write fewer, broader rules (a rule outside the case types covers them all at once), or split the policy"),
            );
        }
        false
    }

    fn state(
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
        let help = match self.suggest(&s.name, states.iter().map(|x| x.name.as_str())) {
            Some(x) => format!("did you mean `{x}`?"),
            None if states.is_empty() => "declare the states first: `states Start, Review;`".into(),
            None => format!(
                "the states are {}",
                listed(states.iter().map(|x| x.name.as_str()))
            ),
        };
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
        });
        if states.named.is_empty() {
            self.error(
                Diagnostic::new(
                    Code::StateMachine,
                    c.name.span,
                    format!("case type `{}` declares no states", c.name.name),
                )
                .with_help("list its workflow states: `states Start, Review, Closed;`"),
            );
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
            let by: Vec<Subject> = t.by.iter().filter_map(|s| self.subject(s)).collect();
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
                    span: t.span,
                });
                self.push_rule(
                    p,
                    RuleDef {
                        effect: Effect::Allow,
                        subjects: by,
                        actions: vec![action],
                        states: from,
                        scope: RuleScope::CaseType(ct),
                        origin: RuleOrigin::Transition { index: ti as u32 },
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
                let subjects: Vec<Subject> = line
                    .subjects
                    .iter()
                    .filter_map(|s| self.subject(s))
                    .collect();
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
        if let (Some(init), true) = (initial, transitions_ok) {
            self.reachability(ct, init, p);
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
                    listed(module.actions.iter().map(|x| p.actions[x.idx()].name.as_str()))
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
        let columns: Vec<Option<Subject>> = t.columns.iter().map(|c| self.subject(c)).collect();
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
                                    effect: e.effect,
                                    subjects: vec![*subject],
                                    actions: ids,
                                    states: vec![state],
                                    scope: RuleScope::CaseType(ct),
                                    origin: RuleOrigin::TableCell {
                                        state,
                                        subject: *subject,
                                    },
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

    /// CP0112 for a compiled lookup table that would have more than [`MAX_TABLE_SLOTS`] slots
    /// (kinds × actions, case-type states × actions, case types × modules × actions), so that a
    /// policy that checks can always be compiled. Each error points at the declaration from
    /// which the table is over the limit.
    fn table_sizes(&mut self, p: &Policy) {
        let actions = p.actions.len();
        let limit = thousands(MAX_TABLE_SLOTS);
        let kinds = p.kinds.len();
        if kinds.saturating_mul(actions) > MAX_TABLE_SLOTS {
            let kind = &p.kinds[MAX_TABLE_SLOTS / actions];
            self.error(
                Diagnostic::new(
                    Code::Limit,
                    kind.span,
                    format!(
                        "{} resource kinds × {actions} actions = {} table slots, over the limit of {limit}",
                        thousands(kinds),
                        thousands(kinds * actions)
                    ),
                )
                .with_label("the table of rules by kind is over the limit from this kind on")
                .with_help("the compiled policy has a slot for every kind and action: merge kinds that are governed alike (an attribute can tell them apart), or declare fewer actions"),
            );
        }
        let states: usize = p.casetypes.iter().map(|c| c.states.len()).sum();
        if states.saturating_mul(actions) > MAX_TABLE_SLOTS {
            let mut seen = 0usize;
            let over = p
                .casetypes
                .iter()
                .find(|c| {
                    seen += c.states.len();
                    seen * actions > MAX_TABLE_SLOTS
                })
                .map(|c| c.span)
                .unwrap_or_default();
            self.error(
                Diagnostic::new(
                    Code::Limit,
                    over,
                    format!(
                        "{} states of case types × {actions} actions = {} table slots, over the limit of {limit}",
                        thousands(states),
                        thousands(states * actions)
                    ),
                )
                .with_label("the table of rules by state is over the limit from this case type on")
                .with_help("the compiled policy has a slot for every state of every case type and every action: let case types that share a workflow be one case type (an attribute can tell them apart), or declare fewer actions"),
            );
        }
        let (casetypes, modules) = (p.casetypes.len(), p.modules.len());
        let slots = casetypes.saturating_mul(modules).saturating_mul(actions);
        if slots > MAX_TABLE_SLOTS {
            let ct = &p.casetypes[MAX_TABLE_SLOTS / (modules * actions)];
            self.error(
                Diagnostic::new(
                    Code::Limit,
                    ct.span,
                    format!(
                        "{} case types × {} modules × {actions} actions = {} table slots, over the limit of {limit}",
                        thousands(casetypes),
                        thousands(modules),
                        thousands(slots)
                    ),
                )
                .with_label("the table of module grants is over the limit from this case type on")
                .with_help("the compiled policy has a slot for every case type, module and action: declare fewer modules, or let case types that share a workflow be one case type"),
            );
        }
    }

    fn reachability(&mut self, ct: CaseTypeId, init: StateId, p: &Policy) {
        let def = &p.casetypes[ct.idx()];
        // The states each state leads to: built once, so the search is linear.
        let mut next: Vec<Vec<StateId>> = vec![Vec::new(); def.states.len()];
        for t in &def.transitions {
            for f in &t.from {
                next[f.idx()].push(t.to);
            }
        }
        let mut reached = vec![false; def.states.len()];
        let mut queue = VecDeque::from([init]);
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
        for (i, s) in def.states.iter().enumerate() {
            if !reached[i] {
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

fn named(n: &Names) -> Vec<Named> {
    n.order
        .iter()
        .map(|x| Named {
            name: x.clone(),
            span: n.map[x].1,
        })
        .collect()
}

/// The states of one case type, and each one's index by name.
#[derive(Default)]
struct States {
    named: Vec<Named>,
    index: HashMap<String, u32>,
}

/// The members of a set of actions, in increasing order.
fn ids(set: Bits) -> Vec<ActionId> {
    set.iter().map(|a| ActionId(a as u32)).collect()
}

/// The most names a message lists; the rest are counted.
const LISTED: usize = 10;

fn backticked(items: &[String]) -> String {
    listed(items.iter().map(String::as_str))
}

/// Names in backticks: `` `a`, `b` and `c` ``. Past [`LISTED`] names, the rest are counted
/// (`` `a`, …, `j` and 5 more ``), so a message stays short however many there are.
fn listed<'a>(items: impl ExactSizeIterator<Item = &'a str>) -> String {
    let n = items.len();
    let quoted: Vec<String> = items.take(LISTED).map(|s| format!("`{s}`")).collect();
    match quoted.as_slice() {
        [] => "nothing".into(),
        [one] if n == 1 => one.clone(),
        [init @ .., last] if n == quoted.len() => format!("{} and {}", init.join(", "), last),
        shown => format!("{} and {} more", shown.join(", "), n - shown.len()),
    }
}

/// A count with thousands separators: `4,000,000`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn type_name(t: Type, p: &Policy) -> String {
    match t {
        Type::Str => "`string`".into(),
        Type::Bool => "`bool`".into(),
        Type::Int => "`int`".into(),
        Type::SetStr => "`set<string>`".into(),
        Type::RefUser => "`ref User`".into(),
        Type::Ref(k) => format!("`ref {}`", p.kinds[k.idx()].name),
        Type::Enum(e) => format!("`{}`", p.enums[e.idx()].name),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// "Did you mean" spends from one budget for the whole check: each candidate costs one, and
    /// each cell of the distance band computed one more; a candidate too long or too short to
    /// be within reach is not compared. Once the budget is spent, nothing is suggested.
    #[test]
    fn suggestions_spend_a_budget() {
        let cx = Checker::new();
        assert_eq!(cx.suggest("veiw", ["view", "edit"]), Some("view"));
        // Two candidates looked at, each compared in a band of at most 3 cells a row, 4 rows.
        let spent = SUGGESTION_BUDGET - cx.suggestion_budget.get();
        assert!((2 + 4..=2 + 2 * 3 * 4).contains(&spent), "spent {spent}");
        let long = "x".repeat(200);
        let before = cx.suggestion_budget.get();
        assert_eq!(cx.suggest("veiw", [long.as_str()]), None);
        assert_eq!(
            before - cx.suggestion_budget.get(),
            1,
            "not compared: too long"
        );

        cx.suggestion_budget.set(0);
        assert_eq!(cx.suggest("veiw", ["view"]), None, "nothing is left");
        assert_eq!(cx.suggestion_budget.get(), 0);
    }

    #[test]
    fn long_lists_are_shortened() {
        let names: Vec<String> = (0..12).map(|i| format!("n{i}")).collect();
        assert_eq!(backticked(&names[..1]), "`n0`");
        assert_eq!(backticked(&names[..3]), "`n0`, `n1` and `n2`");
        assert_eq!(
            backticked(&names),
            "`n0`, `n1`, `n2`, `n3`, `n4`, `n5`, `n6`, `n7`, `n8`, `n9` and 2 more"
        );
        assert_eq!(thousands(4_000_000), "4,000,000");
        assert_eq!(thousands(999), "999");
    }
}
